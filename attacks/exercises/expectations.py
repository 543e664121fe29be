"""What a check compares, and how: shapes, dtypes, values within a tolerance, and finite differences.

Each ``expect_*`` raises :class:`~attacks.exercises.grader.Mismatch` with what was expected
and what came; the inputs shown are the example's.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg

from .grader import Mismatch

#: The finite-difference tolerances of :func:`minigrad.gradcheck`, in float64.
ATOL, RTOL = 1e-5, 1e-3


def read_only(*arrays):
    """Copies of ``arrays`` that raise when written into, as the engine hands ``g`` to a VJP."""
    copies = []
    for a in arrays:
        a = np.array(a)
        a.setflags(write=False)
        copies.append(a)
    return copies[0] if len(copies) == 1 else copies


def expect_array(what: str, inputs: dict, expected: np.ndarray, came, *, atol=ATOL, rtol=RTOL, dtype=True) -> np.ndarray:
    """``came`` as an array of ``expected``'s shape (and dtype, unless ``dtype=False``) and values, within
    ``atol + rtol * |expected|``; else a Mismatch saying which of the three differs."""
    if isinstance(came, mg.Tensor):
        raise Mismatch(f"{what} is a Tensor, not a NumPy array (return .data, or compute on arrays)", inputs)
    if came is None:
        raise Mismatch(f"{what} is None (a function that forgot to return?)", inputs, expected, None)
    array = np.asarray(came)
    if array.dtype.kind not in "fiu":
        raise Mismatch(f"{what} is an array of {array.dtype}, not of numbers", inputs, expected, came)
    if array.shape != expected.shape:
        raise Mismatch(f"{what} has the wrong shape: expected {expected.shape}, came {array.shape}", inputs,
                       expected, array)
    if dtype and array.dtype != expected.dtype:
        raise Mismatch(f"{what} has the wrong dtype: expected {expected.dtype}, came {array.dtype}", inputs,
                       note="keep the inputs' dtype: np.zeros(shape), rng.uniform(...) and np.float64 numbers make "
                                   "float64 arrays; pass dtype=x.dtype, or cast with .astype(x.dtype)")
    close = np.abs(array.astype(np.float64) - expected) <= atol + rtol * np.abs(expected)
    if not close.all():  # NaN compares False: it fails too
        worst = np.unravel_index(np.argmin(close), close.shape) if close.ndim else ()
        raise Mismatch(f"{what} is wrong", inputs, expected, array,
                       note=f"first wrong entry {tuple(map(int, worst))}: expected {float(expected[worst]):.9g}, "
                            f"came {float(array[worst]):.9g} " + ("(an exact match is required)" if atol == rtol == 0
                                                                  else f"(tolerance {atol:g} + {rtol:g} * |expected|)"))
    return array


def numeric_vjp(f, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Central differences, in float64, of sum(g * f(x)) with respect to ``x``: the VJP of ``f`` (a NumPy
    function of one array; close over the others) applied to g, element by element
    (:func:`minigrad.numerical_gradient`)."""
    weights = np.asarray(g, dtype=np.float64)
    return mg.numerical_gradient(lambda t: mg.Tensor(np.sum(weights * f(t.data)), dtype=np.float64),
                                 [np.array(x, dtype=np.float64)], 0)
