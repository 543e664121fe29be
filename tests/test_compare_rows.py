"""``benchmarks.compare_rows``: the seed-by-seed comparison of two versions' reproduction rows."""

import json

import pytest

from benchmarks import compare_rows


def write_run(folder, seed, rates, extra_rows=()):
    """An ``advex reproduce --out`` folder holding only what compare_rows reads: results.json."""
    folder.mkdir(parents=True)
    rows = [{"id": name, "metric": "error_rate", "kind": "rate", "ours": value} for name, value in rates.items()]
    (folder / "results.json").write_text(json.dumps({"seed": seed, "rows": rows + list(extra_rows)}))
    return str(folder)


def runs(tmp_path, side, by_seed, extra_rows=()):
    return [write_run(tmp_path / f"{side}-{seed}", seed, rates, extra_rows) for seed, rates in by_seed.items()]


def test_a_row_that_wanders_by_seed_but_keeps_its_mean_passes(tmp_path, capsys):
    # "chaotic" moves 6 points on each seed, in opposite directions: its mean stays put
    before = runs(tmp_path, "before", {0: {"chaotic": 0.40, "still": 0.10}, 1: {"chaotic": 0.46, "still": 0.11}})
    after = runs(tmp_path, "after", {0: {"chaotic": 0.46, "still": 0.10}, 1: {"chaotic": 0.40, "still": 0.11}})
    assert compare_rows.main(["--before", *before, "--after", *after]) == 0
    printed = capsys.readouterr().out
    assert "| chaotic error_rate | 40.0 46.0 | 46.0 40.0 | 6.0 | 6.0 | +0.0 |" in printed
    assert "Within 2 points on every seed: 1 of 2 rows." in printed
    assert "Mean over seeds within 2 points: 2 of 2 rows." in printed


def test_a_mean_that_moves_beyond_the_tolerance_fails_and_is_named(tmp_path, capsys):
    before = runs(tmp_path, "before", {0: {"shifted": 0.20}, 1: {"shifted": 0.22}, 2: {"shifted": 0.21}})
    after = runs(tmp_path, "after", {0: {"shifted": 0.23}, 1: {"shifted": 0.25}, 2: {"shifted": 0.24}})
    assert compare_rows.main(["--before", *before, "--after", *after]) == 1
    assert "moved further: shifted error_rate." in capsys.readouterr().out
    assert compare_rows.main(["--before", *before, "--after", *after, "--tolerance", "3.5"]) == 0


def test_only_the_seeds_and_the_finite_rate_rows_both_sides_have_are_compared(tmp_path):
    not_rates = [{"id": "series", "metric": "by_epoch", "kind": "rate", "ours": [0.1, 0.2]},
                 {"id": "nan", "metric": "error_rate", "kind": "rate", "ours": float("nan")},
                 {"id": "time", "metric": "seconds", "kind": "info", "ours": 12.0}]
    before = compare_rows.by_seed(runs(tmp_path, "before", {0: {"a": 0.1}, 1: {"a": 0.2}}, not_rates), "before")
    after = compare_rows.by_seed(runs(tmp_path, "after", {1: {"a": 0.3}, 2: {"a": 0.9}}, not_rates), "after")
    (entry,) = compare_rows.compare(before, after)
    assert entry["row"] == "a error_rate" and entry["seeds"] == [1]
    assert entry["mean_move"] == pytest.approx(10.0)


def test_bad_folders_are_refused_with_a_reason(tmp_path):
    with pytest.raises(SystemExit, match="not a folder"):
        compare_rows.rate_rows(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no such file"):
        compare_rows.rate_rows(tmp_path / "empty")
    (tmp_path / "empty" / "results.json").write_text('{"seed": 0, "rows": [')
    with pytest.raises(SystemExit, match="not valid JSON"):
        compare_rows.rate_rows(tmp_path / "empty")
    twice = [write_run(tmp_path / f"twice-{i}", 0, {"a": 0.1}) for i in range(2)]
    with pytest.raises(SystemExit, match="two runs of seed 0"):
        compare_rows.by_seed(twice, "before")
    with pytest.raises(SystemExit, match="no seed was run on both sides"):
        compare_rows.compare({0: {}}, {1: {}})
