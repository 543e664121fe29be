"""SGD's momentum folded into the backward walk (``minigrad.fast.folded_momentum``) against the textbook pair.

With ``training.fast_paths.enable()``, ``training.train_step`` runs
``optimizer.backward_and_step(loss)``, and SGD with classical momentum computes each
dense layer's ``v <- m v - lr x^T G`` as one gemm during the walk. These tests check
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


@pytest.fixture(autouse=True)
def textbook_around_each_test():
    was_on = fast_paths.is_enabled()
    fast_paths.disable()
    yield
    fast_paths.disable()
    if was_on:
        fast_paths.enable()


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


def step_both_ways(loss_of, params_start, fast: bool, x_requires_grad=False, **settings):
    """One SGD step on ``loss_of(params, x)``: textbook (backward, step) or ``backward_and_step`` with the fold on."""
    params = [mg.Tensor(p.copy(), requires_grad=True) for p in params_start]
    x = mg.Tensor(np.random.default_rng(1).random((6, params_start[0].shape[0]), dtype=np.float32),
                  requires_grad=x_requires_grad)
    optimizer = SGD(params, **{"lr": 0.1, "momentum": 0.5, **settings})
    for v in optimizer.buffers["velocity"]:
        v[...] = 0.25  # a velocity from earlier steps, so that m v counts
    loss = loss_of(params, x)
    if fast:
        with fast_paths.enabled():
            optimizer.backward_and_step(loss)
    else:
        loss.backward()
        optimizer.step()
    return params, optimizer, x


@needs_blas
def test_a_weight_reached_by_two_products_and_another_op_sums_all_three(gemm_calls):
    """W in two dense layers (a tied weight) and in a penalty: two gemms (beta m, then 1) and the penalty's
    gradient added after them."""
    rng = np.random.default_rng(2)
    start = [rng.standard_normal((8, 8)).astype(np.float32) * 0.3, rng.standard_normal(8).astype(np.float32)]

    def loss_of(params, x):
        W, b = params
        h = mg.tanh(folded_momentum.linear(x, W, b))
        return ((folded_momentum.linear(h, W) ** 2).sum() + (W * W).sum()) * 0.5

    textbook, _, _ = step_both_ways(loss_of, start, fast=False)
    fast, optimizer, _ = step_both_ways(loss_of, start, fast=True)
    assert_close([p.data for p in fast], [p.data for p in textbook])
    assert gemm_calls == [(8, 8), (8, 8)]
    assert optimizer.steps == 1


@needs_blas
def test_a_gradient_gemm_cannot_read_in_place_takes_the_textbook_product(gemm_calls):
    """``linear(x, W).sum()`` hands the layer a broadcast (strided) G: no gemm, the same step."""
    rng = np.random.default_rng(2)
    start = [rng.standard_normal((8, 8)).astype(np.float32), rng.standard_normal(8).astype(np.float32)]

    def loss_of(params, x):
        return mg.linear(x, *params).sum()

    textbook, _, _ = step_both_ways(loss_of, start, fast=False)
    fast, _, _ = step_both_ways(loss_of, start, fast=True)
    assert_close([p.data for p in fast], [p.data for p in textbook])
    assert gemm_calls == []


@needs_blas
def test_an_input_that_requires_grad_still_gets_its_gradient():
    rng = np.random.default_rng(3)
    start = [rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal(7).astype(np.float32)]

    def loss_of(params, x):
        return (mg.linear(x, *params) ** 2).sum()

    textbook, _, x_textbook = step_both_ways(loss_of, start, fast=False, x_requires_grad=True)
    fast, _, x_fast = step_both_ways(loss_of, start, fast=True, x_requires_grad=True)
    assert_close([p.data for p in fast], [p.data for p in textbook])
    np.testing.assert_allclose(x_fast.grad, x_textbook.grad, rtol=1e-5)
    assert all(p.grad is None for p in fast)


@needs_blas
def test_a_walk_that_fails_changes_no_weight_and_no_velocity():
    """An error in a VJP below the dense layer: it reaches the caller, every weight and velocity is as
    before, and no fold is left armed for a later walk."""
    rng = np.random.default_rng(4)
    start = [rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal(7).astype(np.float32)]

    def failing(t):
        def vjp(g):
            raise ArithmeticError("planted")
        return mg.Tensor.from_op(t.data.copy(), (t,), (vjp,), "failing")

    def loss_of(params, x):
        return mg.linear(failing(x), *params).sum()

    with pytest.raises(ArithmeticError, match="planted"):
        step_both_ways(loss_of, start, fast=True, x_requires_grad=True)
    params = [mg.Tensor(p.copy(), requires_grad=True) for p in start]
    x = mg.Tensor(rng.random((6, 5), dtype=np.float32), requires_grad=True)
    optimizer = SGD(params, lr=0.1, momentum=0.5)
    with fast_paths.enabled(), pytest.raises(ArithmeticError):
        optimizer.backward_and_step(loss_of(params, x))
    for p, s in zip(params, start):
        np.testing.assert_array_equal(p.data, s)
    assert all(not v.any() for v in optimizer.buffers["velocity"]) and optimizer.steps == 0
    assert folded_momentum._folds == {}


@pytest.mark.parametrize("settings", [dict(nesterov=True), dict(weight_decay=0.01), dict(momentum=0.0)],
                         ids=["nesterov", "weight-decay", "no-momentum"])
def test_outside_classical_momentum_backward_and_step_is_the_textbook_pair(settings, gemm_calls):
    rng = np.random.default_rng(5)
    start = [rng.standard_normal((200, 100)).astype(np.float32), rng.standard_normal(100).astype(np.float32)]

    def loss_of(params, x):
        return (mg.linear(x, *params) ** 2).sum()

    textbook, _, _ = step_both_ways(loss_of, start, fast=False, **settings)
    fast, _, _ = step_both_ways(loss_of, start, fast=True, **settings)
    for a, b in zip(fast, textbook):
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.grad, b.grad)
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
    assert SGD.backward_and_step is not fast_paths.backward_and_step
    assert training.train_step is training.loop.train_step is fast_paths.train_step
    assert mg.linear is mg.ops.linear is folded_momentum.linear
    fast_paths.disable()
    assert (training.train_step, training.loop.train_step, mg.linear, mg.ops.linear) == textbook
    assert "backward_and_step" not in vars(SGD) and SGD.backward_and_step is fast_paths.backward_and_step
