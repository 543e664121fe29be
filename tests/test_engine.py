"""The graph walk: order, accumulation, freeing, no_grad, and the functional grad."""

import collections
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.broadcast import unbroadcast
from minigrad.engine import FreedGraphError
from minigrad.tensor import Tensor


def test_reuse_accumulates_in_topological_order():
    """b = a + a; c = b + b: dc/da = 4. A walk without the topological sort gets this wrong."""
    a = Tensor(3.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "f, at, expected",
    [
        (lambda b: b * b + b, 0.2, 1.4),  # 2b + 1
        (lambda a: a / (a * a + 1.0), -0.5, 0.48),  # (1 - a^2) / (1 + a^2)^2
        (lambda b: b * b * b, 0.7, 1.47),  # 3b^2
    ],
    ids=["b*b+b", "a/(a*a+1)", "b*b*b"],
)
def test_a_0d_tensor_collects_every_contribution(f, at, expected, dtype):
    """Regression: 0-d arithmetic returns NumPy scalars, and `+=` on one dropped the third contribution."""
    x = np.array(at, dtype=dtype)
    g = mg.grad(f)(x)
    assert type(g) is np.ndarray and g.shape == () and g.dtype == dtype
    assert g == pytest.approx(expected, rel=1e-6)
    leaf = Tensor(x, requires_grad=True, dtype=dtype)
    f(leaf).backward()
    f(leaf).backward()  # a second backward adds into .grad, which stays a 0-d array
    assert type(leaf.grad) is np.ndarray and leaf.grad.shape == ()
    assert leaf.grad == pytest.approx(2 * expected, rel=1e-6)


def test_a_vjp_that_returns_a_numpy_scalar_gives_an_array():
    """A custom op on 0-d inputs may return ``g * y``, a NumPy scalar: the engine makes it a 0-d array."""
    x = Tensor(np.float32(3.0), requires_grad=True)
    doubled = Tensor.from_op(x.data * 2, (x,), (lambda g: np.float32(2.0) * g[()],), "double")
    (doubled * doubled).backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad == 24.0


def test_diamond_graph():
    """x feeds two branches that meet again: both contributions must arrive before x's parents."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * x  # dy/dx = 2x
    z = (mg.exp(y) + y * 3.0).sum()  # dz/dy = e^y + 3
    z.backward()
    np.testing.assert_allclose(x.grad, (np.exp([1.0, 4.0]) + 3) * 2 * np.array([1.0, 2.0]), rtol=1e-6)


def test_gradients_add_up_across_backward_calls_until_zeroed():
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * 3.0).sum().backward()
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad, [6.0, 6.0])
    w.zero_grad()
    assert w.grad is None


def test_a_chain_of_ten_thousand_ops_does_not_recurse():
    x = Tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**10_000, rel=1e-9)


def test_backprop_on_a_ten_thousand_op_chain_with_reuse_gives_every_leaf_and_target_its_gradient():
    """The heap walk's results, not only that it finishes: each step uses y four times, in two ops.

    y' = (y * y + y * y) / 4 + 1/2 has dy'/dy = y; from y = 0.5 it creeps towards 1, so the
    product of the 10,000 factors stays a normal float64.
    """
    x = Tensor(np.float64(0.5), requires_grad=True, dtype=np.float64)
    w = Tensor(np.float64(1.0), requires_grad=True, dtype=np.float64)
    y, expected = x * w, 1.0
    for _ in range(10_000):
        expected *= float(y.data)
        y = (y * y + y * y) * 0.25 + 0.5
    assert 1e-12 < expected < 1e-3
    pairs = mg.engine.backprop(y, np.ones((), np.float64), retain_graph=True)
    assert sorted(id(leaf) for leaf, _ in pairs) == sorted([id(x), id(w)])  # each leaf once, nothing else
    gradients = {id(leaf): g for leaf, g in pairs}
    assert gradients[id(x)] == pytest.approx(expected * 1.0, rel=1e-9)
    assert gradients[id(w)] == pytest.approx(expected * 0.5, rel=1e-9)
    (only,) = mg.engine.backprop(y, np.ones((), np.float64), targets=[x])
    assert only[0] is x and only[1] == pytest.approx(expected, rel=1e-9)


def test_contributions_are_summed_into_new_arrays_never_into_one_a_vjp_handed_out():
    """Three ops use x; the first contribution is the array a VJP returned, and it must not change."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    handed_out = []

    def keep(t, scale):
        def vjp(g):
            handed_out.append(g * scale)
            return handed_out[-1]

        return Tensor.from_op(t.data * scale, (t,), (vjp,), "keep")

    (keep(x, 1.0) + keep(x, 2.0) + keep(x, 4.0)).sum().backward()
    np.testing.assert_array_equal(x.grad, [7.0, 7.0])
    assert [list(g) for g in handed_out] == [[4.0, 4.0], [2.0, 2.0], [1.0, 1.0]]


def test_every_tensor_is_numbered_after_the_tensors_it_was_made_from():
    """The order backprop walks by: a leaf, a constant, an op's output, in the order they are made."""
    x = Tensor([1.0], requires_grad=True)
    c = mg.tensor.constant(np.ones(1, np.float32))
    y = x * c
    z = mg.tanh(y)
    assert x._seq < c._seq < y._seq < z._seq
    for t in (x, c, y, z):
        assert t.grad is None and t._pending is None


def test_two_leaves_with_one_creation_number_are_both_reached():
    """A copied tensor keeps its number; the walk must not compare the two tensors to order them."""
    import copy

    a = Tensor([1.0, 2.0], requires_grad=True)
    b = copy.copy(a)
    (a * 2.0 + b * 3.0).sum().backward()
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])
    np.testing.assert_array_equal(b.grad, [3.0, 3.0])


def test_matmul_and_linear_give_the_weight_gradient_as_an_array_x_transposed_g():
    x = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True, dtype=np.float64)
    w = Tensor(np.ones((2, 4)), requires_grad=True, dtype=np.float64)
    g = np.arange(12.0).reshape(3, 4)
    for out in (x @ w, mg.linear(x, w)):
        weight_gradient = out._vjps[1](g)
        assert type(weight_gradient) is np.ndarray
        np.testing.assert_array_equal(weight_gradient, x.data.T @ g)


def test_backward_frees_the_graph_unless_retained():
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = mg.tanh(x)
    loss = (hidden * hidden).sum()
    loss.backward()
    assert hidden._parents == () and hidden._vjps is None  # the saved arrays are released
    with pytest.raises(FreedGraphError, match="retain_graph=True"):
        loss.backward()


def test_a_freed_node_is_refused_every_time_and_keeps_no_partial_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = mg.tanh(x)
    hidden.sum().backward()  # frees hidden
    for scale in (2.0, 3.0):  # the second attempt must fail like the first, not lose the gradient silently
        with pytest.raises(FreedGraphError, match="retain_graph=True"):
            (hidden * scale).sum().backward()
        assert hidden._pending is None


def test_retain_graph_allows_a_second_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (mg.tanh(x) ** 2).sum()
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_leaf_gradients_are_independent_writable_arrays():
    """add passes the same upstream array to both inputs; each .grad must still be its own."""
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad and a.grad.flags.writeable and b.grad.flags.writeable
    a.grad += 1
    np.testing.assert_array_equal(b.grad, np.ones(3))


def test_backward_with_an_explicit_upstream_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2.0
    upstream = np.array([1.0, 0.0, -1.0])
    y.backward(upstream)
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, -2.0])
    x.grad[0] = 99.0
    assert upstream[0] == 1.0  # the caller's array was not aliased


def test_no_grad_records_nothing_and_enable_grad_overrides_it():
    w = Tensor([1.0], requires_grad=True)
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = w * 2.0
        with mg.enable_grad():
            z = w * 2.0
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y._parents == ()
    assert z.requires_grad


def test_detach_cuts_the_graph():
    x = Tensor([2.0], requires_grad=True)
    y = (x * x).detach() * x  # only the last factor carries a gradient
    y.backward(np.ones(1))
    np.testing.assert_array_equal(x.grad, [4.0])


class CountingMultiply:
    """multiply, but recording which input's VJP the engine evaluates."""

    def __init__(self):
        self.calls = []

    def __call__(self, a, b):
        def vjp(index, other):
            def apply(g):
                self.calls.append(index)
                return g * other

            return apply

        return Tensor.from_op(a.data * b.data, (a, b), (vjp(0, b.data), vjp(1, a.data)), "counted_multiply")


def test_grad_evaluates_only_the_vjps_on_paths_to_the_input():
    multiply = CountingMultiply()
    weight = Tensor(np.array([2.0, -1.0], dtype=np.float32), requires_grad=True)
    bias = Tensor(np.array([0.5, 0.5], dtype=np.float32), requires_grad=True)

    def loss(x):
        return mg.sum(multiply(x, weight) + bias)

    g = mg.grad(loss)(np.array([3.0, 4.0], dtype=np.float32))
    np.testing.assert_array_equal(g, [2.0, -1.0])
    assert multiply.calls == [0]  # the weight's VJP was never called
    assert weight.grad is None and bias.grad is None


def test_grad_neither_reads_nor_writes_existing_grads():
    weight = Tensor([2.0, -1.0], requires_grad=True)
    weight.grad = np.array([7.0, 7.0], dtype=np.float32)
    g = mg.grad(lambda x: (x * weight).sum())(np.ones(2, dtype=np.float32))
    np.testing.assert_array_equal(g, [2.0, -1.0])
    np.testing.assert_array_equal(weight.grad, [7.0, 7.0])


def test_value_and_grad_with_several_argnums_and_pass_through_arguments():
    def f(x, scale, w):
        return (x * w).sum() * scale

    x = np.array([1.0, 2.0])
    w = np.array([3.0, 4.0])
    value, (gx, gw) = mg.value_and_grad(f, argnums=(0, 2))(x, 10.0, w)
    assert value == pytest.approx(110.0)
    np.testing.assert_allclose(gx, 10 * w)
    np.testing.assert_allclose(gw, 10 * x)
    assert gx.dtype == np.float64  # float64 arrays stay float64 in grad


def test_grad_works_inside_no_grad_and_gives_zeros_for_unused_inputs():
    with mg.no_grad():
        gx, gy = mg.grad(lambda x, y: (x * x).sum(), argnums=(0, 1))(np.ones(2, np.float32), np.ones(3, np.float32))
    np.testing.assert_array_equal(gx, [2.0, 2.0])
    np.testing.assert_array_equal(gy, np.zeros(3))


def test_grad_rejects_non_scalar_outputs_and_integer_inputs():
    with pytest.raises(TypeError, match="single-element Tensor"):
        mg.grad(lambda x: x * 2.0)(np.ones(3))
    with pytest.raises(TypeError, match="floating-point"):
        mg.grad(lambda x: x.sum())(np.ones(3, dtype=np.int64))


def test_closed_form_logistic_input_gradient():
    """For L = BCE(sigma(w.x + b), y), dL/dx = (sigma(w.x + b) - y) w."""
    rng = np.random.default_rng(3)
    w, b = rng.normal(size=10), 0.3
    for label in (0.0, 1.0):
        x = rng.normal(size=10)
        g = mg.grad(lambda t: mg.binary_cross_entropy_with_logits((t * w).sum() + b, np.array(label)))(x)
        sigma = 1 / (1 + np.exp(-(w @ x + b)))
        np.testing.assert_allclose(g, (sigma - label) * w, rtol=1e-12)


def test_closed_form_softmax_cross_entropy_input_gradient():
    """For L = CE(x W + b, y) summed over examples, dL/dx = (softmax(x W + b) - onehot(y)) W^T."""
    rng = np.random.default_rng(4)
    x, W, b = rng.normal(size=(5, 6)), rng.normal(size=(6, 3)), rng.normal(size=3)
    y = np.array([0, 2, 1, 1, 0])
    g = mg.grad(lambda t: mg.cross_entropy(t @ W + b, y, reduction="sum"))(x)
    z = x @ W + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(g, (p - np.eye(3)[y]) @ W.T, rtol=1e-10)


def test_gradcheck_reports_a_wrong_vjp():
    def wrong_square(t):
        return Tensor.from_op(t.data**2, (t,), (lambda g: g * t.data,), "wrong_square")  # should be 2 t g

    with pytest.raises(AssertionError, match=r"input 0 at element \(1,\): analytic 2, numeric 4"):
        mg.gradcheck(lambda t: wrong_square(t).sum(), [np.array([1.0, 2.0])])


@pytest.mark.parametrize("layout", ["transposed", "fortran", "sliced"])
def test_numerical_gradient_nudges_inputs_of_any_memory_layout(layout):
    """d/dx sum(x * x) = 2x. A flat reshape of a non-C-contiguous x is a copy: nudging it left x alone, all zeros."""
    x = {"transposed": np.arange(6.0).reshape(2, 3).T,
         "fortran": np.asfortranarray(np.arange(6.0).reshape(3, 2)),
         "sliced": np.arange(12.0).reshape(3, 4)[:, :2]}[layout]
    expected = 2 * x
    numeric = mg.numerical_gradient(lambda t: (t * t).sum(), [x], 0)
    np.testing.assert_allclose(numeric, expected, atol=1e-6)
    np.testing.assert_array_equal(x, expected / 2)  # every nudge was put back


@pytest.mark.parametrize("layout", [lambda a: a.T, np.asfortranarray])
def test_gradcheck_fails_a_wrong_vjp_on_a_non_contiguous_input(layout):
    zero_vjp = lambda t: Tensor.from_op(t.data * 3, (t,), (np.zeros_like,), "zero_vjp")  # noqa: E731  (should be 3 g)
    with pytest.raises(AssertionError, match=r"gradcheck failed for input 0 .* analytic 0, numeric 3;"):
        mg.gradcheck(lambda t: zero_vjp(t).sum(), [layout(np.ones((3, 2)))])
    assert mg.gradcheck(lambda t: t * 3, [layout(np.ones((3, 2)))])


def test_numerical_gradient_refuses_a_read_only_array():
    x = np.broadcast_to(np.ones(2), (3, 2))
    with pytest.raises(ValueError, match=r"numerical_gradient: arrays\[0\] is read-only"):
        mg.numerical_gradient(lambda t: t.sum(), [x], 0)


def test_numerical_gradient_takes_float64_arrays_only_and_names_anything_else():
    """Its contract is float64 ndarrays (gradcheck converts its inputs): a list gave AttributeError: 'list' object
    has no attribute 'dtype', a Tensor 'Tensor' object does not support item assignment."""
    square_sum = lambda t: (t * t).sum()  # noqa: E731
    np.testing.assert_allclose(mg.numerical_gradient(square_sum, [np.array([1.0, 2.0])], 0), [2.0, 4.0], atol=1e-6)
    for given, got in (([1.0, 2.0], "list"), (Tensor(np.array([1.0, 2.0]), dtype=np.float64), "Tensor"),
                       (np.array([1.0, 2.0], np.float32), "float32")):
        with pytest.raises(TypeError, match=rf"^numerical_gradient: arrays\[0\] is {got}; pass float64 arrays"):
            mg.numerical_gradient(square_sum, [given], 0)
    with pytest.raises(TypeError, match=r"numerical_gradient: arrays must be a list of arrays.*got ndarray"):
        mg.numerical_gradient(square_sum, np.ones(2), 0)


def test_gradcheck_takes_tensors_by_their_values():
    """A Tensor gave NumPy's "setting an array element with a sequence"."""
    assert mg.gradcheck(lambda a, b: a * b, [Tensor([1.0, 2.0]), Tensor(np.array([3.0, 4.0]), dtype=np.float64)])
    zero_vjp = lambda t: Tensor.from_op(t.data * 3, (t,), (np.zeros_like,), "zero_vjp")  # noqa: E731  (should be 3 g)
    with pytest.raises(AssertionError, match="gradcheck failed for input 0 .* analytic 0, numeric 3;"):
        mg.gradcheck(lambda t: zero_vjp(t).sum(), [Tensor([1.0, 2.0])])


@pytest.mark.parametrize("value, error, message", [
    ("1.5", TypeError, "must be an array of real numbers, got '1.5'"),  # read as the number 1.5
    ([None], TypeError, r"must be an array of real numbers, got \[None\]"),  # read as NaN
    ([[1.0], [1.0, 2.0]], ValueError, "is no array: .*inhomogeneous"),
    (np.ones(2) * 1j, TypeError, "is complex; the engine differentiates real inputs only"),
])
def test_gradcheck_names_an_input_that_holds_no_real_numbers(value, error, message):
    with pytest.raises(error, match=rf"gradcheck: input 1 {message}"):
        mg.gradcheck(lambda a, b: a.sum(), [np.ones(2), value])


def test_gradcheck_rejects_non_finite_inputs():
    with pytest.raises(ValueError, match="NaN or inf"):
        mg.gradcheck(lambda t: t.sum(), [np.array([1.0, np.nan])])


def test_gradcheck_fails_on_a_nan_gradient_or_a_nan_value():
    nan_vjp = lambda t: Tensor.from_op(t.data**2, (t,), (lambda g: g * np.nan,), "nan_vjp").sum()  # noqa: E731
    with pytest.raises(AssertionError, match="analytic nan"):
        mg.gradcheck(nan_vjp, [np.array([1.0, 2.0])])
    with np.errstate(invalid="ignore"), pytest.raises(AssertionError, match="value is nan"):
        mg.gradcheck(lambda t: mg.log(t - 5).sum(), [np.array([1.0, 2.0])])


def test_gradcheck_refuses_a_function_with_a_random_draw():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="not deterministic"):
        mg.gradcheck(lambda t: (t * rng.random()).sum(), [np.array([1.0, 2.0])])


def test_gradcheck_checks_a_non_scalar_output_through_a_weighted_sum():
    """A VJP that swaps two entries passes under a plain sum, and fails here."""
    swapped = lambda t: Tensor.from_op(t.data * 2, (t,), (lambda g: 2 * g[::-1],), "swapped")  # noqa: E731
    assert mg.gradcheck(lambda t: swapped(t).sum(), [np.array([1.0, 2.0])])
    with pytest.raises(AssertionError, match="gradcheck failed"):
        mg.gradcheck(swapped, [np.array([1.0, 2.0])])
    assert mg.gradcheck(lambda t: t * t, [np.array([[1.0, 2.0], [3.0, -1.0]])])


def test_a_vjp_that_writes_into_g_raises_naming_the_op():
    """Under add, g is one array shared by both inputs: writing into it would corrupt the other's gradient."""
    w = Tensor([1.0], requires_grad=True)

    def doubling(t):
        def vjp(g):
            g *= 2
            return g

        return Tensor.from_op(t.data * 2, (t,), (vjp,), "doubling")

    with pytest.raises(ValueError) as caught:
        (doubling(w) + w).sum().backward()
    assert "read-only" in str(caught.value)  # NumPy's own words
    assert caught.value.__notes__ == [
        "raised by the VJP of op 'doubling' for input 0; if it wrote into a read-only array: its incoming "
        "gradient g is read-only (other inputs and ops may share it), so return a new array (g * 2, not g *= 2)"
    ]
    assert w.grad is None and w._pending is None  # nothing half-summed is left behind


@pytest.mark.parametrize("vjp, given", [(None, "None"), (2.0, "a float")])
def test_a_vjp_that_is_no_function_is_named_with_its_op_and_input(vjp, given):
    """It was "'NoneType' object is not callable", raised in the engine with no word of the op."""
    x, w = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    y = Tensor.from_op(x.data * w.data, (x, w), (lambda g: g * w.data, vjp), "scale")
    with pytest.raises(TypeError, match=rf"op 'scale': the VJP for input 1 is {given}, not a function g -> dL/dinput"):
        y.sum().backward()
    with pytest.raises(TypeError, match=r"op 'scale': the VJP for input 1 is"):
        mg.grad(lambda t: Tensor.from_op(t.data * 2, (x, t), (lambda g: g, vjp), "scale").sum())(np.ones(2, np.float32))


def test_an_error_inside_a_vjp_is_the_vjps_own():
    def failing(g):
        raise TypeError("the VJP's own words")

    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError) as caught:
        Tensor.from_op(x.data, (x,), (failing,), "failing").backward()
    assert str(caught.value) == "the VJP's own words"  # its words, and a note naming the op and the input
    assert caught.value.__notes__ == ["raised by the VJP of op 'failing' for input 0"]


def test_from_op_takes_keywords_and_checks_one_vjp_per_parent():
    x = Tensor([2.0], requires_grad=True)
    y = Tensor.from_op(value=x.data * 3, parents=(x,), vjps=(lambda g: g * 3,), name="triple")
    y.backward(np.ones(1))
    np.testing.assert_array_equal(x.grad, [3.0])
    with pytest.raises(ValueError, match="op 'pair': 2 parents but 1 VJPs"):
        Tensor.from_op(x.data + x.data, (x, x), (lambda g: g,), "pair")


def test_keep_freed_memory_applies_on_glibc_and_can_be_switched_off(monkeypatch):
    import platform

    from minigrad.memory import keep_freed_memory

    monkeypatch.delenv("MINIGRAD_KEEP_FREED_MEMORY", raising=False)  # the default, whatever the caller exported
    assert keep_freed_memory() == (platform.libc_ver()[0] == "glibc")
    monkeypatch.setenv("MINIGRAD_KEEP_FREED_MEMORY", "0")
    assert keep_freed_memory() is False


IMPORT_PROBE = """
import ctypes, sys, warnings
import numpy as np, scipy.special  # scipy.special adds a warnings filter of its own when imported
loaded = []
real_cdll = ctypes.CDLL
ctypes.CDLL = lambda *args, **kwargs: loaded.append(args) or real_cdll(*args, **kwargs)
before = (np.geterr(), list(warnings.filters), sys.getrecursionlimit(), np.get_printoptions())
import minigrad, models, training, attacks
after = (np.geterr(), list(warnings.filters), sys.getrecursionlimit(), np.get_printoptions())
print(loaded == [] and before == after)
"""


def test_importing_the_packages_changes_no_process_wide_setting():
    """No mallopt (nor any other C library call through ctypes), no error or warning state, at import."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True", done.stdout + done.stderr


def test_detect_anomaly_names_the_op_where_nan_is_born():
    x = Tensor([0.0, 4.0], requires_grad=True)
    y = mg.sqrt(x).sum()  # fine forward; the gradient 1 / (2 sqrt(0)) is inf
    with mg.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"the gradient op 'sqrt' passes to input 0 has NaN or inf"):
            y.backward()
    with mg.detect_anomaly(), pytest.raises(FloatingPointError, match=r"the output of op 'log' has NaN or inf \(shape \(2,\)\)"):
        mg.log(Tensor([-1.0, 1.0]))
    with np.errstate(invalid="ignore"):
        assert np.isnan(mg.log(Tensor([-1.0])).data[0])  # off by default: no scan, no error


def test_grad_returns_independent_arrays_for_inputs_that_share_a_gradient():
    ga, gb = mg.grad(lambda a, b: (a + b).sum(), argnums=(0, 1))(np.ones(3, np.float32), np.ones(3, np.float32))
    assert ga is not gb
    ga += 1
    np.testing.assert_array_equal(gb, np.ones(3))


# --- issue 25: the op contract holds, and misuse of it is named -------------------------------


def _op_with_vjp_result(result, name="custom"):
    """An op from (3,) to (3,) whose VJP returns ``result(g)``: the case every wrong-VJP test builds."""
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    return x, Tensor.from_op(x.data * 2, (x,), (result,), name)


@pytest.mark.parametrize("shape", [(2, 3), (3, 3), (1, 3), (1,), ()])
def test_a_vjp_result_of_neither_the_input_nor_the_output_shape_is_an_error(shape):
    """(2, 3) once reduced to (3,) by summing: the gradient came out doubled, without a word."""
    x, y = _op_with_vjp_result(lambda g: np.ones(shape, np.float32), "wide")
    message = rf"op 'wide': the gradient for input 0 has shape {re.escape(str(shape))}; the input has shape \(3,\)"
    with pytest.raises(ValueError, match=message):
        y.sum().backward()
    assert x.grad is None


def test_a_vjp_result_of_the_output_shape_is_summed_back_to_a_broadcast_input():
    """The contract's other shape: an op that broadcast its input may return the output's shape."""
    b = Tensor(np.ones(3, np.float32), requires_grad=True)
    rows = Tensor.from_op(np.broadcast_to(b.data, (2, 3)) * 1, (b,), (lambda g: g,), "rows")
    rows.sum().backward()
    np.testing.assert_array_equal(b.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("grad, error", [(np.array([2**25 + 1, 1]), ValueError), (np.array([1e39, 1.0]), OverflowError)])
def test_backward_converts_its_grad_as_every_operand_beside_a_tensor(grad, error):
    """grad=[2**25 + 1, 1] was rounded to 2**25 and grad=[1e39, 1] became inf (a RuntimeWarning), where the same
    values beside a float32 tensor are refused."""
    t = Tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(error, match=r"backward\(grad=\.\.\.\): an operand beside a float32 tensor"):
        (t * 3).backward(grad=grad)
    assert t.grad is None


@pytest.mark.parametrize("input_shape, output_shape, axes", [
    ((3,), (2, 3), (0,)), ((3, 1, 1), (2, 3, 4, 4), (0, 2, 3)), ((1, 3), (5, 2, 3), (0, 1))])
def test_a_vjp_may_return_the_output_shape_with_broadcast_axes_summed(input_shape, output_shape, axes):
    """A bias VJP written as ``g.sum(axes, keepdims=True)`` (PyTorch's style) was taken at e4bdc86; the first
    shape check of issue 25 refused it. The engine sums what is left, to the true gradient."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal(output_shape).astype(np.float32)
    b = Tensor(np.zeros(input_shape, np.float32), requires_grad=True)
    y = Tensor.from_op(np.broadcast_to(b.data, output_shape) * 1, (b,),
                       (lambda g: g.sum(axis=axes, keepdims=True),), "bias")
    (y * w).sum().backward()
    np.testing.assert_allclose(b.grad, unbroadcast(w, input_shape), rtol=1e-6)


@pytest.mark.parametrize("returned, message", [
    (None, r"op 'custom': the VJP for input 0 returned NoneType, not an array of gradients"),
    ("abc", r"op 'custom': the VJP for input 0 returned str, not an array of gradients"),
    (np.str_("a"), r"op 'custom': the VJP for input 0 returned str_, not an array of gradients"),  # was 'shape ()'
    (np.bool_(True), r"op 'custom': the VJP for input 0 returned bool, not an array of gradients"),  # was 'shape ()'
    (True, r"op 'custom': the VJP for input 0 returned bool, not an array of gradients"),
    (Tensor(np.ones(3, np.float32)), r"op 'custom': the VJP for input 0 returned Tensor.*not a Tensor"),
])
def test_a_vjp_that_returns_no_array_is_named(returned, message):
    _, y = _op_with_vjp_result(lambda g: returned)
    with pytest.raises(TypeError, match=message):
        y.sum().backward()


def test_a_vjp_may_return_a_numpy_scalar_for_a_0d_input():
    x = Tensor(np.float32(2.0), requires_grad=True)
    Tensor.from_op(x.data * 3, (x,), (lambda g: np.float32(3.0) * g[()],), "triple").backward()
    assert x.grad == 3.0 and x.grad.dtype == np.float32


def test_from_op_names_a_parent_that_is_no_tensor_and_vjps_that_are_no_tuple():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    identity = (lambda g: g,)
    with pytest.raises(TypeError, match=r"op 'custom': vjps must be a tuple of functions, one per parent, got function"):
        Tensor.from_op(x.data, (x,), identity[0], "custom")
    with pytest.raises(TypeError, match=r"op 'custom': parent 0 must be a Tensor, got ndarray"):
        Tensor.from_op(x.data, (np.ones(3),), identity, "custom")
    with pytest.raises(TypeError, match=r"op 'custom': parent 1 must be a Tensor, got ndarray"):
        Tensor.from_op(x.data, (x, np.ones(3)), identity * 2, "custom")  # after one that requires grad
    with pytest.raises(TypeError, match=r"op 'custom': parents must be a tuple of Tensors.*got Tensor"):
        Tensor.from_op(x.data, (x), identity, "custom")  # (x) for (x,)
    y = Tensor.from_op(x.data * 2, [x], [lambda g: g * 2], "custom")  # lists are tuples enough
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_from_op_takes_parents_given_as_a_namedtuple():
    """A namedtuple is a tuple: it was refused as 'parents must be a tuple of Tensors ... got Pair'."""
    Pair = collections.namedtuple("Pair", "a b")
    a, b = Tensor(np.ones(2, np.float32), requires_grad=True), Tensor(np.full(2, 3.0, np.float32), requires_grad=True)
    product = Tensor.from_op(a.data * b.data, Pair(a, b), (lambda g: g * b.data, lambda g: g * a.data), "product")
    product.sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


@pytest.mark.parametrize("value", [lambda x: x > 0, lambda x: (x * 10).astype(np.int64)], ids=["bool", "int64"])
def test_a_recorded_op_whose_value_is_not_floating_point_is_an_error(value):
    """Its gradient was dropped without a word: the next op took the mask as a constant (the gradient came out
    [0, 0, 0]), or backward() said the loss did not require grad."""
    def binarize(t):
        return Tensor.from_op(value(t.data), (t,), (lambda g: g.astype(t.data.dtype),), "binarize")

    x = np.array([1.0, -2.0, 3.0], np.float32)
    message = r"op 'binarize': the value is (bool|int64), but an input requires grad.*floating-point.*astype"
    with pytest.raises(TypeError, match=message):
        mg.grad(lambda t: (binarize(t) * np.array([1.0, 2.0, 3.0], np.float32)).sum())(x)
    with pytest.raises(TypeError, match=message):
        binarize(Tensor(x, requires_grad=True)).sum().backward()
    assert binarize(Tensor(x)).dtype == value(x).dtype  # not recorded: a constant may be of any numeric dtype
    with mg.no_grad():
        assert binarize(Tensor(x, requires_grad=True)).dtype == value(x).dtype


@pytest.mark.parametrize("value, message", [
    ("abc", r"op 'custom': the value must be a numeric array, got 'abc'"),
    (None, r"op 'custom': the value must be a numeric array, got None"),
    (Tensor(np.ones(3, np.float32)), r"op 'custom': the value must be an ndarray computed from the parents' \.data, got a Tensor"),
    # ndarrays: a complex value lost its imaginary part in the next op, with only a ComplexWarning
    (np.ones(3, np.complex64), r"op 'custom': the value must be a numeric array, got an array of dtype complex64"),
    (np.array(["a", "b", "c"]), r"op 'custom': the value must be a numeric array, got an array of dtype <U1"),
    (np.array([1.0, None, 2.0]), r"op 'custom': the value must be a numeric array, got an array of dtype object"),
])
@pytest.mark.parametrize("recording", [True, False], ids=["recorded", "no_grad"])
def test_from_op_refuses_a_value_that_is_no_numeric_array(value, message, recording):
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    with mg.enable_grad() if recording else mg.no_grad(), pytest.raises(TypeError, match=message):
        Tensor.from_op(value, (x,), (lambda g: g,), "custom")


def test_an_op_value_may_be_a_numpy_scalar_of_a_boolean_or_integer_tensor():
    """Indexing one element gives a NumPy scalar: a bool is a value (a mask's), though it is no gradient."""
    mask = Tensor(np.array([True, False]))
    assert mask[0].dtype == np.bool_ and mask[0].item() is True
    assert Tensor(np.arange(3))[1].dtype == np.arange(3).dtype


@pytest.mark.parametrize("argnums", [True, False, 1.0, (0, True), (0.0,), (), "0", None])
def test_argnums_must_be_integers(argnums):
    """True is an int to Python, and used to be reported as "argument True"."""
    with pytest.raises(TypeError, match=rf"argnums must be an int or a non-empty tuple of ints, got {re.escape(repr(argnums))}"):
        mg.grad(lambda a, b: (a * b).sum(), argnums=argnums)


def test_argnums_takes_numpy_integers():
    g = mg.grad(lambda a, b: (a * b).sum(), argnums=np.int64(1))(np.full(2, 3.0, np.float32), np.ones(2, np.float32))
    np.testing.assert_array_equal(g, [3.0, 3.0])


def test_matmul_sums_a_broadcast_operands_gradient_over_the_stack():
    """A (2, 3) matrix times a stack of four (3, 5): the VJP itself sums over the stack (the engine no longer
    reduces a gradient of neither the input's nor the output's shape)."""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 3)), rng.normal(size=(4, 3, 5))
    gx, gw = mg.grad(lambda a, b: (a @ b).sum(), argnums=(0, 1))(x, w)
    np.testing.assert_allclose(gx, (np.ones((2, 5)) @ np.swapaxes(w, -1, -2)).sum(axis=0))
    np.testing.assert_allclose(gw, np.broadcast_to(x.T @ np.ones((2, 5)), (4, 3, 5)))


def test_values_of_is_the_one_way_from_a_tensor_to_its_values():
    """Four modules wrote `x.data if isinstance(x, Tensor) else x` (review 2, item 8): one public helper now."""
    t = Tensor([1.0, 2.0])
    assert mg.values_of(t) is t.data  # shared, not copied
    plain = [3, 4]
    assert mg.values_of(plain) is plain and mg.values_of(None) is None
    np.testing.assert_array_equal(t == Tensor([1.0, 0.0]), [True, False])  # a comparison reads it too


def test_the_removed_product_names_what_replaced_it_and_the_old_modules_stay_attributes():
    import minigrad

    with pytest.raises(AttributeError, match=r"Product was removed .* x\.T @ g"):
        minigrad.engine.Product
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        minigrad.engine.nothing
    assert minigrad.blas.axpy is minigrad.fast.numpy_blas.axpy
    assert minigrad.memory.keep_freed_memory is minigrad.keep_freed_memory


def test_an_error_raised_in_a_vjp_carries_a_note_naming_the_op_and_the_input():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)

    def wrong(g):
        raise ZeroDivisionError("the VJP's own words")

    y = Tensor.from_op(x.data * 2, (x,), (wrong,), "doubling")
    with pytest.raises(ZeroDivisionError, match="the VJP's own words") as caught:
        y.sum().backward()
    assert any("op 'doubling'" in note and "input 0" in note for note in caught.value.__notes__)


def test_gradcheck_reports_the_error_of_the_element_it_names():
    scale = np.array([1000.0, 1.0])
    claimed = np.array([1000.5, 1.01])  # element 0 is within its rtol; element 1 is not

    def f(x):
        return Tensor.from_op(x.data * scale, (x,), (lambda g: g * claimed,), "scaled").sum()

    with pytest.raises(AssertionError, match=r"element \(1,\): analytic 1\.01, numeric 1; abs error 0\.01, allowed 0\.00101"):
        mg.gradcheck(f, [np.array([0.3, 0.7])])
