"""Bad input and faults: a clear error naming the problem, never a silently wrong answer or a lost file.

Each test here is one probe of a hostile but fair user (issue 11): every one of them
gave a wrong answer, a raw traceback or a clobbered file before the check it tests.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import attacks
import minigrad as mg
import models
import training
from attacks import cli
from minigrad import Tensor


@pytest.fixture(scope="module")
def small():
    """A small trained softmax classifier (6 features, 3 classes) and a batch it sees."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(8, 6)).astype(np.float32)
    model = models.SoftmaxRegression(6, 3, init=0.5, seed=0)
    return model, x, model.predict(x)


# --- files: nothing is lost or left behind ---------------------------------------------------
def test_a_killed_writer_leaves_no_orphan_after_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f".tmp-model.npz.{dead_pid}.abcd.npz"  # what kill -9 mid-save leaves
    alive = tmp_path / f".tmp-model.npz.{os.getpid()}.efgh.npz"  # a write still in progress
    other = tmp_path / f".tmp-other.npz.{dead_pid}.ijkl.npz"  # another file's: its own write cleans it
    for f in (orphan, alive, other):
        f.write_bytes(b"partial")
    models.save(models.SoftmaxRegression(4, 2), tmp_path / "model.npz")
    assert not orphan.exists() and alive.exists() and other.exists()


def test_written_files_are_readable_as_the_umask_allows(tmp_path):
    previous = os.umask(0o022)
    try:
        models.save(models.SoftmaxRegression(4, 2), tmp_path / "model.npz")
    finally:
        os.umask(previous)
    assert (tmp_path / "model.npz").stat().st_mode & 0o777 == 0o644  # mkstemp alone gives 0o600


def test_reproduce_refuses_a_folder_of_someone_elses_files(synthetic_idx_dir, tmp_path, capsys):
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "results.md").write_text("their results")
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{out} holds results.md but no stages.json: not the output of advex reproduce" in err
    assert (out / "results.md").read_text() == "their results" and sorted(p.name for p in out.iterdir()) == ["results.md"]


@pytest.mark.parametrize("command", ["reproduce", "robustness"])
@pytest.mark.parametrize("contents, problem", [("[]", "holds an array, not an object"),
                                               ('{"config": {"seed": 0}, "stages": {"toy": {"res', "not valid JSON")])
def test_a_hand_edited_stages_json_is_refused_naming_it(synthetic_idx_dir, tmp_path, capsys, command, contents, problem):
    out = tmp_path / "results"
    out.mkdir()
    (out / "stages.json").write_text(contents)
    assert cli.main([command, "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{out / 'stages.json'}: {problem}" in err and "nothing was changed" in err
    assert sorted(p.name for p in out.iterdir()) == ["stages.json"] and (out / "stages.json").read_text() == contents


# --- advex: one line on stderr, exit 2, nothing written ----------------------------------------
def _snapshot(folder):
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture
def bad_files(tmp_path):
    """A model, a model with NaN weights, a corrupt one, an .npy, and a file standing where a folder should."""
    good = models.SoftmaxRegression(784, 10)
    models.save(good, tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as saved:  # models.save refuses NaN weights: the file is damaged by hand
        arrays = dict(saved)
    arrays["linear.weight"] = arrays["linear.weight"].copy()
    arrays["linear.weight"][0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", **arrays)
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 not really")
    np.save(tmp_path / "array.npy", np.zeros(3))
    (tmp_path / "a_file").write_text("x")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    return tmp_path


BAD_COMMANDS = {
    "demo eps -1": ["demo", "--eps", "-1"],
    "demo eps nan": ["demo", "--eps", "nan"],
    "attack missing model": ["attack", "--model", "missing.npz"],
    "attack nan weights": ["attack", "--model", "nan.npz"],
    "attack corrupt model": ["attack", "--model", "corrupt.npz"],
    "attack npy as model": ["attack", "--model", "array.npy"],
    "attack eps nan": ["attack", "--model", "good.npz", "--eps", "nan"],
    "attack eps inf": ["attack", "--model", "good.npz", "--eps", "inf"],
    "attack eps negative": ["attack", "--model", "good.npz", "--eps", "-0.1"],
    "attack batch size 0": ["attack", "--model", "good.npz", "--batch-size", "0"],
    "attack batch size -1": ["attack", "--model", "good.npz", "--batch-size", "-1"],
    "attack n -5": ["attack", "--model", "good.npz", "--n", "-5"],
    "attack pgd steps -1": ["attack", "--model", "good.npz", "--attack", "pgd", "--steps", "-1"],
    "attack pgd step size nan": ["attack", "--model", "good.npz", "--attack", "pgd", "--step-size", "nan"],
    "attack data nowhere": ["attack", "--model", "good.npz", "--data", "nowhere"],
    "attack out under a file": ["attack", "--model", "good.npz", "--out", "a_file/out"],
    "attack import missing": ["attack", "--model", "good.npz", "--import", "no_such_module_here"],
    "attack import a path": ["attack", "--model", "good.npz", "--import", "./my_models"],
    "attack import a relative name": ["attack", "--model", "good.npz", "--import", ".x"],
    "attack import a parent path": ["attack", "--model", "good.npz", "--import", "../x"],
    "attack import a file name": ["attack", "--model", "good.npz", "--import", "my_models.py"],
    "reproduce quick and full size": ["reproduce", "--quick", "--full-size"],
    "reproduce foreign folder": ["reproduce", "--quick", "--out", "foreign"],
    "reproduce out is a file": ["reproduce", "--quick", "--out", "a_file"],
    "reproduce data nowhere": ["reproduce", "--quick", "--data", "nowhere", "--out", "new"],
    "reproduce cifar nowhere": ["reproduce", "--quick", "--cifar", "nowhere", "--out", "new"],
    "reproduce cifar checksums without cifar": ["reproduce", "--quick", "--cifar-checksums", "a_file", "--out", "new"],
    "attack cifar and data": ["attack", "--model", "good.npz", "--cifar", "nowhere", "--data", "nowhere"],
    "attack units preprocessed without preprocessing": ["attack", "--model", "good.npz", "--units", "preprocessed"],
    "robustness seed -1": ["robustness", "--quick", "--seed", "-1", "--out", "new"],
    "robustness foreign folder": ["robustness", "--quick", "--out", "foreign"],
    "robustness paper models nowhere": ["robustness", "--quick", "--paper-models", "nowhere", "--out", "new"],
    "robustness data nowhere": ["robustness", "--quick", "--data", "nowhere", "--out", "new"],
}


@pytest.mark.parametrize("name", sorted(BAD_COMMANDS))
def test_every_bad_advex_command_is_one_line_exit_2_and_writes_nothing(name, bad_files, synthetic_idx_dir, monkeypatch, capsys):
    monkeypatch.chdir(bad_files)
    argv = list(BAD_COMMANDS[name])
    if argv[0] == "attack" and "--data" not in argv:
        argv += ["--data", str(synthetic_idx_dir)]
    before = _snapshot(bad_files)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"advex {argv[0]}: error: ") and err.count("\n") == 1, err
    assert _snapshot(bad_files) == before


# --- the library: errors that name the problem ----------------------------------------------
def test_gradcheck_refuses_complex_inputs():
    with pytest.raises(TypeError, match="complex"):
        mg.gradcheck(lambda t: t.sum(), [np.array([1.0 + 2.0j])])


def test_predict_refuses_nan_input_and_nan_weights(small):
    model, x, _ = small
    bad = x.copy()
    bad[[2, 5], 0] = [np.nan, np.inf]
    with pytest.raises(ValueError, match=r"input rows \[2, 5\] hold NaN or inf"):
        model.predict(bad)
    with pytest.raises(ValueError, match="input rows"):
        attacks.least_likely_class(model, bad)
    broken = models.SoftmaxRegression(6, 3)
    broken.linear.weight.data[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf in the model's weights"):
        broken.predict(x)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_a_batch_size_below_one_is_refused(small, batch_size):
    model, x, y = small
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        model.predict(x, batch_size=batch_size)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        attacks.evaluate(model, x, y, eps=[0.1], batch_size=batch_size)


def test_error_rate_refuses_labels_that_would_broadcast(small):
    model, x, y = small
    assert training.error_rate(model, x, y) == 0.0
    with pytest.raises(ValueError, match=r"error_rate: y must be integer class indices of shape \(8,\)"):
        training.error_rate(model, x, y[:, None])
    with pytest.raises(ValueError, match="error_rate: y"):
        training.error_rate(model, x, y[:1])


def test_random_sign_noise_checks_what_every_attack_checks():
    x = np.full((2, 3), 0.5, dtype=np.float32)
    with pytest.raises(ValueError, match="low < high"):
        attacks.random_sign_noise(x, 0.1, clip=(1.0, 0.0))
    with pytest.raises(ValueError, match="outside clip"):
        attacks.random_sign_noise(x + 2, 0.1)
    with pytest.raises(ValueError, match="NaN or inf"):
        attacks.random_sign_noise(np.full_like(x, np.nan), 0.1, clip=None)
    with pytest.raises(ValueError, match=r"eps must be a scalar or have shape \(2,\)"):
        attacks.random_sign_noise(x, np.array([0.1, 0.2, 0.3]))
    out = attacks.random_sign_noise(x, np.array([0.1, 0.2]), clip=None, seed=0)
    np.testing.assert_allclose(np.abs(out - x), [[0.1] * 3, [0.2] * 3], rtol=1e-6)


@pytest.mark.parametrize("eps", [np.inf, -np.inf, np.nan])
def test_a_non_finite_eps_is_refused(small, eps):
    model, x, y = small
    for attack in (attacks.fgsm, attacks.fgm, attacks.pgd):
        with pytest.raises(ValueError, match="eps must be finite"):
            attack(model, x, y, eps)
    with pytest.raises(ValueError, match="eps must be finite"):
        attacks.evaluate(model, x, y, eps=[0.1, eps])
    with pytest.raises(ValueError, match="eps must be finite"):
        attacks.AdversarialObjective(eps=eps)


def test_grad_refuses_the_same_argument_twice():
    with pytest.raises(ValueError, match="names an argument twice"):
        mg.grad(lambda a: (a * a).sum(), argnums=(0, 0))(np.ones(2))


def test_truth_of_a_tensor_is_numpys():
    assert not bool(Tensor([0.0])) and bool(Tensor(1.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


def test_binary_cross_entropy_refuses_targets_outside_0_1():
    for targets in ([2.0], [-0.5], [np.nan]):
        with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
            mg.binary_cross_entropy_with_logits(Tensor([1.0]), np.array(targets))


@pytest.mark.parametrize("low, high, problem", [
    (np.array([0.0, 2.0, 0.0]), np.array([1.0, 1.0, 1.0]), r"clip: low is greater than high at some element"),
    (np.zeros(4), None, r"clip: low of shape \(4,\) does not broadcast to the input's shape \(2, 3\)"),
    (None, np.ones((3, 3)), r"clip: high of shape \(3, 3\) does not broadcast to the input's shape \(2, 3\)"),
    ("a", None, r"clip: low: an operand beside a float32 tensor must be a real number"),
])
def test_clip_refuses_bad_array_bounds_naming_clip(low, high, problem):
    with pytest.raises((ValueError, TypeError), match=problem):
        mg.clip(Tensor(np.ones((2, 3))), low, high)


@pytest.mark.parametrize("pieces", [-1, 0, 1.5, True])
def test_maxout_refuses_a_bad_piece_count(pieces):
    with pytest.raises(ValueError, match="pieces must be an integer >= 1"):
        mg.maxout(Tensor(np.ones((2, 6))), pieces)


@pytest.mark.parametrize("settings", [dict(beta=-1.0), dict(beta=0.0), dict(beta=np.nan), dict(max_beta=-0.2)])
def test_rbf_refuses_precisions_that_are_not_positive(settings):
    with pytest.raises(ValueError, match=r"RBF: (max_)?beta must be a finite number > 0"):
        models.RBFNetwork(8, 3, **settings)


def test_model_files_with_a_broken_description_are_refused(tmp_path):
    np.savez(tmp_path / "bad_json.npz", w=np.zeros(2), __model__=np.array("{not json"))
    np.savez(tmp_path / "no_config.npz", w=np.zeros(2), __model__=np.array(json.dumps({"format": 1, "class": "MLP"})))
    np.savez(tmp_path / "bad_config.npz", __model__=np.array(json.dumps({"format": 1, "class": "MLP", "config": {"colour": 3}})))
    for name in ("bad_json", "no_config", "bad_config"):
        with pytest.raises(models.ModelFileError, match=f"{name}.npz"):
            models.load(tmp_path / f"{name}.npz")


def _fit_checkpointed(tmp_path, *, model=None, optimizer=None, X=None, resume=False):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(40, 6)).astype(np.float32) if X is None else X
    y = (X[:, 0] > 0.5).astype(np.int64)
    model = models.SoftmaxRegression(6, 2, seed=0) if model is None else model
    optimizer = training.SGD(model.parameters(), lr=0.1) if optimizer is None else optimizer
    return training.fit(model, X, y, epochs=2, batch_size=10, optimizer=optimizer, checkpoint_dir=tmp_path,
                        resume=resume, progress=False)


def test_resume_refuses_a_checkpoint_of_other_settings_data_or_model(tmp_path):
    _fit_checkpointed(tmp_path)

    def softmax_with(make_optimizer):
        model = models.SoftmaxRegression(6, 2, seed=0)
        return dict(model=model, optimizer=make_optimizer(model.parameters()))

    mlp = models.MLP((6, 4, 2), seed=0)
    probes = {
        "settings": softmax_with(lambda params: training.SGD(params, lr=0.5, momentum=0.9)),
        "optimizer": softmax_with(lambda params: training.Adam(params, lr=0.1)),
        "data": dict(X=np.random.default_rng(1).uniform(0, 1, size=(40, 6)).astype(np.float32)),
        "model": dict(model=mlp, optimizer=training.SGD(mlp.parameters(), lr=0.1)),
    }
    for differs, kwargs in probes.items():
        with pytest.raises(ValueError, match=f"is of another run: its .*{differs}"):
            _fit_checkpointed(tmp_path, resume=True, **kwargs)
    assert _fit_checkpointed(tmp_path, resume=True).epoch == [1, 2]  # the same run still resumes


def test_a_numpy_integer_seed_saves(tmp_path):
    model = models.MaxoutNetwork(6, hidden=(4,), pieces=2, n_classes=3, dropout=None, seed=np.int64(3))
    models.save(model, tmp_path / "m.npz")
    assert models.load(tmp_path / "m.npz").config["seed"] == 3


def test_integer_tensors_are_cast_to_float_before_arithmetic():
    """int8 logits do not wrap around; an integer operand does not drag a float32 graph into float64."""
    loss = mg.cross_entropy(Tensor(np.array([[127, -128]], np.int8)), np.array([1]))
    assert loss.item() == pytest.approx(255.0) and loss.dtype == np.float32
    assert (Tensor([1.0]) + Tensor(np.array([2]))).dtype == np.float32
    assert (Tensor(np.array([3])) * 0.5).dtype == np.float32
    assert mg.exp(Tensor(np.array([1, 2]))).dtype == np.float32
    assert mg.mean(Tensor(np.array([1, 2]))).dtype == np.float32
    assert (-Tensor(np.array([-128], np.int8))).item() == 128.0
    x64 = Tensor(np.array([1.0]), dtype=np.float64)
    assert (x64 + Tensor(np.array([2]))).dtype == np.float64  # the float side decides


def test_fit_refuses_empty_sets_and_non_integer_sizes():
    X, y = np.zeros((10, 6), dtype=np.float32), np.zeros(10, dtype=np.int64)

    def fit(**kwargs):
        model = models.SoftmaxRegression(6, 2)
        settings = dict(epochs=1, batch_size=5, optimizer=training.SGD(model.parameters(), lr=0.1), progress=False)
        return training.fit(model, kwargs.pop("X", X), kwargs.pop("y", y), **{**settings, **kwargs})

    with pytest.raises(ValueError, match="no training examples"):
        fit(X=X[:0], y=y[:0])
    with pytest.raises(ValueError, match="no training examples"):
        fit(val_fraction=0.999)
    with pytest.raises(ValueError, match="validation set is empty"):
        fit(val=(X[:0], y[:0]))
    for sizes in (dict(epochs=1.5), dict(batch_size=2.0), dict(batch_size=0)):
        with pytest.raises(ValueError, match="need integers epochs >= 0 and batch_size >= 1"):
            fit(**sizes)
    with pytest.raises(ValueError, match="validation error of epoch 1 is nan"):
        fit(val=(X, y), early_stopping=training.EarlyStopping(patience=3), validate=lambda m, X, y: float("nan"))


@pytest.mark.parametrize("make, message", [
    (lambda p: training.Adam(p, betas=(1.0, 0.999)), r"Adam: beta1 must be in \[0, 1\), got 1.0"),
    (lambda p: training.Adam(p, betas=(2.0, 0.999)), r"Adam: beta1 must be in \[0, 1\), got 2.0"),
    (lambda p: training.Adam(p, eps=-1e-8), r"Adam: eps must be in \(0, inf\)"),
    (lambda p: training.SGD(p, lr=np.inf), r"SGD: lr must be in \(0, inf\), got inf"),
    (lambda p: training.SGD(p, lr=0.1, weight_decay=-1), r"SGD: weight_decay must be in \[0, inf\)"),
])
def test_optimizers_refuse_settings_that_diverge_or_divide_by_zero(make, message):
    with pytest.raises(ValueError, match=message):
        make(models.SoftmaxRegression(4, 2).parameters())


def test_idx_files_with_no_items_or_unreadable_are_data_errors(tmp_path):
    with pytest.raises(ValueError, match="no images to write"):
        training.write_idx_dataset(tmp_path, np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64))
    images, labels = training.data.SPLIT_FILES["test"]
    header = (0x0803).to_bytes(4, "big") + np.array([0, 28, 28], ">u4").tobytes()
    (tmp_path / images).write_bytes(header)
    (tmp_path / labels).write_bytes((0x0801).to_bytes(4, "big") + np.array([0], ">u4").tobytes())
    with pytest.raises(training.DataError, match="holds no images"):
        training.load_idx_dataset(tmp_path, "test")
    (tmp_path / images).unlink()
    (tmp_path / images).mkdir()  # a folder where the file should be: unreadable
    with pytest.raises(training.DataError, match="cannot be read"):
        training.read_idx(tmp_path / images)


def test_linearity_and_transfer_check_their_arguments_before_any_work(small):
    model, x, y = small
    for kwargs in (dict(num=0), dict(num=1), dict(eps_max=np.nan), dict(eps_max=0.0)):
        with pytest.raises(ValueError, match="linearity: need a finite eps_max > 0 and an integer num >= 2"):
            attacks.linearity(model, x, y, **kwargs)
    with pytest.raises(ValueError, match="transfer_matrix: eps must be finite"):
        attacks.transfer_matrix([model, model], x, y, np.nan)
    with pytest.raises(ValueError, match=r"y \(the true labels\) is required here"):
        attacks.evaluate(model, x, None)


def test_a_non_finite_loss_names_its_cause():
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="loss of example .0,. overflows float32"):
        mg.cross_entropy(Tensor(np.array([[3e38, -3e38]], np.float32)), np.array([1]))
    with pytest.raises(ValueError, match="logits of example .0,. contain NaN or inf"):
        mg.cross_entropy(Tensor(np.array([[np.nan, 1.0]], np.float32)), np.array([1]))


# --- the second round of probes ----------------------------------------------------------------
def _tiny(n=40):
    X = np.random.default_rng(0).uniform(0, 1, (n, 6)).astype(np.float32)
    return X, (X[:, 0] > 0.5).astype(np.int64)


def _fit(model, optimizer, **kwargs):
    X, y = _tiny()
    return training.fit(model, X, y, epochs=2, batch_size=10, optimizer=optimizer, progress=False, **kwargs)


def test_fit_refuses_an_optimizer_of_another_models_parameters():
    model = models.SoftmaxRegression(6, 2)
    with pytest.raises(ValueError, match="optimizer's parameters are not among the model's trainable ones"):
        _fit(model, training.SGD(models.SoftmaxRegression(6, 2).parameters(), lr=0.5))


def test_fit_refuses_an_early_stopping_that_watched_another_run():
    stopper = training.EarlyStopping(patience=5)
    first = models.SoftmaxRegression(6, 2)
    _fit(first, training.SGD(first.parameters(), lr=0.5), val_fraction=0.25, early_stopping=stopper)
    second = models.SoftmaxRegression(6, 2)
    with pytest.raises(ValueError, match="EarlyStopping has already watched a run"):
        _fit(second, training.SGD(second.parameters(), lr=0.5), val_fraction=0.25, early_stopping=stopper)


def test_schedules_set_only_real_settings_within_their_ranges():
    model = models.SoftmaxRegression(6, 2)
    sgd = training.SGD(model.parameters(), lr=0.5)
    with pytest.raises(ValueError, match="sets 'learning_rate', which SGD does not have"):
        _fit(model, sgd, schedules=[training.ExponentialDecay("learning_rate", 0.5, 0.5)])
    with pytest.raises(ValueError, match=r"SGD: lr must be in \(0, inf\), got -0.5"):
        _fit(model, sgd, schedules=[training.ExponentialDecay("lr", -0.5, 1.0, floor=-1.0)])
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        _fit(model, sgd, schedules=[training.LinearRamp("momentum", 0.5, 1.5, begin=0, finish=1)])
    with pytest.raises(ValueError, match="StepDecay: every must be an integer >= 1"):
        training.StepDecay("lr", 0.5, 0.5, 0)


def test_rbf_predictions_survive_probabilities_that_underflow():
    rbf = models.RBFNetwork(784, 10, beta=0.2, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 784)).astype(np.float32)  # far from every center
    logits = rbf.logits_of(x)
    assert not rbf.predict_proba(x).any()  # every p_c underflowed to 0...
    np.testing.assert_array_equal(rbf.predict(x), logits.argmax(axis=1))  # ...yet the prediction is the nearest
    assert len(set(rbf.predict(x).tolist())) > 1
    np.testing.assert_array_equal(attacks.least_likely_class(rbf, x), logits.argmin(axis=1))


def test_integer_tensors_of_one_dtype_do_not_wrap_either():
    i8 = lambda *v: Tensor(np.array(v, np.int8))  # noqa: E731
    assert (i8(127) + i8(1)).item() == 128.0
    assert (Tensor(np.array([0], np.uint8)) - Tensor(np.array([1], np.uint8))).item() == -1.0
    assert mg.abs(i8(-128)).item() == 128.0
    assert (i8(4) / i8(2)).dtype == np.float32
    assert (Tensor(np.array([[16]], np.int8)) @ Tensor(np.array([[16]], np.int8))).item() == 256.0


def test_grad_resolves_negative_argnums_before_looking_for_repeats():
    with pytest.raises(ValueError, match="names an argument twice"):
        mg.grad(lambda a, b: (a * b).sum(), argnums=(1, -1))(np.ones(2), np.full(2, 3.0))


def test_numerical_gradient_needs_float64():
    with pytest.raises(TypeError, match="pass float64 arrays"):
        mg.numerical_gradient(lambda t: (t * t).sum(), [np.array([1.0, 3.0], np.float32)], 0)


def test_log_softmax_refuses_an_axis_out_of_range():
    with pytest.raises(np.exceptions.AxisError):
        mg.log_softmax(Tensor(np.ones((2, 2))), axis=2)


def test_pgd_refuses_an_infinite_step_and_bim_a_random_start(small):
    model, x, y = small
    with pytest.raises(ValueError, match="finite step_size"):
        attacks.pgd(model, x, y, 0.1, step_size=np.inf, steps=1)
    with pytest.raises(TypeError, match="bim is pgd without a random start"):
        attacks.bim(model, x, y, 0.1, random_start=True)


def test_logistic_adversarial_loss_checks_eps_labels_and_model():
    X, y = _tiny(8)
    with pytest.raises(ValueError, match="eps must be finite"):
        attacks.logistic_adversarial_loss(-1.0)
    loss = attacks.logistic_adversarial_loss(0.1)
    with pytest.raises(ValueError, match="must be in 0..1"):
        loss(models.LogisticRegression(6), X, np.full(8, 3))
    with pytest.raises(TypeError, match="closed form for LogisticRegression"):
        loss(models.SoftmaxRegression(6, 2), X, y)


@pytest.mark.parametrize("build, message", [
    (lambda: models.MaxoutNetwork(6, (4,), 2, 2, dropout=None, max_norm=0), "Linear: max_norm must be a finite number > 0"),
    (lambda: models.MaxoutNetwork(6, (4,), 2, 2, dropout=None, max_norm=-1), "Linear: max_norm must be"),
    (lambda: models.MaxoutNetwork(6, (4,), 2, 2, dropout=None, max_norm=float("nan")), "Linear: max_norm must be"),
    (lambda: models.Dropout(0.5, scale=float("nan")), "Dropout: scale must be a finite number > 0"),
    (lambda: models.Dropout(0.5, scale=-1), "Dropout: scale must be"),
    (lambda: models.MLP((6, 4.7, 3)), r"MLP: sizes\[1\] must be an integer >= 1, got 4.7"),
    (lambda: models.MLP((6, 0, 3)), r"MLP: sizes\[1\] must be an integer >= 1, got 0"),
    (lambda: models.SoftmaxRegression(6, 0), "SoftmaxRegression: n_classes must be an integer >= 2"),
    (lambda: models.SoftmaxRegression(6, 1), "SoftmaxRegression: n_classes must be an integer >= 2"),
])
def test_constructors_refuse_settings_that_would_silently_change_training(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_save_refuses_what_load_could_not_rebuild(tmp_path):
    class Unregistered(models.SoftmaxRegression):
        pass

    with pytest.raises(ValueError, match="not a registered model class"):
        models.save(Unregistered(4, 2), tmp_path / "u.npz")
    with pytest.raises(ValueError, match="config must be plain data"):
        models.save(models.SoftmaxRegression(4, 2, seed=np.random.default_rng(0)), tmp_path / "g.npz")
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        models.save(models.SoftmaxRegression(4, 2), tmp_path / "folder.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.npz"]


def test_advex_attack_refuses_an_out_folder_of_other_files_and_replaces_its_own(synthetic_idx_dir, tmp_path, capsys):
    model = tmp_path / "m.npz"
    models.save(models.SoftmaxRegression(784, 10), model)
    argv = ["attack", "--model", str(model), "--data", str(synthetic_idx_dir), "--eps", "0.1", "--n", "10"]
    assert cli.main(argv + ["--out", str(tmp_path / "out")]) == 0
    assert cli.main(argv + ["--out", str(tmp_path / "out")]) == 0  # its own output: replaced
    assert cli.main(argv + ["--out", str(tmp_path)]) == 2  # holds m.npz
    assert "holds files that advex attack did not write (m.npz, out)" in capsys.readouterr().err


def test_advex_on_images_that_are_not_square_writes_tables_without_the_digits_figure(tmp_path):
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        training.write_idx_dataset(data, rng.integers(0, 255, (60, 4, 5), dtype=np.uint8), np.arange(60) % 3, split)
    model = models.SoftmaxRegression(20, 3)
    models.save(model, tmp_path / "m.npz")
    assert cli.main(["attack", "--model", str(tmp_path / "m.npz"), "--data", str(data), "--out", str(tmp_path / "out")]) == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "attack.json" in written and "examples.png" not in written


def test_fit_checks_monitor_size_and_seed_before_training():
    model = models.SoftmaxRegression(6, 2)
    for kwargs, message in ((dict(monitor_size=1.5), "monitor_size"), (dict(monitor_size=-1), "monitor_size"),
                            (dict(seed=-1), "seed"), (dict(seed=1.5), "seed")):
        with pytest.raises(ValueError, match=f"fit: {message} must be an integer >= 0"):
            _fit(model, training.SGD(model.parameters(), lr=0.1), **kwargs)


def test_more_library_errors_name_the_problem(tmp_path):
    with pytest.raises(TypeError, match="inputs must be a list of arrays"):
        mg.gradcheck(lambda t: t.sum(), np.ones(3))
    with pytest.raises(ValueError, match="eps must be a finite step > 0"):
        mg.gradcheck(lambda t: t.sum(), [np.ones(3)], eps=0)
    with pytest.raises(ValueError, match="read_idx: magic must be"):
        training.read_idx(tmp_path / "x", magic=0x0802)
    header = (0x0803).to_bytes(4, "big") + np.array([2**31, 2**31, 4], ">u4").tobytes()
    (tmp_path / "huge").write_bytes(header + b"\0" * 8)
    with pytest.raises(training.DataError, match="truncated"):
        training.read_idx(tmp_path / "huge")
    with pytest.raises(TypeError, match="checksums must map file names"):
        training.load_idx_dataset(tmp_path, checksums=["abc"])
    weights = models.Linear(3, 2, init=np.float32(0.1)).weight.data
    assert 0 < np.abs(weights).max() <= 0.1
    for values in ([1e39], [1e39, np.inf]):
        with pytest.raises(OverflowError, match="up to 1e.39 are beyond float32's range"):
            Tensor(np.array(values))
    with pytest.raises(ValueError, match="x holds no examples"):
        attacks.linearity(models.SoftmaxRegression(6, 2), np.zeros((0, 6), np.float32))


def test_large_integers_are_refused_rather_than_rounded():
    with pytest.raises(ValueError, match="beyond 16,777,216 would lose precision in float32"):
        Tensor(np.array([16777217])) + 0
    assert (Tensor(np.array([16777216])) + 0).item() == 16777216.0  # 2^24 itself is exact in float32


def test_the_same_run_resumes_in_the_same_process_with_its_schedules_and_stopper(tmp_path):
    X, y = _tiny()
    model = models.MaxoutNetwork(6, (4,), 2, 2, dropout=None, seed=0)
    recipe = training.maxout_paper_recipe(model, epochs=3, patience=5)
    training.fit(model, X, y, val_fraction=0.25, checkpoint_dir=tmp_path, progress=False, **recipe)
    again = training.fit(model, X, y, val_fraction=0.25, checkpoint_dir=tmp_path, resume=True, progress=False, **recipe)
    assert again.epoch == [1, 2, 3]  # the scheduled lr moved on, the stopper watched the run: still the same run


def test_a_model_seeded_with_a_generator_trains():
    model = models.SoftmaxRegression(6, 2, init=0.1, seed=np.random.default_rng(0))
    assert _fit(model, training.SGD(model.parameters(), lr=0.5)).epoch == [1, 2]


# --- round 2 of issue 25: paths on the command line ---------------------------------------------------
EMPTY_PATHS = {  # each flag given as '' in a folder holding a user's results and an IDX data set
    "attack --out": ["attack", "--model", "good.npz", "--data", "data", "--n", "5", "--out", ""],
    "attack --data": ["attack", "--model", "good.npz", "--data", "", "--n", "5", "--out", "out"],
    "attack --model": ["attack", "--model", "", "--data", "data", "--out", "out"],
    "attack --cifar": ["attack", "--model", "good.npz", "--cifar", "", "--out", "out"],
    "reproduce --out": ["reproduce", "--quick", "--quiet", "--data", "data", "--models", "softmax", "--out", ""],
    "reproduce --data": ["reproduce", "--quick", "--quiet", "--data", "", "--models", "softmax", "--out", "out"],
    "robustness --paper-models": ["robustness", "--quick", "--quiet", "--data", "data", "--paper-models", "",
                                  "--out", "out"],
}


@pytest.mark.parametrize("name", sorted(EMPTY_PATHS))
def test_an_empty_path_is_refused_naming_its_flag_and_the_current_folder_is_left_alone(name, synthetic_idx_dir, tmp_path,
                                                                                      monkeypatch, capsys):
    """'' is no path (os.path.exists('') is False): --out '' skipped the refusal of a folder of other files and
    wrote results.md and attack.md over the user's in the current folder; --data '' read it."""
    import shutil

    shutil.copytree(synthetic_idx_dir, tmp_path / "data")
    for file in (tmp_path / "data").iterdir():  # the data set in the current folder too, where '' would read it
        shutil.copy(file, tmp_path)
    models.save(models.SoftmaxRegression(784, 10), tmp_path / "good.npz")
    for mine in ("results.md", "attack.md"):
        (tmp_path / mine).write_text("mine")
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    argv = EMPTY_PATHS[name]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    flag = name.split()[1]
    assert err == f"advex {argv[0]}: error: {flag} is empty (''): pass a path (. for the current folder)\n"
    assert _snapshot(tmp_path) == before


def test_a_tilde_in_a_path_flag_is_the_home_folder(synthetic_idx_dir, tmp_path, monkeypatch):
    """argparse gives --data=~/idx as '~/idx' (no shell expands it there): it was read as a folder named '~'."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(synthetic_idx_dir, home / "idx")
    models.save(models.SoftmaxRegression(784, 10), home / "m.npz")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["attack", "--model=~/m.npz", "--data=~/idx", "--n", "5", "--eps", "0.1", "--out=~/out"]) == 0
    assert (home / "out" / "attack.md").exists() and not (tmp_path / "~").exists()


def test_demo_names_an_eps_too_large_for_float32_without_warnings(capsys):
    """--eps 1e308 printed NumPy's overflow warnings, then 'eps must be finite ... got inf' naming eps."""
    for eps in ("1e308", "1e38"):
        assert cli.main(["demo", "--eps", eps]) == 2
        err = capsys.readouterr().err
        assert err.startswith("advex demo: error: --eps ") and err.count("\n") == 1, err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs a /proc file system")
def test_an_out_folder_that_cannot_be_made_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    """As root, os.access says /proc is writable; the attack ran, then failed with a bare '[Errno 2]'."""
    monkeypatch.setattr(models, "load", lambda *a, **k: pytest.fail("the model was loaded before --out was checked"))
    assert cli.main(["attack", "--model", "m.npz", "--out", "/proc/advex-probe/x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("advex attack: error: --out /proc/advex-probe/x: cannot write there") and err.count("\n") == 1


# --- round 3 of issue 25 --------------------------------------------------------------------------
def test_advex_attack_refuses_a_folder_of_its_file_names_that_it_did_not_write(synthetic_idx_dir, tmp_path, capsys):
    """A user's own attack.md and examples.png in a folder without attack.json were overwritten."""
    model, out = tmp_path / "m.npz", tmp_path / "mine"
    models.save(models.SoftmaxRegression(784, 10), model)
    out.mkdir()
    (out / "attack.md").write_text("my notes")
    (out / "examples.png").write_bytes(b"my picture")
    assert cli.main(["attack", "--model", str(model), "--data", str(synthetic_idx_dir), "--n", "10", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"advex attack: error: {out} holds attack.md, examples.png but no "
                                       "attack.json: not the output of advex attack, or one without its record; "
                                       "nothing was changed: pass an empty or new --out\n")
    assert (out / "attack.md").read_text() == "my notes" and (out / "examples.png").read_bytes() == b"my picture"


def test_advex_attack_refuses_a_dangling_symlink_as_out_before_any_work(synthetic_idx_dir, tmp_path, monkeypatch, capsys):
    """The whole attack ran, then a bare '[Errno 17] File exists' named neither --out nor the link."""
    model, link = tmp_path / "m.npz", tmp_path / "dl"
    models.save(models.SoftmaxRegression(784, 10), model)
    link.symlink_to(tmp_path / "nowhere" / "deeper")
    monkeypatch.setattr(cli, "evaluate", lambda *args, **kwargs: pytest.fail("the attack ran"))
    assert cli.main(["attack", "--model", str(model), "--data", str(synthetic_idx_dir), "--out", str(link)]) == 2
    assert capsys.readouterr().err == (f"advex attack: error: --out {link}: a symbolic link to {tmp_path}/nowhere/deeper, "
                                       "which does not exist: make that folder, or pass another --out\n")


def test_cifar_checksums_that_name_none_of_the_files_read_are_refused_naming_both(tmp_path, capsys):
    """A checksum file listing only Python-format names checked none of the .bin files read."""
    from cifar_files import md5sums_text, write_set
    from training.cifar import BATCHES

    folder = write_set(tmp_path, "binary")[0]
    sums = tmp_path / "MD5SUMS"
    sums.write_text(md5sums_text({name: "a" * 32 for name in BATCHES["python"]["test"]}))
    models.save(models.SoftmaxRegression(3072, 10), tmp_path / "m.npz")
    argv = ["attack", "--model", str(tmp_path / "m.npz"), "--cifar", str(folder), "--cifar-checksums", str(sums),
            "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (f"advex attack: error: --cifar-checksums {sums}: {folder / 'test_batch.bin'}: "
                                       "the checksums given hold no MD5 for test_batch.bin, and every file read must "
                                       "have one when checksums are given\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag, given, problem", [
    ("--paper-models", "a_file", "--paper-models {}: a file, not a folder"),
    ("--cifar-checksums", "folder", "{}: a folder, not a checksum file"),
    ("--data", "nowhere", "{}: no such folder (an IDX data set is a folder holding train-images-idx3-ubyte or "),
], ids=["a file as --paper-models", "a folder as --cifar-checksums", "a missing --data"])
def test_a_path_of_the_wrong_kind_is_named_as_such(bad_files, synthetic_idx_dir, monkeypatch, capsys, flag, given, problem):
    """They said 'no such folder', 'no such checksum file', 'neither train-images-idx3-ubyte nor .gz is there'."""
    monkeypatch.chdir(bad_files)
    (bad_files / "folder").mkdir()
    command = ["robustness", "--quick", "--quiet"] if flag != "--cifar-checksums" else [
        "reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--cifar", "folder"]
    assert cli.main(command + [flag, given, "--out", "new"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"advex {command[0]}: error: {problem.format(given)}") and err.count("\n") == 1, err
    assert not (bad_files / "new").exists()
