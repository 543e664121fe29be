"""Input gradients: what every attack in this package is made of.

``input_gradient`` is the plain gradient of the summed loss with respect to the input,
through :func:`minigrad.grad` (the weights get no gradient, and none is computed).

``attack_direction`` is what FGSM and its relatives actually need: for each example,
*a positive multiple* of that gradient, computed so that it cannot vanish. The sign
(or the L2 direction) of a row does not change when the row is scaled, and the plain
gradient does vanish on confident examples. For softmax cross-entropy,

    dL/dz = p - onehot(y),  and for c != y:  p_c = (1 - p_y) q_c,

where q = softmax of the logits with the true class left out. Since
1 - p_y = sum_{c != y} p_c, the gradient is (1 - p_y) (q - onehot(y)). In float32,
p_y rounds to exactly 1 once the true class wins by a margin of about 17: the plain
gradient loses its true-class term and points the wrong way (FGSM then only raises
the other logits); past a margin of about 100 the other p_c underflow too, the
gradient is exactly 0 and FGSM silently does nothing. At a margin of 200, 1 - p_y is
about 1e-87, beyond even float64. Dropping that positive factor leaves
``q - onehot(y)``: the same direction, rescaled so that its largest entry (the true
class's) is -1, exact at any margin and in float32. For a binary logistic model the
same reasoning gives dL/dz = sigma(z) - t, whose sign is simply 1 - 2t.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg

def input_gradient(model, x, y, loss=None) -> np.ndarray:
    """d(sum_i loss_i) / dx, so row i is d loss_i / d x_i (same shape and dtype as x).

    ``loss(logits, y, reduction=...)`` defaults to the model's own ``.loss``; it is
    called with ``reduction="sum"``. The model runs in its current mode; its parameters
    receive no gradient.
    """
    loss = model.loss if loss is None else loss
    return mg.grad(lambda t: loss(model(t), y, reduction="sum"))(np.asarray(x))


def softmax_direction_loss(logits, y, reduction: str = "sum"):
    """Summed softmax cross-entropy whose gradient is the rescaled, never-vanishing one.

    Value: sum_i CE(z_i, y_i), as ``minigrad.cross_entropy``. VJP with respect to the
    logits: g_i * (q_i - onehot(y_i)), q_i the softmax over the classes other than y_i
    (see the module docstring): a positive multiple of the true gradient.
    """
    _require_sum(reduction)
    value = mg.cross_entropy(logits, y, reduction="sum")
    z = logits.data
    rows = np.arange(len(z))
    others = z.copy()
    others[rows, y] = -np.inf
    q = np.exp(others - others.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    q[rows, y] = -1.0
    return mg.Tensor.from_op(value.data, (logits,), (lambda g: g * q,), "softmax_direction_loss")


def logistic_direction_loss(logits, y, reduction: str = "sum"):
    """Summed binary cross-entropy whose gradient is sign(sigma(z) - t) = 1 - 2t per example."""
    _require_sum(reduction)
    value = mg.binary_cross_entropy_with_logits(logits, y, reduction="sum")
    direction = (1.0 - 2.0 * np.asarray(y, dtype=logits.dtype)).astype(logits.dtype)
    return mg.Tensor.from_op(value.data, (logits,), (lambda g: g * direction,), "logistic_direction_loss")


def attack_direction(model, x, y, *, exact: bool = True, loss=None, train_mode: bool = False) -> np.ndarray:
    """Rows that are positive multiples of d loss_i / d x_i: what FGSM takes the sign of.

    ``exact=True`` (default) uses the model's ``direction_loss``, whose gradient does not
    vanish (module docstring); ``exact=False`` the plain float32 gradient of its ``loss``
    (kept for teaching: compare the two). A custom ``loss`` is used as given.
    The model runs in evaluation mode unless ``train_mode``.
    """
    if loss is None:
        loss = model.direction_loss if exact else model.loss
    x = np.asarray(x)
    with model.evaluating(not train_mode):  # float32 whatever x is: a float64 graph costs twice as much
        return input_gradient(model, x.astype(np.float32, copy=False), y, loss=loss).astype(x.dtype, copy=False)


def _require_sum(reduction):
    if reduction != "sum":
        raise ValueError(f"the attack losses only sum over examples, got reduction={reduction!r}")
