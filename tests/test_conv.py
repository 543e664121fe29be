"""Convolution and pooling: forward against direct loops, gradients against float64 central differences.

The references here loop over output positions in Python, the slow and obvious way,
so that they share nothing with the ops' im2col and strided-slice implementations.
"""

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import Tensor
from strategies import GRAD_ATOL, GRAD_RTOL


@st.composite
def conv_problems(draw):
    """x, w, b, stride, padding with at least one output pixel; kernel = image, stride > kernel and 1x1 kernels included."""
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    kh, kw = draw(st.integers(1, h + 2 * ph)), draw(st.integers(1, w + 2 * pw))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x, kernels, b = rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, kh, kw)), rng.normal(size=f)
    return x, kernels, b, (sh, sw), (ph, pw)


def reference_conv(x, w, b, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = w.shape[2:]
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    out = np.empty((x.shape[0], w.shape[0], ho, wo))
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def reference_pool(x, kernel, stride, padding, reduce, fill):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    out = np.empty(x.shape[:2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = reduce(xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw], axis=(2, 3))
    return out


@settings(max_examples=4 * settings.default.max_examples, deadline=None)
@given(conv_problems())
def test_conv2d_matches_direct_loops_and_central_differences(problem):
    x, w, b, stride, padding = problem
    out = mg.conv2d(Tensor(x, dtype=np.float64), Tensor(w, dtype=np.float64), Tensor(b, dtype=np.float64), stride, padding)
    np.testing.assert_allclose(out.data, reference_conv(x, w, b, stride, padding), rtol=1e-10, atol=1e-10)
    conv = lambda x, w, b: mg.conv2d(x, w, b, stride=stride, padding=padding)  # noqa: E731
    assert mg.gradcheck(conv, [x, w, b], atol=GRAD_ATOL, rtol=GRAD_RTOL)


def conv_values_and_gradients(conv, x, w, b, stride, padding):
    """conv's output and the gradients of sum(z * z) with respect to x, w and b, as arrays."""
    x, w, b = (Tensor(a, requires_grad=True) for a in (x, w, b))
    z = conv(x, w, b, stride=stride, padding=padding)
    (z * z).sum().backward()
    return z.data, x.grad, w.grad, b.grad


def assert_chunked_equals_textbook(x, w, b, stride, padding, chunk_images, monkeypatch):
    """fast.chunked_im2col.conv2d, forced into chunks of ``chunk_images`` images, gives textbook conv2d's
    values and gradients in float32, and really lowers the batch in that many chunks."""
    from minigrad.fast import chunked_im2col

    x, w, b = (np.asarray(a, np.float32) for a in (x, w, b))
    out_hw = [(size + 2 * p - k) // s + 1 for size, p, k, s in zip(x.shape[2:], padding, w.shape[2:], stride)]
    monkeypatch.setattr(chunked_im2col, "CHUNK_BYTES", chunk_images * out_hw[0] * out_hw[1] * w[0].size * 4)
    lowered = []
    monkeypatch.setattr(chunked_im2col, "im2col", lambda images, *args: lowered.append(len(images)) or mg.ops.conv.im2col(images, *args))
    chunked = conv_values_and_gradients(chunked_im2col.conv2d, x, w, b, stride, padding)
    textbook = conv_values_and_gradients(mg.ops.conv.conv2d, x, w, b, stride, padding)
    assert lowered == [min(chunk_images, len(x) - start) for start in range(0, len(x), chunk_images)]
    for got, expected in zip(chunked, textbook, strict=True):
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@settings(max_examples=settings.default.max_examples, deadline=None)
@given(conv_problems(), st.integers(1, 2))
def test_chunked_im2col_gives_the_textbook_values_and_gradients(problem, chunk_images):
    """The fast conv2d (minigrad.fast.chunked_im2col) on batches of 3 to 6 images, in chunks of 1 or 2."""
    x, w, b, stride, padding = problem
    x = np.concatenate([x, x[::-1] * 0.5, x + 1.0])
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_chunked_equals_textbook(x, w, b, stride, padding, chunk_images, monkeypatch)


@pytest.mark.parametrize("shape, kernels, stride, padding, chunk_images", [
    ((7, 3, 9, 8), (4, 3, 3, 3), (2, 1), (1, 2), 3),  # the last chunk shorter than the others
    ((5, 16, 14, 14), (32, 16, 4, 4), 2, 1, 2),  # SmallConvNet's second layer
    ((6, 1, 28, 28), (16, 1, 4, 4), 2, 1, 4),  # its first
    ((4, 2, 5, 5), (3, 2, 5, 5), 1, 0, 1),  # one window per image
    ((5, 2, 6, 6), (3, 2, 2, 2), 3, (0, 1), 2),  # strides longer than the kernel skip pixels
])
def test_chunked_im2col_on_batches_of_several_chunks(shape, kernels, stride, padding, chunk_images, monkeypatch):
    rng = np.random.default_rng(0)
    stride, padding = (stride,) * 2 if isinstance(stride, int) else stride, (padding,) * 2 if isinstance(padding, int) else padding
    assert_chunked_equals_textbook(rng.normal(size=shape), rng.normal(size=kernels), rng.normal(size=kernels[0]),
                                   stride, padding, chunk_images, monkeypatch)


def test_chunked_im2col_leaves_a_batch_of_one_chunk_to_the_textbook_op():
    """A training batch's rows fit in one chunk: the fast op is then the textbook one, to the bit."""
    from minigrad.fast import chunked_im2col

    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(5, 16, 14, 14)), rng.normal(size=(32, 16, 4, 4)), rng.normal(size=32)
    assert len(chunked_im2col.image_chunks(len(x), 7 * 7 * w[0].size * 4)) == 1
    chunked = conv_values_and_gradients(chunked_im2col.conv2d, x.astype(np.float32), w, b, (2, 2), (1, 1))
    textbook = conv_values_and_gradients(mg.ops.conv.conv2d, x.astype(np.float32), w, b, (2, 2), (1, 1))
    for got, expected in zip(chunked, textbook, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_chunked_im2col_takes_the_arguments_and_gives_the_results_of_the_textbook_op(monkeypatch):
    """Same signature and defaults, no bias, an empty batch, and the output in the same memory layout,
    in chunks of one image."""
    from minigrad.fast import chunked_im2col

    monkeypatch.setattr(chunked_im2col, "CHUNK_BYTES", 1)
    chunked = chunked_im2col.conv2d
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(3, 2, 6, 6)).astype(np.float32), rng.normal(size=(4, 2, 3, 3)).astype(np.float32)
    for args in ((x, w), (x, w, None, 2), (x, w, None, 1, 1), (x[:0], w)):
        got, expected = chunked(*args), mg.ops.conv.conv2d(*args)
        np.testing.assert_allclose(got.data, expected.data, rtol=1e-5, atol=1e-5)
        assert got.dtype == expected.dtype and got.data.strides == expected.data.strides


@st.composite
def pool_problems(draw):
    """Images of distinct values (no ties within 2 eps: finite differences stay off the max's kinks)."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, h)), draw(st.integers(1, w))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w) / 8.0 - 2.0
    return x, (kh, kw), (sh, sw), (ph, pw)


@settings(max_examples=4 * settings.default.max_examples, deadline=None)
@given(pool_problems())
def test_pooling_matches_direct_loops_and_central_differences(problem):
    x, kernel, stride, padding = problem
    for op, reduce, fill in ((mg.max_pool2d, np.max, -np.inf), (mg.avg_pool2d, np.mean, 0.0)):
        out = op(Tensor(x, dtype=np.float64), kernel, stride, padding)
        np.testing.assert_allclose(out.data, reference_pool(x, kernel, stride, padding, reduce, fill), rtol=1e-12)
        assert mg.gradcheck(lambda t: op(t, kernel, stride, padding), [x], atol=GRAD_ATOL, rtol=GRAD_RTOL)


def test_max_pool_sends_a_tie_to_the_first_maximum_in_row_major_order():
    x = Tensor(np.array([[[[1.0, 3.0], [3.0, 3.0]]]]), requires_grad=True)
    mg.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_channel_maxout_on_feature_maps():
    x = np.arange(2 * 6 * 2 * 2, dtype=np.float64).reshape(2, 6, 2, 2) % 7
    out = mg.maxout(Tensor(x, dtype=np.float64), 3, axis=1)
    np.testing.assert_array_equal(out.data, x.reshape(2, 2, 3, 2, 2).max(axis=2))
    rng = np.random.default_rng(0)
    distinct = rng.permutation(48).reshape(2, 6, 2, 2) / 8.0
    assert mg.gradcheck(lambda t: mg.maxout(t, 3, axis=1), [distinct])


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    out = mg.avg_pool2d(mg.max_pool2d(mg.conv2d(x, w, np.zeros(4), padding=1), 2), 3, stride=1)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_an_input_gradient_through_convolutions_skips_the_kernel_gradients():
    rng = np.random.default_rng(0)
    w1 = Tensor(rng.normal(size=(4, 1, 3, 3)), requires_grad=True)
    w2 = Tensor(rng.normal(size=(2, 4, 3, 3)), requires_grad=True)
    calls = {"x": 0, "rows": 0}  # every kernel VJP and every input VJP reshapes g once with rows
    real_col2im, real_rows = mg.ops.conv.col2im, mg.ops.conv.rows

    def counting_col2im(*args):
        calls["x"] += 1
        return real_col2im(*args)

    def counting_rows(g):
        calls["rows"] += 1
        return real_rows(g)

    def net(x):
        h = mg.relu(mg.conv2d(x, w1, padding=1))
        return mg.max_pool2d(mg.conv2d(h, w2), 2).sum()

    x = rng.normal(size=(2, 1, 6, 6)).astype(np.float32)
    mg.ops.conv.col2im, mg.ops.conv.rows = counting_col2im, counting_rows
    try:
        g = mg.grad(net)(x)
        assert g.shape == (2, 1, 6, 6) and calls == {"x": 2, "rows": 2}  # both input VJPs, no kernel VJP
        net(Tensor(x)).backward()
        assert calls == {"x": 3, "rows": 5}  # the weights' backward: two kernel VJPs and the one input VJP between
    finally:
        mg.ops.conv.col2im, mg.ops.conv.rows = real_col2im, real_rows


@contextlib.contextmanager
def chunked_im2col_as_conv2d():
    """Inside, ``mg.conv2d`` is the fast op, as ``training.fast_paths.enable()`` sets it: the same errors."""
    from minigrad.fast import chunked_im2col

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mg, "conv2d", chunked_im2col.conv2d)
        yield


@pytest.mark.parametrize("call, message", [
    (lambda: mg.conv2d(np.ones((1, 2, 4, 4)), np.ones((3, 1, 2, 2))), r"conv2d: x has 2 channels but the kernels expect 1"),
    (lambda: mg.conv2d(np.ones((1, 1, 4, 4)), np.ones((3, 1, 5, 5))), r"conv2d: the kernel 5x5 is larger than the padded image 4x4"),
    (lambda: mg.conv2d(np.ones((1, 1, 4, 4)), np.ones((3, 1, 2, 2)), stride=0), r"conv2d: stride must be an int >= 1"),
    (lambda: mg.conv2d(np.ones((1, 1, 4, 4)), np.ones((3, 1, 2, 2)), padding=-1), r"conv2d: padding must be an int >= 0"),
    (lambda: mg.conv2d(np.ones((1, 4, 4)), np.ones((3, 1, 2, 2))), r"conv2d: x must have shape \(N, C, H, W\)"),
    (lambda: mg.conv2d(np.ones((1, 1, 4, 4)), np.ones((3, 2, 2))), r"conv2d: w must have shape \(F, C, kh, kw\)"),
    (lambda: mg.conv2d(np.ones((1, 1, 4, 4)), np.ones((3, 1, 2, 2)), np.ones(2)), r"conv2d: b must have shape \(3,\)"),
    (lambda: mg.max_pool2d(np.ones((1, 1, 4, 4)), 5), r"max_pool2d: the kernel 5x5 is larger"),
    (lambda: mg.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=2), r"max_pool2d: padding \(2, 2\) must be at most half"),
    (lambda: mg.avg_pool2d(np.ones((1, 1, 4, 4)), (2, 2, 2)), r"avg_pool2d: kernel must be an int >= 1 or a pair"),
])
def test_bad_shapes_and_settings_name_the_op(call, message):
    with pytest.raises(ValueError, match=message):
        call()
    with chunked_im2col_as_conv2d(), pytest.raises(ValueError, match=message):
        call()


# --- the layers and the network in models ------------------------------------------------------
def test_small_conv_net_is_the_paper_architecture_and_trains_saves_loads_and_is_attacked(tmp_path):
    import attacks
    import models
    import training

    net = models.SmallConvNet(seed=0)
    shapes = [p.shape for p in net.parameters()]
    assert shapes == [(16, 1, 4, 4), (16,), (32, 16, 4, 4), (32,), (1568, 100), (100,), (100, 10), (10,)]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=120)
    X = rng.uniform(0, 0.2, size=(120, 1, 28, 28)).astype(np.float32)
    X[y == 1, :, :14] += 0.6  # class 1: a bright top half
    X = X.reshape(120, 784)
    small = models.SmallConvNet((1, 28, 28), n_classes=2, seed=0)
    training.fit(small, X, y, epochs=3, batch_size=20, optimizer=training.SGD(small.parameters(), lr=0.05, momentum=0.9),
                 progress=False)
    assert training.error_rate(small, X, y) < 0.05
    models.save(small, tmp_path / "conv.npz")
    np.testing.assert_array_equal(models.load(tmp_path / "conv.npz").predict(X), small.predict(X))
    x_adv = attacks.fgsm(small, X, y, eps=0.3)
    assert np.abs(x_adv - X).max() <= 0.3 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert training.error_rate(small, x_adv, y) > training.error_rate(small, X, y) + 0.3


def test_conv_maxout_layer_computes_conv_maxout_pool_and_keeps_kernel_norms():
    import models

    rng = np.random.default_rng(1)
    layer = models.ConvMaxout(2, 3, 2, 3, pool=2, pool_stride=2, padding=1, init=0.5, max_norm=0.1, rng=rng)
    x = rng.permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6) / 16.0
    w, b = layer.conv.weight.data.astype(np.float64), layer.conv.bias.data.astype(np.float64)
    f = lambda x, w, b: mg.max_pool2d(mg.maxout(mg.conv2d(x, w, b, padding=1), 2, axis=1), 2)  # noqa: E731
    np.testing.assert_allclose(layer(Tensor(x.astype(np.float32))).data, f(Tensor(x), Tensor(w), Tensor(b)).data, rtol=1e-5)
    layer.constrain()
    norms = np.sqrt((layer.conv.weight.data.reshape(6, -1) ** 2).sum(axis=1))
    assert np.all(norms <= 0.1 + 1e-6)
    with pytest.raises(ValueError, match="SmallConvNet: images of .* are too small"):
        models.SmallConvNet((1, 2, 2))


def test_conv_maxout_network_presets_train_save_load_and_keep_their_norms(tmp_path):
    import attacks
    import models
    import training

    paper = models.ConvMaxoutNetwork("paper", dropout=False, seed=0)
    assert [p.shape for p in paper.parameters()][::2] == [(192, 3, 8, 8), (384, 96, 8, 8), (384, 192, 5, 5), (3072, 2500), (500, 10)]
    net = models.ConvMaxoutNetwork("tiny", input_shape=(3, 8, 8), n_classes=3, seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.uniform(0, 1, size=(60, 192)).astype(np.float32), rng.integers(0, 3, size=60)
    training.fit(net, X, y, epochs=2, batch_size=20, optimizer=training.SGD(net.parameters(), lr=0.1), progress=False)
    kernels = net.net.layers[1].conv.weight.data  # the first ConvMaxout, after the input dropout
    assert np.sqrt((kernels.reshape(len(kernels), -1) ** 2).sum(axis=1)).max() <= 0.9 + 1e-6
    models.save(net, tmp_path / "cm.npz")
    np.testing.assert_array_equal(models.load(tmp_path / "cm.npz").predict(X), net.predict(X))
    assert np.abs(attacks.fgsm(net, X, y, eps=0.1) - X).max() <= 0.1 + 1e-6
    with pytest.raises(ValueError, match="preset must be one of"):
        models.ConvMaxoutNetwork("huge")
    with pytest.raises(ValueError, match="too small for the 'paper' preset"):
        models.ConvMaxoutNetwork("paper", input_shape=(3, 8, 8))


def test_a_flattened_maps_gradient_comes_back_in_the_maps_memory_layout():
    """The fast path's reshape (minigrad.fast.layout_reshape) lays its gradient out as its input: conv maps
    are NCHW views of NHWC memory (the textbook reshape's gradient is C-ordered; tests/test_fast_reshape.py)."""
    from minigrad.fast.layout_reshape import reshape

    maps = np.arange(3 * 5 * 5 * 4, dtype=np.float32).reshape(3, 5, 5, 4).transpose(0, 3, 1, 2)  # as conv2d's
    weights = np.arange(100, dtype=np.float32)
    gradient = mg.grad(lambda t: (reshape(t, 3, -1) * weights).sum())(maps)
    assert not maps.flags.c_contiguous and gradient.strides == maps.strides
    np.testing.assert_array_equal(gradient, np.broadcast_to(weights, (3, 100)).reshape(maps.shape))


# --- issue 25: arguments that are no ints, sizes of 0, empty batches -----------------------------

X4, W2 = np.ones((1, 1, 4, 4), np.float32), np.ones((3, 1, 2, 2), np.float32)


@pytest.mark.parametrize("call, message", [
    (lambda: mg.conv2d(X4, W2, stride=1.0), r"conv2d: stride must be an int >= 1 or a pair of them, got 1\.0"),
    (lambda: mg.conv2d(X4, W2, stride=True), r"conv2d: stride must be an int >= 1 or a pair of them, got True"),
    (lambda: mg.conv2d(X4, W2, stride=(1, 2.0)), r"conv2d: stride must be .* got \(1, 2\.0\)"),
    (lambda: mg.conv2d(X4, W2, padding=True), r"conv2d: padding must be an int >= 0 or a pair of them, got True"),
    (lambda: mg.conv2d(X4, W2, padding=None), r"conv2d: padding must be .* got None"),
    (lambda: mg.max_pool2d(X4, 2.0), r"max_pool2d: kernel must be an int >= 1 or a pair of them, got 2\.0"),
    (lambda: mg.max_pool2d(X4, 2, stride=False), r"max_pool2d: stride must be an int >= 1 .* got False"),
    (lambda: mg.avg_pool2d(X4, True), r"avg_pool2d: kernel must be an int >= 1 .* got True"),
    (lambda: mg.conv2d(X4, np.ones((0, 1, 2, 2))), r"conv2d: w must have shape \(F, C, kh, kw\), each at least 1, got \(0, 1, 2, 2\)"),
    (lambda: mg.conv2d(np.ones((1, 0, 4, 4)), np.ones((3, 0, 2, 2))), r"conv2d: w must .* each at least 1, got \(3, 0, 2, 2\)"),
    (lambda: mg.conv2d(X4, np.ones((3, 1, 0, 2))), r"conv2d: w must .* each at least 1, got \(3, 1, 0, 2\)"),
])
def test_sizes_that_are_no_positive_ints_are_named(call, message):
    """Bools and floats (even 1.0) are refused, as everywhere in the project; so are kernels of 0 pixels or channels."""
    with pytest.raises(ValueError, match=message):
        call()
    with chunked_im2col_as_conv2d(), pytest.raises(ValueError, match=message):
        call()


def test_a_pair_of_numpy_integers_is_a_stride():
    out = mg.conv2d(X4, W2, stride=np.array([2, 1]))
    assert out.shape == (1, 3, 2, 3)


def test_conv_nets_take_an_empty_batch_as_dense_models_do():
    """N = 0 flows through conv2d, pooling and Flatten (whose width used to be inferred by NumPy from -1)."""
    import models

    empty = np.zeros((0, 784), np.float32)
    for net in (models.SmallConvNet(seed=0), models.ConvMaxoutNetwork("tiny", input_shape=(1, 28, 28), seed=0)):
        predicted, proba = net.predict_with_proba(empty)
        assert predicted.shape == (0,) and proba.shape == (0, 10)
        assert net.predict(empty).shape == (0,)
    x = Tensor(np.zeros((0, 1, 28, 28), np.float32), requires_grad=True)
    models.SmallConvNet(seed=0)(x.reshape(0, 784)).sum().backward()
    assert x.grad.shape == (0, 1, 28, 28)
