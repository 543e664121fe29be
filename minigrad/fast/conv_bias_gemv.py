"""``conv2d`` whose bias gradient is one matrix-vector product.

What it replaces: the bias VJP of :func:`minigrad.ops.conv.conv2d`,
``g.sum(axis=(0, 2, 3))``, that is dL/db_f = sum over n, i, j of G[n, f, i, j].

Why: a conv layer's output, and so its upstream gradient G, lies in memory
channels-last (see :mod:`minigrad.ops.conv`): as rows, an array of shape
(N * H_out * W_out, F) with a few channels per row. NumPy sums such a narrow array
over its long axis one short row at a time. The same sum is the product
``1^T rows(G)``, which BLAS's gemv computes in one pass over G. Only the order of the
additions differs, so the results agree to float rounding.

:func:`conv2d` is :func:`minigrad.fast.chunked_im2col.conv2d` (itself the textbook op
for a batch that fits in one chunk) with that one VJP replaced;
``training.fast_paths.enable()`` puts it in ``minigrad.conv2d``. What it is worth is
in ``docs/measurements.md``.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import chunked_im2col


def conv2d(x, w, b=None, stride=1, padding=0) -> Tensor:
    """:func:`minigrad.fast.chunked_im2col.conv2d`, with :func:`bias_gradient` as the bias's VJP."""
    out = chunked_im2col.conv2d(x, w, b, stride, padding)
    if b is not None and out._vjps:  # recorded: (x's VJP, the kernels', the bias's)
        out._vjps = (*out._vjps[:2], bias_gradient)
    return out


def bias_gradient(g: np.ndarray) -> np.ndarray:
    """``g.sum(axis=(0, 2, 3))`` for ``g`` of shape (N, F, H, W): ``ones @ rows`` when ``g`` lies
    channels-last in memory, else the sum itself."""
    g_rows = rows_in_place(g)
    if g_rows is None:
        return g.sum(axis=(0, 2, 3))
    return np.ones(len(g_rows), dtype=g.dtype) @ g_rows


def rows_in_place(g: np.ndarray):
    """``g`` (N, F, H, W) as rows (N * H * W, F) without a copy, or None if its memory is not channels-last."""
    channels_last = g.transpose(0, 2, 3, 1)
    if not channels_last.flags.c_contiguous:
        return None
    return channels_last.reshape(-1, g.shape[1])
