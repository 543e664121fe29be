"""Every differentiable op: forward against NumPy, gradient against float64 central differences.

``minigrad.gradcheck`` reduces each op's output to a scalar with fixed random weights,
L = sum(w * op(x)), so that every entry of the Jacobian matters (a plain sum would hide
a VJP that permutes or misroutes entries), then compares every element of every
input's gradient, and checks its shape and dtype.
"""

import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from strategies import (
    GRAD_ATOL,
    GRAD_RTOL,
    BROADCAST_PAIRS,
    MATMUL_PAIRS,
    SMALL_SHAPES,
    arrays,
    away_from_zero,
    distinct_nonzero_arrays,
    floats,
    grid,
    reduction_axes,
)
from hypothesis.extra import numpy as hnp

SMALL_DISTINCT_SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


def check(op, *inputs):
    """Gradcheck ``op`` on float64 ``inputs`` (through gradcheck's weighted sum of its output)."""
    assert mg.gradcheck(op, list(inputs), atol=GRAD_ATOL, rtol=GRAD_RTOL)


def forward(op, *inputs):
    return op(*[mg.Tensor(x, dtype=np.float64) for x in inputs]).data


# --- unary elementwise --------------------------------------------------------------------
UNARY = {
    # name: (minigrad op, NumPy reference, values that avoid kinks and poles)
    "exp": (mg.exp, np.exp, floats(-3, 3)),
    "log": (mg.log, np.log, floats(0.2, 5)),
    "sqrt": (mg.sqrt, np.sqrt, floats(0.2, 5)),
    "log1mexp": (mg.log1mexp, lambda x: np.log(1 - np.exp(x)), floats(-20, -0.05)),
    "tanh": (mg.tanh, np.tanh, floats(-3, 3)),
    "sigmoid": (mg.sigmoid, scipy.special.expit, floats(-6, 6)),
    "negative": (lambda t: -t, np.negative, floats(-3, 3)),
    "square": (lambda t: t**2, np.square, floats(-3, 3)),
    "reciprocal": (lambda t: 1.0 / t, np.reciprocal, away_from_zero(0.3, 3)),
    "relu": (mg.relu, lambda x: np.maximum(x, 0), grid().filter(lambda v: v != 0)),
    "abs": (mg.abs, np.abs, grid().filter(lambda v: v != 0)),
    "clip": (lambda t: mg.clip(t, -1.0625, 2.0625), lambda x: np.clip(x, -1.0625, 2.0625), grid()),
    # A staircase: its gradient is 0 away from the steps (values within 0.1 of a level, steps at the halves).
    "quantise": (lambda t: mg.quantise(t, 5), lambda x: np.round(x * 4) / 4,
                 st.builds(lambda k, d: k / 4 + d, st.integers(-4, 8), st.floats(-0.025, 0.025))),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_ops(name, data):
    op, reference, elements = UNARY[name]
    x = data.draw(arrays(SMALL_SHAPES, elements))
    np.testing.assert_allclose(forward(op, x), reference(x), rtol=1e-12, atol=1e-12)
    check(op, x)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_unary_ops_keep_the_input_dtype(name, data, dtype):
    """Output and gradient stay in the input's dtype: no float64 in a float32 graph."""
    op, _, elements = UNARY[name]
    x = data.draw(arrays(SMALL_SHAPES, elements)).astype(dtype)
    value, g = mg.value_and_grad(lambda t: op(t).sum())(x)
    assert value.dtype == dtype and g.dtype == dtype and g.shape == x.shape


def test_clip_takes_bounds_per_element_and_per_row():
    """clip's bounds may be arrays that broadcast to the input: each element is clipped to its own
    bounds, and the gradient passes exactly where the input lies within them."""
    x = np.linspace(-2.0, 2.0, 6).reshape(2, 3)
    low, high = np.array([-1.0, 0.0, -3.0]), np.array([[1.0], [0.5]])
    op = lambda t: mg.clip(t, low, high)  # noqa: E731
    np.testing.assert_array_equal(forward(op, x), np.clip(x, low, high))
    check(op, x)
    value, g = mg.value_and_grad(lambda t: op(t).sum())(x.astype(np.float32))
    assert value.dtype == np.float32  # a float64 bound does not promote a float32 input
    np.testing.assert_array_equal(g, [[0, 0, 1], [1, 0, 0]])


# --- binary elementwise, with broadcasting -------------------------------------------------
BINARY = {
    "add": (lambda a, b: a + b, np.add, floats(-3, 3), floats(-3, 3)),
    "subtract": (lambda a, b: a - b, np.subtract, floats(-3, 3), floats(-3, 3)),
    "multiply": (lambda a, b: a * b, np.multiply, floats(-3, 3), floats(-3, 3)),
    "divide": (lambda a, b: a / b, np.divide, floats(-3, 3), away_from_zero(0.5, 3)),
    "power": (lambda a, b: a**b, np.power, floats(0.5, 2), floats(-2, 2)),
    # The 1/16 offset keeps every a away from every b: no ties, no kink crossed.
    "maximum": (mg.maximum, np.maximum, grid(), grid(halves=True)),
    "minimum": (mg.minimum, np.minimum, grid(), grid(halves=True)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data(), shapes=BROADCAST_PAIRS)
def test_binary_ops_broadcast(name, data, shapes):
    op, reference, elements_a, elements_b = BINARY[name]
    a = data.draw(arrays(shapes.input_shapes[0], elements_a))
    b = data.draw(arrays(shapes.input_shapes[1], elements_b))
    np.testing.assert_allclose(forward(op, a, b), reference(a, b), rtol=1e-12)
    check(op, a, b)


@given(data=st.data(), shapes=BROADCAST_PAIRS)
def test_where(data, shapes):
    a = data.draw(arrays(shapes.input_shapes[0], floats(-3, 3)))
    b = data.draw(arrays(shapes.input_shapes[1], floats(-3, 3)))
    condition = data.draw(hnp.arrays(bool, shapes.result_shape))
    np.testing.assert_array_equal(forward(lambda x, y: mg.where(condition, x, y), a, b), np.where(condition, a, b))
    check(lambda x, y: mg.where(condition, x, y), a, b)


@given(data=st.data(), shapes=MATMUL_PAIRS)
def test_matmul(data, shapes):
    a = data.draw(arrays(shapes.input_shapes[0], floats(-2, 2)))
    b = data.draw(arrays(shapes.input_shapes[1], floats(-2, 2)))
    np.testing.assert_allclose(forward(lambda x, y: x @ y, a, b), a @ b, rtol=1e-12, atol=1e-12)
    check(lambda x, y: x @ y, a, b)


@given(data=st.data(), n=st.integers(1, 4), fan_in=st.integers(1, 4), fan_out=st.integers(1, 4), with_bias=st.booleans())
def test_linear(data, n, fan_in, fan_out, with_bias):
    x = data.draw(arrays((n, fan_in), floats(-2, 2)))
    w = data.draw(arrays((fan_in, fan_out), floats(-2, 2)))
    b = data.draw(arrays((fan_out,), floats(-2, 2)))
    if with_bias:
        np.testing.assert_allclose(forward(mg.linear, x, w, b), x @ w + b, rtol=1e-12, atol=1e-12)
        check(mg.linear, x, w, b)
    else:
        np.testing.assert_allclose(forward(mg.linear, x, w), x @ w, rtol=1e-12, atol=1e-12)
        check(mg.linear, x, w)


# --- reductions ------------------------------------------------------------------------------
REDUCTIONS = {
    "sum": (mg.sum, np.sum, floats(-3, 3)),
    "mean": (mg.mean, np.mean, floats(-3, 3)),
    "logsumexp": (mg.logsumexp, scipy.special.logsumexp, floats(-5, 5)),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(data=st.data(), shape=SMALL_SHAPES, keepdims=st.booleans())
def test_reductions(name, data, shape, keepdims):
    op, reference, elements = REDUCTIONS[name]
    x = data.draw(arrays(shape, elements))
    axis = data.draw(reduction_axes(len(shape)))
    reduce = lambda t: op(t, axis=axis, keepdims=keepdims)  # noqa: E731
    np.testing.assert_allclose(forward(reduce, x), reference(x, axis=axis, keepdims=keepdims), rtol=1e-12)
    check(reduce, x)


@given(data=st.data(), shape=SMALL_DISTINCT_SHAPES, keepdims=st.booleans())
def test_max(data, shape, keepdims):
    x = data.draw(distinct_nonzero_arrays(shape))
    axis = data.draw(reduction_axes(len(shape)))
    reduce = lambda t: t.max(axis=axis, keepdims=keepdims)  # noqa: E731
    np.testing.assert_array_equal(forward(reduce, x), np.max(x, axis=axis, keepdims=keepdims))
    check(reduce, x)


@pytest.mark.parametrize("op, reference", [(mg.softmax, scipy.special.softmax), (mg.log_softmax, scipy.special.log_softmax)])
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_softmax_family(op, reference, data, shape):
    x = data.draw(arrays(shape, floats(-5, 5)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    np.testing.assert_allclose(forward(lambda t: op(t, axis=axis), x), reference(x, axis=axis), rtol=1e-10, atol=1e-12)
    check(lambda t: op(t, axis=axis), x)


# --- moving elements -------------------------------------------------------------------------
@given(data=st.data(), shape=SMALL_SHAPES)
def test_reshape_and_transpose(data, shape):
    x = data.draw(arrays(shape, floats(-3, 3)))
    order = data.draw(st.permutations(range(len(shape))))
    check(lambda t: t.reshape(-1), x)
    check(lambda t: t.transpose(tuple(order)), x)
    np.testing.assert_array_equal(forward(lambda t: t.transpose(tuple(order)), x), x.transpose(order))
    np.testing.assert_array_equal(forward(lambda t: t.T, x), x.T)


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_integer_array_indexing_with_repeats(data, shape):
    x = data.draw(arrays(shape, floats(-3, 3)))
    index = np.asarray(data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=6)))
    np.testing.assert_array_equal(forward(lambda t: t[index], x), x[index])
    check(lambda t: t[index], x)


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_basic_indexing(data, shape):
    x = data.draw(arrays(shape, floats(-3, 3)))
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True))
    np.testing.assert_array_equal(forward(lambda t: t[index], x), x[index])
    check(lambda t: t[index], x)


@pytest.mark.parametrize("joiner", [mg.concatenate, mg.stack])
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), count=st.integers(1, 3))
def test_concatenate_and_stack(joiner, data, shape, count):
    parts = [data.draw(arrays(shape, floats(-3, 3))) for _ in range(count)]
    axis = data.draw(st.integers(0, len(shape) - (joiner is mg.concatenate)))
    reference = np.concatenate if joiner is mg.concatenate else np.stack
    np.testing.assert_array_equal(forward(lambda *ts: joiner(ts, axis=axis), *parts), reference(parts, axis=axis))
    check(lambda *ts: joiner(ts, axis=axis), *parts)


# --- neural-network ops -------------------------------------------------------------------------
@given(data=st.data(), rows=st.integers(1, 3), units=st.integers(1, 3), pieces=st.integers(1, 4))
def test_maxout(data, rows, units, pieces):
    x = data.draw(distinct_nonzero_arrays((rows, units * pieces)))
    np.testing.assert_array_equal(forward(lambda t: mg.maxout(t, pieces), x), x.reshape(rows, units, pieces).max(-1))
    check(lambda t: mg.maxout(t, pieces), x)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data(), n=st.integers(1, 4), classes=st.integers(2, 5))
def test_cross_entropy(reduction, data, n, classes):
    logits = data.draw(arrays((n, classes), floats(-5, 5)))
    labels = np.asarray(data.draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)), dtype=np.int64)
    per_example = -scipy.special.log_softmax(logits, axis=1)[np.arange(n), labels]
    expected = {"mean": per_example.mean(), "sum": per_example.sum(), "none": per_example}[reduction]
    np.testing.assert_allclose(forward(lambda t: mg.cross_entropy(t, labels, reduction=reduction), logits), expected, rtol=1e-10)
    check(lambda t: mg.cross_entropy(t, labels, reduction=reduction), logits)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
def test_binary_cross_entropy_with_logits(reduction, data, shape):
    logits = data.draw(arrays(shape, floats(-6, 6)))
    targets = data.draw(arrays(shape, floats(0, 1)))
    p = scipy.special.expit(logits)
    per_element = -(targets * np.log(p) + (1 - targets) * np.log1p(-p))
    expected = {"mean": per_element.mean(), "sum": per_element.sum(), "none": per_element}[reduction]
    bce = lambda t: mg.binary_cross_entropy_with_logits(t, targets, reduction=reduction)  # noqa: E731
    np.testing.assert_allclose(forward(bce, logits), expected, rtol=1e-9)
    check(bce, logits)


@given(data=st.data(), n=st.integers(1, 4), classes=st.integers(2, 5))
def test_softmax_direction_loss_is_the_gradient_divided_by_one_minus_p_y(data, n, classes):
    """Value: the summed cross-entropy. Gradient: the true one divided by 1 - p_y, row by row."""
    logits = data.draw(arrays((n, classes), floats(-5, 5)))
    labels = np.asarray(data.draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)), dtype=np.int64)
    value, direction = mg.value_and_grad(lambda t: mg.softmax_direction_loss(t, labels))(logits)
    true_value, true_gradient = mg.value_and_grad(lambda t: mg.cross_entropy(t, labels, reduction="sum"))(logits)
    np.testing.assert_allclose(value, true_value, rtol=1e-12)
    p_y = scipy.special.softmax(logits, axis=1)[np.arange(n), labels]
    np.testing.assert_allclose(direction * (1 - p_y)[:, None], true_gradient, rtol=1e-9, atol=1e-12)
    assert np.all(direction[np.arange(n), labels] == -1.0)


def test_direction_losses_do_not_vanish_where_float32_saturates():
    logits = np.array([[60.0, 0.0, -60.0], [200.0, 0.0, 0.0]], dtype=np.float32)  # p_y rounds to 1
    plain = mg.grad(lambda t: mg.cross_entropy(t, np.array([0, 0]), reduction="sum"))(logits)
    direction = mg.grad(lambda t: mg.softmax_direction_loss(t, np.array([0, 0])))(logits)
    assert plain[0, 0] == 0 and not plain[1].any()  # the true class's term is lost; at 200, everything
    np.testing.assert_allclose(direction, [[-1.0, 1.0, 0.0], [-1.0, 0.5, 0.5]], atol=1e-6)
    z = np.array([40.0, -120.0], dtype=np.float32)  # sigma(z) - t is 0 in float32 for both
    t = np.array([1, 0])
    assert not mg.grad(lambda v: mg.binary_cross_entropy_with_logits(v, t, reduction="sum"))(z).any()
    np.testing.assert_array_equal(mg.grad(lambda v: mg.logistic_direction_loss(v, t))(z), [-1.0, 1.0])
    with pytest.raises(ValueError, match="only sums over examples"):
        mg.softmax_direction_loss(logits, np.array([0]), reduction="mean")
    with pytest.raises(ValueError, match="targets must be 0 or 1"):
        mg.logistic_direction_loss(z, np.array([0.3, 1.0]))


def test_composite_network_gradient():
    """A whole two-layer maxout classifier, every parameter and the input at once."""
    rng = np.random.default_rng(0)
    x, w1, b1, w2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 6)), rng.normal(size=6), rng.normal(size=(3, 2))
    labels = np.array([0, 1, 1])
    net = lambda x, w1, b1, w2: mg.cross_entropy(mg.maxout(x @ w1 + b1, 2) @ w2, labels)  # noqa: E731
    check(net, x, w1, b1, w2)


def test_quantise_straight_through_passes_the_gradient_unchanged():
    """The straight-through estimator (BPDA's) is the identity, not the staircase's zero derivative."""
    x = np.array([0.1, 0.4, 0.9])
    assert np.array_equal(mg.grad(lambda t: (mg.quantise(t, 3, straight_through=True) * np.array([1.0, 2.0, 3.0])).sum())(x),
                          [1.0, 2.0, 3.0])
    assert not mg.grad(lambda t: mg.quantise(t, 3).sum())(x).any()
    with pytest.raises(ValueError, match="levels must be an integer >= 2"):
        mg.quantise(x, 1)


def test_clip_takes_a_bound_beyond_the_inputs_dtype_as_no_bound_on_that_side():
    x = mg.Tensor(np.array([1.0, -5.0, 3e38], np.float32), requires_grad=True)
    z = mg.clip(x, low=-1e39, high=1e39)  # beyond float32's range: e4bdc86 took them, as inf
    np.testing.assert_array_equal(z.data, x.data)
    assert z.dtype == np.float32
    z.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(3, np.float32))
    np.testing.assert_array_equal(mg.clip(x, low=np.float64(-1e300), high=2.0).data, [1.0, -5.0, 2.0])
