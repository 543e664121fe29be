"""Numerical stability at extreme logits, and the error messages users see."""

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import Tensor

BIG = 1e4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_and_logsumexp_at_extreme_logits(dtype):
    z = Tensor(np.array([[BIG, -BIG, 0.0]]), requires_grad=True, dtype=dtype)
    out = mg.log_softmax(z)
    np.testing.assert_allclose(out.data, [[0.0, -2 * BIG, -BIG]], rtol=1e-6)
    out.backward(np.array([[1.0, 0.0, 0.0]]))
    assert np.all(np.isfinite(z.grad))
    np.testing.assert_allclose(z.grad, [[0.0, 0.0, 0.0]], atol=1e-6)  # d log p0 / dz = onehot0 - p, p = onehot0
    lse = mg.logsumexp(Tensor(np.array([BIG, BIG]), dtype=dtype))
    assert lse.item() == pytest.approx(BIG + np.log(2), rel=1e-6)
    assert np.isneginf(mg.logsumexp(Tensor(np.array([-np.inf, -np.inf]))).item())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_at_extreme_logits(dtype):
    z = Tensor(np.array([[BIG, -BIG], [-BIG, BIG]]), requires_grad=True, dtype=dtype)
    loss = mg.cross_entropy(z, np.array([1, 1]), reduction="sum")
    assert loss.item() == pytest.approx(2 * BIG, rel=1e-6)  # the first example is wrong by 2e4
    loss.backward()
    np.testing.assert_allclose(z.grad, [[1.0, -1.0], [0.0, 0.0]], atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_at_extreme_logits(dtype):
    z = Tensor(np.array([BIG, -BIG, BIG, -BIG]), requires_grad=True, dtype=dtype)
    t = np.array([0.0, 1.0, 1.0, 0.0])
    loss = mg.binary_cross_entropy_with_logits(z, t, reduction="none")
    np.testing.assert_allclose(loss.data, [BIG, BIG, 0.0, 0.0], rtol=1e-6)
    loss.backward(np.ones(4))
    np.testing.assert_allclose(z.grad, [1.0, -1.0, 0.0, 0.0], atol=1e-6)
    s = mg.sigmoid(Tensor([BIG, -BIG]))
    np.testing.assert_array_equal(s.data, [1.0, 0.0])


def test_softmax_at_extreme_logits():
    p = mg.softmax(Tensor(np.array([[BIG, 0.0, -BIG]])))
    np.testing.assert_allclose(p.data, [[1.0, 0.0, 0.0]])


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) do not align"):
        Tensor(np.ones((3, 4))) @ Tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"linear: expected x of shape \(N, 5\) and a 2-D weight, got \(3, 4\) and \(5, 2\)"):
        mg.linear(Tensor(np.ones((3, 4))), Tensor(np.ones((5, 2))))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(2,\), got \(3,\)"):
        mg.linear(Tensor(np.ones((3, 4))), Tensor(np.ones((4, 2))), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        mg.matmul(Tensor(1.0), Tensor([1.0]))


def test_backward_errors():
    with pytest.raises(RuntimeError, match="single-element output, got shape \\(3,\\)"):
        (Tensor([1.0, 2.0, 3.0], requires_grad=True) * 2.0).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()
    with pytest.raises(ValueError, match="grad has shape \\(2,\\), the tensor has \\(3,\\)"):
        (Tensor([1.0, 2.0, 3.0], requires_grad=True) * 2.0).backward(np.ones(2))


def test_label_errors():
    logits = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"labels must be in 0..2; found \[3\]"):
        mg.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"labels must be in 0..2; found \[-1\]"):
        mg.cross_entropy(logits, np.array([-1, 0]))
    with pytest.raises(TypeError, match="integer class indices.*one-hot"):
        mg.cross_entropy(logits, np.eye(3)[[0, 1]])
    with pytest.raises(ValueError, match=r"labels must be integer class indices of shape \(2,\)"):
        mg.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\)"):
        mg.cross_entropy(Tensor(np.zeros(3)), np.array([0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        mg.cross_entropy(logits, np.array([0, 1]), reduction="average")


def test_nan_logits_are_rejected_by_the_losses():
    logits = np.zeros((2, 3))
    logits[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"example \(1,\) contain NaN"):
        mg.cross_entropy(Tensor(logits), np.array([0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        mg.binary_cross_entropy_with_logits(Tensor(logits), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"targets have shape \(2,\), logits \(2, 1\)"):
        mg.binary_cross_entropy_with_logits(Tensor(np.zeros((2, 1))), np.zeros(2))


def test_other_op_errors():
    with pytest.raises(ValueError, match="multiple of pieces=5"):
        mg.maxout(Tensor(np.ones((2, 7))), 5)
    with pytest.raises(TypeError, match="condition must be boolean"):
        mg.where(np.array([1, 0]), Tensor([1.0, 2.0]), 0.0)
    with pytest.raises(ValueError, match=r"low \(1.0\) is greater than high \(0.0\)"):
        mg.clip(Tensor([1.0]), 1.0, 0.0)


@pytest.mark.parametrize("join", [mg.concatenate, mg.stack], ids=["concatenate", "stack"])
@pytest.mark.parametrize("axis", [None, 1.0, True, "0"])
def test_concatenate_and_stack_name_an_axis_that_is_no_integer(join, axis):
    """None gave "unsupported operand type(s) for %", 1.0 "integer argument expected" (NumPy's axis=None, joining
    the flattened arrays, is not supported)."""
    x = Tensor(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match=rf"{join.__name__}: axis must be an int, got {re.escape(repr(axis))}"):
        join([x, x], axis=axis)
    assert join([x, x], axis=np.int64(-1)).shape == {"concatenate": (2, 4), "stack": (2, 2, 2)}[join.__name__]


def test_operators_and_comparisons():
    a = Tensor([1.0, 2.0, 3.0])
    b = Tensor([3.0, 2.0, 1.0])
    comparison = a < b
    assert isinstance(comparison, np.ndarray) and comparison.dtype == bool
    np.testing.assert_array_equal(comparison, [True, False, False])
    np.testing.assert_array_equal(a == b, [False, True, False])
    np.testing.assert_array_equal(a >= 2.0, [False, True, True])
    np.testing.assert_array_equal((-a + 2 * b - a / b).data, -a.data + 2 * b.data - a.data / b.data)
    assert isinstance(np.ones(3) + a, Tensor)  # __array_priority__ hands ndarray + Tensor to us
    assert {a: 1}[a] == 1  # identity hashing despite __eq__
    assert a.shape == (3,) and a.ndim == 1 and a.size == 3 and len(a) == 3
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))
    assert Tensor([[1.0, 2.0]]).T.shape == (2, 1)


def test_repeated_indices_accumulate():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 1])].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 1.0, 0.0])


def test_ties_send_the_gradient_to_the_first_maximum():
    x = Tensor([[2.0, 5.0, 5.0, 1.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0, 0.0]])
    y = Tensor([[3.0, 3.0, 1.0, 1.0]], requires_grad=True)
    mg.maxout(y, 2).sum().backward()
    np.testing.assert_array_equal(y.grad, [[1.0, 0.0, 1.0, 0.0]])
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([1.0, 1.0], requires_grad=True)
    mg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])
    np.testing.assert_array_equal(b.grad, [0.0, 0.0])


def test_kink_conventions_for_relu_and_abs():
    x = Tensor([-1.0, 0.0, 1.0], requires_grad=True)
    (mg.relu(x) + mg.abs(x)).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 2.0])  # relu'(0) = 0, abs'(0) = 0


@pytest.mark.filterwarnings("error")  # no 0 * inf or log(0) behind the answer either
def test_power_gradients_at_a_zero_base_follow_the_stated_conventions():
    """d/da a^0 = 0 (b = 0: z = 1 for every a), and d/db 0^b = 0 for b >= 0; the formulas gave NaN there."""
    x = Tensor([0.0, 2.0], requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    a, b = Tensor([0.0, 0.0, 0.0, 2.0], requires_grad=True), Tensor([2.0, 1.0, 0.0, 3.0], requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 1.0, 0.0, 12.0])  # b a^(b-1)
    np.testing.assert_allclose(b.grad, [0.0, 0.0, 0.0, 8 * np.log(2.0)], rtol=1e-6)  # a^b log a
    assert a.grad.dtype == b.grad.dtype == np.float32


def test_power_gradients_match_finite_differences_next_to_the_conventions():
    """Where the conventions apply (b = 0 among the exponents) and at bases close to 0, the usual formulas hold."""
    base = np.array([[0.05, 0.5, 2.0]]).T * np.ones((3, 3))
    exponent = np.array([-1.0, 0.0, 2.5])
    assert mg.gradcheck(lambda a, b: a**b, [base, exponent])


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("loss, logits, targets", [
    (mg.cross_entropy, np.zeros((0, 3), np.float32), np.zeros(0, np.int64)),
    (mg.binary_cross_entropy_with_logits, np.zeros(0, np.float32), np.zeros(0, np.float32)),
], ids=["cross_entropy", "binary_cross_entropy_with_logits"])
def test_the_mean_loss_of_an_empty_batch_is_refused_naming_the_loss(loss, logits, targets):
    """It was NaN with only a RuntimeWarning; the sum of no losses is 0 and 'none' gives no losses."""
    with pytest.raises(ValueError, match=rf"^{loss.__name__}: the batch is empty \(losses of shape \(0,\)\), and a mean"):
        loss(logits, targets)
    assert loss(logits, targets, reduction="sum").item() == 0.0
    assert loss(logits, targets, reduction="none").shape == (0,)
