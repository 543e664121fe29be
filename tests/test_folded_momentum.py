"""SGD's momentum folded into the backward pass (``minigrad.fast.folded_momentum``) against the textbook pair.

With ``training.fast_paths.enable()``, ``training.train_step`` runs
``optimizer.backward_and_step(loss)``, and SGD with classical momentum computes each
dense layer's ``v <- m v - lr x^T G`` as one gemm from the x and G the walk handed over. These tests check
that it gives the textbook ``loss.backward(); optimizer.step()`` results to float32
rounding, in the cases where a weight's gradient arrives in several parts, and that a
walk that fails changes nothing.
"""

import contextlib

import numpy as np
import pytest

import minigrad as mg
import models
import training
from minigrad.fast import folded_momentum, numpy_blas
from training import fast_paths
from training.optim import SGD

needs_blas = pytest.mark.skipif(not numpy_blas.available(), reason="NumPy's own OpenBLAS was not found")


@pytest.fixture
def gemm_calls(monkeypatch):
    """The shapes of the C matrix of every gemm made through minigrad.fast.numpy_blas."""
    calls = []
    real = numpy_blas.gemm
    monkeypatch.setattr(numpy_blas, "gemm", lambda alpha, a, b, beta, c: calls.append(c.shape) or real(alpha, a, b, beta, c))
    return calls


def trained(make_model, fast: bool, steps: int = 3, **settings):
    """(parameters, velocities, model) after ``steps`` of ``training.train_step`` from one seed."""
    model = make_model()
    optimizer = SGD(model.parameters(), **{"lr": 0.05, "momentum": 0.9, **settings})
    rng = np.random.default_rng(0)
    with fast_paths.enabled() if fast else contextlib.nullcontext():
        for _ in range(steps):
            x = rng.random((16, 30), dtype=np.float32)
            y = rng.integers(0, 10, 16)
            training.train_step(model, optimizer, training.loop.default_loss, x, y)
    return [p.data.copy() for p in model.parameters()], [v.copy() for v in optimizer.buffers["velocity"]], model


def assert_close(fast, textbook):
    for a, b in zip(fast, textbook, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


MODELS = {
    "mlp": lambda: models.MLP((30, 700, 40, 10), seed=0),
    "maxout": lambda: models.MaxoutNetwork(30, (120, 20), 4, 10, dropout=None, max_norm=None, seed=0),
}


@needs_blas
@pytest.mark.parametrize("kind", MODELS)
def test_folded_steps_give_the_textbook_weights_and_velocities(kind, gemm_calls):
    """Three steps of train_step: the same parameters and velocities to float32 rounding; each dense
    weight went through one gemm per step, and ``.grad`` stays None (the gradient lives only in v)."""
    textbook_params, textbook_v, _ = trained(MODELS[kind], fast=False)
    assert gemm_calls == []
    fast_params, fast_v, model = trained(MODELS[kind], fast=True)
    assert_close(fast_params + fast_v, textbook_params + textbook_v)
    weights = [p.shape for name, p in model.named_parameters() if name.endswith("weight")]
    assert sorted(gemm_calls) == sorted(weights * 3)
    assert all(p.grad is None for p in model.parameters())
    assert not np.allclose(fast_params[0], MODELS[kind]().parameters()[0].data)  # the weights did move


def step_both_ways(loss_of, params_start, fast: bool, x_requires_grad=False, optimizer_class=SGD, **settings):
    """One SGD step on ``loss_of(params, x)``: textbook (backward, step), or ``backward_and_step``
    with the fast paths on (the loss built under them too, so that ``mg.linear`` is the fold's)."""
    params = [mg.Tensor(p.copy(), requires_grad=True, dtype=p.dtype) for p in params_start]
    x = mg.Tensor(np.random.default_rng(1).random((6, params_start[0].shape[0]), dtype=params_start[0].dtype),
                  dtype=params_start[0].dtype,
                  requires_grad=x_requires_grad)
    optimizer = optimizer_class(params, **{"lr": 0.1, "momentum": 0.5, **settings})
    for v in optimizer.buffers["velocity"]:
        v[...] = 0.25  # a velocity from earlier steps, so that m v counts
    with fast_paths.enabled() if fast else contextlib.nullcontext():
        loss = loss_of(params, x)
        if fast:
            optimizer.backward_and_step(loss)
        else:
            loss.backward()
            optimizer.step()
    return params, optimizer, x


def assert_same_step(loss_of, start, **kwargs):
    """The folded and the textbook step agree to float rounding; returns the fast parameters."""
    textbook, _, x_textbook = step_both_ways(loss_of, start, fast=False, **kwargs)
    fast, optimizer, x_fast = step_both_ways(loss_of, start, fast=True, **kwargs)
    rtol = 1e-5 if start[0].dtype == np.float32 else 1e-12
    for a, b in zip(fast, textbook, strict=True):
        assert a.dtype == b.dtype == start[0].dtype
        np.testing.assert_allclose(a.data, b.data, rtol=rtol, atol=rtol)
    if x_textbook.requires_grad:
        np.testing.assert_allclose(x_fast.grad, x_textbook.grad, rtol=rtol)
    return fast, optimizer


def small_layer(seed, n_in=8, n_out=8, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((n_in, n_out)) * 0.3).astype(dtype), rng.standard_normal(n_out).astype(dtype)]


@needs_blas
def test_a_weight_reached_by_two_products_and_another_op_sums_all_three(gemm_calls):
    """W in two dense layers (a tied weight) and in a penalty: two gemms (beta m, then 1) and the penalty's
    gradient added after them."""

    def loss_of(params, x):
        W, b = params
        h = mg.tanh(mg.linear(x, W, b))
        return ((mg.linear(h, W) ** 2).sum() + (W * W).sum()) * 0.5

    _, optimizer = assert_same_step(loss_of, small_layer(2))
    assert gemm_calls == [(8, 8), (8, 8)]
    assert optimizer.steps == 1


@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_parameter_learning_rates_and_float64_fold_as_they_step(dtype, gemm_calls):
    def loss_of(params, x):
        return (mg.tanh(mg.linear(x, *params)) ** 2).sum()

    assert_same_step(loss_of, small_layer(3, dtype=dtype), lr_scales=[0.5, 2.0])
    assert gemm_calls == [(8, 8)]


@needs_blas
def test_a_gradient_gemm_cannot_read_in_place_takes_the_textbook_product(gemm_calls):
    """``linear(x, W).sum()`` hands the layer a broadcast (strided) G: no gemm, the same step."""

    def loss_of(params, x):
        return mg.linear(x, *params).sum()

    assert_same_step(loss_of, small_layer(4))
    assert gemm_calls == []


@needs_blas
def test_a_layer_whose_input_is_another_parameter_reads_it_from_before_the_step(gemm_calls):
    """P feeds W's layer and is listed first: every velocity is computed before any weight moves, so W's
    gemm reads P as the walk saw it (a low-rank factorisation P W)."""
    rng = np.random.default_rng(5)
    start = [rng.standard_normal((6, 8)).astype(np.float32), rng.standard_normal((8, 4)).astype(np.float32)]

    def loss_of(params, x):
        P, W = params
        return (mg.linear(P, W) ** 2).sum() + (mg.linear(P[1:5], W) ** 2).sum()

    assert_same_step(loss_of, start)
    assert gemm_calls == [(8, 4), (8, 4)]


@needs_blas
def test_an_input_that_requires_grad_still_gets_its_gradient(gemm_calls):
    def loss_of(params, x):
        return (mg.linear(x, *params) ** 2).sum()

    fast, _ = assert_same_step(loss_of, small_layer(6, n_in=5, n_out=7), x_requires_grad=True)
    assert gemm_calls == [(5, 7)]
    assert all(p.grad is None for p in fast)


@needs_blas
def test_a_walk_that_fails_changes_no_weight_and_no_velocity(gemm_calls):
    """An error in a VJP below the dense layer, after the layer's product was taken: it reaches the
    caller, every weight and velocity is as before, and no fold is left armed for a later walk."""
    start = small_layer(7, n_in=5, n_out=7)

    def failing(t):
        def vjp(g):
            raise ArithmeticError("planted")
        return mg.Tensor.from_op(t.data.copy(), (t,), (vjp,), "failing")

    params = [mg.Tensor(p.copy(), requires_grad=True) for p in start]
    x = mg.Tensor(np.random.default_rng(7).random((6, 5), dtype=np.float32), requires_grad=True)
    optimizer = SGD(params, lr=0.1, momentum=0.5)
    taken = []
    with fast_paths.enabled(), pytest.raises(ArithmeticError, match="planted"):
        loss = (mg.linear(failing(x), *params) ** 2).sum()
        original_take = folded_momentum.Fold.take
        folded_momentum.Fold.take = lambda fold, a, g: taken.append(1) or original_take(fold, a, g)
        try:
            optimizer.backward_and_step(loss)
        finally:
            folded_momentum.Fold.take = original_take
    assert taken == [1]  # the product was handed over before the error
    for p, s in zip(params, start):
        np.testing.assert_array_equal(p.data, s)
    assert all(not v.any() for v in optimizer.buffers["velocity"]) and optimizer.steps == 0
    assert folded_momentum._folds == {} and gemm_calls == []


@pytest.mark.parametrize("settings", [dict(nesterov=True), dict(weight_decay=0.01), dict(momentum=0.0)],
                         ids=["nesterov", "weight-decay", "no-momentum"])
def test_outside_classical_momentum_backward_and_step_is_the_textbook_pair(settings, gemm_calls):
    def loss_of(params, x):
        return (mg.linear(x, *params) ** 2).sum()

    start = small_layer(8, n_in=200, n_out=100)
    textbook, _, _ = step_both_ways(loss_of, start, fast=False, **settings)
    fast, _, _ = step_both_ways(loss_of, start, fast=True, **settings)
    for a, b in zip(fast, textbook):
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.grad, b.grad)
    assert gemm_calls == []


class ClippedSGD(SGD):
    """A user's SGD that clips each gradient in its update: the fold would skip the clipping."""

    def _update(self, i, w, g):
        super()._update(i, w, np.clip(g, -0.01, 0.01))


def test_an_sgd_subclass_with_its_own_update_is_not_folded(gemm_calls):
    def loss_of(params, x):
        return (mg.linear(x, *params) ** 2).sum()

    fast, _ = assert_same_step(loss_of, small_layer(9), optimizer_class=ClippedSGD)
    assert gemm_calls == [] and all(p.grad is not None for p in fast)


def test_under_detect_anomaly_every_gradient_is_made_and_checked(gemm_calls):
    """A folded gradient is never made, so detect_anomaly could not check it: the pair is taken, and
    an overflowing weight gradient is refused as without the fast paths."""
    W = mg.Tensor(np.full((4, 3), 1e-20, np.float32), requires_grad=True)
    x = mg.Tensor(np.full((2, 4), 1e20, np.float32))  # x W is finite, its weight gradient x^T G is not
    optimizer = SGD([W], lr=0.1, momentum=0.5)
    with fast_paths.enabled(), mg.detect_anomaly(), pytest.raises(FloatingPointError, match="op 'linear' passes"):
        optimizer.backward_and_step((mg.linear(x, W) * 1e20).sum())
    assert gemm_calls == [] and not optimizer.buffers["velocity"][0].any()


def test_a_parameter_computed_from_another_passes_its_gradient_on(gemm_calls):
    """W = 2 W0, both given to the optimizer: W0's gradient flows through W, so nothing is folded."""
    rng = np.random.default_rng(10)
    W0 = mg.Tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    x = mg.Tensor(rng.random((4, 5), dtype=np.float32))
    results = []
    for fast in (False, True):
        base = mg.Tensor(W0.data.copy(), requires_grad=True)
        with fast_paths.enabled() if fast else contextlib.nullcontext():
            W = base * 2
            optimizer = SGD([base, W], lr=0.1, momentum=0.5)
            loss = (mg.linear(x, W) ** 2).sum()
            if fast:
                optimizer.backward_and_step(loss)
            else:
                loss.backward()
                optimizer.step()
        results.append((base.data.copy(), W.data.copy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert gemm_calls == []


def test_a_gradient_left_over_from_an_earlier_backward_is_not_lost(gemm_calls):
    """``.grad`` already set (accumulation by hand): the fold is not taken, and the step adds both gradients."""
    W = mg.Tensor(np.ones((200, 100), np.float32), requires_grad=True)
    x = mg.Tensor(np.ones((4, 200), np.float32))
    optimizer = SGD([W], lr=0.1, momentum=0.5)
    mg.linear(x, W).sum().backward()
    with fast_paths.enabled():
        optimizer.backward_and_step(mg.linear(x, W).sum())
    np.testing.assert_allclose(W.grad, 8.0)
    np.testing.assert_allclose(W.data, 1 - 0.1 * 8.0)
    assert gemm_calls == []


class StepOnly:
    """An optimizer with only ``zero_grad`` and ``step``, as ``training.train_step`` accepts one."""

    def __init__(self, params):
        self.params = params

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p in self.params:
            p.data -= 0.1 * p.grad


def test_the_fast_train_step_takes_an_optimizer_without_backward_and_step():
    model = MODELS["mlp"]()
    x, y = np.random.default_rng(11).random((8, 30), dtype=np.float32), np.arange(8)
    before = [p.data.copy() for p in model.parameters()]
    with fast_paths.enabled():
        training.train_step(model, StepOnly(model.parameters()), training.loop.default_loss, x, y)
    assert all(not np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


@needs_blas
@pytest.mark.parametrize("layout", ["C", "F"])
def test_gemm_follows_its_formula_and_refuses_what_it_cannot_read_in_place(layout):
    rng = np.random.default_rng(6)
    a = rng.standard_normal((30, 20)).astype(np.float32)
    a = np.asfortranarray(a) if layout == "F" else a
    b, c = rng.standard_normal((20, 10)).astype(np.float32), rng.standard_normal((30, 10)).astype(np.float32)
    expected = -0.5 * (a.astype(np.float64) @ b) + 0.75 * c
    assert numpy_blas.gemm_suited(a, b, c)
    numpy_blas.gemm(-0.5, a, b, 0.75, c)
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)
    assert not numpy_blas.gemm_suited(a[:, ::2], b[::2], c)  # strided: needs a copy
    assert not numpy_blas.gemm_suited(a, b.astype(np.float64), c)  # mixed dtypes
    assert not numpy_blas.gemm_suited(a, b, np.asfortranarray(c))  # C must be C-contiguous
    assert not numpy_blas.gemm_suited(a, b, c[:20])  # shapes do not multiply to C's
    square = np.zeros((10, 10), np.float32)
    assert not numpy_blas.gemm_suited(square, square[:, :10], square)  # C is a factor


def test_disable_puts_the_textbook_step_linear_and_train_step_back():
    textbook = (training.train_step, training.loop.train_step, mg.linear, mg.ops.linear)
    assert "backward_and_step" not in vars(SGD)
    fast_paths.enable()
    assert SGD.backward_and_step is fast_paths._sgd_backward_and_step_folded
    assert training.train_step is training.loop.train_step is fast_paths.train_step
    assert mg.linear is mg.ops.linear is folded_momentum.linear
    fast_paths.disable()
    assert (training.train_step, training.loop.train_step, mg.linear, mg.ops.linear) == textbook
    assert "backward_and_step" not in vars(SGD) and SGD.backward_and_step is fast_paths.backward_and_step
