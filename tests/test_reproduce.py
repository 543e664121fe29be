"""``advex reproduce --quick`` end to end on the synthetic IDX data set (no MNIST needed)."""

import json
import shutil

import numpy as np
import pytest

import models
import training
from attacks import cli
from attacks.reproduction import CLAIMS, stages
from attacks.reproduction.cache import RunFolder, input_digests
from cifar_files import md5sums_text, write_set

REQUIRED_IDS = {
    "softmax_fgsm", "logreg37_clean", "logreg37_fgsm", "maxout_clean", "maxout_fgsm", "rbf_fgsm", "advmaxout_clean",
    "advmaxout_fgsm", "conv_clean", "conv_fgsm", "transfer_orig_to_adv", "transfer_adv_to_orig", "rubbish_maxout", "rubbish_softmax", "rubbish_rbf",
}
ROW_KEYS = {"id", "metric", "ours", "paper", "tolerance", "n", "clip", "setup"}


def test_quick_reproduction_writes_every_section(synthetic_idx_dir, tmp_path, capsys):
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]
    assert cli.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    rows = results["rows"]
    assert REQUIRED_IDS <= {r["id"] for r in rows}
    assert all(ROW_KEYS <= set(r) for r in rows)
    assert results["mnist"] is False and all(r["paper"] is None for r in rows if r["id"] != "toy_example")
    errors = [r["ours"] for r in rows if r["metric"] in ("error_rate", "fooled_fraction")]
    assert errors and all(0.0 <= v <= 1.0 for v in errors)
    assert {json.dumps(r["clip"]) for r in rows if r["id"] == "maxout_fgsm"} == {"null"}
    assert {json.dumps(r["clip"]) for r in rows if r["id"] == "maxout_fgsm_clipped"} == {"[0.0, 1.0]"}
    assert len({(r["id"], r["metric"]) for r in rows}) == len(rows)  # every row is its own
    assert {r["kind"] for r in rows if r["id"] in ("transfer_asymmetry", "rubbish_order")} == {"claim"}
    report = (out / "results.md").read_text()
    assert "| softmax_fgsm |" in report
    for name in ("maxout", "maxout_adversarial"):  # early-stopped: the best epoch is one that ran
        t = results["training"][name]
        assert 1 <= t["best_epoch"] <= t["epochs"] and t["seconds_per_epoch"] > 0
        assert f"| {name} | {t['epochs']} | {t['best_epoch']} | {t['seconds_per_epoch']:.2f} |" in report
    assert "x a clean one" in report  # the cost of adversarial training
    for figure in ("eps_curves.png", "linearity.png", "examples.png"):
        assert (out / "figures" / figure).exists()
    for model in ("softmax", "softmax_converged", "maxout", "conv", "rbf", "maxout_adversarial"):
        assert (out / "models" / f"{model}.npz").exists()

    assert "done in" in capsys.readouterr().out


def test_a_rerun_reuses_finished_stages_and_refuses_other_settings(
        synthetic_idx_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]
    assert cli.main(argv) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]

    trained = []
    real_fit = training.fit

    def counting_fit(model, *args, **kwargs):
        trained.append(type(model).__name__)
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(training, "fit", counting_fit)
    (out / "results.json").unlink()
    assert cli.main(argv) == 0
    assert trained == [] and json.loads((out / "results.json").read_text())["rows"] == rows

    capsys.readouterr()
    assert cli.main(argv + ["--seed", "1"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_models_and_mlp_options_train_only_what_they_name(synthetic_idx_dir, tmp_path):
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out),
            "--models", "softmax", "rbf", "--mlp"]
    assert cli.main(argv) == 0
    ids = {r["id"] for r in json.loads((out / "results.json").read_text())["rows"]}
    assert ids == {"toy_example", "logreg37_clean", "logreg37_fgsm", "softmax_fgsm", "softmax_fgsm_clipped",
                   "rbf_clean", "rbf_fgsm", "rbf_fgsm_clipped", "mlp_clean", "mlp_fgsm", "mlp_fgsm_clipped",
                   "softmax_noise", "rbf_noise", "mlp_noise"}
    assert sorted(p.name for p in (out / "models").iterdir()) == ["mlp.npz", "rbf.npz", "softmax.npz"]


def test_a_model_file_of_the_wrong_class_is_refused(synthetic_idx_dir, tmp_path, capsys):
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out), "--models", "softmax"]
    assert cli.main(argv) == 0
    models.save(models.SoftmaxRegression(784, 10), out / "models" / "rbf.npz")  # not an RBFNetwork
    assert cli.main(argv + ["rbf"]) == 2
    assert "holds a SoftmaxRegression, not an RBFNetwork" in capsys.readouterr().err


class Killed(Exception):
    """Stands for a run killed between two stages."""


@pytest.fixture
def dies_after_first_stage(monkeypatch):
    """A run of ``cli.main`` dies with :class:`Killed` after its first stage (the toy example), every time."""

    def killed(run):
        raise Killed

    monkeypatch.setattr(stages, "logreg37", killed)


def change_one_pixel_of_the_training_images(data):
    """Rewrite the IDX training split of ``data`` with one pixel changed: its image file only."""
    X, y = training.load_idx_dataset(data, "train")
    images = (X * 255).round().astype(np.uint8).reshape(-1, 28, 28)
    images[0, 0, 0] ^= 1
    training.write_idx_dataset(data, images, y, "train")  # the label file: the same bytes again


def change_one_byte(file):
    data = bytearray(file.read_bytes())
    data[1] ^= 1  # a pixel of the first record
    file.write_bytes(bytes(data))


def edit_stages(out, edit) -> None:
    """Rewrite ``out``'s stages.json with ``edit(its parsed contents)`` applied, as by hand."""
    saved = json.loads((out / "stages.json").read_text())
    edit(saved)
    (out / "stages.json").write_text(json.dumps(saved))


def refused_unchanged(argv, out, capsys) -> str:
    """advex's error for ``argv``, which must refuse the run folder ``out`` in one line and leave its
    stages.json as it was."""
    recorded = (out / "stages.json").read_bytes()
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing was changed" in err
    assert (out / "stages.json").read_bytes() == recorded
    return err


@pytest.mark.parametrize("changed", ["--data", "--cifar"])
def test_a_file_the_run_read_changed_after_a_stage_is_refused_naming_it(synthetic_idx_dir, tmp_path, dies_after_first_stage, capsys,
                                                                         changed):
    data = tmp_path / "data"
    shutil.copytree(synthetic_idx_dir, data)
    cifar = write_set(tmp_path, "binary")[0]  # an extracted binary folder: no MD5 vouches for it
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(data), "--models", "softmax", "--cifar", str(cifar),
            "--out", str(out)]

    with pytest.raises(Killed):
        cli.main(argv)
    if changed == "--data":
        change_one_pixel_of_the_training_images(data)
        file, unchanged = data / "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
    else:
        file, unchanged = cifar / "data_batch_1.bin", "data_batch_2.bin"
        change_one_byte(file)
    err = refused_unchanged(argv, out, capsys)  # its stages were computed from the old contents: never mixed with the new
    assert str(file) in err and unchanged not in err


def test_files_beside_the_cifar_archive_read_may_change(synthetic_idx_dir, tmp_path, dies_after_first_stage):
    """Only the files a split was read from key the run: here the binary archive, not the Python
    archive nor the extracted folders lying beside it (they were hashed, and a change refused)."""
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    checksums = write_set(cifar, "binary")[2]
    write_set(cifar, "python")
    sums = tmp_path / "MD5SUMS"
    sums.write_text(md5sums_text(checksums))
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--models", "softmax",
            "--cifar", str(cifar), "--cifar-checksums", str(sums), "--out", str(out)]

    with pytest.raises(Killed):
        cli.main(argv)
    recorded = json.loads((out / "stages.json").read_text())
    idx = {str(synthetic_idx_dir / f"{name}.gz") for split in training.data.SPLIT_FILES.values() for name in split}
    assert set(recorded["config"]["inputs"]) == idx | {str(cifar / "cifar-10-binary.tar.gz")}
    for beside in ("cifar-10-python.tar.gz", "cifar-10-batches-py/data_batch_1", "cifar-10-batches-bin/test_batch.bin"):
        change_one_byte(cifar / beside)
    with pytest.raises(Killed):  # resumed: the toy example's stage is read back, the next one runs
        cli.main(argv)
    assert json.loads((out / "stages.json").read_text()) == recorded


@pytest.mark.parametrize("edit, problem", [
    (lambda saved: saved.update(stages=[]), "its 'stages' must be a JSON object"),
    (lambda saved: saved["stages"].update(toy=[1]), "its stage 'toy' is not"),
    (lambda saved: saved["stages"]["toy"].update(seconds="1.5"), "its stage 'toy' is not"),
], ids=["stages a list", "a stage a list", "seconds a string"])
def test_a_stages_json_edited_out_of_shape_is_refused_naming_it(synthetic_idx_dir, tmp_path, dies_after_first_stage, capsys,
                                                                edit, problem):
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--models", "softmax", "--out", str(out)]
    with pytest.raises(Killed):
        cli.main(argv)
    edit_stages(out, edit)  # the settings still this run's: only the stages are out of shape
    assert f"{out / 'stages.json'}: {problem}" in refused_unchanged(argv, out, capsys)


def test_a_folder_from_before_inputs_were_recorded_resumes_only_when_the_run_reads_no_file(tmp_path):
    out, file = tmp_path / "results", tmp_path / "data.idx"
    file.write_bytes(b"data")
    RunFolder(out, {"seed": 0}).record("toy", 1, 0.5)  # the settings as such a run recorded them
    assert RunFolder(out, {"seed": 0, "inputs": {}}).stages["toy"]["result"] == 1  # MNIST's checked files only
    with pytest.raises(ValueError, match=f"did not record the contents of the files it read.*{file}"):
        RunFolder(out, {"seed": 0, "inputs": input_digests([file])})


def test_inputs_that_differ_beside_another_setting_are_counted_not_listed(tmp_path):
    files = [tmp_path / f"data{i}.idx" for i in range(4)]
    for file in files:
        file.write_bytes(b"data")
    folders = {name: tmp_path / name for name in ("three", "one", "old")}
    RunFolder(folders["three"], {"seed": 0, "inputs": input_digests(files)}).record("toy", 1, 0.5)
    RunFolder(folders["one"], {"seed": 0, "inputs": input_digests(files[1:])}).record("toy", 1, 0.5)
    RunFolder(folders["old"], {"seed": 0}).record("toy", 1, 0.5)  # from before inputs were recorded
    for file in files[:3]:
        file.write_bytes(b"other data")
    settings = {"seed": 1, "inputs": input_digests(files[1:])}  # data0.idx no longer read: a difference too
    with pytest.raises(ValueError) as refused:
        RunFolder(folders["three"], settings)
    assert str(refused.value) == (f"{folders['three']} holds a run with other settings (inputs: 3 files differ; seed: 0 "
                                  "there, 1 here); nothing was changed: pass another --out to start a new one")
    with pytest.raises(ValueError, match=r"other settings \(inputs: 2 files differ; seed: 0 there, 1 here\)"):
        RunFolder(folders["one"], settings)
    with pytest.raises(ValueError, match=r"other settings \(inputs: not recorded there; seed: 0 there, 1 here\)"):
        RunFolder(folders["old"], settings)
    files[2].write_bytes(b"data")  # restored: only data1.idx differs
    with pytest.raises(ValueError, match=r"other settings \(inputs: 1 file differs; seed: 0 there, 1 here\)"):
        RunFolder(folders["one"], {"seed": 1, "inputs": input_digests(files[1:])})


def test_every_claim_is_one_row_and_names_a_known_tolerance():
    assert len({(c.id, c.metric) for c in CLAIMS}) == len(CLAIMS)
    for claim in CLAIMS:
        assert claim.tolerance is None or set(claim.tolerance) <= {"at_least", "at_most", "within"}
        assert claim.tolerance is None or "within" not in claim.tolerance or claim.paper is not None


def test_the_report_joins_claims_and_measurements_in_the_claims_order():
    """On MNIST each row carries the paper's number and is judged; elsewhere only the toy keeps its target."""
    from attacks.reproduction import QUICK, report

    measured = [
        {"id": "advmaxout_clean", "metric": "error_rate", "ours": 0.0110, "n": 10},  # out of order on purpose
        {"id": "maxout_clean", "metric": "error_rate", "ours": 0.0100, "n": 10},
        {"id": "maxout_fgsm", "metric": "error_rate", "ours": 0.80, "n": 10},
        {"id": "toy_example", "metric": "sigmoid after", "ours": 0.802, "n": 1},
        {"id": "not_a_claim", "metric": "error_rate", "ours": 0.5, "n": 10},
    ]
    rows = report.rows(CLAIMS, measured, mnist=True, budget=QUICK)
    assert [(r["id"], r["metric"]) for r in rows] == [("toy_example", "sigmoid after"), ("maxout_clean", "error_rate"),
                                                      ("maxout_fgsm", "error_rate"), ("advmaxout_clean", "error_rate")]
    toy, maxout_clean, maxout_fgsm, adv_clean = rows
    assert toy["paper"] == 0.80 and toy["ok"] is True
    assert maxout_clean["paper"] == 0.0094 and maxout_clean["tolerance"] == {"at_most": 0.014} and maxout_clean["ok"]
    assert maxout_fgsm["ok"] is False  # at least 85% is the target
    assert adv_clean["tolerance"]["at_most"] == 0.0100 + 0.0015 and adv_clean["ok"] is True
    assert maxout_clean["setup"].startswith("maxout (120, 120) x 5 pieces, paper recipe, <= 20 epochs; target: this budget's")
    elsewhere = report.rows(CLAIMS, measured, mnist=False, budget=QUICK)
    assert elsewhere[0]["ok"] is True and all(r["paper"] is None and r["ok"] is None for r in elsewhere[1:])


def test_results_md_never_prints_nan():
    from attacks.reproduction import QUICK, report

    row = {"id": "a", "metric": "confidence_wrong", "kind": "rate", "ours": float("nan"), "paper": 0.5, "tolerance": None,
           "ok": None, "n": 3, "clip": None}
    line = next(l for l in report.markdown([row], QUICK, {}, {}).splitlines() if l.startswith("| a |"))
    assert "nan" not in line and "| none |" in line
    assert report.judge(float("nan"), 0.5, {"within": 0.1}) is None  # no mistakes: nothing to judge, not a failure


# --- round 2 of issue 25: a run folder's files changed by hand ------------------------------------------
@pytest.fixture(scope="module")
def softmax_run(synthetic_idx_dir, tmp_path_factory):
    """(argv without --out, a finished quick run folder of the softmax model alone): copy it before changing it."""
    out = tmp_path_factory.mktemp("softmax_run") / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--models", "softmax"]
    assert cli.main(argv + ["--out", str(out)]) == 0
    return argv, out


def copy_of(run, tmp_path):
    argv, out = run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for report in ("results.json", "results.md"):  # the report is written again from the stages
        (copy / report).unlink()
    return argv + ["--out", str(copy)], copy


def test_a_model_file_replaced_in_the_run_folder_is_refused_naming_it(softmax_run, tmp_path, capsys):
    """The stages of the saved softmax were reported for the new one: softmax_fgsm 82% where advex attack
    on the file gave 100%."""
    argv, out = copy_of(softmax_run, tmp_path)
    models.save(models.SoftmaxRegression(784, 10, init=1.0, seed=5), out / "models" / "softmax.npz")
    err = refused_unchanged(argv, out, capsys)
    assert err.startswith(f"advex reproduce: error: {out / 'models' / 'softmax.npz'} is not the model file this run "
                          "saved there") and not (out / "results.md").exists()


def test_a_folder_from_before_model_digests_records_them_when_it_first_loads_its_models(softmax_run, tmp_path, capsys):
    argv, out = copy_of(softmax_run, tmp_path)
    def from_before_digests(saved):
        del saved["models"]
        for stage in saved["stages"].values():
            del stage["digest"]

    edit_stages(out, from_before_digests)
    assert cli.main(argv) == 0  # resumed as it was
    recorded = json.loads((out / "stages.json").read_text())["models"]
    assert recorded == {"softmax": input_digests([out / "models" / "softmax.npz"])[str(out / "models" / "softmax.npz")]}
    models.save(models.SoftmaxRegression(784, 10, init=1.0, seed=5), out / "models" / "softmax.npz")
    assert cli.main(argv) == 2 and "is not the model file this run saved" in capsys.readouterr().err


@pytest.mark.parametrize("edit", [
    lambda stage: stage.update(result={}),
    lambda stage: stage.update(result=None),
    lambda stage: stage.update(result="x"),
    lambda stage: stage.update(result=[1]),
    lambda stage: stage["result"].pop("error"),
    lambda stage: stage["result"].update(error="0.5"),
    lambda stage: stage["result"].update(error=0.01),
], ids=["{}", "null", "a string", "a list", "a key deleted", "a number as a string", "another number"])
def test_a_stage_result_edited_by_hand_is_refused_naming_the_file_and_the_stage(softmax_run, tmp_path, capsys, edit):
    """A result of the wrong shape gave KeyError or TypeError; '0.5' and 0.01 were reported as they were."""
    argv, out = copy_of(softmax_run, tmp_path)
    edit_stages(out, lambda saved: edit(saved["stages"]["fgsm softmax"]))
    err = refused_unchanged(argv, out, capsys)
    assert err.startswith(f"advex reproduce: error: {out / 'stages.json'}: the result of its stage 'fgsm softmax' does "
                          "not match the digest recorded with it (edited by hand?)") and not (out / "results.md").exists()


def test_only_the_idx_files_read_key_the_run(synthetic_idx_dir, tmp_path, dies_after_first_stage):
    """Both the plain and the .gz name of each IDX file were hashed, whichever was read: a .gz lying beside
    the plain file that is read (and changing) made a resume refused."""
    import gzip

    data = tmp_path / "data"
    shutil.copytree(synthetic_idx_dir, data)
    (data / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress((data / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(data), "--models", "softmax", "--out", str(out)]

    with pytest.raises(Killed):
        cli.main(argv)
    recorded = json.loads((out / "stages.json").read_text())
    read = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"}
    assert set(recorded["config"]["inputs"]) == {str(data / name) for name in read}
    change_one_byte(data / "t10k-labels-idx1-ubyte.gz")  # not read: the plain file is
    with pytest.raises(Killed):  # resumed
        cli.main(argv)
    assert json.loads((out / "stages.json").read_text()) == recorded


def test_a_model_file_that_does_not_fit_the_data_is_refused_naming_it(softmax_run, tmp_path, capsys):
    """A model of 3 classes put in the run folder (no record of it there) said 'y (the true labels) must be in
    0..2', naming neither the file nor what the data need."""
    argv, out = copy_of(softmax_run, tmp_path)
    narrow = out / "models" / "softmax_converged.npz"
    models.save(models.SoftmaxRegression(784, 3), narrow)
    capsys.readouterr()
    assert cli.main(argv + ["--models", "softmax", "softmax_converged"]) == 2
    assert capsys.readouterr().err == (f"advex reproduce: error: {narrow} is a SoftmaxRegression for 784 features and 3 "
                                       "classes; the data have 784 features and labels up to 9; remove it, or pass "
                                       "another --out\n")


def test_a_run_folder_without_its_stages_json_is_refused_saying_so(softmax_run, tmp_path, capsys):
    """It said the folder held 'files that advex reproduce did not write (models, ...)': exactly what it writes."""
    argv, out = copy_of(softmax_run, tmp_path)
    (out / "stages.json").unlink()
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (f"advex reproduce: error: {out} holds checkpoints, figures, models but no "
                                       "stages.json: not the output of advex reproduce, or one without its record; "
                                       "nothing was changed: pass an empty or new --out\n")


# --- round 3 of issue 25 ------------------------------------------------------------------------------
def test_a_deleted_model_file_the_run_saved_is_refused_not_trained_again(softmax_run, tmp_path, monkeypatch, capsys):
    """It was trained again, its new SHA-256 replaced the recorded one, and the old model's stages were kept."""
    argv, out = copy_of(softmax_run, tmp_path)
    (out / "models" / "softmax.npz").unlink()
    monkeypatch.setattr(training, "fit", refuse_to_train)
    err = refused_unchanged(argv, out, capsys)
    assert err == (f"advex reproduce: error: {out / 'models' / 'softmax.npz'} is missing, but this run saved the model "
                   f"softmax there and the stages in {out / 'stages.json'} were computed from that file; nothing was "
                   "changed: restore the file, or pass another --out to start a new run (training it again would give "
                   "another model)\n")
    assert not (out / "models" / "softmax.npz").exists()


def refuse_to_train(*args, **kwargs):
    raise AssertionError("a model was trained")


def test_a_model_whose_training_never_finished_is_trained_when_its_file_is_missing(synthetic_idx_dir, tmp_path,
                                                                                  monkeypatch):
    """No digest recorded (killed after its checkpoint was written, before its file was saved): trained,
    resuming its checkpoint rather than starting over."""
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--models", "softmax", "--out", str(out)]
    real_save, steps = training.checkpoints.save, []

    def saved_then_killed(*args, **kwargs):
        real_save(*args, **kwargs)
        raise Killed

    monkeypatch.setattr(training.checkpoints, "save", saved_then_killed)  # only a model in training checkpoints
    with pytest.raises(Killed):
        cli.main(argv)
    assert json.loads((out / "stages.json").read_text())["models"] == {}
    assert (out / "checkpoints" / "softmax").is_dir() and not (out / "models" / "softmax.npz").exists()

    monkeypatch.setattr(training.checkpoints, "save", real_save)
    real_step = training.loop.train_step
    monkeypatch.setattr(training.loop, "train_step", lambda *args: steps.append(1) or real_step(*args))
    assert cli.main(argv) == 0 and (out / "models" / "softmax.npz").exists()
    assert steps == []  # its one epoch was in the checkpoint: resumed, not trained from scratch
    assert json.loads((out / "results.json").read_text())["training"]["softmax"]["epochs"] == 1


def test_a_stages_json_nested_too_deeply_is_refused_naming_it(softmax_run, tmp_path, capsys):
    """'[' * 200000 gave a RecursionError."""
    argv, out = copy_of(softmax_run, tmp_path)
    (out / "stages.json").write_text("[" * 200000)
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith(f"advex reproduce: error: {out / 'stages.json'}: not valid JSON (nested "
                                              "too deeply): not a stages.json written by advex reproduce")


# --- second review of round 3 -------------------------------------------------------------------------
def test_a_run_that_died_before_computing_anything_can_be_rerun_with_other_settings(synthetic_idx_dir, tmp_path,
                                                                                    monkeypatch, capsys):
    """stages.json, written as the run took its folder, pinned its settings: a re-run with a corrected flag was
    refused as 'a run with other settings', though nothing had been computed under them."""
    def killed(run):
        raise Killed

    monkeypatch.setattr(stages, "toy", killed)  # the first stage: the run dies before any stage ends
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--models", "softmax", "--out", str(out)]
    with pytest.raises(Killed):
        cli.main(argv + ["--seed", "1"])
    with pytest.raises(Killed):  # the corrected flag: the record is this run's now
        cli.main(argv + ["--seed", "2"])
    assert json.loads((out / "stages.json").read_text())["config"]["seed"] == 2

    RunFolder(tmp_path / "computed", {"seed": 1}).record("toy", 1, 0.5)  # a stage computed: never replaced
    with pytest.raises(ValueError, match=r"other settings \(seed: 1 there, 2 here\)"):
        RunFolder(tmp_path / "computed", {"seed": 2})
    RunFolder(tmp_path / "training", {"seed": 1})
    (tmp_path / "training" / "checkpoints").mkdir()  # a model in training: its checkpoint is of seed 1
    with pytest.raises(ValueError, match=r"other settings \(seed: 1 there, 2 here\)"):
        RunFolder(tmp_path / "training", {"seed": 2})


# --- round 4 of issue 25 ------------------------------------------------------------------------------
def test_a_model_file_the_run_did_not_save_is_refused_naming_it(softmax_run, tmp_path, monkeypatch, capsys):
    """A model file copied in from another run (trained on other data) was taken over: its digest recorded as
    the run's own, its rows reported, and --paper-models accepted the folder."""
    argv, out = copy_of(softmax_run, tmp_path)
    copied = out / "models" / "softmax_converged.npz"
    models.save(models.SoftmaxRegression(784, 10, init=1.0, seed=5), copied)  # it fits the data: no other complaint
    monkeypatch.setattr(training, "fit", refuse_to_train)
    err = refused_unchanged(argv + ["--models", "softmax", "softmax_converged"], out, capsys)
    assert err == (f"advex reproduce: error: {copied} is not a model file this run saved: {out / 'stages.json'} records "
                   "no model softmax_converged (copied in from another run?), so its stages would report a model "
                   "trained on data this run does not know; nothing was changed: remove the file to train the model "
                   "here, or pass another --out to start a new run\n")
    assert "softmax_converged" not in json.loads((out / "stages.json").read_text())["models"]


def test_a_folder_from_before_model_digests_records_only_a_model_that_fits(softmax_run, tmp_path, capsys):
    """A file refused as a misfit was recorded all the same (before it was loaded): its digest stayed, the
    record of a model this run never used."""
    argv, out = copy_of(softmax_run, tmp_path)
    edit_stages(out, lambda saved: saved.pop("models"))
    models.save(models.SoftmaxRegression(784, 3), out / "models" / "softmax_converged.npz")
    capsys.readouterr()
    assert cli.main(argv + ["--models", "softmax", "softmax_converged"]) == 2
    assert "softmax_converged.npz is a SoftmaxRegression for 784 features and 3 classes" in capsys.readouterr().err
    assert sorted(json.loads((out / "stages.json").read_text())["models"]) == ["softmax"]  # the one it loaded


def test_a_run_stopped_between_saving_a_model_and_recording_it_resumes(synthetic_idx_dir, tmp_path, monkeypatch, capsys):
    """Ctrl-C after models.save wrote the file and before stages.json recorded its SHA-256 left a file the
    next run refused as 'not a model file this run saved' (only retraining, hours at full size, got out)."""
    import attacks.reproduction.cache as cache

    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--models", "softmax", "--out", str(out)]
    save = cache.models.save

    def save_then_stop(model, path):
        save(model, path)
        raise Killed

    monkeypatch.setattr(cache.models, "save", save_then_stop)
    with pytest.raises(Killed):
        cli.main(argv)
    monkeypatch.setattr(cache.models, "save", save)
    assert json.loads((out / "stages.json").read_text())["models"] == {"softmax": cache.SAVING}
    assert cli.main(argv) == 0, capsys.readouterr().err
    recorded = json.loads((out / "stages.json").read_text())["models"]
    assert recorded["softmax"] == cache.file_sha256(out / "models" / "softmax.npz")


def test_a_folder_from_before_model_digests_stays_one_after_a_rerun_stops(tmp_path):
    """The first write of an old folder added a 'models' entry, so after a stopped re-run the next one took the
    folder for a new one and refused the model files it had not loaded yet as copied in."""
    import attacks.reproduction.cache as cache

    out = tmp_path / "results"
    out.mkdir()
    config = {"seed": 0}
    (out / "stages.json").write_text(json.dumps({"config": config, "stages": {}}))  # written before model digests
    folder = cache.RunFolder(out, config)
    assert not folder.records_models
    folder.record("toy", {"n": 1}, 0.1)  # a re-run records a stage, then stops
    assert not cache.RunFolder(out, config).records_models
