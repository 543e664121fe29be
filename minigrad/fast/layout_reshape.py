"""``reshape`` whose gradient comes back in its input's memory layout.

It replaces :func:`minigrad.ops.shape.reshape` (``minigrad.reshape``, and
``Tensor.reshape``, which calls ``minigrad.ops.reshape``), with the same signature and
the same values and gradients; only where the gradient's elements sit in memory
differs.

The textbook VJP, ``g.reshape(x.shape)``, returns the gradient in C order. When the
input ``x`` is a transposed view, as a conv layer's (N, C, H, W) maps are (they live
channels-last in memory, see :mod:`minigrad.ops.conv`), the VJPs below the reshape
(the ReLU's mask, pooling's) then combine the gradient elementwise with arrays of
``x``'s layout, and NumPy walks two arrays of different layouts in short strided
pieces instead of one contiguous stretch. This VJP copies the gradient into ``x``'s
layout once, so that every elementwise loop further down runs over one layout.
What it is worth is in ``docs/measurements.md``; ``training.fast_paths.enable()``
switches it on.
"""

from __future__ import annotations

import numpy as np

from ..ops.shape import new_shape
from ..tensor import Tensor, as_tensor


def reshape(a, *shape) -> Tensor:
    """:func:`minigrad.reshape`, whose VJP lays dL/da out in memory as ``a`` is laid out."""
    a = as_tensor(a)
    x = a.data
    return Tensor.from_op(x.reshape(new_shape(shape)), (a,), (lambda g: in_layout_of(x, g.reshape(x.shape)),),
                          "reshape")


def in_layout_of(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``g`` (of ``x``'s shape) with its elements laid out in memory as ``x``'s are (NumPy's order "K")."""
    if x.flags.c_contiguous or g.ndim < 2:
        return g
    laid_out = np.empty_like(x, dtype=g.dtype)
    laid_out[...] = g
    return laid_out
