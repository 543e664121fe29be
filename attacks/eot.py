"""Expectation over transformation (Athalye, Engstrom, Ilyas & Kwok 2018): examples that survive the camera on purpose.

An adversarial example made for the image as it is may not survive what a camera does
to it (:mod:`attacks.camera`). EOT attacks the expected loss over the transformations
instead, E_t[L(model(t(x')), y)], with t drawn from the camera's distribution. Its
gradient is the expected gradient, which ``samples`` fresh draws estimate at every step:

    g = (1 / S) sum_s d L(model(t_s(x')), y) / dx'.

The gradient passes through each differentiable transformation by the chain rule, and
straight through JPEG (BPDA). The loss is the softmax cross-entropy itself, so that the
mean over draws is the gradient of the mean loss (the attacks' never-vanishing
direction rescales each example's gradient by its own factor, which would weight the
draws unequally).
"""

from __future__ import annotations

import numpy as np
import scipy.special

import minigrad as mg
from minigrad.validation import integer_at_least

from .methods import _clip, _prepare
from .checks import check_inputs, labels_for, real_number


def eot_gradient(model, x, y, transform, samples: int, *, exact: bool = False) -> np.ndarray:
    """d/dx of (1 / S) sum_s sum_i L(model(t_s(x_i)), y_i), S = ``samples`` fresh draws of ``transform``, L the
    softmax cross-entropy.

    The draws are made in one call: ``transform`` receives the S copies of x stacked,
    (S N, ...) rows, and draws per row. The model runs in evaluation mode.

    ``exact=True`` returns, per example, a positive multiple of that gradient which float32
    cannot round to 0 (:func:`expected_direction_loss`): what an attack takes the sign of.
    """
    samples = integer_at_least(samples, 1, "eot_gradient: samples")
    y_stacked = np.tile(y, samples)
    loss = expected_direction_loss(samples) if exact else mg.cross_entropy

    def mean_loss(t):
        logits = model(transform(mg.concatenate([t] * samples)))
        return loss(logits, y_stacked, reduction="sum") * (1.0 / samples)

    with model.evaluating():
        return mg.grad(mean_loss)(x)


def expected_direction_loss(samples: int):
    """The loss of S stacked draws (row s N + i is draw s of example i) whose gradient, per example, is the mean
    over draws of the cross-entropy's gradient times a positive factor that keeps it from vanishing.

    The cross-entropy's gradient with respect to the logits is p - onehot(y) = (1 - p_y)(q - onehot(y)),
    q the softmax over the other classes (:func:`minigrad.softmax_direction_loss`). Where the
    model is sure, 1 - p_y rounds to 0 in float32 and so does the gradient. Here each draw's
    ``q - onehot(y)`` is weighted by its 1 - p_y divided by the largest 1 - p_y among the
    example's draws, computed from log(1 - p_y) = logsumexp of the other logits - logsumexp
    of all (in float64): the weights are the true ones up to that factor, and the largest
    is 1. With one draw it is the attacks' ``softmax_direction_loss``.
    """
    def loss(logits, labels, reduction="sum"):
        z = logits.data.astype(np.float64)
        rows = np.arange(len(z))
        others = z.copy()
        others[rows, labels] = -np.inf
        log_others, log_all = scipy.special.logsumexp(others, axis=1), scipy.special.logsumexp(z, axis=1)
        log_weight = (log_others - log_all).reshape(samples, -1)  # log(1 - p_y), draw by example
        weight = np.exp(log_weight - log_weight.max(axis=0)).reshape(-1, 1)
        q = np.exp(others - log_others[:, None])
        q[rows, labels] = -1.0
        direction = (q * weight).astype(logits.data.dtype)
        value = np.asarray((log_all - z[rows, labels]).sum(), logits.data.dtype)
        return mg.Tensor.from_op(value, (logits,), (lambda g: g * direction,), "expected_direction_loss")

    return loss


def eot_pgd(model, x, y, eps, transform, samples: int = 10, steps: int = 40, step_size: float = 0.01, *,
            clip=(0.0, 1.0)) -> np.ndarray:
    """PGD in L-infinity on the expected loss over ``transform`` (see the module docstring).

    From x (no random start), ``steps`` times: x' <- x' + step_size sign(g) with g the
    :func:`eot_gradient` of ``samples`` fresh draws, then back into the eps-ball around x
    and the valid range. ``y`` None: the model's clean predictions.

    The sign is taken of the expected gradient computed so that float32 cannot round it
    to 0 where the model is sure (:func:`expected_direction_loss`): with one draw and no
    transformation, the steps are plain PGD's.
    """
    x, y, eps = _prepare(model, x, y, eps, clip, False, "eot_pgd")
    steps = integer_at_least(steps, 0, "eot_pgd: steps")
    step_size = real_number(step_size, "eot_pgd: step_size")
    if not 0 <= step_size < np.inf:
        raise ValueError(f"eot_pgd: step_size must be finite and >= 0, got {step_size}")
    low, high = x - eps, x + eps
    x_adv = x.copy()
    for _ in range(steps):
        x_adv += np.float32(step_size) * np.sign(eot_gradient(model, x_adv, y, transform, samples, exact=True))
        np.clip(x_adv, low, high, out=x_adv)
        _clip(x_adv, clip)
    return x_adv


def adversariality(model, x_adv, y, transform, draws: int = 100) -> float:
    """Athalye et al.'s measure: the fraction of ``draws`` fresh random transformations under which an example
    is still misclassified, averaged over the examples (``transform`` is called ``draws`` times, on every row)."""
    x_adv = check_inputs(model, x_adv, (0.0, 1.0), "adversariality")
    y = labels_for(model, y, len(x_adv), required=True, what="adversariality: y")
    draws = integer_at_least(draws, 1, "adversariality: draws")
    still = np.zeros(len(x_adv))
    for _ in range(draws):
        still += model.predict(transform(x_adv)) != y
    return float(np.mean(still / draws)) if len(x_adv) else float("nan")
