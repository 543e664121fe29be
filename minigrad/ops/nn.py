"""Neural-network ops: softmax, log-softmax, maxout and the fused, stable losses.

These could be composed from the elementwise ops, but each is written as one op
because its fused VJP is both faster and numerically safer: softmax cross-entropy's
gradient is simply ``softmax(z) - onehot(y)``, which never divides by a probability
that underflowed to zero.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..engine import is_grad_enabled
from ..tensor import Tensor, as_tensor
from .reduce import _logsumexp_keepdims

REDUCTIONS = ("mean", "sum", "none")


def softmax(a, axis=-1) -> Tensor:
    """p = exp(a - max a) / sum(exp(a - max a)) along ``axis``.

    VJP: dL/da = p * (g - sum(g * p)), the Jacobian diag(p) - p p^T applied to g.
    """
    a = as_tensor(a)
    e = np.exp(a.data - a.data.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)

    def vjp(g):
        return p * (g - (g * p).sum(axis=axis, keepdims=True))

    return Tensor.from_op(p, (a,), (vjp,), "softmax")


def log_softmax(a, axis=-1) -> Tensor:
    """z = a - logsumexp(a) along ``axis`` (never log(softmax(a)), which underflows).

    VJP: dL/da = g - softmax(a) * sum(g), with softmax(a) = exp(z).
    """
    a = as_tensor(a)
    x = a.data
    z = x - _logsumexp_keepdims(x, (axis % x.ndim,))

    def vjp(g):
        return g - np.exp(z) * g.sum(axis=axis, keepdims=True)

    return Tensor.from_op(z, (a,), (vjp,), "log_softmax")


def maxout(a, pieces: int) -> Tensor:
    """Maxout units: the last axis holds ``units * pieces`` columns in contiguous groups.

    z[..., u] = max_k a[..., u * pieces + k], that is ``a.reshape(..., units, pieces).max(-1)``,
    the layout of the maxout paper's code. VJP: g[..., u] goes to the winning piece of
    unit u, the first one when pieces tie, and 0 to the others.

    Implementation: piece k of every unit is the strided view ``a[..., k::pieces]``, so a
    running ``np.maximum`` over the pieces computes z in a few vectorised passes (an
    ``argmax`` over a last axis of length 5 is several times slower). ``wins[k]`` marks
    where piece k beat every earlier piece (strictly, so a tie stays with the earlier
    one); the overall winner is the *last* piece that won, so the VJP hands g out from
    the last piece down, each taking what is left where it won. The masks are built
    only when the graph is recorded: under ``no_grad`` (prediction, validation) they
    would double the cost of the op for nothing.
    """
    a = as_tensor(a)
    x = a.data
    if x.ndim == 0 or x.shape[-1] % pieces:
        raise ValueError(f"maxout: the last axis ({x.shape[-1:] or 'none'}) must be a multiple of pieces={pieces}")
    z = x[..., 0::pieces].copy()
    recording = a.requires_grad and is_grad_enabled()
    wins = [None]
    for k in range(1, pieces):  # a loop over the few pieces, each step a full-array pass
        piece = x[..., k::pieces]
        if recording:
            wins.append(piece > z)
        np.maximum(z, piece, out=z)

    def vjp(g):
        dx = np.empty(x.shape, dtype=g.dtype)
        left = g.copy()
        for k in range(pieces - 1, 0, -1):
            taken = dx[..., k::pieces]
            np.multiply(left, wins[k], out=taken)
            left -= taken
        dx[..., 0::pieces] = left
        return dx

    return Tensor.from_op(z, (a,), (vjp,), "maxout")


def cross_entropy(logits, labels, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) ``logits`` against integer class ``labels`` (N,).

    loss_i = logsumexp(z_i) - z_i[y_i] = -log softmax(z_i)[y_i], computed from the
    shifted logits so that logits of +-1e4 give finite, correct values.
    ``reduction``: "mean" (default) or "sum" over i, or "none" for the (N,) vector.
    NaN or infinite logits raise ``ValueError`` (a NaN loss would silently ruin training).

    VJP: dL/dz_i = g_i * (softmax(z_i) - onehot(y_i)), with g_i = g / N for "mean".
    """
    logits = as_tensor(logits)
    z = logits.data
    _check_reduction(reduction)
    if z.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got {z.shape}")
    labels = _check_labels(labels, z.shape[0], z.shape[1])
    rows = np.arange(z.shape[0])
    shifted = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    losses = log_norm[:, 0] - shifted[rows, labels]
    _check_finite(losses, "cross_entropy")

    def vjp(g):
        dz = np.exp(shifted - log_norm)
        dz[rows, labels] -= 1
        dz *= g / len(z) if reduction == "mean" else g[:, None] if reduction == "none" else g
        return dz

    return Tensor.from_op(_reduce(losses, reduction), (logits,), (vjp,), "cross_entropy")


def binary_cross_entropy_with_logits(logits, targets, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of logits z against targets t in [0, 1], elementwise.

    loss = -t log sigmoid(z) - (1 - t) log(1 - sigmoid(z)) = softplus(z) - t z,
    computed as max(z, 0) - t z + log(1 + exp(-|z|)), which never overflows.
    ``targets`` must have the logits' shape (no silent broadcasting); NaN or infinite
    logits raise ``ValueError``.

    VJP: dL/dz = g * (sigmoid(z) - t).
    """
    logits = as_tensor(logits)
    z = logits.data
    _check_reduction(reduction)
    t = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if t.shape != z.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: targets have shape {t.shape}, logits {z.shape}")
    t = t.astype(z.dtype, copy=False)
    losses = np.maximum(z, 0) - t * z + np.log1p(np.exp(-np.abs(z)))
    _check_finite(losses, "binary_cross_entropy_with_logits")

    def vjp(g):
        dz = special.expit(z) - t
        dz *= g / z.size if reduction == "mean" else g
        return dz

    return Tensor.from_op(_reduce(losses, reduction), (logits,), (vjp,), "binary_cross_entropy_with_logits")


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_labels(labels, n: int, n_classes: int) -> np.ndarray:
    """Integer class indices of shape (n,) in [0, n_classes), or a clear error."""
    labels = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if labels.dtype.kind not in "iu":
        hint = " (one-hot labels? pass labels.argmax(axis=1))" if labels.ndim == 2 else ""
        raise TypeError(f"labels must be integer class indices, got dtype {labels.dtype}, shape {labels.shape}{hint}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match the logits, got {labels.shape}")
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)][0]
        raise ValueError(f"label {bad} is out of range for {n_classes} classes (valid: 0..{n_classes - 1})")
    return labels


def _check_finite(losses: np.ndarray, op: str) -> None:
    """Reject NaN/inf losses, checked on the per-example losses (O(N), not O(N C))."""
    if not np.isfinite(losses).all():
        first = np.unravel_index(np.argmin(np.isfinite(losses)), losses.shape)
        raise ValueError(f"{op}: the logits of example {tuple(map(int, first))} contain NaN or inf")


def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.asarray(losses.mean())
    if reduction == "sum":
        return np.asarray(losses.sum())
    return losses
