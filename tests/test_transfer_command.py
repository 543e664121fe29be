"""``advex transfer`` end to end on a small synthetic IDX data set (no MNIST needed), and its pieces."""

import json

import numpy as np
import pytest

import models
import training
from attacks import cli
from attacks import transferability
from attacks.transferability import claims, run as transfer_run, stages
from conftest import synthetic_idx_arrays

TINY = transferability.Budget(n_half=150, n_val=30, n_craft=40, maxout_hidden=(20, 20), maxout_epochs=2, patience=2,
                              linear_epochs=2, conv_epochs=1, tree_depth=4, knn_k=3, n_attacker=20, rounds=2,
                              substitute_epochs=1, n_blackbox_eval=60, weak_oracle_images=60, weak_oracle_epochs=1)
IDS = {"transfer_matrix", "transfer_clean_accuracy", "dt_attack_success", "dt_attack_l0", "blackbox_substitute_accuracy",
       "blackbox_oracle_clean_accuracy", "blackbox_oracle_transfer_accuracy", "blackbox_queries", "blackbox_by_round",
       "blackbox_by_oracle"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("transfer_idx")
    for split, n, seed in (("train", 300, 0), ("test", 100, 1)):
        training.write_idx_dataset(directory, *synthetic_idx_arrays(n, seed), split)
    return directory


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(transfer_run, "QUICK", TINY)


def refuse(*args, **kwargs):
    raise AssertionError("a finished run trained again")


def test_a_run_writes_every_row_and_a_rerun_trains_nothing(data_dir, tmp_path, tiny, monkeypatch, capsys):
    out = tmp_path / "transfer"
    argv = ["transfer", "--quick", "--quiet", "--data", str(data_dir), "--out", str(out)]
    assert cli.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    rows = {r["id"]: r for r in results["rows"]}
    assert IDS <= set(rows) and len(rows) == len(claims.CLAIMS)
    assert all(r["paper"] is None for r in rows.values())  # not MNIST
    matrix = rows["transfer_matrix"]["ours"]
    assert list(matrix) == list(claims.TECHNIQUES) and all(list(m) == list(claims.TARGETS) for m in matrix.values())
    assert all(0 <= v <= 1 for m in matrix.values() for v in m.values())
    assert rows["transfer_matrix"]["clip"] == [0.0, 1.0]
    assert set(rows["transfer_clean_accuracy"]["ours"]) == set(claims.TARGETS) | {f"{t}_source" for t in claims.TECHNIQUES}
    assert rows["blackbox_queries"]["ours"] == TINY.n_attacker * 2 ** (TINY.rounds - 1)
    by_round = rows["blackbox_by_round"]["ours"]
    assert set(by_round) == {"substitute_accuracy", "oracle_agreement"} and all(len(v) == TINY.rounds for v in by_round.values())
    assert rows["blackbox_substitute_accuracy"]["ours"] == by_round["substitute_accuracy"][-1]
    oracles = ["conv", "conv_weak", "dnn", "lr", "svm", "dt", "knn"]
    assert list(rows["blackbox_by_oracle"]["ours"]) == oracles == list(rows["blackbox_clean_by_oracle"]["ours"])
    assert rows["blackbox_clean_by_oracle"]["ours"]["conv"] == rows["blackbox_oracle_clean_accuracy"]["ours"]
    assert rows["blackbox_by_oracle"]["ours"]["conv"] == rows["blackbox_oracle_transfer_accuracy"]["ours"]
    assert rows["dt_attack_l0"]["ours"] >= 1 and 0 <= rows["dt_attack_success"]["ours"] <= 1
    for figure in ("transfer_matrix.png", "blackbox_by_round.png"):
        assert (out / "figures" / figure).exists()
    text = (out / "results.md").read_text()
    assert "| source \\ target | dnn | lr | svm | dt | knn | ensemble |" in text and "79.31%" in text  # ours, the published

    for fit in (training, models.DecisionTree, models.KNearestNeighbors):
        monkeypatch.setattr(fit, "fit", refuse)
    for computation in ("craft", "black_box_attack", "decision_tree_attack", "predictions_of"):
        monkeypatch.setattr(stages, computation, refuse)  # a stage computed again, even from the same models
    assert cli.main(argv) == 0  # every stage and model read back
    assert json.loads((out / "results.json").read_text())["rows"] == results["rows"]
    assert "done in" in capsys.readouterr().out


def test_a_run_stopped_midway_resumes_with_the_models_it_trained(data_dir, tmp_path, monkeypatch):
    out = tmp_path / "stopped"

    def killed(r):
        raise KeyboardInterrupt

    monkeypatch.setattr(stages, "blackbox", killed)
    with pytest.raises(KeyboardInterrupt):
        transferability.Transferability(out, data=data_dir, budget=TINY, progress=False).run()
    saved = {path.name: path.read_bytes() for path in (out / "models").iterdir()}
    assert "dnn_victim.npz" in saved and "conv_victim.npz" not in saved
    monkeypatch.undo()
    first = json.loads((out / "stages.json").read_text())["stages"]
    rows = transferability.Transferability(out, data=data_dir, budget=TINY, progress=False).run()
    assert {r["id"] for r in rows} >= IDS
    for name, content in saved.items():
        assert (out / "models" / name).read_bytes() == content  # not trained again
    after = json.loads((out / "stages.json").read_text())["stages"]
    assert all(after[name] == stage for name, stage in first.items())


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--data", "{empty}"], "neither train-images-idx3-ubyte nor"),
])
def test_a_bad_argument_gives_one_line_and_writes_nothing(tmp_path, tiny, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    argv = [a.replace("{empty}", str(tmp_path / "empty")) for a in argv]
    assert cli.main(["transfer", "--quick", "--quiet", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_too_little_data_is_refused_before_anything_is_written(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(transfer_run, "QUICK", transferability.Budget(n_half=200))
    out = tmp_path / "out"
    assert cli.main(["transfer", "--quick", "--quiet", "--data", str(data_dir), "--out", str(out)]) == 2
    assert "needs two halves of 200 training images, the data have 300" in capsys.readouterr().err
    assert not out.exists()


def test_a_folder_holding_something_else_is_refused(data_dir, tmp_path, tiny, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli.main(["transfer", "--quick", "--quiet", "--data", str(data_dir), "--out", str(out)]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_the_ensemble_is_the_majority_and_a_tie_goes_to_the_earliest_model():
    predictions = np.array([[0, 1, 2, 3],
                            [0, 2, 2, 4],
                            [1, 2, 1, 5],
                            [1, 3, 1, 6],
                            [1, 3, 0, 7]])
    assert stages.majority_vote(predictions).tolist() == [1, 2, 2, 3]
