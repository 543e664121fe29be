"""``advex physical`` end to end on the synthetic IDX data set (no MNIST needed), and its pieces."""

import json

import numpy as np
import pytest

import training
from attacks import cli
from attacks.physical import Budget, claims, run as physical_run, stages

TINY = Budget(n_eval=40, eps=(0.1, 0.3), n_eot=10, eot_samples=2, eot_steps=2, eot_step_size=0.05,
              adversariality_draws=3)
IDS = {"destruction_fast", "destruction_iter", "destruction_ll", "photo_destruction", "pgd_adversariality",
       "eot_adversariality"}


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(physical_run, "QUICK_BUDGET", TINY)


def refuse(*args, **kwargs):
    raise AssertionError("a finished run computed again")


def test_a_run_writes_every_row_and_a_rerun_computes_nothing(synthetic_idx_dir, tmp_path, tiny, monkeypatch, capsys):
    out = tmp_path / "physical"
    argv = ["physical", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]
    assert cli.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    rows = {r["id"]: r for r in results["rows"]}
    assert IDS <= set(rows) and len(rows) == len(claims.CLAIMS)
    for method in claims.METHODS:
        sweep = rows[f"destruction_{method}"]["ours"]
        assert list(sweep) == list(claims.SWEEPS)
        assert all(len(sweep[key]) == len(values) for key, values in claims.SWEEPS.items())
        assert all(v != v or 0 <= v <= 1 for per in sweep.values() for v in per.values())  # a rate, or NaN for none
    assert set(rows["photo_destruction"]["ours"]) == set(claims.METHODS)
    by_eps = rows["photo_destruction_by_eps"]["ours"]
    assert set(by_eps) == {"maxout", "conv"} and all(set(v) == {"0.1", "0.3"} for v in by_eps.values())
    photo, order = rows["photo_destruction"]["ours"], rows["kurakin_ordering"]["ours"]
    if any(rate != rate for rate in photo.values()):  # a method that fooled no image: its rate, and the order, undecided
        assert order != order and rows["kurakin_ordering"]["ok"] is None
    else:
        assert order == float(photo["fast"] < photo["iter"] < photo["ll"])
    for id in ("pgd_adversariality", "eot_adversariality"):
        assert 0 <= rows[id]["ours"] <= 1
    for figure in ("destruction.png", "eot_examples.png"):
        assert (out / "figures" / figure).exists()
    assert "12.5%" in (out / "results.md").read_text()  # Kurakin et al.'s photo numbers beside ours

    monkeypatch.setattr(training, "fit", refuse)
    for computation in ("adversarial_examples", "destruction_rate", "adversariality"):
        monkeypatch.setattr(stages, computation, refuse)
    monkeypatch.setattr(stages, "eot_pgd", lambda *a, **k: refuse() if len(a[1]) > 8 else a[1].copy())  # figure only
    assert cli.main(argv) == 0
    assert json.loads((out / "results.json").read_text())["rows"] == results["rows"]
    assert "done in" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--paper-models", "{missing}"], "no such folder"),
])
def test_a_bad_argument_gives_one_line_and_writes_nothing(tmp_path, tiny, capsys, argv, message):
    out = tmp_path / "out"
    argv = [a.replace("{missing}", str(tmp_path / "missing")) for a in argv]
    assert cli.main(["physical", "--quick", "--quiet", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_a_budget_without_the_rows_eps_is_refused_before_any_work(synthetic_idx_dir, tmp_path):
    from attacks.physical import Physical

    with pytest.raises(ValueError, match=r"must include 0.1"):
        Physical(tmp_path / "out", data=synthetic_idx_dir, budget=Budget(n_eval=40, eps=(0.2,), n_eot=10))
    assert not (tmp_path / "out").exists()


def test_kurakins_iterations_follow_their_rule():
    assert [stages.iterations(eps) for eps in (2 / 255, 16 / 255, 0.1, 0.3)] == [2, 20, 29, 80]


def test_the_three_methods_stay_within_eps_and_the_least_likely_one_heads_for_its_class(synthetic_idx_dir):
    import models

    X, y = training.load_idx_dataset(synthetic_idx_dir, "train")
    model = models.SoftmaxRegression(784, 10)
    training.fit(model, X, y, progress=False, monitor_size=0, **training.linear_classifier_recipe(model, epochs=3))
    x, labels = X[:30], y[:30]
    examples = stages.adversarial_examples(model, x, labels, 0.1)
    for x_adv in examples.values():
        assert np.abs(x_adv - x).max() <= 0.1 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    least = stages.least_likely_class(model, x)
    rows = np.arange(len(x))
    towards = {m: np.log(model.predict_proba(z)[rows, least]).mean() for m, z in (*examples.items(), ("clean", x))}
    assert towards["ll"] > max(towards["iter"], towards["fast"], towards["clean"])  # the least-likely class gains most


def test_a_run_stopped_midway_resumes_without_computing_its_stages_again(synthetic_idx_dir, tmp_path, monkeypatch):
    from attacks.physical import Physical

    out = tmp_path / "stopped"

    def killed(r):
        raise KeyboardInterrupt

    monkeypatch.setattr(stages, "expectation_over_transformation", killed)
    with pytest.raises(KeyboardInterrupt):
        Physical(out, quick=True, data=synthetic_idx_dir, budget=TINY, progress=False).run()
    monkeypatch.undo()
    first = json.loads((out / "stages.json").read_text())["stages"]
    assert "destruction maxout eps 0.1" in first and "expectation over transformation" not in first
    monkeypatch.setattr(stages, "adversarial_examples", refuse)  # the destruction stages are read back
    rows = Physical(out, quick=True, data=synthetic_idx_dir, budget=TINY, progress=False).run()
    assert IDS <= {r["id"] for r in rows}
    after = json.loads((out / "stages.json").read_text())["stages"]
    assert all(after[name] == stage for name, stage in first.items())
