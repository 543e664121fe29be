"""Checking analytic gradients against central finite differences, in float64.

For a scalar function f and an input element x_j, the central difference

    (f(x + h e_j) - f(x - h e_j)) / (2 h)  =  df/dx_j + O(h^2)

approximates the derivative with an error of order h^2 (plus the rounding error of
f, about 1e-16 |f| / h in float64). It needs two evaluations of f per element, so
it is a tool for tests on small inputs, not something to run on a network.
"""

from __future__ import annotations

import numpy as np

from .engine import no_grad
from .tensor import Tensor, values_of
from .transforms import value_and_grad
from .validation import is_numeric


def numerical_gradient(f, arrays: list, index: int, eps: float = 1e-6) -> np.ndarray:
    """Central-difference estimate of d f / d arrays[index], element by element (float64).

    The arrays must be float64 ndarrays already (``gradcheck`` converts its inputs): a
    step of 1e-6 is below float32's resolution near 1, and an integer array cannot take
    it at all. Any memory layout works (a transposed or Fortran-ordered array): each
    element is nudged in place and put back.
    """
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"numerical_gradient: arrays must be a list of arrays, one per argument of f, "
                        f"got {type(arrays).__name__}")
    x = arrays[index]
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"numerical_gradient: arrays[{index}] is {got}; pass float64 arrays (gradcheck converts "
                        "its inputs)")
    if not x.flags.writeable:
        raise ValueError(f"numerical_gradient: arrays[{index}] is read-only; each element is nudged in place, "
                         "so pass a writeable array (a copy)")
    numeric = np.zeros(x.shape)
    for j in np.ndindex(x.shape):  # x itself, by index: x.reshape(-1) of a transposed x is a copy
        saved = x[j]
        x[j] = saved + eps
        f_plus = _evaluate(f, arrays)
        x[j] = saved - eps
        f_minus = _evaluate(f, arrays)
        x[j] = saved
        numeric[j] = (f_plus - f_minus) / (2 * eps)
    return numeric


def _float64_array(x, what: str) -> np.ndarray:
    """``x`` (an array, a list, a number, or a Tensor by its ``.data``) as a new float64 array; ``what`` names it.

    Anything that holds no real numbers is refused here: NumPy would read a string as a
    number, None as NaN, and a Tensor inside ``np.array`` as "a sequence".
    """
    try:
        array = np.asarray(values_of(x))
    except ValueError as error:  # a ragged list
        raise ValueError(f"{what} is no array: {error}") from None
    if array.dtype.kind == "c":
        raise TypeError(f"{what} is complex; the engine differentiates real inputs only")
    if not is_numeric(array, bools=True):
        raise TypeError(f"{what} must be an array of real numbers, got {x!r:.80}")
    return np.array(array, dtype=np.float64)


def gradcheck(f, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Assert that the engine's gradients of ``f`` match central finite differences.

    ``f`` takes one Tensor per entry of ``inputs`` (a list of arrays, lists or Tensors,
    by their values) and returns a Tensor. Every input is converted to float64 and every element is checked:
    ``|analytic - numeric| <= atol + rtol * |numeric|``; a NaN or inf anywhere (the
    value, the gradient, a difference) fails. Returns True, or raises
    ``AssertionError`` naming the input index, the failing element with the largest
    error, both values there, that element's error and its allowance.

    A non-scalar output ``z`` is checked through ``sum(w * z)``, with fixed
    pseudo-random weights ``w`` in [-1, 1]: every entry of the Jacobian then matters,
    where a plain sum would hide a VJP that permutes or misroutes entries.

    ``f`` must be deterministic: finite differences compare calls at nearby points, so
    a random draw inside ``f`` (dropout, a random start) makes nonsense of them; a
    second call at the same point must give the same value, or gradcheck raises.
    Non-differentiable points (relu at 0, ties in max) make any finite-difference
    check fail: keep inputs away from them.
    """
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"gradcheck: inputs must be a list of arrays, one per argument of f, got {type(inputs).__name__}")
    if not 0 < eps < np.inf:
        raise ValueError(f"gradcheck: eps must be a finite step > 0, got {eps}")
    arrays = [_float64_array(x, f"gradcheck: input {i}") for i, x in enumerate(inputs)]
    for i, a in enumerate(arrays):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"gradcheck: input {i} contains NaN or inf")
    f = _scalar_valued(f)
    positions = tuple(range(len(arrays)))
    value, analytic = value_and_grad(f, argnums=positions)(*[a.copy() for a in arrays])
    if not np.isfinite(value):
        raise AssertionError(f"gradcheck: the function's value is {value} at the given inputs")
    again = _evaluate(f, arrays)
    if not np.isclose(again, value, rtol=1e-12, atol=0.0):
        raise ValueError(f"gradcheck: f is not deterministic: two calls at the same inputs gave {float(value)!r} "
                         f"and {again!r} (a random draw inside f?)")
    for i, a_grad in enumerate(analytic):
        if a_grad.shape != arrays[i].shape or a_grad.dtype != np.float64:
            raise AssertionError(
                f"gradcheck: the gradient of input {i} has shape {a_grad.shape} and dtype "
                f"{a_grad.dtype}, expected {arrays[i].shape} and float64"
            )
        numeric = numerical_gradient(f, arrays, i, eps)
        error = np.abs(a_grad - numeric)
        bad = ~(error <= atol + rtol * np.abs(numeric))  # NaN compares False: it fails too
        if bad.any():
            element = np.unravel_index(np.argmax(np.where(bad, error, -1.0)), error.shape)
            raise AssertionError(
                f"gradcheck failed for input {i} at element {tuple(map(int, element))}: analytic "
                f"{a_grad[element]:.8g}, numeric {numeric[element]:.8g}; abs error {error[element]:.3g}, "
                f"allowed {atol + rtol * abs(numeric[element]):.3g} (atol={atol}, rtol={rtol})"
            )
    return True


def _scalar_valued(f):
    """``f``, with a non-scalar output reduced to ``sum(w * out)`` by weights fixed per output shape."""
    weights = {}

    def reduced(*tensors):
        out = f(*tensors)
        if not isinstance(out, Tensor) or out.data.size == 1:
            return out
        if out.shape not in weights:
            weights[out.shape] = np.random.default_rng(1234).uniform(-1.0, 1.0, size=out.shape)
        return (out * weights[out.shape]).sum()

    return reduced


def _evaluate(f, arrays) -> float:
    with no_grad():
        out = f(*[Tensor(a, dtype=np.float64) for a in arrays])
    return float(np.asarray(out.data).reshape(()))
