"""Elementwise ops: arithmetic, activations, and their vector-Jacobian products.

For an elementwise ``z = f(x)`` the Jacobian is diagonal, so the VJP is an
elementwise product ``dL/dx = g * f'(x)`` with ``g = dL/dz``. Binary ops broadcast
like NumPy; their VJPs return gradients of the broadcast shape and the engine sums
them back to each input's shape (:mod:`minigrad.broadcast`).

Conventions at points where the derivative does not exist:
``relu'(0) = 0``, ``abs'(0) = 0``, ``maximum``/``minimum`` give a tie to their
*first* argument, ``clip`` passes the gradient at the bounds themselves, and ``power``
gives 0 where its formulas would give NaN (see :func:`power`).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..tensor import Tensor, _operand_array, as_float_tensor, as_tensors, values_of
from ..validation import integer_at_least, is_numeric


def add(a, b) -> Tensor:
    """z = a + b. VJPs: dL/da = g, dL/db = g."""
    a, b = as_tensors(a, b, "add")
    return Tensor.from_op(a.data + b.data, (a, b), (_identity, _identity), "add")


def subtract(a, b) -> Tensor:
    """z = a - b. VJPs: dL/da = g, dL/db = -g."""
    a, b = as_tensors(a, b, "subtract")
    return Tensor.from_op(a.data - b.data, (a, b), (_identity, np.negative), "subtract")


def multiply(a, b) -> Tensor:
    """z = a * b. VJPs: dL/da = g * b, dL/db = g * a."""
    a, b = as_tensors(a, b, "multiply")
    x, y = a.data, b.data
    return Tensor.from_op(x * y, (a, b), (lambda g: g * y, lambda g: g * x), "multiply")


def divide(a, b) -> Tensor:
    """z = a / b. VJPs: dL/da = g / b, dL/db = -g * a / b^2 = -g * z / b."""
    a, b = as_tensors(a, b, "divide")
    x, y = a.data, b.data
    z = x / y
    return Tensor.from_op(z, (a, b), (lambda g: g / y, lambda g: -g * z / y), "divide")


def negative(a) -> Tensor:
    """z = -a. VJP: dL/da = -g."""
    a = as_float_tensor(a)
    return Tensor.from_op(-a.data, (a,), (np.negative,), "negative")


def power(a, b) -> Tensor:
    """z = a ** b. VJPs: dL/da = g * b * a^(b-1), dL/db = g * z * log(a).

    Conventions, as autograd's and PyTorch's: dL/da = 0 where b = 0 (z = 1 whatever a
    is; the formula gives 0 * 0^-1 = NaN at a = 0), and dL/db = 0 where a = 0 and
    b >= 0 (z = 0^b is 0 for b > 0; the formula gives 0 * log 0 = NaN). Elsewhere
    dL/db needs a > 0: a negative base gives NaN, as log(a) does.
    """
    a, b = as_tensors(a, b, "power")
    x, y = a.data, b.data
    z = x**y
    return Tensor.from_op(z, (a, b), (lambda g: _power_base_vjp(g, x, y), lambda g: _power_exponent_vjp(g, x, y, z)),
                          "power")


def _power_base_vjp(g, x, y):
    """g * y * x^(y-1), and 0 where y = 0: there x is taken as 1, so that 0^-1 never arises."""
    constant = y == 0
    if constant.any():
        x = np.where(constant, 1, x)
    return g * y * x ** (y - 1)


def _power_exponent_vjp(g, x, y, z):
    """g * z * log(x), and 0 where x = 0 and y >= 0: there x is taken as 1 (log 1 = 0), so that log 0 never arises."""
    zero_base = (x == 0) & (y >= 0)
    if zero_base.any():
        x = np.where(zero_base, 1, x)
    return g * z * np.log(x)


def exp(a) -> Tensor:
    """z = e^a. VJP: dL/da = g * z (the output is saved, not recomputed)."""
    a = as_float_tensor(a)
    z = np.exp(a.data)
    return Tensor.from_op(z, (a,), (lambda g: g * z,), "exp")


def log(a) -> Tensor:
    """z = ln a (natural log). VJP: dL/da = g / a."""
    a = as_float_tensor(a)
    x = a.data
    return Tensor.from_op(np.log(x), (a,), (lambda g: g / x,), "log")


def log1mexp(a) -> Tensor:
    """z = log(1 - e^a) for a < 0, accurate over the whole range (Maechler 2012).

    Near 0 it is log(-expm1(a)) (1 - e^a would cancel); for a < -ln 2 it is
    log1p(-e^a) (e^a is small). This is the log-probability of "not this class" for a
    unit whose probability is e^a, as in the RBF network's one-vs-rest loss.
    VJP: dL/da = g * -e^a / (1 - e^a) = -g / expm1(-a).
    """
    a = as_float_tensor(a)
    x = a.data
    with np.errstate(divide="ignore"):  # a = 0 gives log(0) = -inf, which is the value
        z = np.where(x > -np.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))
        return Tensor.from_op(z.astype(x.dtype, copy=False), (a,), (lambda g: _log1mexp_vjp(g, x),), "log1mexp")


def _log1mexp_vjp(g, x):
    with np.errstate(over="ignore"):  # expm1(-x) = inf for very negative x: the gradient is -0
        return -g / np.expm1(-x)


def sqrt(a) -> Tensor:
    """z = sqrt(a). VJP: dL/da = g / (2 z)."""
    a = as_float_tensor(a)
    z = np.sqrt(a.data)
    return Tensor.from_op(z, (a,), (lambda g: g / (2 * z),), "sqrt")


def tanh(a) -> Tensor:
    """z = tanh(a). VJP: dL/da = g * (1 - z^2)."""
    a = as_float_tensor(a)
    z = np.tanh(a.data)
    return Tensor.from_op(z, (a,), (lambda g: g * (1 - z * z),), "tanh")


def sigmoid(a) -> Tensor:
    """z = 1 / (1 + e^-a), computed without overflow. VJP: dL/da = g * z * (1 - z)."""
    a = as_float_tensor(a)
    z = special.expit(a.data)
    return Tensor.from_op(z, (a,), (lambda g: g * z * (1 - z),), "sigmoid")


def relu(a) -> Tensor:
    """z = max(a, 0). VJP: dL/da = g * [a > 0] (so relu'(0) = 0)."""
    a = as_float_tensor(a)
    x = a.data
    return Tensor.from_op(np.maximum(x, 0), (a,), (lambda g: g * (x > 0),), "relu")


def quantise(a, levels: int, *, straight_through: bool = False) -> Tensor:
    """z = round(a * (levels - 1)) / (levels - 1): a rounded to ``levels`` evenly spaced values.

    On [0, 1] the values are 0, 1 / (levels - 1), ..., 1 (NumPy's rounding: halves go
    to the even neighbour). z is a staircase, so its derivative is 0 wherever it exists,
    and the VJP is 0: a model behind it has no input gradient to follow (*gradient
    masking*), however fragile it really is. ``straight_through=True`` passes g
    unchanged instead (the straight-through estimator): not this op's derivative but
    the one BPDA (Athalye, Carlini & Wagner 2018) differentiates through to attack it.
    """
    levels = integer_at_least(levels, 2, "quantise: levels")
    a = as_float_tensor(a)
    steps = np.asarray(levels - 1, dtype=a.data.dtype)
    vjp = _identity if straight_through else np.zeros_like
    return Tensor.from_op(np.round(a.data * steps) / steps, (a,), (vjp,), "quantise")


def abs(a) -> Tensor:  # noqa: A001  (the NumPy name)
    """z = |a|. VJP: dL/da = g * sign(a) (so abs'(0) = 0)."""
    a = as_float_tensor(a)
    x = a.data
    return Tensor.from_op(np.abs(x), (a,), (lambda g: g * np.sign(x),), "abs")


def maximum(a, b) -> Tensor:
    """z = max(a, b) elementwise. VJPs: g where a >= b to a, elsewhere to b (ties go to a)."""
    a, b = as_tensors(a, b, "maximum")
    x, y = a.data, b.data
    first = x >= y
    return Tensor.from_op(
        np.maximum(x, y), (a, b), (lambda g: g * first, lambda g: g * ~first), "maximum"
    )


def minimum(a, b) -> Tensor:
    """z = min(a, b) elementwise. VJPs: g where a <= b to a, elsewhere to b (ties go to a)."""
    a, b = as_tensors(a, b, "minimum")
    x, y = a.data, b.data
    first = x <= y
    return Tensor.from_op(
        np.minimum(x, y), (a, b), (lambda g: g * first, lambda g: g * ~first), "minimum"
    )


def where(condition, a, b) -> Tensor:
    """z = a where condition else b. VJPs: g masked by condition to a, by its negation to b.

    ``condition`` is a boolean array (or a boolean Tensor); it gets no gradient.
    """
    condition = np.asarray(values_of(condition))
    if condition.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean, got dtype {condition.dtype}")
    a, b = as_tensors(a, b, "where")
    return Tensor.from_op(
        np.where(condition, a.data, b.data),
        (a, b),
        (lambda g: np.where(condition, g, 0), lambda g: np.where(condition, 0, g)),
        "where",
    )


def clip(a, low=None, high=None) -> Tensor:
    """z = min(max(a, low), high); ``None`` leaves a side open.

    A bound is a number or an array that broadcasts to a's shape (a bound per
    element, per row, ...), converted to a's dtype as any operand is; a Tensor bound
    counts as its values, and no gradient flows to it. ``low`` above ``high``
    anywhere is a ValueError naming clip.
    VJP: dL/da = g where low <= a <= high, else 0 (the gradient passes at the bounds).
    """
    a = as_float_tensor(a)
    x = a.data
    low, high = _clip_bound(low, x, "low"), _clip_bound(high, x, "high")
    if low is not None and high is not None and np.any(low > high):
        if low.ndim == high.ndim == 0:
            raise ValueError(f"clip: low ({low}) is greater than high ({high})")
        raise ValueError(f"clip: low is greater than high at some element (low of shape {low.shape}, "
                         f"high of shape {high.shape})")
    z = x.copy() if low is None and high is None else np.clip(x, low, high)

    def vjp(g):
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        return g * inside

    return Tensor.from_op(z, (a,), (vjp,), "clip")


def _clip_bound(bound, x: np.ndarray, name: str):
    """A bound of :func:`clip` as an array of ``x``'s dtype that broadcasts to ``x``'s shape, or None."""
    if bound is None:
        return None
    values = values_of(bound)
    if np.ndim(values) == 0 and is_numeric(values) and np.abs(float(values)) > np.finfo(x.dtype).max:  # beyond the dtype's range: that side is open
        values = np.copysign(np.inf, float(values))
    bound = _operand_array(values, x.dtype, f"clip: {name}")
    try:
        fits = np.broadcast_shapes(bound.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"clip: {name} of shape {bound.shape} does not broadcast to the input's shape {x.shape}")
    return bound


def _identity(g):
    return g

