"""The fast paths (``training.fast_paths``, ``minigrad.fast``) against the textbook code.

The reading path is the default: importing the project switches nothing on. With
``enable()`` SGD's classical momentum step goes through NumPy's BLAS and
``minigrad.conv2d`` builds im2col in chunks; both give the textbook results to float32
rounding, and ``disable()`` puts the textbook functions back.
"""

import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import models
from minigrad.fast import conv_bias_gemv, numpy_blas
from training import fast_paths
from training.optim import SGD, Optimizer

TEXTBOOK_CONV2D = mg.ops.conv2d  # the op itself, which enable() never replaces
TEXTBOOK_RESHAPE = mg.ops.shape.reshape


def textbook_sgd_update():
    """SGD._update as training/optim.py defines it (call with the fast paths off)."""
    update = SGD._update
    assert (update.__module__, update.__qualname__) == ("training.optim", "SGD._update")
    return update


@pytest.fixture(autouse=True)
def textbook_around_each_test():
    """Every test starts and ends on the textbook path (an in-process ``advex`` run of another test
    file switches the fast paths on: they are put back on after the test)."""
    was_on = fast_paths.is_enabled()
    fast_paths.disable()
    yield
    fast_paths.disable()
    if was_on:
        fast_paths.enable()


@pytest.fixture
def blas_calls(monkeypatch):
    """The (alpha, ...) arguments of every ``scal`` and ``axpy`` call made through minigrad.fast.numpy_blas."""
    calls = []
    for name in ("scal", "axpy"):
        real = getattr(numpy_blas, name)
        monkeypatch.setattr(numpy_blas, name, lambda *args, real=real, name=name: calls.append(name) or real(*args))
    return calls


def sgd_run(sizes, steps=4, fast=False, **settings):
    """The parameters of an MLP of ``sizes`` after ``steps`` SGD updates with ``settings``, from one seed."""
    rng = np.random.default_rng(0)
    model = models.MLP(sizes, seed=0)
    params = model.parameters()
    opt = SGD(params, **settings)
    with fast_paths.enabled() if fast else contextlib.nullcontext():
        for _ in range(steps):
            x = rng.standard_normal((8, sizes[0])).astype(np.float32)
            y = rng.integers(0, sizes[-1], 8)
            opt.zero_grad()
            model.loss(model(x), y).backward()
            opt.step()
    return [p.data.copy() for p in params], [v.copy() for v in opt.buffers["velocity"]]


@pytest.mark.parametrize("sizes", [(12, 10, 3), (200, 100, 3)], ids=["small", "blas-sized"])
def test_fast_and_textbook_sgd_give_the_same_updates(sizes, blas_calls):
    """Classical momentum with per-parameter lr scales: the same weights and velocities, to float32
    rounding, after several steps; a BLAS-sized weight (>= MIN_SIZE elements) did go through BLAS."""
    settings = dict(lr=0.1, momentum=0.9, lr_scales=[0.5, 1.0, 2.0, 1.0])
    textbook, textbook_v = sgd_run(sizes, **settings)
    assert blas_calls == []  # the textbook step calls no BLAS
    fast, fast_v = sgd_run(sizes, fast=True, **settings)
    for a, b in zip(fast + fast_v, textbook + textbook_v):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(fast[0], models.MLP(sizes, seed=0).parameters()[0].data)  # the weights did move
    big = sizes[0] * sizes[1] >= numpy_blas.MIN_SIZE and numpy_blas.available()
    assert blas_calls == (["scal", "axpy", "axpy"] * 4 if big else [])  # only W1 is large enough, 4 steps


@pytest.mark.parametrize("settings", [dict(momentum=0.9, nesterov=True), dict(momentum=0.9, weight_decay=0.01),
                                      dict(momentum=0.0)], ids=["nesterov", "weight-decay", "no-momentum"])
def test_outside_classical_momentum_the_fast_path_is_the_textbook_update(settings, blas_calls):
    textbook = sgd_run((200, 100, 3), lr=0.1, **settings)
    fast = sgd_run((200, 100, 3), fast=True, lr=0.1, **settings)
    for a, b in zip(fast[0] + fast[1], textbook[0] + textbook[1]):
        np.testing.assert_array_equal(a, b)
    assert blas_calls == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "small"])
def test_sgd_momentum_through_numpy_blas_or_ufuncs_follows_its_formula(dtype, layout, blas_calls):
    """With the fast paths on, large contiguous parameters take NumPy's BLAS (scal, axpy), others the ufuncs:
    the same update, in the parameter's dtype."""
    shape = {"contiguous": (300, 200), "transposed": (200, 300), "small": (10, 20)}[layout]
    rng = np.random.default_rng(0)
    start = rng.standard_normal(shape).astype(dtype)
    data = start.T.copy().T if layout == "transposed" else start.copy()  # a transposed copy: not C-contiguous
    p = mg.Tensor(data, requires_grad=True, dtype=dtype)
    opt = SGD([p], lr=0.05, momentum=0.5)
    takes_blas = layout == "contiguous" and numpy_blas.available()
    assert numpy_blas.suited(p.data, opt.buffers["velocity"][0]) == takes_blas
    w, v = start.astype(np.float64), np.zeros(shape)
    fast_paths.enable()
    for step in range(3):
        g = rng.standard_normal(shape).astype(dtype)
        p.grad = g
        opt.step()
        v = 0.5 * v - 0.05 * g.astype(np.float64)
        w = w + v
        np.testing.assert_allclose(p.data, w, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6 if dtype == np.float32 else 1e-12)
        assert p.data.dtype == dtype
    assert blas_calls == (["scal", "axpy", "axpy"] * 3 if takes_blas else [])


def test_disable_puts_the_textbook_functions_back_and_the_textbook_results_with_them(blas_calls):
    textbook_update = textbook_sgd_update()
    settings = dict(lr=0.1, momentum=0.9)
    textbook = sgd_run((200, 100, 3), **settings)
    fast_paths.enable()
    assert fast_paths.is_enabled()
    assert SGD._update is not textbook_update
    assert mg.conv2d is not TEXTBOOK_CONV2D
    assert mg.reshape is mg.ops.reshape is not TEXTBOOK_RESHAPE
    fast_paths.enable()  # a second call changes nothing: disable still finds the textbook functions
    fast_paths.disable()
    assert not fast_paths.is_enabled()
    assert SGD._update is textbook_update
    assert mg.conv2d is TEXTBOOK_CONV2D is mg.ops.conv2d
    assert mg.reshape is TEXTBOOK_RESHAPE is mg.ops.reshape
    calls_before = len(blas_calls)
    again = sgd_run((200, 100, 3), **settings)
    assert len(blas_calls) == calls_before  # no BLAS call after disable
    for a, b in zip(again[0] + again[1], textbook[0] + textbook[1]):
        np.testing.assert_array_equal(a, b)


def test_enabled_switches_on_for_its_block_only_and_keeps_an_earlier_enable():
    textbook_update = textbook_sgd_update()
    with pytest.raises(RuntimeError, match="inside"):
        with fast_paths.enabled():
            assert fast_paths.is_enabled() and SGD._update is not textbook_update
            raise RuntimeError("inside")
    assert not fast_paths.is_enabled() and SGD._update is textbook_update
    fast_paths.enable()
    with fast_paths.enabled():
        pass
    assert fast_paths.is_enabled()  # it was on before the block: it stays on


def test_enable_applies_the_allocator_setting(monkeypatch):
    calls = []
    monkeypatch.setattr(fast_paths, "keep_freed_memory", lambda: calls.append(1) or True)
    fast_paths.enable()
    assert calls == [1]


def test_importing_the_project_switches_no_fast_path_on():
    """In a fresh process: ``import training`` (and attacks, models) leaves SGD, conv2d and the allocator alone."""
    code = (
        "import minigrad.fast.allocator as allocator\n"
        "calls = []\n"
        "allocator.keep_freed_memory = lambda *a: calls.append(1)\n"
        "import attacks, models, training, minigrad\n"
        "from minigrad.ops.conv import conv2d\n"
        "print(calls, training.fast_paths.is_enabled(), training.SGD._update.__qualname__,\n"
        "      training.SGD._update.__module__, minigrad.conv2d is conv2d)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["[]", "False", "SGD._update", "training.optim", "True"], done.stderr


@pytest.mark.parametrize("settings", [dict(momentum=0.9), dict(momentum=0.5, nesterov=True), dict(momentum=0.0)])
@pytest.mark.parametrize("fast", [False, True], ids=["textbook", "fast"])
def test_backward_and_step_is_backward_then_step(settings, fast):
    """The old name ``Optimizer.backward_and_step`` is ``loss.backward(); step()``: the same weights,
    and ``.grad`` holds the gradient afterwards, with the fast paths on or off. (With them on,
    ``SGD`` has a ``backward_and_step`` of its own, which folds the update into the walk and
    leaves ``.grad`` None: ``tests/test_folded_momentum.py``.)"""
    assert Optimizer.backward_and_step is fast_paths.backward_and_step
    rng = np.random.default_rng(3)
    x, start = rng.standard_normal((8, 200)).astype(np.float32), rng.standard_normal((200, 100)).astype(np.float32)
    results = []
    for old_name in (True, False):
        W = mg.Tensor(start.copy(), requires_grad=True)
        opt = SGD([W], lr=0.1, **settings)
        with fast_paths.enabled() if fast else contextlib.nullcontext():
            for _ in range(2):
                opt.zero_grad()
                loss = (mg.tanh(mg.Tensor(x) @ W) ** 2).sum()
                if old_name:
                    Optimizer.backward_and_step(opt, loss)
                else:
                    loss.backward()
                    opt.step()
        assert W.grad is not None and W.grad.shape == W.shape
        results.append((W.data, W.grad, opt.steps))
    (w_a, g_a, n_a), (w_b, g_b, n_b) = results
    np.testing.assert_array_equal(w_a, w_b)
    np.testing.assert_array_equal(g_a, g_b)
    assert n_a == n_b == 2


def test_with_numpy_blas_turned_off_the_fast_path_takes_the_ufuncs():
    """``MINIGRAD_NUMPY_BLAS=0``: the binding finds no library, and the fast SGD step takes its ufunc form,
    the textbook update to float32 rounding."""
    code = (
        "import numpy as np, minigrad as mg\n"
        "from minigrad.fast import numpy_blas\n"
        "from training import SGD, fast_paths\n"
        "def run(fast):\n"
        "    rng = np.random.default_rng(0)\n"
        "    W = mg.Tensor(rng.standard_normal((200, 100)).astype(np.float32), requires_grad=True)\n"
        "    opt = SGD([W], lr=0.1, momentum=0.9)\n"
        "    if fast: fast_paths.enable()\n"
        "    for _ in range(3):\n"
        "        W.grad = rng.standard_normal((200, 100)).astype(np.float32)\n"
        "        opt.step()\n"
        "    fast_paths.disable()\n"
        "    return W.data\n"
        "print(numpy_blas.available(), np.allclose(run(True), run(False), rtol=1e-6, atol=1e-6))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MINIGRAD_NUMPY_BLAS": "0"})
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_numpy_blas_refuses_arrays_it_cannot_update_in_place():
    big = np.zeros(numpy_blas.MIN_SIZE, np.float32)
    read_only = big.copy()
    read_only.setflags(write=False)
    assert not numpy_blas.suited(big, big.astype(np.float64))  # mixed dtypes
    assert not numpy_blas.suited(np.zeros((2, numpy_blas.MIN_SIZE), np.float32)[:, ::2])  # strided
    assert not numpy_blas.suited(big, read_only)
    assert not numpy_blas.suited(np.zeros(16, np.float32))  # too small for the call to pay
    assert not numpy_blas.suited(big.astype(np.int32))
    assert not numpy_blas.suited(big, np.zeros(numpy_blas.MIN_SIZE + 1, np.float32))  # sizes differ
    assert not numpy_blas.suited(big, big.reshape(2, -1).copy())  # shapes differ
    assert not numpy_blas.suited(big, big)  # the same memory twice
    if numpy_blas.available():
        x, y = np.arange(numpy_blas.MIN_SIZE, dtype=np.float32), np.ones(numpy_blas.MIN_SIZE, np.float32)
        numpy_blas.axpy(2.0, x, y)
        numpy_blas.scal(0.5, y)
        np.testing.assert_array_equal(y, (2 * np.arange(numpy_blas.MIN_SIZE) + 1) * 0.5)


def test_momentum_step_keeps_a_nan_in_the_velocity_with_momentum_zero():
    """``scal`` by 0 would overwrite v with zeros; with momentum 0 the step takes the ufuncs, as ``v *= 0`` does."""
    from minigrad.fast.blas_momentum import momentum_step

    v = np.zeros(numpy_blas.MIN_SIZE, np.float32)
    v[3] = np.nan
    w, g = np.ones_like(v), np.ones_like(v)
    momentum_step(v, w, g, 0.0, 0.1)
    assert np.isnan(v[3]) and np.isnan(w[3])
    np.testing.assert_array_equal(np.delete(w, 3), np.float32(1) - np.float32(0.1))


@pytest.mark.parametrize("layout", ["channels-last", "NCHW"])
def test_conv_bias_gradient_by_gemv_is_the_sum_over_images_and_positions(layout):
    """``bias_gradient`` sums g over (0, 2, 3) as ``ones @ rows`` (channels-last g) or as the sum itself."""
    rng = np.random.default_rng(7)
    g = rng.standard_normal((6, 5, 4, 3)).astype(np.float32)
    if layout == "channels-last":
        g = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    g_rows = conv_bias_gemv.rows_in_place(g)
    assert (g_rows is not None) == (layout == "channels-last")  # the gemv is taken exactly then
    if g_rows is not None:
        assert np.shares_memory(g_rows, g)
    got = conv_bias_gemv.bias_gradient(g)
    assert got.dtype == np.float32 and got.shape == (5,)
    np.testing.assert_allclose(got, g.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-5)


def test_the_fast_conv2d_gives_the_textbook_bias_gradient_and_leaves_a_conv_without_bias_alone():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 2, 6, 6)).astype(np.float32)
    w, b = rng.standard_normal((4, 2, 3, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    gradients = []
    for conv in (TEXTBOOK_CONV2D, conv_bias_gemv.conv2d):
        params = [mg.Tensor(a, requires_grad=True) for a in (x, w, b)]
        (conv(*params, stride=1, padding=1) ** 2).sum().backward()
        gradients.append([p.grad for p in params])
    for fast, textbook in zip(*gradients):
        np.testing.assert_allclose(fast, textbook, rtol=1e-5, atol=1e-5)
    no_bias = conv_bias_gemv.conv2d(mg.Tensor(x, requires_grad=True), w)
    assert len(no_bias._vjps) == 2


def test_the_old_module_names_are_aliases_of_the_new_ones():
    import minigrad.blas
    import minigrad.memory
    from minigrad.fast import allocator

    assert minigrad.blas.suited is numpy_blas.suited and minigrad.blas.axpy is numpy_blas.axpy
    assert minigrad.memory.keep_freed_memory is allocator.keep_freed_memory is mg.keep_freed_memory


def test_with_the_fast_paths_conv2d_gives_the_textbook_outputs_and_gradients(monkeypatch):
    """SmallConvNet (models.Conv2d calls ``mg.conv2d``) under ``enable()``, the batch cut into several chunks:
    the same logits and the same gradients for every parameter and for the input, to float32 rounding."""
    from minigrad.fast import chunked_im2col

    monkeypatch.setattr(chunked_im2col, "CHUNK_BYTES", 20_000)  # a few images a chunk, not the whole batch
    rng = np.random.default_rng(0)
    model = models.SmallConvNet(seed=0)
    x, y = rng.random((10, 784)).astype(np.float32), rng.integers(0, 10, 10)

    def outputs_and_gradients():
        model.zero_grad()
        inputs = mg.Tensor(x, requires_grad=True)
        logits = model(inputs)
        model.loss(logits, y).backward()
        return [logits.data, inputs.grad] + [p.grad for p in model.parameters()]

    textbook = outputs_and_gradients()
    with fast_paths.enabled():
        assert mg.conv2d is conv_bias_gemv.conv2d
        assert len(chunked_im2col.image_chunks(10, 14 * 14 * 16 * 4)) > 1
        fast = outputs_and_gradients()
    for a, b in zip(fast, textbook):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
