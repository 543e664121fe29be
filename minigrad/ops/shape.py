"""Ops that move elements without changing them: reshape, transpose, indexing, joining.

Their VJPs move the gradient back the same way: reshape it back, transpose it with
the inverse permutation, scatter it into the indexed positions, or slice it apart.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, as_tensor, as_tensors
from ..validation import is_integer


def reshape(a, *shape) -> Tensor:
    """z = a with a new shape (``reshape(a, 2, 3)`` or ``reshape(a, (2, 3))``), the same elements in order.

    VJP: dL/da = g reshaped to a's shape: reshaping moves no element, so the gradient
    of each element moves back the same way.
    """
    a = as_tensor(a)
    x = a.data
    return Tensor.from_op(x.reshape(new_shape(shape)), (a,), (lambda g: g.reshape(x.shape),), "reshape")


def new_shape(shape: tuple) -> tuple:
    """``reshape``'s shape arguments, given one by one or as one tuple or list, as a tuple."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape


def transpose(a, *axes) -> Tensor:
    """z = a with its axes permuted (reversed by default). VJP: g with the inverse permutation."""
    a = as_tensor(a)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    x = a.data
    order = tuple(range(x.ndim))[::-1] if not axes else tuple(np.arange(x.ndim)[list(axes)])
    inverse = tuple(np.argsort(order))
    return Tensor.from_op(x.transpose(order), (a,), (lambda g: g.transpose(inverse),), "transpose")


def getitem(a, index) -> Tensor:
    """z = a[index], basic or integer-array indexing.

    VJP: a zero array of a's shape with g added at the indexed positions. With
    integer arrays an index may repeat (``a[[0, 0]]``); ``np.add.at`` then adds each
    contribution instead of keeping only the last, as ``d[index] = g`` would.
    """
    a = as_tensor(a)
    index = _plain_index(index)
    x = a.data

    def vjp(g):
        dx = np.zeros(x.shape, dtype=g.dtype)
        if _is_advanced(index):
            np.add.at(dx, index, g)
        else:
            dx[index] = g
        return dx

    return Tensor.from_op(x[index], (a,), (vjp,), "getitem")


def _plain_index(index):
    """Replace Tensors (and lists) inside an index by ndarrays."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_advanced(index) -> bool:
    """Whether the index holds an integer array (positions may then repeat)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in parts)


def concatenate(tensors, axis=0) -> Tensor:
    """z = the tensors joined along an existing ``axis``. VJPs: the matching slice of g each."""
    tensors = _joinable(tensors, "concatenate")
    _check_join_axis(axis, "concatenate")
    z = np.concatenate([t.data for t in tensors], axis=axis)
    axis = axis % z.ndim
    bounds = np.cumsum([0] + [t.data.shape[axis] for t in tensors])
    vjps = tuple(_slice_vjp(axis, slice(int(lo), int(hi))) for lo, hi in zip(bounds[:-1], bounds[1:]))
    return Tensor.from_op(z, tensors, vjps, "concatenate")


def stack(tensors, axis=0) -> Tensor:
    """z = the tensors joined along a new ``axis``. VJPs: g[..., i, ...] for the i-th tensor."""
    tensors = _joinable(tensors, "stack")
    _check_join_axis(axis, "stack")
    z = np.stack([t.data for t in tensors], axis=axis)
    axis = axis % z.ndim
    vjps = tuple(_slice_vjp(axis, i) for i in range(len(tensors)))
    return Tensor.from_op(z, tensors, vjps, "stack")


def _joinable(items, op: str) -> tuple:
    """The operands of ``concatenate`` or ``stack`` as Tensors, under the dtype policy of every binary op.

    An array, a number or an integer Tensor takes the float dtype of the Tensors (the
    widest, when there are several), as it would beside one of them in ``x + a``: an
    integer array would otherwise promote a float32 join to float64.
    """
    items = list(items)
    if not items:
        raise ValueError(f"{op}: need at least one tensor")
    tensors = [as_tensor(t, _widest_float(items), op) for t in items]
    like = _widest_float(tensors)
    if like is None:
        return tuple(tensors)
    return tuple(as_tensors(t, like, op)[0] for t in tensors)


def _check_join_axis(axis, op: str) -> None:
    """Refuse an ``axis`` of ``concatenate`` or ``stack`` that is no integer, naming it.

    NumPy's ``axis=None`` (join the flattened arrays) is not supported, and 1.0 or
    True is no axis; either failed later with Python's words about ``%`` or indices.
    """
    if not is_integer(axis):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")


def _widest_float(items) -> Tensor | None:
    """The Tensor among ``items`` of the widest float dtype, or None when none is a float Tensor."""
    floats = [t for t in items if isinstance(t, Tensor) and t.data.dtype.kind == "f"]
    return max(floats, key=lambda t: t.data.dtype.itemsize, default=None)


def _slice_vjp(axis: int, part):
    """A VJP that selects ``part`` (an int or a slice) of g along ``axis``."""
    key = (slice(None),) * axis + (part,)
    return lambda g: g[key]
