"""Input gradients: what every attack in this package is made of.

``input_gradient`` is the plain gradient of the summed loss with respect to the input,
through :func:`minigrad.grad` (the weights get no gradient, and none is computed).

``attack_direction`` is what FGSM and its relatives actually need: for each example,
*a positive multiple* of that gradient, computed so that it cannot vanish. It
differentiates the model's ``direction_loss`` (``minigrad.softmax_direction_loss`` for
a softmax classifier; :mod:`minigrad.ops.nn` derives why the plain float32 gradient
vanishes on confident examples and what the direction loss rescales it to).
"""

from __future__ import annotations

import numpy as np

import minigrad as mg

from .checks import array_of


def input_gradient(model, x, y, loss=None) -> np.ndarray:
    """d(sum_i loss_i) / dx, so row i is d loss_i / d x_i (same shape and dtype as x).

    ``loss(logits, y, reduction=...)`` defaults to the model's own ``.loss``; it is
    called with ``reduction="sum"``. The model runs in its current mode; its parameters
    receive no gradient. ``x`` may be a Tensor: the gradient is at its values.
    """
    check_differentiable(model)
    loss = model.loss if loss is None else loss
    return mg.grad(lambda t: loss(model(t), y, reduction="sum"))(array_of(x))


def check_differentiable(model) -> None:
    """A TypeError for a model without a gradient (``differentiable = False``, such as
    ``models.KNearestNeighbors``), saying how such a model is attacked instead."""
    if not getattr(model, "differentiable", True):
        own = getattr(model, "own_attack", None)
        raise TypeError(
            f"{type(model).__name__} is not differentiable (its output is a step function of the input), "
            "so a gradient attack cannot run on it; attack it by transfer (craft the examples on a differentiable "
            "model and give them to this one: attacks.transfer_matrix), by the black-box attack (a substitute "
            "trained on its labels: attacks.blackbox.train_substitute)" + (f", or with its own attack, {own}" if own else ""))


def attack_direction(model, x, y, *, exact: bool = True, loss=None, train_mode: bool = False) -> np.ndarray:
    """Rows that are positive multiples of d loss_i / d x_i: what FGSM takes the sign of.

    ``exact=True`` (default) uses the model's ``direction_loss``, whose gradient does not
    vanish (:mod:`minigrad.ops.nn` derives it); ``exact=False`` the plain float32 gradient of its ``loss``
    (kept for teaching: compare the two). A custom ``loss`` is used as given.
    The model runs in evaluation mode unless ``train_mode``.
    """
    if loss is None:
        loss = model.direction_loss if exact else model.loss
    x = array_of(x)
    with model.evaluating(not train_mode):  # the model computes in float32: x goes in as float32, whatever its dtype
        return input_gradient(model, x.astype(np.float32, copy=False), y, loss=loss).astype(x.dtype, copy=False)
