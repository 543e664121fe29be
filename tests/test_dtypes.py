"""The dtype policy: float32 by default, and no float64 sneaking into a float32 graph."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import Tensor

F32 = np.float32


@pytest.mark.parametrize(
    "data, expected",
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        ([1, 2], np.float32),  # Python lists become float32, even of ints
        (np.array([1.0, 2.0]), np.float32),  # float64 arrays are converted
        (np.array([1.0], dtype=np.float32), np.float32),
        (np.array([1, 2], dtype=np.int64), np.int64),  # integer arrays (labels) stay integer
        (np.array([1, 2], dtype=np.int32), np.int32),
        (np.array([True]), np.bool_),
    ],
)
def test_constructor_dtype_policy(data, expected):
    assert Tensor(data).dtype == expected


def test_explicit_dtype_and_shared_memory():
    a = np.array([1.0, 2.0])
    assert Tensor(a, dtype=np.float64).dtype == np.float64
    b = np.array([1.0], dtype=np.float32)
    assert Tensor(b).data is b  # no copy when no conversion is needed


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients.*int64"):
        Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match="numeric"):
        Tensor(np.array(["a"]))


def x32(*shape, low=-2.0, high=2.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(F32)


# Every op, applied to float32 inputs (with Python scalars and float64 ndarrays as extra
# operands where an op takes them): the output and every gradient must stay float32.
OPS = {
    "add scalar": (lambda t: t + 0.5, [x32(3, 4)]),
    "radd float64 array": (lambda t: np.ones(4) + t, [x32(3, 4)]),
    "mul float64 array": (lambda t: t * np.full((3, 4), 2.0), [x32(3, 4)]),
    "rsub scalar": (lambda t: 1.0 - t, [x32(3)]),
    "div scalars": (lambda t: 2.0 / (t * t + 1.0) / 3.0, [x32(3)]),
    "pow": (lambda t: (t * t + 1.0) ** 1.5, [x32(3)]),
    "rpow": (lambda t: 2.0**t, [x32(3)]),
    "exp log sqrt": (lambda t: mg.sqrt(mg.log(mg.exp(t) + 1.0)), [x32(3)]),
    "log1mexp": (lambda t: mg.log1mexp(t - 3.0), [x32(3)]),
    "tanh sigmoid relu abs": (lambda t: mg.relu(mg.tanh(t)) + mg.sigmoid(t) + mg.abs(t), [x32(3)]),
    "maximum minimum": (lambda a, b: mg.maximum(a, b) * mg.minimum(a, 0.0), [x32(3, 4), x32(4, seed=1)]),
    "where clip": (lambda t: mg.where(t.data > 0, t, t * 2.0) + mg.clip(t, -1.0, 1.0), [x32(5)]),
    "matmul": (lambda a, b: a @ b, [x32(3, 4), x32(4, 2, seed=1)]),
    "linear": (lambda a, w, b: mg.linear(a, w, b), [x32(3, 4), x32(4, 2, seed=1), x32(2, seed=2)]),
    "sum mean max": (lambda t: t.sum(0) + t.mean(1).sum() + t.max(1).sum() + t.max(), [x32(3, 4)]),
    "logsumexp softmax": (lambda t: mg.logsumexp(t, 1).sum() + mg.softmax(t) + mg.log_softmax(t), [x32(3, 4)]),
    "maxout": (lambda t: mg.maxout(t, 3), [x32(2, 6)]),
    "indexing": (lambda t: t[np.array([0, 0, 2])] + t[::-1], [x32(3, 2)]),
    "reshape transpose": (lambda t: t.reshape(4, 3).T, [x32(3, 4)]),
    "concatenate stack": (lambda a, b: mg.concatenate([a, b]) + mg.stack([a, b]).sum(0).sum(0), [x32(2), x32(2)]),
    "cross_entropy": (lambda t: mg.cross_entropy(t, np.array([0, 2, 1])), [x32(3, 4)]),
    "bce": (lambda t: mg.binary_cross_entropy_with_logits(t, np.array([0.0, 1.0, 1.0])), [x32(3)]),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_graph_stays_float32(name):
    op, inputs = OPS[name]
    tensors = [Tensor(x, requires_grad=True) for x in inputs]
    out = op(*tensors)
    assert out.dtype == F32, f"{name}: output is {out.dtype}"
    out.backward(np.ones(out.shape, dtype=F32))
    for i, t in enumerate(tensors):
        assert t.grad is not None and t.grad.dtype == F32, f"{name}: gradient {i} is {None if t.grad is None else t.grad.dtype}"


def test_two_float_dtypes_follow_numpy_promotion_and_grads_keep_each_dtype():
    a = Tensor(np.ones(2, dtype=F32), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True, dtype=np.float64)
    out = (a * b).sum()
    assert out.dtype == np.float64
    out.backward()
    assert a.grad.dtype == F32 and b.grad.dtype == np.float64


def test_engine_catches_a_float64_leak_in_a_vjp():
    def leaky(t):
        return Tensor.from_op(t.data * 2, (t,), (lambda g: (g * 2).astype(np.float64),), "leaky_double")

    x = Tensor(np.ones(3, dtype=F32), requires_grad=True)
    with pytest.raises(TypeError, match=r"op 'leaky_double'.*input 0 is float64.*float32: a dtype leak"):
        leaky(x).sum().backward()


def test_engine_names_the_op_when_a_vjp_returns_a_wrong_shape():
    def bad(t):
        return Tensor.from_op(t.data * 2, (t,), (lambda g: np.ones((5, 5), dtype=g.dtype),), "bad_shape")

    with pytest.raises(ValueError, match=r"op 'bad_shape'.*input 0 has shape \(5, 5\).*\(3,\)"):
        bad(Tensor(np.ones(3), requires_grad=True)).sum().backward()


def test_linear_gives_its_bias_the_dtype_policy_of_every_binary_op():
    """An integer Tensor bias takes x's float32 (it made the output float64, where x + it stays float32);
    a float64 Tensor promotes the output, and its gradient comes back in float64."""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(3, 4)).astype(F32), Tensor(rng.normal(size=(4, 2)).astype(F32), requires_grad=True)
    integer_bias = Tensor(np.array([1, -2], np.int64))
    out = mg.linear(x, w, integer_bias)
    assert out.dtype == F32 and (Tensor(x) + Tensor(np.ones(4, np.int64))).dtype == F32
    np.testing.assert_array_equal(out.data, (x @ w.data) + np.array([1, -2], F32))
    b = Tensor(rng.normal(size=2), dtype=np.float64, requires_grad=True)
    out = mg.linear(x, w, b)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, (x @ w.data) + b.data, rtol=1e-6)
    out.sum().backward()
    assert w.grad.dtype == F32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(b.grad, [3.0, 3.0])
    assert mg.linear(x, w, np.ones(2)).dtype == F32


def test_conv2d_promotes_a_float64_bias_tensor_and_conforms_a_float64_bias_array():
    """The policy of every binary op, for conv2d's bias: a float64 Tensor promotes the output (as linear's
    bias does); a plain float64 array takes the tensor's dtype; an integer Tensor becomes float32."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 1, 5, 5)).astype(F32)
    w = Tensor(rng.normal(size=(3, 1, 2, 2)).astype(F32), requires_grad=True)
    b = Tensor(rng.normal(size=3), dtype=np.float64, requires_grad=True)
    out = mg.conv2d(x, w, b)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, mg.conv2d(x, w).data + b.data[:, None, None], rtol=1e-6)
    out.sum().backward()
    assert w.grad.dtype == F32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(b.grad, [2 * 4 * 4] * 3)
    assert mg.conv2d(x, w, np.ones(3)).dtype == F32
    assert mg.conv2d(x, w, Tensor(np.ones(3, np.int64))).dtype == F32


@pytest.mark.parametrize("join", [mg.concatenate, mg.stack], ids=["concatenate", "stack"])
def test_concatenate_and_stack_give_arrays_and_integer_tensors_the_tensors_dtype(join):
    """The policy of every binary op: an integer array or Tensor beside a float32 tensor joins as float32 (it made
    the result float64, where a float64 array stayed float32); a float64 array beside a float64 tensor stays exact."""
    x = Tensor(np.array([1.0, 2.0], F32), requires_grad=True)
    for other in (np.array([3, 4]), Tensor(np.array([3, 4])), np.array([3.0, 4.0]), [3, 4]):
        out = join([x, other])
        assert out.dtype == F32, f"{type(other).__name__} of {np.asarray(getattr(other, 'data', other)).dtype}"
        np.testing.assert_array_equal(out.data.reshape(-1), [1, 2, 3, 4])
    out.sum().backward()
    assert x.grad.dtype == F32
    assert join([np.array([1, 2]), np.array([0.5, 1.0])]).dtype == F32  # no tensor: each by the policy, then joined
    precise = np.array([1 + 1e-12, 2.0])
    wide = join([Tensor(np.zeros(2), dtype=np.float64), precise])
    assert wide.dtype == np.float64 and wide.data.reshape(-1)[2] == precise[0]


# --- issue 25: an operand beside a tensor is converted as Tensor(data) converts, never rounded or overflowed ---

OPERAND_OPS = {  # name: (the op applied to a tensor x and an operand, the op its errors name)
    "add": (lambda x, other: x + other, "add"),
    "radd": (lambda x, other: other + x, "add"),
    "concatenate": (lambda x, other: mg.concatenate([x, other]), "concatenate"),
    "conv2d bias": (lambda x, other: mg.conv2d(np.zeros((1, 1, 1, 1), F32), x.reshape(1, 1, 1, 1), other), "conv2d"),
}


@pytest.mark.parametrize("op", sorted(OPERAND_OPS))
@pytest.mark.parametrize("other, error, message", [
    (np.array([2**25 + 1]), ValueError,  # was 2^25
     r"an operand beside a float32 tensor: 33554433 would become 33554432 \(integer values beyond 16,777,216 would "
     "lose precision in float32"),
    ([2**25 + 1], ValueError, "an operand beside a float32 tensor: 33554433 would become 33554432"),
    (np.array([1e39]), OverflowError, r"an operand beside a float32 tensor: values up to 1e\+39 are beyond float32's"),
    (1e39, OverflowError, r"an operand beside a float32 tensor: values up to 1e\+39 are beyond float32's range"),
    (np.array([1 + 2j]), TypeError, "an operand beside a float32 tensor must be a real number.*got an array of "
                                    "dtype complex128"),
    (None, TypeError, "an operand beside a float32 tensor must be a real number.*got None"),  # was NaN
], ids=["int64 array", "int list", "float64 array", "float", "complex array", "None"])
def test_an_operand_the_tensors_dtype_would_change_is_refused(op, other, error, message):
    """These operands were cast with np.asarray(dtype=float32): 2^25 + 1 became 2^25, 1e39 inf (a RuntimeWarning),
    None NaN, 1 + 2j 1 (a ComplexWarning), where the same values in a Tensor were refused. The error names the op."""
    if other is None and op == "conv2d bias":
        pytest.skip("conv2d's bias=None means no bias")
    x = Tensor(np.zeros(1, F32), requires_grad=True)
    apply, name = OPERAND_OPS[op]
    with pytest.raises(error, match=f"^{name}: {message}"):
        apply(x, other)


@pytest.mark.parametrize("op", sorted(OPERAND_OPS))
def test_an_operand_the_tensors_dtype_holds_keeps_its_value(op):
    x = Tensor(np.zeros(1, F32), requires_grad=True)
    for other in (np.array([2**24]), [-(2**24)], np.array([-3.4e38]), np.array([np.inf]), np.array([True])):
        out = OPERAND_OPS[op][0](x, other)
        assert out.dtype == F32
        np.testing.assert_array_equal(out.data.reshape(-1)[-1:], np.asarray(other, F32))


def test_a_number_beside_a_tensor_that_holds_it_keeps_its_value():
    x = Tensor(np.zeros(1, F32))
    for number in (2**24, -(2**24), np.int64(2**24), 0.5, -3.4e38, np.float64(3.4e38), np.inf, np.nan, True):
        out = x + number
        assert out.dtype == F32
        np.testing.assert_array_equal(out.data, [np.float32(number)])
    wide = Tensor(np.zeros(1), dtype=np.float64)
    assert (wide + np.array([2**25 + 1])).item() == 2**25 + 1 and (wide + 1e39).item() == 1e39  # float64 holds them


def test_the_constructor_refuses_integers_float32_would_round():
    """A list of Python ints becomes float32 by the policy: 2^25 + 1 became 2^25 (an int64 array stays int64)."""
    with pytest.raises(ValueError, match="integer values beyond 16,777,216 would lose precision in float32"):
        Tensor([2**25 + 1])
    assert Tensor([2**24, -(2**24)]).data.tolist() == [2**24, -(2**24)]
    assert Tensor(np.array([2**25 + 1])).item() == 2**25 + 1
    with pytest.raises(OverflowError, match=r"Tensor: values up to 1e\+39 are beyond float32's range"):
        Tensor([1e39])


# --- review 2, item 1: an integer the tensor's dtype holds exactly is taken, however large (as at e4bdc86) ---

@pytest.mark.parametrize("dtype, compute, expected", [
    (np.float32, lambda x: x / 2**30, 3 / 2**30),
    (np.float32, lambda x: x * 2**25, 3 * 2**25),
    (np.float32, lambda x: x * (2**24 + 2), 3 * (2**24 + 2)),
    (np.float32, lambda x: 2**70 - x, 2**70),  # 2^70 - 3 rounds to 2^70: the operand itself is exact
    (np.float32, lambda x: x * np.int64(2**40), 3 * 2**40),
    (np.float32, lambda x: x + np.array([2**25, -(2**31)]), [3 + 2**25, 3 - 2**31]),
    (np.float32, lambda x: mg.concatenate([x, np.array([2**30])]), [3, 2**30]),
    (np.float16, lambda x: x * 4096, 3 * 4096),
    (np.float16, lambda x: x * 3000, 9000),
    (np.float16, lambda x: x - np.array([-4096, 2048]), [4099, -2045]),
], ids=["f32 / 2^30", "f32 * 2^25", "f32 * (2^24 + 2)", "2^70 - f32", "f32 * int64 2^40", "f32 + int64 array",
        "concatenate 2^30", "f16 * 4096", "f16 * 3000", "f16 - int64 array"])
def test_an_integer_the_tensors_dtype_holds_exactly_is_taken_however_large(dtype, compute, expected):
    """Since 6eaf764 these said 'integer values beyond 16,777,216 would lose precision' (2,048 in float16): the
    rule looked at the size of an integer, not whether the float holds it (float32 holds 2^25 and 2^30 exactly)."""
    out = compute(Tensor(np.full(1, 3, dtype), requires_grad=True))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data.reshape(-1), np.asarray(expected, dtype).reshape(-1))


def test_the_constructor_takes_integers_float32_holds_exactly():
    assert Tensor([2**25, -(2**30), 2**24 + 2]).data.tolist() == [2**25, -(2**30), 2**24 + 2]


@pytest.mark.parametrize("dtype, compute, error, message", [
    (np.float32, lambda x: x * (2**25 + 1), ValueError, "multiply: an operand beside a float32 tensor: 33554433 "
                                                         "would become 33554432"),
    (np.float32, lambda x: x / (2**60 + 1), ValueError, "divide: .* 1152921504606846977 would become "
                                                        "1152921504606846976"),
    (np.float32, lambda x: x + np.array([2**63 - 1]), ValueError, "add: .* 9223372036854775807 would become"),
    (np.float32, lambda x: x - 10**40, OverflowError, r"subtract: .* values up to 1e\+40 are beyond float32's range"),
    (np.float32, lambda x: x * (1 + 2j), TypeError, r"multiply: .* must be a real number .*got \(1\+2j\)"),
    (np.float16, lambda x: x * 3001, ValueError, "multiply: an operand beside a float16 tensor: 3001 would become "
                                                 "3000 \\(integer values beyond 2,048 would lose precision in float16"),
    (np.float16, lambda x: x * 70000, OverflowError, r"multiply: .* values up to 7e\+04 are beyond float16's range"),
    (np.float16, lambda x: x + np.array([4097]), ValueError, "add: .* 4097 would become 4096"),
    (np.float16, lambda x: x + np.array([70000]), OverflowError, "add: .* beyond float16's range"),
], ids=["f32 * (2^25 + 1)", "f32 / (2^60 + 1)", "f32 + int64 max", "f32 - 10^40", "f32 * complex", "f16 * 3001",
        "f16 * 70000", "f16 + [4097]", "f16 + [70000]"])
def test_an_integer_the_tensors_dtype_would_change_is_refused_naming_the_op(dtype, compute, error, message):
    with pytest.raises(error, match=message):
        compute(Tensor(np.full(1, 3, dtype), requires_grad=True))


def test_an_integer_tensor_beside_a_float_tensor_is_taken_when_the_float_holds_it():
    """The integer tensor is cast to the float's dtype; it is refused only when that would change a value."""
    x = Tensor(np.ones(2, F32))
    assert (x * Tensor(np.array([2**25, 2**40]))).data.tolist() == [2**25, 2**40]  # refused at e4bdc86 (size rule)
    with pytest.raises(ValueError, match="^multiply: an integer operand: 33554433 would become 33554432"):
        x * Tensor(np.array([2**25, 2**25 + 1]))
