"""Reductions: sum, mean, max and logsumexp over an axis (or several, or all).

A reduction's VJP sends the upstream gradient back along the reduced axes:
``sum`` copies it to every element that was summed (a broadcast), ``mean`` also
divides by the count, ``max`` routes it to the maximal element only (the *first*
one when several tie), and ``logsumexp`` weights it with the softmax of the input.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from ..tensor import Tensor, as_float_tensor, as_tensor


def _axes(axis, ndim) -> tuple:
    """``axis`` (None, an int or a tuple) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(normalize_axis_tuple(axis, ndim)))


def _keepdims_shape(shape, axes) -> tuple:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduced(z: np.ndarray, axes: tuple, keepdims: bool) -> np.ndarray:
    """A keepdims result ``z`` with the reduced ``axes`` dropped unless ``keepdims``."""
    if keepdims:
        return z
    return z.reshape([n for i, n in enumerate(z.shape) if i not in axes])


def sum(a, axis=None, keepdims=False) -> Tensor:  # noqa: A001  (the NumPy name)
    """z = sum of a over ``axis``. VJP: dL/da = g broadcast back over the summed axes.

    The VJP returns a read-only broadcast view (no copy); the engine and the ops
    never write into a gradient they did not allocate.
    """
    a = as_tensor(a)
    x = a.data
    axes = _axes(axis, x.ndim)
    kept = _keepdims_shape(x.shape, axes)
    return Tensor.from_op(
        np.asarray(x.sum(axis=axes, keepdims=keepdims)),
        (a,),
        (lambda g: np.broadcast_to(g.reshape(kept), x.shape),),
        "sum",
    )


def mean(a, axis=None, keepdims=False) -> Tensor:
    """z = mean of a over ``axis``. VJP: dL/da = g / n broadcast back, n the count averaged."""
    a = as_float_tensor(a)
    x = a.data
    axes = _axes(axis, x.ndim)
    kept = _keepdims_shape(x.shape, axes)
    count = int(np.prod([x.shape[i] for i in axes]))
    return Tensor.from_op(
        np.asarray(x.mean(axis=axes, keepdims=keepdims)),
        (a,),
        (lambda g: np.broadcast_to(g.reshape(kept) / count, x.shape),),
        "mean",
    )


def max(a, axis=None, keepdims=False) -> Tensor:  # noqa: A001  (the NumPy name)
    """z = max of a over ``axis``. VJP: g goes to the first maximal element, 0 elsewhere.

    The reduced axes are moved to the end and flattened, so one ``argmax`` over the
    last axis finds, for every output element, the index of its (first) maximum.
    """
    a = as_tensor(a)
    x = a.data
    axes = _axes(axis, x.ndim)

    def vjp(g):
        others = [i for i in range(x.ndim) if i not in axes]
        order = others + list(axes)
        flat = x.transpose(order).reshape([x.shape[i] for i in others] + [-1])
        first = flat.argmax(axis=-1)[..., None]
        dflat = np.zeros(flat.shape, dtype=g.dtype)
        np.put_along_axis(dflat, first, g.reshape(first.shape), axis=-1)
        return dflat.reshape([x.shape[i] for i in order]).transpose(np.argsort(order))

    z = np.asarray(x.max(axis=axes, keepdims=True))
    return Tensor.from_op(_reduced(z, axes, keepdims), (a,), (vjp,), "max")


def logsumexp(a, axis=None, keepdims=False) -> Tensor:
    """z = log(sum(exp(a))) over ``axis``, computed as m + log(sum(exp(a - m))), m = max(a).

    Subtracting the maximum keeps every exponent <= 0, so logits of +-1e4 neither
    overflow nor underflow to log(0). VJP: dL/da = g * exp(a - z) = g * softmax(a).
    """
    a = as_float_tensor(a)
    x = a.data
    axes = _axes(axis, x.ndim)
    z = _logsumexp_keepdims(x, axes)

    def vjp(g):
        return g.reshape(z.shape) * np.exp(x - z)

    return Tensor.from_op(_reduced(z, axes, keepdims), (a,), (vjp,), "logsumexp")


def _logsumexp_keepdims(x: np.ndarray, axes: tuple) -> np.ndarray:
    """log(sum(exp(x))) over ``axes`` with keepdims, stable for large |x|."""
    m = x.max(axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # an all -inf row stays -inf instead of NaN
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer there
        return m + np.log(np.exp(x - m).sum(axis=axes, keepdims=True))

