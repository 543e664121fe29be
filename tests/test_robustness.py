"""``advex robustness --quick`` end to end on the synthetic IDX data set (no MNIST needed)."""

import json
import os
import shutil

import numpy as np
import pytest

import models
import training
from attacks import cli
from attacks.reproduction.cache import file_sha256, idx_files, input_digests
from attacks.robustness import CLAIMS, stages

FIXED_IDS = {
    "pgd_maxout", "pgd_advmaxout", "apgd_advmaxout", "worstcase_advmaxout", "labelleak_true", "labelleak_pred",
    "labelleak_clean", "fgsmrs_clean", "fgsmrs_pgd", "fgsmrs_fgsm", "overfit_pgd_by_epoch", "masked_fgsm", "masked_pgd",
    "masked_transfer", "masked_gradient_free", "masked_bpda", "masked_flags",
    "labelleak_overfit_by_epoch", "fgsmrs_seed", "fgsmrs_pgd_by_seed", "overfit_collapse_epoch",
}
FLAGS = {"zero_gradients", "black_box_beats_white_box", "outputs_are_probabilities", "random_outputs"}


def test_quick_robustness_writes_every_lesson_and_a_rerun_trains_nothing(synthetic_idx_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "robustness"
    argv = ["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]
    assert cli.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    rows = {r["id"]: r for r in results["rows"]}
    assert FIXED_IDS <= set(rows) and len(rows) == len(CLAIMS)
    assert all(r["paper"] is None for r in rows.values())  # not MNIST: no published numbers
    assert rows["fgsmrs_pgd"]["clip"] == [0.0, 1.0] and rows["masked_bpda"]["clip"] == [0.0, 1.0]  # the conv nets
    assert rows["pgd_advmaxout"]["clip"] is None  # the paper's maxout networks: unclipped
    overfit = rows["overfit_pgd_by_epoch"]["ours"]
    assert set(overfit) == {"random_start", "no_random_start"} and all(len(v) == 2 for v in overfit.values())
    assert all(0 <= a <= 1 for v in overfit.values() for a in v)
    assert set(rows["masked_flags"]["ours"]) == FLAGS and rows["masked_flags"]["ours"]["zero_gradients"] is True
    for id in ("pgd_advmaxout", "worstcase_advmaxout", "masked_bpda"):
        assert 0 <= rows[id]["ours"] <= 1
    assert rows["worstcase_advmaxout"]["ours"] >= max(rows[f"{a}_advmaxout"]["ours"] for a in ("fgsm", "pgd", "apgd", "square"))
    assert rows["masked_fgsm"]["ours"] == rows["masked_clean"]["ours"]  # a zero gradient moves nothing
    seed = rows["fgsmrs_seed"]["ours"]
    best = results["training"][f"fast_random_start_seed{seed}"]["best_epoch"]  # kept by held-out PGD accuracy
    assert overfit["random_start"][best - 1] == max(overfit["random_start"])
    assert (out / "models" / f"fast_random_start_seed{seed}-best.npz").exists()
    leak = rows["labelleak_overfit_by_epoch"]["ours"]
    assert set(leak) == {"clean", "fgsm_true", "fgsm_pred"} and all(len(v) == 2 for v in leak.values())
    assert set(rows["overfit_collapse_epoch"]["ours"]) == {"random_start_seed0", "no_random_start_seed0"}
    assert all(e is None or 1 <= e <= 2 for e in rows["overfit_collapse_epoch"]["ours"].values())
    for figure in ("attack_strength.png", "overfitting.png", "masked_bpda_examples.png"):
        assert (out / "figures" / figure).exists()
    assert "robustness lab" in (out / "results.md").read_text()

    monkeypatch.setattr(training, "fit", refuse_to_train)
    assert cli.main(argv) == 0  # every stage and model read back
    assert json.loads((out / "results.json").read_text())["rows"] == results["rows"]
    assert "done in" in capsys.readouterr().out

    masked = out / "models" / "masked.npz"  # another model where the run saved its own: its stages are the old one's
    original = masked.read_bytes()
    models.save(models.SmallConvNet((1, 28, 28), 10, quantise=8, seed=7), masked)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"{masked} is not the model file this run saved there" in err and err.count("\n") == 1
    masked.write_bytes(original)

    (out / "models" / f"fast_random_start_seed{seed}.npz").unlink()  # its epochs are recorded, its best epoch gone:
    best = out / "models" / f"fast_random_start_seed{seed}-best.npz"
    best_bytes = best.read_bytes()
    best.unlink()
    assert cli.main(argv) == 2  # one line, not a traceback or a wrong model
    assert (f"{out / 'models' / f'fast_random_start_seed{seed}-best.npz'} is missing, but the stages in "
            f"{out / 'stages.json'} were computed from the file this run recorded there"
            ) in capsys.readouterr().err  # never trained again beside its old stages
    best.write_bytes(best_bytes)  # its best epoch back: the model itself is still refused, not trained again
    assert cli.main(argv) == 2
    assert (f"{out / 'models' / f'fast_random_start_seed{seed}.npz'} is missing, but this run saved the model "
            f"fast_random_start_seed{seed} there") in capsys.readouterr().err


def refuse_to_train(*args, **kwargs):
    raise AssertionError("a re-run trained a model")


def test_paper_models_are_reused_from_a_reproduction_folder(synthetic_idx_dir, tmp_path, capsys):
    paper = tmp_path / "paper"
    assert cli.main(["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--models", "maxout",
                     "maxout_adversarial", "--out", str(paper)]) == 0
    out = tmp_path / "robustness"
    assert cli.main(["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--paper-models", str(paper),
                     "--out", str(out)]) == 0
    assert not (out / "paper-models").exists()
    rows = {r["id"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    for id in ("plaingrad_fgsm", "pgd_maxout", "pgd_advmaxout"):  # the width of the models given: 'maxout (240)' was printed
        assert "maxout (120, 120), " in rows[id]["setup"], rows[id]["setup"]

    other = tmp_path / "other"  # the same data set, one pixel changed: data the models never saw
    shutil.copytree(synthetic_idx_dir, other)
    X, y = training.load_idx_dataset(other, "test")
    images = (X * 255).round().astype(np.uint8).reshape(-1, 28, 28)
    images[0, 0, 0] ^= 1
    training.write_idx_dataset(other, images, y, "test")
    capsys.readouterr()
    assert cli.main(["robustness", "--quick", "--quiet", "--data", str(other), "--paper-models", str(paper),
                     "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err
    assert err == (f"advex robustness: error: --paper-models {paper}: its models were trained on other contents of "
                   f"t10k-images-idx3-ubyte.gz (from {synthetic_idx_dir}) than this run's --data {other}; pass the --out "
                   "of an advex reproduce run on the same data, or leave out --paper-models to train them here\n")
    assert not (tmp_path / "refused").exists()


def test_bad_arguments_are_one_line_and_write_nothing(synthetic_idx_dir, tmp_path, capsys):
    base = ["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir)]
    for extra, message in ((["--seed", "-1"], "--seed must be >= 0"),
                           (["--paper-models", str(tmp_path / "none")], "no such folder"),
                           (["--paper-models", str(tmp_path)], "models/maxout.npz")):
        assert cli.main(base + extra + ["--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
        assert not (tmp_path / "out").exists()


class Killed(Exception):
    """Stands for a run killed between two stages."""


def small_paper_models(folder, data, seed: int = 0, n_features: int = 784):
    """An advex reproduce folder's two maxout networks, untrained and small (the lab only attacks them),
    and the stages.json that says they were trained on the IDX data set in ``data``."""
    folder.mkdir(parents=True)
    config = {"mnist": False, "data": str(data), "inputs": input_digests(idx_files(data))}
    digests = {}
    for name in ("maxout", "maxout_adversarial"):
        models.save(models.MaxoutNetwork(n_features, hidden=(8, 8), n_classes=10, seed=seed), folder / "models" / f"{name}.npz")
        digests[name] = file_sha256(folder / "models" / f"{name}.npz")
    (folder / "stages.json").write_text(json.dumps({"config": config, "stages": {}, "models": digests}))
    return folder


def test_a_paper_model_replaced_after_a_stage_is_refused_naming_it(synthetic_idx_dir, tmp_path, monkeypatch, capsys):
    paper = small_paper_models(tmp_path / "paper", synthetic_idx_dir)
    out = tmp_path / "robustness"
    argv = ["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--paper-models", str(paper),
            "--out", str(out)]

    def killed(r):
        raise Killed

    monkeypatch.setattr(stages, "label_leaking", killed)  # the run dies after its strong-attack stage
    with pytest.raises(Killed):
        cli.main(argv)
    recorded = (out / "stages.json").read_bytes()
    assert "strong attacks maxout" in json.loads(recorded)["stages"]
    original = (paper / "models" / "maxout.npz").read_bytes()
    models.save(models.MaxoutNetwork(784, hidden=(8, 8), n_classes=10, seed=1), paper / "models" / "maxout.npz")
    record = (paper / "stages.json").read_text()
    saved = json.loads(record)  # as if the reproduction had saved the new one
    saved["models"]["maxout"] = file_sha256(paper / "models" / "maxout.npz")
    (paper / "stages.json").write_text(json.dumps(saved))

    capsys.readouterr()
    assert cli.main(argv) == 2  # its stages attacked the old model: never mixed with the new one's
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(paper / "models" / "maxout.npz") in err and "nothing was changed" in err
    assert "maxout_adversarial.npz" not in err  # only the file that changed
    assert (out / "stages.json").read_bytes() == recorded

    (paper / "models" / "maxout.npz").write_bytes(original)  # restored: the run resumes where it stopped
    (paper / "stages.json").write_text(record)
    monkeypatch.setattr(stages, "worst_case", refuse_to_attack)
    with pytest.raises(Killed):
        cli.main(argv)


def refuse_to_attack(*args, **kwargs):
    raise AssertionError("a re-run attacked again")


def test_paper_models_of_another_class_or_width_are_refused_naming_the_file_and_the_flag(synthetic_idx_dir, tmp_path, capsys):
    base = ["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(tmp_path / "out")]
    wrong_class = small_paper_models(tmp_path / "wrong_class", synthetic_idx_dir)
    narrow = small_paper_models(tmp_path / "narrow", synthetic_idx_dir, n_features=100)
    models.save(models.SoftmaxRegression(784, 10), wrong_class / "models" / "maxout_adversarial.npz")
    saved = json.loads((wrong_class / "stages.json").read_text())  # as if the reproduction had saved it
    saved["models"]["maxout_adversarial"] = file_sha256(wrong_class / "models" / "maxout_adversarial.npz")
    (wrong_class / "stages.json").write_text(json.dumps(saved))
    for paper, problem in ((wrong_class, "holds a SoftmaxRegression, not a MaxoutNetwork"),
                           (narrow, "is a MaxoutNetwork for 100 features and 10 classes; the data have 784 features")):
        assert cli.main(base + ["--paper-models", str(paper)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--paper-models {paper}" in err and problem in err
        assert "another --out" not in err and "--out of an advex reproduce run" in err
        assert not (tmp_path / "out").exists()


def test_collapse_epoch_is_the_fall_after_a_rise():
    from attacks.robustness.stages import collapse_epoch

    assert collapse_epoch([0.14, 0.25, 0.55, 0.44, 0.23, 0.05]) == 5  # 0.23 < half of 0.55
    assert collapse_epoch([0.16, 0.30, 0.77, 0.70, 0.82, 0.70, 0.88]) is None  # dips, never halves
    assert collapse_epoch([0.02, 0.0, 0.0, 0.01]) is None  # never rose: nothing to collapse from
    assert collapse_epoch([0.3, 0.1], rose_to=0.5) is None
    assert collapse_epoch([]) is None


def test_the_seed_evaluated_is_the_one_whose_best_held_out_epoch_is_best():
    from attacks.robustness.stages import _chosen_seed

    def run(pgd):
        return (None, {"pgd": pgd})

    assert _chosen_seed({0: run([0.1, 0.9, 0.0]), 1: run([0.5, 0.6, 0.7])}) == 0  # its best epoch, not its last
    assert _chosen_seed({3: run([0.2, 0.4]), 4: run([0.4, 0.1])}) == 3  # a tie: the first seed
    assert _chosen_seed({5: run([0.0]), 6: run([0.3])}) == 6


def test_paper_models_trained_on_other_data_than_mnist_are_refused_before_any_work(synthetic_idx_dir, tmp_path,
                                                                                    monkeypatch, capsys, mnist_or_skip):
    """Models trained on a synthetic set were attacked on MNIST, and printed beside the paper's 17.9%."""
    mnist_or_skip("test")
    paper = small_paper_models(tmp_path / "paper", synthetic_idx_dir)

    def killed(r):
        raise Killed

    monkeypatch.setattr(stages, "strong_attacks", killed)
    assert cli.main(["robustness", "--quick", "--quiet", "--paper-models", str(paper), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"advex robustness: error: --paper-models {paper}: its models were trained on the IDX data "
                          f"set in {synthetic_idx_dir} (not MNIST), this run's data are MNIST; ") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_paper_models_without_the_record_of_their_data_are_refused(synthetic_idx_dir, tmp_path, capsys):
    paper = small_paper_models(tmp_path / "paper", synthetic_idx_dir)
    (paper / "stages.json").unlink()
    assert cli.main(["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--paper-models", str(paper),
                     "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"--paper-models {paper}: no {paper / 'stages.json'}, the record of the data its models were trained on" in err


def test_images_that_are_not_square_are_refused_before_any_training(tmp_path, monkeypatch, capsys):
    """The paper models trained and three stages ran before 'needs square grey images'."""
    from conftest import synthetic_idx_arrays

    for split, n, seed in (("train", 60, 0), ("test", 20, 1)):
        images, labels = synthetic_idx_arrays(n, seed)
        training.write_idx_dataset(tmp_path / "wide", images[:, :, :20], labels, split)
    monkeypatch.setattr(training, "fit", refuse_to_train)
    assert cli.main(["robustness", "--quick", "--quiet", "--data", str(tmp_path / "wide"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == ("advex robustness: error: advex robustness needs square grey images; the data have "
                                       "560 features\n")
    assert not (tmp_path / "out").exists()


# --- round 3 of issue 25 ------------------------------------------------------------------------------
def test_paper_models_must_be_the_files_their_reproduction_saved(synthetic_idx_dir, tmp_path, monkeypatch, capsys):
    """Maxout files copied into a reproduce folder that trained none (or replaced there) were attacked and
    printed beside the paper's 17.9%."""
    monkeypatch.setattr(stages, "strong_attacks", refuse_to_attack)
    base = ["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(tmp_path / "out")]
    unrecorded = small_paper_models(tmp_path / "unrecorded", synthetic_idx_dir)
    saved = json.loads((unrecorded / "stages.json").read_text())
    del saved["models"]["maxout_adversarial"]
    (unrecorded / "stages.json").write_text(json.dumps(saved))
    replaced = small_paper_models(tmp_path / "replaced", synthetic_idx_dir)
    models.save(models.MaxoutNetwork(784, hidden=(8, 8), n_classes=10, seed=7), replaced / "models" / "maxout.npz")
    for paper, problem in (
            (unrecorded, f"its stages.json records no maxout_adversarial model, so "
                         f"{unrecorded / 'models' / 'maxout_adversarial.npz'} is none that advex reproduce saved there"),
            (replaced, f"{replaced / 'models' / 'maxout.npz'} is not the maxout model advex reproduce saved there")):
        assert cli.main(base + ["--paper-models", str(paper)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"advex robustness: error: --paper-models {paper}: {problem}") and err.count("\n") == 1
        assert not (tmp_path / "out").exists()


def test_a_damaged_stages_json_of_the_paper_models_names_the_flag(synthetic_idx_dir, tmp_path, capsys):
    """'[' * 200000 gave a RecursionError; a damaged one said '... pass another --out', not --paper-models."""
    paper = small_paper_models(tmp_path / "paper", synthetic_idx_dir)
    for damage, problem in (("[" * 200000, "not valid JSON (nested too deeply)"), ("{", "not valid JSON")):
        (paper / "stages.json").write_text(damage)
        assert cli.main(["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--paper-models",
                         str(paper), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"advex robustness: error: {paper / 'stages.json'}: {problem}") and err.count("\n") == 1
        assert f"it is the record of --paper-models {paper}: pass the --out of an advex reproduce run" in err
        assert "another --out" not in err and not (tmp_path / "out").exists()


def test_a_run_killed_while_the_paper_models_train_resumes(synthetic_idx_dir, tmp_path, monkeypatch, capsys):
    """It was refused: 'holds paper-models but no stages.json ... pass an empty or new --out'."""
    out = tmp_path / "out"
    real_save, real_restore, saved, restored = training.checkpoints.save, training.checkpoints.restore, [], []

    def saved_then_killed(path, *args, **kwargs):  # its first checkpoint is written, then the run dies
        real_save(path, *args, **kwargs)
        saved.append(path)
        raise Killed

    def restored_then_killed(path, *args, **kwargs):
        real_restore(path, *args, **kwargs)
        restored.append(path)
        raise Killed

    argv = ["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]
    monkeypatch.setattr(training.checkpoints, "save", saved_then_killed)
    with pytest.raises(Killed):
        cli.main(argv)
    monkeypatch.setattr(training.checkpoints, "save", real_save)
    monkeypatch.setattr(training.checkpoints, "restore", restored_then_killed)
    with pytest.raises(Killed):  # the second run resumes the paper model from the checkpoint the first one wrote
        cli.main(argv)
    assert restored == saved and os.path.dirname(saved[0]).startswith(os.path.join(out, "paper-models", "checkpoints"))
    assert json.loads((out / "stages.json").read_text())["stages"] == {}
    assert json.loads((out / "paper-models" / "stages.json").read_text())["stages"] == {}


# --- second review of round 3 -------------------------------------------------------------------------
def test_paper_models_of_a_reproduction_from_before_model_digests_say_how_to_record_them(synthetic_idx_dir, tmp_path,
                                                                                         monkeypatch, capsys):
    """A folder from before stages.json recorded its models was refused as if its files were none that
    advex reproduce saved there; a re-run of its reproduction records them."""
    monkeypatch.setattr(stages, "strong_attacks", refuse_to_attack)
    paper = small_paper_models(tmp_path / "paper", synthetic_idx_dir)
    saved = json.loads((paper / "stages.json").read_text())
    del saved["models"]
    (paper / "stages.json").write_text(json.dumps(saved))
    assert cli.main(["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--paper-models", str(paper),
                     "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"advex robustness: error: --paper-models {paper}: its stages.json records no SHA-256 of its model files "
        "(written before advex reproduce recorded them), so they cannot be checked: run advex reproduce --out "
        f"{paper} again with that run's settings (it records them as its stages load the models), or leave out "
        "--paper-models to train them here\n")
    assert not (tmp_path / "out").exists()


def test_paper_models_are_hashed_once_after_they_are_read(synthetic_idx_dir, tmp_path, monkeypatch):
    """Each file was hashed twice, the first time before it was read: a file replaced in between was checked
    as one file and read as another."""
    from attacks.reproduction import cache
    from attacks.robustness import run as robustness_run

    paper = small_paper_models(tmp_path / "paper", synthetic_idx_dir)
    events, real_load, real_hash = [], models.load, cache.file_sha256
    monkeypatch.setattr(models, "load", lambda path, **kw: events.append(("read", os.path.basename(path))) or
                        real_load(path, **kw))
    def hashed(path, *args):
        events.append(("hash", os.path.basename(path)))
        return real_hash(path, *args)

    monkeypatch.setattr(cache, "file_sha256", hashed)
    monkeypatch.setattr(robustness_run, "file_sha256", hashed, raising=False)  # where it was imported by name
    monkeypatch.setattr(stages, "strong_attacks", lambda r: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):
        cli.main(["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--paper-models", str(paper),
                  "--out", str(tmp_path / "out")])
    model_events = [event for event in events if event[1] in ("maxout.npz", "maxout_adversarial.npz")]
    assert model_events == [("read", "maxout.npz"), ("read", "maxout_adversarial.npz"),
                            ("hash", "maxout.npz"), ("hash", "maxout_adversarial.npz")]


# --- round 4 of issue 25 ------------------------------------------------------------------------------
def test_a_paper_model_file_copied_into_the_runs_own_paper_models_is_refused_naming_it(synthetic_idx_dir, tmp_path,
                                                                                      monkeypatch, capsys):
    """A maxout file copied into OUT/paper-models (trained by another run, on other data) was taken as the
    one the run had trained there, and attacked."""
    out = tmp_path / "out"
    argv = ["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]

    def attacks_the_maxout(run):
        run.paper_model("maxout")
        raise Killed

    monkeypatch.setattr(stages, "strong_attacks", attacks_the_maxout)
    monkeypatch.setattr(training, "fit", lambda *args, **kwargs: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):  # dies as its paper models start training: OUT/paper-models holds their record
        cli.main(argv)
    copied = out / "paper-models" / "models" / "maxout.npz"
    shutil.copytree(small_paper_models(tmp_path / "other", synthetic_idx_dir) / "models", copied.parent)
    recorded = (out / "paper-models" / "stages.json").read_bytes()
    monkeypatch.setattr(training, "fit", refuse_to_train)
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"advex robustness: error: {copied} is not a model file this run saved: "
                          f"{out / 'paper-models' / 'stages.json'} records no model maxout") and err.count("\n") == 1
    assert (out / "paper-models" / "stages.json").read_bytes() == recorded


@pytest.mark.parametrize("change", ["deleted", "replaced"])
def test_paper_models_trained_here_that_changed_after_a_stage_are_refused_naming_them(synthetic_idx_dir, tmp_path,
                                                                                     monkeypatch, capsys, change):
    """With OUT/paper-models deleted after the strong-attack stage, a re-run trained new paper models and
    reported the cached rows of the old ones beside new rows of the new ones: their digests were only in
    OUT/paper-models/stages.json, deleted with them."""
    out = tmp_path / "out"
    argv = ["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]

    def attacks_the_maxout(run):
        run.folder.stage("strong attacks maxout", lambda: run.paper_model("maxout").n_features)
        return []

    def killed(run):
        raise Killed

    monkeypatch.setattr(stages, "strong_attacks", attacks_the_maxout)
    monkeypatch.setattr(stages, "label_leaking", killed)  # the run dies after its strong-attack stage
    with pytest.raises(Killed):
        cli.main(argv)
    shutil.rmtree(out / "paper-models")
    if change == "replaced":  # as if trained again, with their own record
        small_paper_models(out / "paper-models", synthetic_idx_dir)
    recorded = (out / "stages.json").read_bytes()
    monkeypatch.setattr(training, "fit", refuse_to_train)
    capsys.readouterr()
    assert cli.main(argv) == 2
    state = "is missing" if change == "deleted" else "holds other contents (its SHA-256 has changed)"
    assert capsys.readouterr().err == (
        f"advex robustness: error: {out / 'paper-models' / 'models' / 'maxout.npz'} {state}, but the stages in "
        f"{out / 'stages.json'} were computed from the file this run recorded there; nothing was changed: restore the "
        "file, or pass another --out to start a new run\n")
    assert (out / "stages.json").read_bytes() == recorded
    assert (out / "paper-models").exists() == (change == "replaced")  # not trained again


def test_a_best_epoch_file_copied_in_is_refused_naming_it(synthetic_idx_dir, tmp_path, monkeypatch, capsys):
    """models/NAME-best.npz was saved and loaded with no record: a best epoch copied in from a run on other data
    was reported as this run's fast adversarial model."""
    out = tmp_path / "robustness"
    argv = ["robustness", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]
    assert cli.main(argv) == 0
    best = out / "models" / "fast_random_start_seed0-best.npz"
    (out / "models" / "fast_random_start_seed0.npz").unlink()
    results = (out / "results.json").read_bytes()
    models.save(models.SmallConvNet((1, 28, 28), 10, init="pytorch", seed=99), best)  # another run's best epoch
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{best} holds other contents" in err and "nothing was changed" in err
    assert (out / "results.json").read_bytes() == results
