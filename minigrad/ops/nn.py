"""Neural-network ops: softmax, log-softmax, maxout, the fused, stable losses, and the attack losses.

These could be composed from the elementwise ops, but each is written as one op
because its fused VJP is both simpler and numerically safer: softmax cross-entropy's
gradient is simply ``softmax(z) - onehot(y)``, which never divides by a probability
that underflowed to zero.

The *direction losses* (``softmax_direction_loss``, ``logistic_direction_loss``) are
what attacks differentiate. An attack such as FGSM needs, for each example, only *a
positive multiple* of the loss gradient: the sign (or the L2 direction) of a row does
not change when the row is scaled. The plain gradient, however, vanishes on
confident examples. For softmax cross-entropy,

    dL/dz = p - onehot(y),  and for c != y:  p_c = (1 - p_y) q_c,

where q = softmax of the logits with the true class left out. Since
1 - p_y = sum_{c != y} p_c, the gradient is (1 - p_y) (q - onehot(y)). In float32,
p_y rounds to exactly 1 once the true class wins by a large enough margin: the
gradient then loses its true-class term, and once the other p_c underflow as well
it is exactly 0 and FGSM silently does nothing. float64 only moves these points
further out (``1 - p_y`` next to 1 is what it loses first). Dropping the positive
factor 1 - p_y leaves ``q - onehot(y)``: the same direction, in which the true class's
entry is -1 and the others are the q_c (they sum to 1), exact at any margin and in
float32. For a binary logistic model the same reasoning gives dL/dz = sigma(z) - t,
a positive multiple of its sign 1 - 2t.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_index
from scipy import special

from ..engine import is_grad_enabled
from ..labels import check_labels
from ..tensor import Tensor, as_float_tensor, as_tensor, values_of
from ..validation import integer_at_least
from .reduce import _logsumexp_keepdims

REDUCTIONS = ("mean", "sum", "none")


def softmax(a, axis=-1) -> Tensor:
    """p = exp(a - max a) / sum(exp(a - max a)) along ``axis``.

    VJP: dL/da = p * (g - sum(g * p)), the Jacobian diag(p) - p p^T applied to g.
    """
    a = as_float_tensor(a)
    e = np.exp(a.data - a.data.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)

    def vjp(g):
        return p * (g - (g * p).sum(axis=axis, keepdims=True))

    return Tensor.from_op(p, (a,), (vjp,), "softmax")


def log_softmax(a, axis=-1) -> Tensor:
    """z = a - logsumexp(a) along ``axis`` (never log(softmax(a)), which underflows).

    VJP: dL/da = g - softmax(a) * sum(g), with softmax(a) = exp(z).
    """
    a = as_float_tensor(a)
    x = a.data
    z = x - _logsumexp_keepdims(x, (normalize_axis_index(axis, x.ndim),))

    def vjp(g):
        return g - np.exp(z) * g.sum(axis=axis, keepdims=True)

    return Tensor.from_op(z, (a,), (vjp,), "log_softmax")


def first_maximum(pieces: list, record: bool):
    """The elementwise maximum of equally shaped arrays, and where each one won.

    Returns ``(z, wins)``: ``z`` a new array, and ``wins[k]`` (for k >= 1; ``wins[0]`` is
    None) the mask of where ``pieces[k]`` beat every earlier piece, strictly, so a tie
    stays with the earlier one. The overall winner of an element is the *last* piece
    that won there, or piece 0. ``z`` starts as a copy of piece 0 and takes the maximum
    with each later piece in turn (a loop over the few pieces, never over elements);
    the masks are made only when ``record`` (a graph is recorded). Shared by ``maxout``
    and ``max_pool2d``, so both break ties the same way.
    """
    z = np.copy(pieces[0])
    wins = [None]
    for candidate in pieces[1:]:
        if record:
            wins.append(candidate > z)
        np.maximum(z, candidate, out=z)
    return z, wins


def maxout(a, pieces: int, axis: int = -1) -> Tensor:
    """Maxout: the maximum over each group of ``pieces`` consecutive entries along ``axis`` (the last by default).

    z[..., u] = max_k a[..., u * pieces + k] along ``axis``, which is
    ``a.reshape(..., units, pieces).max(-1)`` for the last axis: the grouping of the
    maxout paper's code. On conv feature maps (N, C, H, W), ``axis=1`` takes the
    maximum over groups of ``pieces`` channels (a conv maxout layer). On an array of
    shape (N, pieces, units), ``axis=1`` is one group of ``pieces`` entries, and z of
    shape (N, 1, units) is the maximum over the pieces (``models.Maxout`` shapes its
    affine map's output so). VJP: g[..., u] goes to the winning piece of unit u, the
    first one when pieces tie, and 0 to the others.

    The algorithm: piece k of every group is the strided view ``a[..., k::pieces]``
    (along ``axis``), and a running maximum over the pieces gives z and, for each piece,
    where it beat every earlier piece (:func:`first_maximum`). The winner is the *last*
    piece that won, so the VJP hands g out from the last piece down: piece k takes what
    is left of g where it won, and the rest goes on to the pieces below; piece 0 takes
    what is left at the end. The masks are made only when the graph is recorded: under
    ``no_grad`` (prediction, validation) no VJP will use them.
    """
    a = as_tensor(a)
    x = a.data
    integer_at_least(pieces, 1, "maxout: pieces")
    if x.ndim == 0:
        raise ValueError("maxout: needs at least one axis, got a 0-d array")
    axis = normalize_axis_index(axis, x.ndim)
    if x.shape[axis] % pieces:
        raise ValueError(f"maxout: axis {axis} (of length {x.shape[axis]}) must be a multiple of pieces={pieces}")
    before = (slice(None),) * axis

    def piece(k):  # piece k of every group along the axis: a strided view
        return before + (slice(k, None, pieces),)

    z, wins = first_maximum([x[piece(k)] for k in range(pieces)], record=a.requires_grad and is_grad_enabled())

    def vjp(g):
        dx = np.empty_like(x, dtype=g.dtype)  # every piece of it is written below
        left = g  # the part of g that no later piece has taken; g itself is read-only
        for k in range(pieces - 1, 0, -1):
            taken = dx[piece(k)]
            np.multiply(left, wins[k], out=taken)  # piece k takes what is left where it won
            if k == 1:
                np.subtract(left, taken, out=dx[piece(0)])  # piece 0 takes the rest
            elif left is g:
                left = g - taken
            else:
                left -= taken
        if pieces == 1:
            dx[piece(0)] = g
        return dx

    return Tensor.from_op(z, (a,), (vjp,), "maxout")


def cross_entropy(logits, labels, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) ``logits`` against integer class ``labels`` (N,).

    loss_i = logsumexp(z_i) - z_i[y_i] = -log softmax(z_i)[y_i], computed from the
    shifted logits so that logits of +-1e4 give finite, correct values.
    ``reduction``: "mean" (default) or "sum" over i, or "none" for the (N,) vector.
    NaN or infinite logits raise ``ValueError`` (a NaN loss would silently ruin training),
    and so does the mean over an empty batch.

    VJP: dL/dz_i = g_i * (softmax(z_i) - onehot(y_i)), with g_i = g / N for "mean".
    """
    logits = as_float_tensor(logits)
    check_reduction(reduction)
    z = logits.data
    labels, rows, shifted, log_norm, losses = _softmax_cross_entropy(z, labels, "cross_entropy")

    def vjp(g):
        dz = np.exp(shifted - log_norm)
        dz[rows, labels] -= 1
        dz *= g / len(z) if reduction == "mean" else g[:, None] if reduction == "none" else g
        return dz

    return Tensor.from_op(reduce_losses(losses, reduction, "cross_entropy"), (logits,), (vjp,), "cross_entropy")


def _softmax_cross_entropy(z: np.ndarray, labels, op: str):
    """Checked labels, row indices, shifted logits z - max z, log of their normaliser, per-row losses."""
    if z.ndim != 2:
        raise ValueError(f"{op}: logits must have shape (N, C), got {z.shape}")
    labels = check_labels(labels, z.shape[0], z.shape[1])
    rows = np.arange(z.shape[0])
    shifted = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    losses = log_norm[:, 0] - shifted[rows, labels]
    _check_finite(losses, op, z)
    return labels, rows, shifted, log_norm, losses


def softmax_direction_loss(logits, labels, reduction: str = "sum") -> Tensor:
    """Summed softmax cross-entropy whose gradient is the rescaled one that never vanishes.

    Value: sum_i CE(z_i, y_i), as :func:`cross_entropy` with ``reduction="sum"`` (the
    only reduction: an attack treats every example on its own). VJP:
    dL/dz_i = g * (q_i - onehot(y_i)), q_i the softmax over the classes other than y_i:
    the true gradient divided by 1 - p_y (see the module docstring).
    """
    logits = as_float_tensor(logits)
    _require_sum(reduction, "softmax_direction_loss")
    z = logits.data
    labels, rows, _, _, losses = _softmax_cross_entropy(z, labels, "softmax_direction_loss")
    others = z.copy()  # shifted by its own maximum below: the true class's logit may be the largest
    others[rows, labels] = -np.inf
    q = np.exp(others - others.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    q[rows, labels] = -1.0
    return Tensor.from_op(np.asarray(losses.sum()), (logits,), (lambda g: g * q,), "softmax_direction_loss")


def logistic_direction_loss(logits, targets, reduction: str = "sum") -> Tensor:
    """Summed binary cross-entropy whose gradient is its sign: VJP dL/dz_i = g * (1 - 2 t_i).

    Value: as :func:`binary_cross_entropy_with_logits` with ``reduction="sum"``. The true
    gradient sigma(z) - t is a positive multiple of 1 - 2t for targets t in {0, 1}, and
    it is exactly 0 in float32 once |z| is large: 1 - 2t never is.
    """
    logits = as_float_tensor(logits)
    _require_sum(reduction, "logistic_direction_loss")
    t, losses = _binary_cross_entropy(logits.data, targets, "logistic_direction_loss")
    if t.size and not np.isin(t, (0, 1)).all():
        raise ValueError("logistic_direction_loss: targets must be 0 or 1 (for a soft target t, sign(sigma(z) - t) is not 1 - 2t)")
    direction = 1.0 - 2.0 * t
    return Tensor.from_op(np.asarray(losses.sum()), (logits,), (lambda g: g * direction,), "logistic_direction_loss")


def _require_sum(reduction, op: str):
    if reduction != "sum":
        raise ValueError(f"{op}: an attack loss only sums over examples, got reduction={reduction!r}")


def binary_cross_entropy_with_logits(logits, targets, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of logits z against targets t in [0, 1], elementwise.

    loss = -t log sigmoid(z) - (1 - t) log(1 - sigmoid(z)) = softplus(z) - t z,
    computed as max(z, 0) - t z + log(1 + exp(-|z|)), which never overflows.
    ``targets`` must have the logits' shape (no silent broadcasting); NaN or infinite
    logits raise ``ValueError``, and so does the mean over no elements.

    VJP: dL/dz = g * (sigmoid(z) - t).
    """
    op = "binary_cross_entropy_with_logits"
    logits = as_float_tensor(logits)
    z = logits.data
    check_reduction(reduction)
    t, losses = _binary_cross_entropy(z, targets, op)

    def vjp(g):
        dz = special.expit(z) - t
        dz *= g / z.size if reduction == "mean" else g
        return dz

    return Tensor.from_op(reduce_losses(losses, reduction, op), (logits,), (vjp,), op)


def _binary_cross_entropy(z: np.ndarray, targets, op: str):
    """Targets (checked in [0, 1]) as z's dtype, and the per-element losses softplus(z) - t z (checked finite)."""
    t = np.asarray(values_of(targets))
    if t.shape != z.shape:
        raise ValueError(f"{op}: targets have shape {t.shape}, logits {z.shape}")
    if t.size and not (np.all(t >= 0) and np.all(t <= 1)):  # NaN fails both
        raise ValueError(f"{op}: targets must lie in [0, 1] (probabilities of class 1)")
    t = t.astype(z.dtype, copy=False)
    losses = np.maximum(z, 0) - t * z + np.log1p(np.exp(-np.abs(z)))
    _check_finite(losses, op, z)
    return t, losses


def check_reduction(reduction: str) -> str:
    """``reduction`` if it is one of "mean", "sum", "none"; otherwise a ValueError naming them."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def reduce_losses(losses, reduction: str, op: str = "reduce_losses"):
    """Per-example losses (a Tensor or an ndarray) reduced by "mean", "sum" or "none".

    The mean of no losses is refused, naming ``op`` (the loss): NumPy would return NaN
    with only a warning, which then spoils training silently. Their sum is 0.
    """
    check_reduction(reduction)
    if reduction == "mean" and not losses.size:
        raise ValueError(f"{op}: the batch is empty (losses of shape {losses.shape}), and a mean over no "
                         "examples has no value; reduction='sum' gives 0")
    if reduction == "none":
        return losses
    if isinstance(losses, Tensor):
        return losses.mean() if reduction == "mean" else losses.sum()
    return np.asarray(losses.mean() if reduction == "mean" else losses.sum())


def _check_finite(losses: np.ndarray, op: str, logits: np.ndarray) -> None:
    """Reject NaN/inf losses, checked on the per-example losses (O(N), not O(N C)), naming the cause.

    Only when a loss is not finite are the logits looked at: NaN or inf among them (from
    NaN weights or inputs, usually), or finite logits so far apart that the loss overflows.
    """
    if np.isfinite(losses).all():
        return
    first = np.unravel_index(np.argmin(np.isfinite(losses)), losses.shape)
    where = tuple(map(int, first))
    row = logits[first[0]] if logits.ndim == 2 and losses.ndim == 1 else logits[first]
    if not np.isfinite(row).all():
        raise ValueError(f"{op}: the logits of example {where} contain NaN or inf (NaN weights or inputs?)")
    raise ValueError(f"{op}: the loss of example {where} overflows {logits.dtype}: its logits reach "
                     f"{float(np.max(np.abs(row))):.3g} (a diverged model?)")
