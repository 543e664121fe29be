"""``advex reproduce --seeds``: one resumable run per seed, then each row's spread, checked against a hand
computation; a killed seed resumes, a folder of other settings is refused, a missing seed is named."""

import json
import os
import shutil
import statistics

import pytest

from attacks import cli
from attacks.reproduction import run as reproduction_run, seeds


def argv(data, out, *extra):
    return ["reproduce", "--quick", "--quiet", "--data", str(data), "--models", "softmax", "--out", str(out), *extra]


def results(out, seed):
    with open(os.path.join(out, f"seed-{seed}", "results.json")) as f:
        return json.load(f)


def row(rows, id, metric, clip=None):
    (found,) = [r for r in rows if r["id"] == id and r["metric"] == metric and r["clip"] == clip]
    return found


def test_each_row_s_spread_is_the_hand_computed_one(synthetic_idx_dir, tmp_path, capsys):
    out = tmp_path / "seeds"
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0", "1", "2")) == 0
    assert "# The reproduction over seeds" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["included"] == [0, 1, 2] and summary["excluded"] == {}
    for id, metric, clip in [("softmax_fgsm", "error_rate", None), ("softmax_fgsm_clipped", "confidence_wrong", [0.0, 1.0])]:
        values = [row(results(out, s)["rows"], id, metric, clip)["ours"] for s in (0, 1, 2)]
        got = row(summary["rows"], id, metric, clip)
        assert got["mean"] == pytest.approx(statistics.mean(values), abs=1e-12)
        assert got["sd"] == pytest.approx(statistics.stdev(values), abs=1e-12)
        assert (got["min"], got["max"]) == (min(values), max(values))
        assert got["values"] == {"0": values[0], "1": values[1], "2": values[2]}
    assert len({row(results(out, s)["rows"], "softmax_fgsm", "error_rate")["ours"] for s in (0, 1, 2)}) > 1  # seeds differ
    assert "| softmax_fgsm | error_rate | None |" in (out / "summary.md").read_text()


def test_a_seed_folder_is_the_single_run_of_that_seed(synthetic_idx_dir, tmp_path):
    assert cli.main(argv(synthetic_idx_dir, tmp_path / "seeds", "--seeds", "1")) == 0
    assert cli.main(argv(synthetic_idx_dir, tmp_path / "single", "--seed", "1")) == 0
    alone = json.loads((tmp_path / "single" / "results.json").read_text())["rows"]
    assert results(tmp_path / "seeds", 1)["rows"] == alone


def test_the_verdict_is_judged_on_the_mean_and_the_seeds_within_are_counted(synthetic_idx_dir, tmp_path):
    out = tmp_path / "seeds"
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0", "1")) == 0
    budget = reproduction_run.QUICK
    for seed, value in ((0, 0.11), (1, 0.13)):  # the toy row's target: within 0.5 points of 0.12
        path = out / f"seed-{seed}" / "results.json"
        saved = json.loads(path.read_text())
        toy = row(saved["rows"], "toy_example", "sigmoid before")
        toy["ours"], toy["ok"] = value, abs(value - 0.12) <= 0.005
        path.write_text(json.dumps(saved))
    summary = seeds.summarize(out, [0, 1], budget=budget, data=os.path.abspath(synthetic_idx_dir))
    toy = row(summary["rows"], "toy_example", "sigmoid before")
    assert toy["mean"] == pytest.approx(0.12) and toy["ok"] is True and (toy["within"], toy["judged"]) == (0, 2)


def test_a_killed_seed_resumes_and_finished_seeds_are_read_back(synthetic_idx_dir, tmp_path, monkeypatch):
    out = tmp_path / "seeds"
    real = reproduction_run.run_stages

    def killed_in_seed_1(run, plan, title):
        if run.seed == 1:
            real(run, plan[: len(plan) // 2], title)
            raise KeyboardInterrupt
        return real(run, plan, title)

    monkeypatch.setattr(reproduction_run, "run_stages", killed_in_seed_1)
    with pytest.raises(KeyboardInterrupt):
        cli.main(argv(synthetic_idx_dir, out, "--seeds", "0", "1"))
    monkeypatch.setattr(reproduction_run, "run_stages", real)
    seed_0 = (out / "seed-0" / "stages.json").read_text()
    done_in_1 = json.loads((out / "seed-1" / "stages.json").read_text())["stages"]
    assert done_in_1 and not (out / "seed-1" / "results.json").exists() and not (out / "summary.json").exists()
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0", "1")) == 0
    assert (out / "seed-0" / "stages.json").read_text() == seed_0  # nothing computed again
    after = json.loads((out / "seed-1" / "stages.json").read_text())["stages"]
    assert all(after[name] == done_in_1[name] for name in done_in_1) and len(after) > len(done_in_1)
    assert json.loads((out / "summary.json").read_text())["included"] == [0, 1]


def test_a_seed_folder_of_other_settings_is_refused_before_any_work(synthetic_idx_dir, tmp_path, capsys):
    out = tmp_path / "seeds"
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0")) == 0
    shutil.copytree(out / "seed-0", out / "seed-1")  # seed 0's run where seed 1's belongs
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "2", "0", "1")) == 2  # a new seed first
    err = capsys.readouterr().err
    assert "seed 1" in err and "other settings" in err and len(err.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before and not (out / "seed-2").exists()


def test_a_summary_names_the_seeds_missing_or_of_other_settings(synthetic_idx_dir, tmp_path, capsys):
    out = tmp_path / "seeds"
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0", "1")) == 0
    path = out / "seed-1" / "results.json"
    path.write_text(path.read_text().replace('"seed": 1', '"seed": 7'))
    capsys.readouterr()
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0", "1", "2", "--summary-only")) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["included"] == [0] and set(summary["excluded"]) == {"1", "2"}
    assert "other settings" in summary["excluded"]["1"] and "missing" in summary["excluded"]["2"]
    assert not (out / "seed-2").exists()  # a summary trains nothing and makes no folder
    value = row(results(out, 0)["rows"], "softmax_fgsm", "error_rate")["ours"]
    got = row(summary["rows"], "softmax_fgsm", "error_rate")
    assert (got["mean"], got["sd"], got["min"], got["max"]) == (value, None, value, value)
    text = (out / "summary.md").read_text()
    assert "seed 1 left out: made with other settings" in text and "seed 2 left out: missing" in text


@pytest.mark.parametrize("extra, message", [
    (["--seeds", "1", "1"], "names a seed twice"),
    (["--seed", "1", "--seeds", "2"], "--seed and --seeds"),
    (["--summary-only"], "--summary-only summarises"),
])
def test_bad_seed_arguments_exit_2_in_one_line(synthetic_idx_dir, tmp_path, extra, message, capsys):
    assert cli.main(argv(synthetic_idx_dir, tmp_path / "seeds", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "seeds").exists()


def test_a_seeds_folder_holding_something_else_is_refused(synthetic_idx_dir, tmp_path, capsys):
    out = tmp_path / "seeds"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0")) == 2
    assert "notes.txt" in capsys.readouterr().err and sorted(os.listdir(out)) == ["notes.txt"]


def test_the_transfer_drivers_read_a_seeds_folder(synthetic_idx_dir, tmp_path, capsys):
    from benchmarks.research import transfer_drivers

    out = tmp_path / "seeds"
    assert cli.main(["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--models", "maxout",
                     "maxout_adversarial", "--seeds", "0", "1", "--out", str(out)]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = transfer_drivers.measure(out, 50, synthetic_idx_dir)
    rows = {(r["id"], r["metric"]): r["ours"] for r in results(out, 1)["rows"]}
    assert result["cross"][1][1] == pytest.approx(rows[("transfer_orig_to_adv", "error_rate")])  # the diagonal: the row
    assert set(result["epochs"]) == {0, 1} and "| orig seed 1 |" in transfer_drivers.markdown(result)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # reads, never writes


def test_a_summary_leaves_out_a_seed_run_on_other_data(synthetic_idx_dir, tmp_path, capsys):
    out, other = tmp_path / "seeds", tmp_path / "other-data"
    shutil.copytree(synthetic_idx_dir, other)
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0")) == 0
    assert cli.main(argv(other, out / "seed-1", "--seed", "1")) == 0  # seed 1 by hand, on a copy elsewhere
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0", "1", "--summary-only")) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["included"] == [0] and "data:" in summary["excluded"]["1"]


def test_a_summary_of_nothing_is_refused_and_writes_nothing(synthetic_idx_dir, tmp_path, capsys):
    out = tmp_path / "seeds"
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0", "--summary-only")) == 2
    assert "no such folder" in capsys.readouterr().err and not out.exists()
    assert cli.main(argv(synthetic_idx_dir, out, "--seeds", "0")) == 0
    summary = (out / "summary.json").read_bytes()
    assert cli.main(["reproduce", "--quiet", "--data", str(synthetic_idx_dir), "--models", "softmax", "--out", str(out),
                     "--seeds", "0", "--summary-only"]) == 2  # the full budget: seed 0 was made --quick
    err = capsys.readouterr().err
    assert "no finished seed run" in err and "budget" in err and (out / "summary.json").read_bytes() == summary
