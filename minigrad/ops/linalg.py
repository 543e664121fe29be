"""Matrix multiplication, and the affine map of a dense layer built on it.

For ``Z = A @ B`` with A of shape (n, k) and B of shape (k, m), the VJPs are

    dL/dA = G @ B^T      (n, m) @ (m, k) -> (n, k)
    dL/dB = A^T @ G      (k, n) @ (n, m) -> (k, m)

Like ``np.matmul``, a 1-D operand is treated as a row (first) or column (second) vector
and stacks of matrices broadcast over their leading axes; the VJPs sum a broadcast
operand's gradient back over those axes.
"""

from __future__ import annotations

import numpy as np

from ..broadcast import unbroadcast
from ..tensor import Tensor, as_tensors


def matmul(a, b) -> Tensor:
    """Z = a @ b with NumPy's matmul semantics. VJPs: G @ B^T and A^T @ G.

    Raises ``ValueError`` naming both shapes when the inner dimensions differ.
    """
    a, b = as_tensors(a, b, "matmul")
    x, w = a.data, b.data
    if x.ndim == 0 or w.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes {x.shape} and {w.shape} (use * for scalars)")
    inner_b = w.shape[0] if w.ndim == 1 else w.shape[-2]
    if x.shape[-1] != inner_b:
        raise ValueError(
            f"matmul: shapes {x.shape} and {w.shape} do not align: the last axis of the first "
            f"({x.shape[-1]}) must equal the {'only' if w.ndim == 1 else 'second-to-last'} axis of the second ({inner_b})"
        )
    try:
        z = np.matmul(x, w)
    except ValueError:
        raise ValueError(f"matmul: the batch axes of shapes {x.shape} and {w.shape} do not broadcast") from None
    if x.ndim == 2 and w.ndim == 2:
        vjps = (lambda g: g @ w.T, lambda g: x.T @ g)
    else:
        vjps = _batched_vjps(x, w)
    return Tensor.from_op(z, (a, b), vjps, "matmul")


def linear(x, weight, bias=None) -> Tensor:
    """Z = x @ W + b for a batch of row vectors: the affine map of a dense layer.

    The same values as ``x @ weight + bias``, written as one op (one node in the graph)
    because a dense layer is read as one map. VJPs: dL/dx = G @ W^T, dL/dW = x^T @ G,
    dL/db = sum of G over the batch.
    """
    x, weight = as_tensors(x, weight, "linear")
    a, w = x.data, weight.data
    if a.ndim != 2 or w.ndim != 2 or a.shape[1] != w.shape[0]:
        raise ValueError(f"linear: expected x of shape (N, {w.shape[0] if w.ndim == 2 else 'in'}) and a 2-D weight, got {a.shape} and {w.shape}")
    z = a @ w
    parents = (x, weight)
    vjps = (lambda g: g @ w.T, lambda g: a.T @ g)
    if bias is not None:
        z, bias = add_bias(z, x, bias, "linear", "bias")
        parents += (bias,)
        vjps += (lambda g: g.sum(axis=0),)
    return Tensor.from_op(z, parents, vjps, "linear")


def add_bias(z: np.ndarray, x: Tensor, bias, op: str, name: str) -> tuple[np.ndarray, Tensor]:
    """``(z + bias, bias as a Tensor)`` for an op's fresh product ``z`` (rows, F) and a ``bias`` of shape (F,).

    The sum is written into ``z`` itself, which the op has just made and nothing else
    holds, unless the bias's dtype differs (then the sum is a new array, in NumPy's
    promoted dtype).

    ``linear`` and ``conv2d`` add their bias here. The bias follows the dtype policy of
    every binary op (:func:`~minigrad.tensor.as_tensors` beside the input ``x``): an array
    or an integer Tensor takes ``x``'s float dtype, a float64 Tensor promotes the result,
    as NumPy's ``+`` does.
    A bias of another shape is a ValueError naming the op and ``name``.
    """
    _, bias = as_tensors(x, bias, op)
    if bias.shape != (z.shape[1],):
        raise ValueError(f"{op}: {name} must have shape ({z.shape[1]},), got {bias.shape}")
    if bias.dtype != z.dtype:
        return z + bias.data, bias
    z += bias.data
    return z, bias


def _batched_vjps(x: np.ndarray, w: np.ndarray):
    """VJPs for 1-D operands and stacks: promote to matrices, multiply, drop the added axes."""
    x2 = x[None, :] if x.ndim == 1 else x  # a vector on the left is a (1, k) row
    w2 = w[:, None] if w.ndim == 1 else w  # a vector on the right is a (k, 1) column

    def as_matrix_grad(g):
        if w.ndim == 1:
            g = g[..., None]
        if x.ndim == 1:
            g = g[..., None, :]
        return g

    def vjp_x(g):
        dx = as_matrix_grad(g) @ np.swapaxes(w2, -1, -2)
        return unbroadcast(dx[..., 0, :] if x.ndim == 1 else dx, x.shape)  # summed over the stack axes

    def vjp_w(g):
        dw = np.swapaxes(x2, -1, -2) @ as_matrix_grad(g)
        return unbroadcast(dw[..., 0] if w.ndim == 1 else dw, w.shape)  # summed over the stack axes

    return vjp_x, vjp_w
