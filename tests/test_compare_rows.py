"""``benchmarks.research.compare_rows``: the seed-by-seed comparison of two versions' reproduction rows."""

import json
import shutil
import subprocess

import pytest

from benchmarks.research import compare_rows

QUICK = {"n_train": 50000, "maxout_epochs": 20}


def write_run(folder, seed, rates, extra_rows=(), budget=QUICK):
    """An ``advex reproduce --out`` folder holding only what compare_rows reads: results.json."""
    folder.mkdir(parents=True)
    rows = [{"id": name, "metric": "error_rate", "kind": "rate", "ours": value} for name, value in rates.items()]
    results = {"seed": seed, "mnist": True, "eps": 0.25, "budget": budget, "rows": rows + list(extra_rows)}
    (folder / "results.json").write_text(json.dumps(results))
    return str(folder)


def runs(tmp_path, side, by_seed, extra_rows=(), budget=QUICK):
    return [write_run(tmp_path / f"{side}-{seed}", seed, rates, extra_rows, budget) for seed, rates in by_seed.items()]


def test_a_row_that_wanders_by_seed_but_keeps_its_mean_passes(tmp_path, capsys):
    # "chaotic" moves 6 points on each seed, in opposite directions: its mean stays put
    before = runs(tmp_path, "before", {0: {"chaotic": 0.40, "still": 0.10}, 1: {"chaotic": 0.46, "still": 0.11}})
    after = runs(tmp_path, "after", {0: {"chaotic": 0.46, "still": 0.10}, 1: {"chaotic": 0.40, "still": 0.11}})
    assert compare_rows.main(["--before", *before, "--after", *after]) == 0
    printed = capsys.readouterr().out
    assert "| chaotic error_rate | 40.0 46.0 | 46.0 40.0 | 6.0 | 6.0 | +0.0 (6.0) | 1 / 1 |" in printed
    assert "still error_rate" not in printed.split("\n\n")[1]  # unmoved rows stay out of the table
    assert "Within 2 points on every seed: 1 of 2 rows." in printed
    assert "Mean over seeds within 2 points: 2 of 2 rows." in printed


def test_a_mean_that_moves_beyond_the_tolerance_fails_and_is_named(tmp_path, capsys):
    before = runs(tmp_path, "before", {0: {"shifted": 0.20}, 1: {"shifted": 0.22}, 2: {"shifted": 0.21}})
    after = runs(tmp_path, "after", {0: {"shifted": 0.23}, 1: {"shifted": 0.25}, 2: {"shifted": 0.24}})
    assert compare_rows.main(["--before", *before, "--after", *after]) == 1
    printed = capsys.readouterr().out
    assert "moved further: shifted error_rate." in printed
    assert "Moved the same way on every seed: shifted error_rate." in printed
    assert compare_rows.main(["--before", *before, "--after", *after, "--tolerance", "3.5"]) == 0


def test_a_small_shift_in_one_direction_on_every_seed_is_shown(tmp_path, capsys):
    before = runs(tmp_path, "before", {s: {"drifts": 0.300 + s / 100, "wanders": 0.5} for s in range(3)})
    after = runs(tmp_path, "after", {s: {"drifts": 0.295 + s / 100, "wanders": 0.5 + (-1) ** s / 1000}
                                     for s in range(3)})
    assert compare_rows.main(["--before", *before, "--after", *after]) == 0
    table = capsys.readouterr().out.split("\n\n")[1]
    assert "| drifts error_rate |" in table and "| 0 / 3 |" in table
    assert "wanders" not in table


def test_a_row_lost_after_the_change_fails_and_rows_that_come_and_go_are_listed(tmp_path, capsys):
    before = runs(tmp_path, "before", {0: {"a": 0.1, "lost": 0.3, "flaky": 0.2}, 1: {"a": 0.1, "lost": 0.3}})
    after = runs(tmp_path, "after", {0: {"a": 0.1, "lost": float("nan")}, 1: {"a": 0.1, "flaky": 0.2}})
    assert compare_rows.main(["--before", *before, "--after", *after]) == 1
    printed = capsys.readouterr().out
    assert "Lost after the change (a number in every run before, not in some run after): lost error_rate." in printed
    assert "Not compared (a number in some runs only): flaky error_rate." in printed


def test_only_the_seeds_and_the_finite_rate_rows_both_sides_have_are_compared(tmp_path, capsys):
    not_rates = [{"id": "series", "metric": "by_epoch", "kind": "rate", "ours": [0.1, 0.2]},
                 {"id": "nan", "metric": "error_rate", "kind": "rate", "ours": float("nan")},
                 {"id": "flag", "metric": "collapsed", "kind": "rate", "ours": True},
                 {"id": "time", "metric": "seconds", "kind": "info", "ours": 12.0}]
    before = runs(tmp_path, "before", {0: {"a": 0.1}, 1: {"a": 0.2}}, not_rates)
    after = runs(tmp_path, "after", {1: {"a": 0.3}, 2: {"a": 0.9}}, not_rates)
    result = compare_rows.compare(compare_rows.by_seed(before, "before"), compare_rows.by_seed(after, "after"))
    (entry,) = result["table"]
    assert entry["row"] == "a error_rate" and result["seeds"] == [1]
    assert entry["mean_move"] == pytest.approx(10.0)
    assert result["missing"] == result["not_compared"] == []
    compare_rows.main(["--before", *before, "--after", *after])
    assert "seeds run on one side only, left out: 0, 2" in capsys.readouterr().err


def test_runs_of_different_settings_are_refused(tmp_path):
    before = runs(tmp_path, "before", {0: {"a": 0.1}})
    full = runs(tmp_path, "full", {0: {"a": 0.1}}, budget={**QUICK, "maxout_epochs": 150})
    with pytest.raises(SystemExit, match="different budgets \\(maxout_epochs\\)"):
        compare_rows.main(["--before", *before, "--after", *full])
    newer = runs(tmp_path, "newer", {0: {"a": 0.1}}, budget={**QUICK, "added_since": 3})
    assert compare_rows.main(["--before", *before, "--after", *newer]) == 0  # a setting only one version knows


def test_bad_folders_are_refused_with_a_reason(tmp_path):
    with pytest.raises(SystemExit, match="not a folder"):
        compare_rows.read_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no such file"):
        compare_rows.read_run(tmp_path / "empty")
    (tmp_path / "empty" / "results.json").write_text('{"seed": 0, "rows": [')
    with pytest.raises(SystemExit, match="not valid JSON"):
        compare_rows.read_run(tmp_path / "empty")
    (tmp_path / "empty" / "results.json").write_text('{"rows": []}')
    with pytest.raises(SystemExit, match="not the results of advex reproduce"):
        compare_rows.read_run(tmp_path / "empty")
    twice = [write_run(tmp_path / f"twice-{i}", 0, {"a": 0.1}) for i in range(2)]
    with pytest.raises(SystemExit, match="two runs of seed 0"):
        compare_rows.by_seed(twice, "before")
    with pytest.raises(SystemExit, match="no seed was run on both sides"):
        compare_rows.compare({0: {}}, {1: {}})
    only_nan = runs(tmp_path, "nan", {0: {"a": float("nan")}})
    with pytest.raises(SystemExit, match="no rate row is a number in every run"):
        compare_rows.main(["--before", *only_nan, "--after", *only_nan])


def test_against_a_commit_extracts_its_code_runs_both_sides_once_and_compares(tmp_path, monkeypatch, capsys):
    """--against REV in a repository of two commits, with a stand-in for advex reproduce
    that reports the rate written in the code it was given."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                       capture_output=True)

    git("init", "-q")
    for rate in ("0.20", "0.21"):
        (repo / "rate.txt").write_text(rate)
        git("add", "rate.txt")
        git("commit", "-q", "-m", f"rate {rate}")
    monkeypatch.setattr(compare_rows, "ROOT", repo)
    made = []

    def fake_reproduce(code, seed, out):
        made.append((code, seed))
        write_run(out, seed, {"a": float((code / "rate.txt").read_text()) + seed / 100})

    monkeypatch.setattr(compare_rows, "run_reproduce", fake_reproduce)
    work = tmp_path / "work"
    monkeypatch.setattr(compare_rows, "WORK", work)
    argv = ["--against", "HEAD~1", "--seeds", "0", "1", "2"]
    assert compare_rows.main(argv) == 0
    assert "| a error_rate | 20.0 21.0 22.0 | 21.0 22.0 23.0 | 1.0 |" in capsys.readouterr().out
    extracted = [code for code, _ in made if code != repo]
    assert len(made) == 6 and len(set(extracted)) == 1 and extracted[0].parent == work
    assert compare_rows.main(argv) == 0 and len(made) == 6  # finished runs are reused
    (repo / "rate.txt").write_text("0.5")
    with pytest.raises(SystemExit, match="uncommitted changes"):
        compare_rows.main(argv)
    git("checkout", "-q", "rate.txt")
    with pytest.raises(SystemExit, match="HEAD is HEAD"):
        compare_rows.main(["--against", "HEAD"])
    with pytest.raises(SystemExit):  # argparse: one seed cannot tell rounding from a change
        compare_rows.main(["--against", "HEAD~1", "--seeds", "3"])


def test_a_failing_run_names_its_log(tmp_path, monkeypatch):
    code = tmp_path / "code" / "attacks"
    code.mkdir(parents=True)
    (code / "__init__.py").write_text("")
    (code / "cli.py").write_text("import sys\nprint('no MNIST here')\nsys.exit(3)\n")
    out = tmp_path / "work" / "abc-seed0"
    with pytest.raises(SystemExit, match="failed with status 3; its output is in .*abc-seed0.log"):
        compare_rows.run_reproduce(tmp_path / "code", 0, out)
    assert "no MNIST here" in (tmp_path / "work" / "abc-seed0.log").read_text()
