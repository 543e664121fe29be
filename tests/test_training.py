"""The training loop, optimizers and schedules: learning, determinism, exact resume, errors."""

import io
import json
import re

import numpy as np
import pytest

import attacks
import minigrad as mg
import models
from training.loop import EarlyStopping, error_rate, fit
from training.optim import SGD, Adam, ExponentialDecay, LinearRamp, StepDecay
from training.progress import _PlainBar
from training.recipes import maxout_paper_recipe


def blobs(n=600, features=20, classes=4, seed=0):
    """Gaussian clusters in [0, 1]^features: easy to learn, hard to learn by chance."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0.2, 0.8, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    X = np.clip(centers[y] + rng.normal(0, 0.15, size=(n, features)), 0, 1).astype(np.float32)
    return X, y.astype(np.int64)


def small_maxout(seed=0):
    return models.MaxoutNetwork(20, hidden=(16, 16), pieces=3, n_classes=4, init=0.2, seed=seed)


LEARNERS = {
    "softmax": (lambda: models.SoftmaxRegression(20, 4), lambda m: SGD(m.parameters(), lr=0.5)),
    "mlp": (lambda: models.MLP((20, 32, 4), seed=0), lambda m: SGD(m.parameters(), lr=0.1, momentum=0.9)),
    "maxout": (
        lambda: models.MaxoutNetwork(20, hidden=(32, 32), pieces=3, n_classes=4, dropout=((1.0, 1.0), (0.8, None), (0.8, None)), init=0.2, seed=0),
        lambda m: SGD(m.parameters(), lr=0.1, momentum=0.9),
    ),
    # random centers (seed 1: blobs() draws its cluster centers from seed 0's stream)
    "rbf": (lambda: models.RBFNetwork(20, 4, beta=0.5, seed=1), lambda m: Adam(m.parameters(), lr=0.05)),
}


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_fit_learns(name):
    X, y = blobs()
    make_model, make_optimizer = LEARNERS[name]
    model = make_model()
    before = error_rate(model, X, y)
    history = fit(model, X, y, epochs=8, batch_size=50, optimizer=make_optimizer(model), val_fraction=0.25, progress=False)
    assert history.val_error[-1] < 0.15  # chance is 75% error
    assert history.train_loss[-1] < history.train_loss[0]
    assert error_rate(model, X, y) < before


def run(seed=0, epochs=3, **kwargs):
    X, y = blobs()
    model = small_maxout()
    recipe = maxout_paper_recipe(model, epochs=epochs)
    # Keep the last weights (not the best), so a run's end state shows every step it took.
    recipe["early_stopping"] = EarlyStopping(patience=10, restore_best=False)
    history = fit(model, X, y, val_fraction=0.25, seed=seed, progress=False, **{**recipe, **kwargs})
    return model, history


def weights(model):
    return [p.data.copy() for p in model.parameters()]


def test_same_seed_gives_bit_identical_weights_and_another_seed_does_not():
    a, _ = run(seed=3)
    b, _ = run(seed=3)
    c, _ = run(seed=4)
    assert all(np.array_equal(u, v) for u, v in zip(weights(a), weights(b)))
    assert not all(np.array_equal(u, v) for u, v in zip(weights(a), weights(c)))


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("interval", [0.0, 1e9], ids=["every-epoch", "no-checkpoint-yet"])
def test_resume_after_an_interruption_gives_exactly_the_uninterrupted_weights(tmp_path, interval):
    """Dropout, momentum, lr decay, a momentum ramp and early stopping all carry over.

    With a long ``checkpoint_interval`` nothing was written before the interruption, and
    the resumed run starts afresh: the same weights again.
    """
    reference, reference_history = run(epochs=4)

    calls = {"n": 0}

    def interrupted_loss(model, x, y):
        calls["n"] += 1
        if calls["n"] == 13:  # in the middle of the third epoch (450 examples: 5 batches of 100)
            raise Interrupt
        return model.loss(model(mg.Tensor(x)), y)

    with pytest.raises(Interrupt):
        run(epochs=4, loss=interrupted_loss, checkpoint_dir=tmp_path, checkpoint_interval=interval)
    assert (tmp_path / "checkpoint.npz").exists() == (interval == 0.0)
    resumed, history = run(epochs=4, checkpoint_dir=tmp_path, resume=True, checkpoint_interval=interval)
    assert all(np.array_equal(u, v) for u, v in zip(weights(resumed), weights(reference)))
    assert history.epoch == [1, 2, 3, 4] and history.val_error == reference_history.val_error


def test_pgd_adversarial_training_resumes_exactly(tmp_path):
    """PGD's random starts come from fit's generator, so they too are checkpointed."""
    objective = lambda: attacks.AdversarialObjective(eps=0.1, attack="pgd", attack_kwargs={"steps": 2})  # noqa: E731
    reference, _ = run(epochs=3, loss=objective())

    class Interrupting(attacks.AdversarialObjective):
        calls = 0

        def __call__(self, model, x, y):
            Interrupting.calls += 1
            if Interrupting.calls == 8:  # in the second epoch
                raise Interrupt
            return super().__call__(model, x, y)

    with pytest.raises(Interrupt):
        run(epochs=3, loss=Interrupting(eps=0.1, attack="pgd", attack_kwargs={"steps": 2}), checkpoint_dir=tmp_path)
    resumed, _ = run(epochs=3, loss=objective(), checkpoint_dir=tmp_path, resume=True)
    assert all(np.array_equal(u, v) for u, v in zip(weights(resumed), weights(reference)))


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    run(epochs=1, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="checkpoint .* is of another run"):
        run(epochs=2, checkpoint_dir=tmp_path, resume=True, seed=99)


@pytest.mark.parametrize("frozen_then, held, expected", [(True, 3, 4), (False, 4, 3)], ids=["unfrozen-since", "frozen-since"])
def test_resume_names_the_checkpoint_whose_optimizer_state_does_not_fit(tmp_path, frozen_then, held, expected):
    """The weights fit either way (checkpoints keep frozen ones); the optimizer's momentum buffers do not."""
    X, y = blobs()

    def resumable(frozen, **kwargs):
        model = models.MLP((20, 8, 4), seed=0)
        model.parameters()[0].requires_grad = not frozen
        return fit(model, X, y, epochs=2, batch_size=100, optimizer=SGD(model.parameters(), lr=0.1, momentum=0.5),
                   checkpoint_dir=tmp_path, progress=False, **kwargs)

    resumable(frozen_then)
    with pytest.raises(ValueError, match=rf"fit\(resume=True\): the optimizer state of the checkpoint "
                                         rf"{re.escape(str(tmp_path / 'checkpoint.npz'))} does not fit the optimizer "
                                         rf"\(a weight frozen or unfrozen since\?\): SGD.load_state_dict: buffer 'velocity' holds "
                                         rf"{held} arrays, the optimizer has {expected} parameters; pass another checkpoint_dir"):
        resumable(not frozen_then, resume=True)


def test_resume_names_the_checkpoint_whose_optimizer_buffer_has_another_shape(tmp_path):
    """A hand-edited buffer is named before anything is loaded (or its columns reordered, in an older checkpoint)."""
    run(epochs=1, checkpoint_dir=tmp_path)
    path = tmp_path / "checkpoint.npz"
    with np.load(path) as saved:
        arrays = dict(saved)
    arrays["optimizer/velocity/0"] = arrays["optimizer/velocity/0"][:, :-1]  # a hand-edited file
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=rf"fit\(resume=True\): the optimizer state of the checkpoint {re.escape(str(path))} "
                                         r"does not fit the optimizer .*: SGD.load_state_dict: buffer 'velocity' 0 has shape "
                                         r"\(20, 47\), the optimizer's parameter 0 \(20, 48\); pass another checkpoint_dir"):
        run(epochs=2, checkpoint_dir=tmp_path, resume=True)


def test_resume_refuses_optimizer_buffers_numbered_with_a_gap(tmp_path):
    """Buffers renumbered 0, 2 (a hand-edited file) would load beside the wrong parameters where shapes agree."""
    run(epochs=1, checkpoint_dir=tmp_path)
    path = tmp_path / "checkpoint.npz"
    with np.load(path) as saved:
        arrays = dict(saved)
    last = max(int(key.rsplit("/", 1)[1]) for key in arrays if key.startswith("optimizer/velocity/"))
    arrays[f"optimizer/velocity/{last + 1}"] = arrays.pop(f"optimizer/velocity/{last - 1}")
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=rf"the checkpoint {re.escape(str(path))} numbers its optimizer buffer "
                                         rf"'velocity' \[.*{last + 1}\], not 0 to {last}"):
        run(epochs=2, checkpoint_dir=tmp_path, resume=True)


def checkpoint_arrays_and_meta(path):
    with np.load(path) as saved:
        arrays = dict(saved)
    return arrays, json.loads(str(arrays.pop("__meta__")))


def save_checkpoint(path, arrays, meta):
    np.savez(path, **arrays, __meta__=np.array(json.dumps(meta)))


@pytest.mark.parametrize("version", [3, 0, "2", True, None])
def test_resume_refuses_a_checkpoint_of_an_unknown_format_naming_it(tmp_path, version):
    run(epochs=1, checkpoint_dir=tmp_path)
    path = tmp_path / "checkpoint.npz"
    arrays, meta = checkpoint_arrays_and_meta(path)
    assert meta["format"] == 2
    save_checkpoint(path, arrays, {**meta, "format": version})
    with pytest.raises(ValueError, match=rf"fit\(resume=True\): the checkpoint {re.escape(str(path))} has the unknown "
                                         rf"format {re.escape(repr(version))} \(this version reads 1 and 2\)"):
        run(epochs=2, checkpoint_dir=tmp_path, resume=True)


def test_a_checkpoint_without_a_format_number_has_its_maxout_columns_grouped_by_unit_and_resumes_exactly(tmp_path):
    """Such a checkpoint (commit e4bdc86's; tests/test_old_files.py resumes real ones) holds the columns of
    every Maxout array grouped by unit: the weights, the best epoch's and the momentum buffers."""
    reference, _ = run(epochs=3)
    run(epochs=2, checkpoint_dir=tmp_path)
    path = tmp_path / "checkpoint.npz"
    arrays, meta = checkpoint_arrays_and_meta(path)
    model = small_maxout()
    pieces = {name: m.pieces for prefix, m in model.named_modules() if isinstance(m, models.Maxout)
              for name in (prefix + "linear.weight", prefix + "linear.bias")}
    names = [name for name, _ in model.named_parameters()]  # the optimizer's buffers are numbered in this order
    regrouped = 0
    for key in list(arrays):
        kind, *rest = key.split("/")
        name = names[int(rest[1])] if kind == "optimizer" else rest[0]
        if name in pieces:
            a = arrays[key]
            arrays[key] = a.reshape(*a.shape[:-1], pieces[name], -1).swapaxes(-1, -2).reshape(a.shape)
            regrouped += 1
    assert regrouped == 3 * 4  # model/, best/ and optimizer/velocity/ of two Maxout layers' weight and bias
    del meta["format"]
    save_checkpoint(path, arrays, meta)
    resumed, _ = run(epochs=3, checkpoint_dir=tmp_path, resume=True)
    assert all(np.array_equal(u, v) for u, v in zip(weights(resumed), weights(reference)))
    # The same arrays read as this version's layout are another run: the upgrade is what made them agree.
    save_checkpoint(path, arrays, {**meta, "format": 2})
    misread, _ = run(epochs=3, checkpoint_dir=tmp_path, resume=True)
    assert not all(np.array_equal(u, v) for u, v in zip(weights(misread), weights(reference)))


def test_early_stopping_keeps_the_best_weights():
    X, y = blobs()
    model = models.MLP((20, 32, 4), seed=0)
    stopper = EarlyStopping(patience=2)
    # A learning rate this large makes training diverge after the first epochs.
    history = fit(model, X, y, epochs=30, batch_size=50, optimizer=SGD(model.parameters(), lr=5.0),
                  val_fraction=0.25, early_stopping=stopper, progress=False)
    assert len(history.epoch) < 30 and history.best_epoch == stopper.best_epoch
    assert min(history.val_error) == stopper.best
    assert error_rate(model, X[450:], y[450:]) == pytest.approx(stopper.best)


def test_custom_loss_receives_float32_batches_and_int64_labels():
    X, y = blobs(n=100)
    seen = []

    def loss(model, x, labels):
        seen.append((x.dtype, x.shape, labels.dtype))
        return model.loss(model(mg.Tensor(x)), labels)

    model = models.SoftmaxRegression(20, 4)
    fit(model, X.astype(np.float64), y.astype(np.int32), epochs=1, batch_size=40, optimizer=SGD(model.parameters(), lr=0.1), loss=loss, progress=False)
    assert seen == [(np.float32, (40, 20), np.int64), (np.float32, (40, 20), np.int64), (np.float32, (20, 20), np.int64)]


@pytest.mark.parametrize("optimizer", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.01)],
                         ids=["sgd-momentum", "adam"])
@pytest.mark.parametrize("build", [lambda: models.MLP((20, 16, 4), seed=0),
                                   lambda: models.MaxoutNetwork(20, hidden=(8,), pieces=3, n_classes=4, dropout=None, seed=0)],
                         ids=["mlp", "maxout"])
def test_after_train_step_every_parameter_holds_the_gradient_of_the_loss(build, optimizer):
    """train_step is zero_grad, loss.backward(), step, constrain: the gradients stay in .grad (at e4bdc86
    SGD's fused step took the weight gradients from the backward walk and left .grad empty)."""
    from training.loop import default_loss, train_step

    X, y = blobs(n=30)
    model, twin = build(), build()  # the same seed: the same weights
    expected = default_loss(twin, X, y)
    expected.backward()  # a separate backward pass at the weights before the step
    before = model.state_dict()
    value = train_step(model, optimizer(model.parameters()), default_loss, X, y)
    assert value == float(expected.data)
    for (name, p), q in zip(model.named_parameters(), twin.parameters(), strict=True):
        assert p.grad is not None, name
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)
        assert not np.array_equal(p.data, before[name]), name  # and the step did move it


def test_fit_rejects_bad_input():
    X, y = blobs(n=50)
    model = models.SoftmaxRegression(20, 4)
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="raw pixels\\? divide by 255"):
        fit(model, (X * 255).astype(np.uint8), y, epochs=1, batch_size=10, optimizer=opt, progress=False)
    with pytest.raises(ValueError, match=r"y must be integer class indices of shape \(50,\)"):
        fit(model, X, y[:10], epochs=1, batch_size=10, optimizer=opt, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        fit(model, np.full_like(X, np.nan), y, epochs=1, batch_size=10, optimizer=opt, progress=False)
    with pytest.raises(ValueError, match="needs validation data"):
        fit(model, X, y, epochs=1, batch_size=10, optimizer=opt, early_stopping=EarlyStopping(3), progress=False)
    with pytest.raises(ValueError, match="either val"):
        fit(model, X, y, epochs=1, batch_size=10, optimizer=opt, val=(X, y), val_fraction=0.1, progress=False)


def test_fit_refuses_one_nonfinite_entry_naming_the_array_and_takes_finite_data_whose_sum_overflows():
    X, y = blobs(n=50)
    model = models.SoftmaxRegression(20, 4)
    opt = SGD(model.parameters(), lr=0.1)
    bad = X.copy()
    bad[31, 7] = -np.inf
    with pytest.raises(ValueError, match=r"^fit: X contains NaN or inf$"):
        fit(model, bad, y, epochs=1, batch_size=10, optimizer=opt, progress=False)
    with pytest.raises(ValueError, match=r"^fit: validation X contains NaN or inf$"):
        fit(model, X, y, epochs=1, batch_size=10, optimizer=opt, val=(bad, y), progress=False, monitor_size=0)
    huge = np.full_like(X, np.finfo(np.float32).max)  # every entry finite, their float32 sum inf
    history = fit(model, huge, y, epochs=0, batch_size=10, optimizer=opt, progress=False)
    assert history.epoch == []
    float64 = fit(model, X.astype(np.float64), y, epochs=1, batch_size=7, optimizer=opt, progress=False, monitor_size=0)
    assert float64.epoch == [1]  # converted to float32 once; 50 rows in batches of 7 (ceil: 8 steps)
    assert opt.steps == 8


def test_progress_lines_when_enabled_and_silence_when_not(capsys):
    X, y = blobs(n=100)
    model = models.SoftmaxRegression(20, 4)
    fit(model, X, y, epochs=2, batch_size=50, optimizer=SGD(model.parameters(), lr=0.1), progress=False)
    assert capsys.readouterr().err == ""
    for tty in (False, True):
        stream = io.StringIO()
        stream.isatty = lambda tty=tty: tty
        bar = _PlainBar(100, "epoch 1/2", stream)
        bar.last_draw = -1e9  # draw on the next update, whatever the clock says
        bar.update(60)
        bar.set_postfix_str("loss 0.5")
        bar.close()
        text = stream.getvalue()
        assert "epoch 1/2: 60/100" in text and text.endswith("loss 0.5\n") and text.count("\n") == 1
        assert text.count("\r") == (2 if tty else 0)  # a live line on a terminal, one plain line in a log


# --- optimizers and schedules -------------------------------------------------------------
def quadratic_grad(p, target):
    """Set p.grad for L = 0.5 * ||p - target||^2, whose gradient is p - target."""
    p.grad = (p.data - target).astype(np.float32)


def test_sgd_momentum_and_nesterov_follow_their_formulas():
    target = np.array([1.0, -2.0], dtype=np.float32)
    for nesterov in (False, True):
        p = mg.Tensor(np.zeros(2, np.float32), requires_grad=True)
        opt = SGD([p], lr=0.1, momentum=0.9, nesterov=nesterov)
        w, v = np.zeros(2), np.zeros(2)
        for _ in range(5):
            quadratic_grad(p, target)
            opt.step()
            g = w - target
            v = 0.9 * v - 0.1 * g
            w = w + (0.9 * v - 0.1 * g if nesterov else v)
            np.testing.assert_allclose(p.data, w, rtol=1e-5)


def test_an_optimizer_refuses_a_tensor_listed_twice():
    W = mg.Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="parameters 0 and 2 are the same tensor"):
        SGD([W, mg.Tensor(np.ones(2, np.float32), requires_grad=True), W], lr=0.1)


def test_sgd_weight_decay_and_adam_against_reference_formulas():
    p = mg.Tensor(np.array([2.0], np.float32), requires_grad=True)
    opt = SGD([p], lr=0.1, weight_decay=0.5)
    p.grad = np.array([1.0], np.float32)
    opt.step()
    np.testing.assert_allclose(p.data, [2.0 - 0.1 * (1.0 + 0.5 * 2.0)])

    target = np.array([1.0, -2.0], dtype=np.float32)
    p = mg.Tensor(np.zeros(2, np.float32), requires_grad=True)
    opt = Adam([p], lr=0.1)
    w, m, s = np.zeros(2), np.zeros(2), np.zeros(2)
    for t in range(1, 6):
        quadratic_grad(p, target)
        opt.step()
        g = w - target
        m, s = 0.9 * m + 0.1 * g, 0.999 * s + 0.001 * g * g
        w = w - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(s / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(p.data, w, rtol=1e-5)
    assert p.data.dtype == np.float32


def test_optimizer_state_round_trip():
    p = mg.Tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.5)
    p.grad = np.ones(3, np.float32)
    opt.step()
    state = opt.state_dict()
    other = SGD([mg.Tensor(np.zeros(3, np.float32), requires_grad=True)], lr=1.0)
    other.load_state_dict(state)
    assert other.lr == 0.1 and other.momentum == 0.5 and other.steps == 1
    np.testing.assert_array_equal(other.buffers["velocity"][0], opt.buffers["velocity"][0])


def _stepped_sgd(*shapes, lr=0.1):
    """An SGD with momentum over parameters of ``shapes``, after one step (so its velocity is not zero)."""
    params = [mg.Tensor(np.zeros(shape, np.float32), requires_grad=True) for shape in shapes]
    opt = SGD(params, lr=lr, momentum=0.5)
    for p in params:
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    return opt


@pytest.mark.parametrize("edit, message", [
    (lambda state: state["buffers"]["velocity"].pop(), r"buffer 'velocity' holds 1 arrays, the optimizer has 2 parameters"),
    (lambda state: state["buffers"]["velocity"].__setitem__(1, np.zeros((4, 2), np.float32)),
     r"buffer 'velocity' 1 has shape \(4, 2\), the optimizer's parameter 1 \(2, 4\)"),
    (lambda state: state["buffers"].pop("velocity"), r"the state does not fit this optimizer \(missing: \['velocity'\]; unexpected: none\)"),
    (lambda state: state["buffers"].__setitem__("m", state["buffers"]["velocity"]),
     r"the state does not fit this optimizer \(missing: none; unexpected: \['m'\]\)"),
    (lambda state: state["settings"].pop("momentum"), r"the state does not fit this optimizer \(missing: \['momentum'\]; unexpected: none\)"),
], ids=["a-buffer-short", "a-buffer-of-another-shape", "a-buffer-missing", "a-buffer-of-another-optimizer", "a-setting-missing"])
def test_an_optimizer_state_that_does_not_fit_is_refused_and_changes_nothing(edit, message):
    state = _stepped_sgd(3, (2, 4), lr=0.1).state_dict()
    edit(state)
    opt = _stepped_sgd(3, (2, 4), lr=0.2)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=rf"^SGD.load_state_dict: {message}$"):
        opt.check_state_dict(state)
    with pytest.raises(ValueError, match=rf"^SGD.load_state_dict: {message}$"):
        opt.load_state_dict(state)
    assert opt.lr == 0.2 and opt.steps == before["steps"]  # the settings and step count were not taken either
    assert all(np.array_equal(b, saved) for b, saved in zip(opt.buffers["velocity"], before["buffers"]["velocity"]))


def test_optimizer_state_holds_exactly_the_buffers_of_e4bdc86s_checkpoints():
    opt = SGD([mg.Tensor(np.zeros(3, np.float32), requires_grad=True)], lr=0.1, momentum=0.5, nesterov=True)
    opt.params[0].grad = np.ones(3, np.float32)
    opt.step()
    assert set(opt.buffers) == set(opt.state_dict()["buffers"]) == {"velocity"}
    opt.load_state_dict(opt.state_dict())
    adam = Adam(opt.params)
    adam.step()
    assert set(adam.buffers) == set(adam.state_dict()["buffers"]) == {"m", "s"}  # no work area beside the moments
    adam.load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: .*unexpected: \['scratch'\]"):
        adam.load_state_dict({**adam.state_dict(), "buffers": {**adam.state_dict()["buffers"], "scratch": [np.zeros(3)]}})


def _sgd_update_as_before_issue_26(opt, i, w, g):
    """SGD's classical momentum update as written before issue 26 (in place: v *= m; v -= lr * g)."""
    v = opt.buffers["velocity"][i]
    v *= opt.momentum
    v -= opt._lr(i) * g
    w += v


def _adam_update_as_before_issue_26(opt, i, w, g):
    """Adam's update as written before issue 26, through one scratch array, in its order of operations."""
    m, s = opt.buffers["m"][i], opt.buffers["s"][i]
    work = np.empty_like(w)
    m *= opt.beta1
    np.multiply(g, 1 - opt.beta1, out=work)
    m += work
    s *= opt.beta2
    np.multiply(g, g, out=work)
    work *= 1 - opt.beta2
    s += work
    bias1, bias2 = 1 - opt.beta1**opt._t, 1 - opt.beta2**opt._t
    np.sqrt(s, out=work)
    work *= 1 / np.sqrt(bias2)
    work += opt.eps
    np.divide(m, work, out=work)
    work *= -opt.lr / bias1
    w += work


def _run_both(make, before, steps=30):
    """(textbook parameters, earlier form's parameters, the two optimizers) after ``steps`` updates by the same
    gradients (drawn independently of the weights, so a difference cannot grow through them)."""
    rng = np.random.default_rng(0)
    shapes = [(50, 40), (40,)]
    start = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
    textbook = [mg.Tensor(w.copy(), requires_grad=True) for w in start]
    earlier = [mg.Tensor(w.copy(), requires_grad=True) for w in start]
    opt_textbook, opt_earlier = make(textbook), make(earlier)
    for _ in range(steps):
        grads = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
        for p, q, g in zip(textbook, earlier, grads):
            p.grad, q.grad = g, g.copy()
        opt_textbook.step()
        opt_earlier._t = opt_earlier.steps + 1
        for i, q in enumerate(earlier):
            before(opt_earlier, i, q.data, q.grad)
        opt_earlier.steps += 1
    assert all(np.abs(p.data - w).max() > 0.05 for p, w in zip(textbook, start))  # the updates moved the weights
    return textbook, earlier, opt_textbook, opt_earlier


def test_sgds_textbook_update_gives_the_bits_of_the_in_place_one():
    textbook, earlier, opt, old = _run_both(lambda ps: SGD(ps, lr=0.05, momentum=0.9), _sgd_update_as_before_issue_26)
    for p, q, v, u in zip(textbook, earlier, opt.buffers["velocity"], old.buffers["velocity"]):
        assert p.data.dtype == v.dtype == np.float32
        np.testing.assert_array_equal(p.data, q.data)
        np.testing.assert_array_equal(v, u)


def test_adams_textbook_update_agrees_with_the_scratch_buffer_one_to_float32_rounding():
    textbook, earlier, opt, old = _run_both(lambda ps: Adam(ps, lr=0.01), _adam_update_as_before_issue_26)
    for i, (p, q) in enumerate(zip(textbook, earlier)):
        assert p.data.dtype == opt.buffers["m"][i].dtype == opt.buffers["s"][i].dtype == np.float32
        np.testing.assert_array_equal(opt.buffers["m"][i], old.buffers["m"][i])  # the moments: the same bits
        np.testing.assert_array_equal(opt.buffers["s"][i], old.buffers["s"][i])
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6, atol=1e-7)  # the step: bias corrected in another order


def test_schedules():
    decay = ExponentialDecay("lr", 0.1, 1 / 1.000004, floor=1e-6)
    assert decay.value(0, 0) == 0.1 and decay.value(10**6, 0) == pytest.approx(0.1 / 1.000004**1e6)
    assert decay.value(10**9, 0) == 1e-6
    ramp = LinearRamp("momentum", 0.5, 0.7, begin=1, finish=250)
    assert ramp.value(0, 0) == 0.5 and ramp.value(0, 1) == 0.5 and ramp.value(0, 250) == pytest.approx(0.7)
    assert ramp.value(0, 125.5) == pytest.approx(0.6) and ramp.value(0, 400) == pytest.approx(0.7)
    assert StepDecay("lr", 1.0, 0.5, every=10).value(0, 25) == 0.25
    opt = SGD([mg.Tensor(np.zeros(1, np.float32), requires_grad=True)], lr=1.0, momentum=0.1)
    ramp.apply(opt, 0, 250)
    assert opt.momentum == pytest.approx(0.7)


def test_sgd_with_a_learning_rate_of_zero_keeps_the_weights():
    p = mg.Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.lr = 0.0  # as a schedule may set it
    p.grad = np.ones(3, np.float32)
    opt.step()
    np.testing.assert_array_equal(p.data, np.ones(3))


def test_optimizer_argument_errors():
    p = [mg.Tensor(np.zeros(1, np.float32), requires_grad=True)]
    with pytest.raises(ValueError, match=r"lr must be in \(0, inf\)"):
        SGD(p, lr=0)
    with pytest.raises(ValueError, match="momentum must be in"):
        SGD(p, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="no parameters"):
        Adam([], lr=0.1)


def test_decay_schedules_refuse_to_grow():
    """Their range is checked before training from start (and floor): a growing one would escape it later."""
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\]"):
        ExponentialDecay("momentum", 0.5, 1.01)
    with pytest.raises(ValueError, match=r"gamma must be in \(0, 1\]"):
        StepDecay("momentum", 0.5, 1.5, every=1)
