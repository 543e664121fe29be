"""APGD-CE (Croce & Hein 2020): PGD that chooses its own step size, AutoAttack's first attack.

Plain PGD needs a step size, and a robustness number that depends on a hand-tuned step
is not worth much: too large and the iterates bounce across the eps-ball, too small
and they never reach its corners. APGD starts with a large step (2 eps), adds momentum,
and halves the step, per example, at fixed checkpoints whenever progress has stalled:

    z        = P(x_k + eta * sign(grad L(x_k)))
    x_{k+1}  = P(x_k + alpha (z - x_k) + (1 - alpha) (x_k - x_{k-1}))     (x_1 = z)

with ``P`` the projection onto the eps-ball (and the valid range) and ``alpha = 0.75``.
At each checkpoint ``w_j`` the step of an example is halved, and its iterate sent back
to the best point found so far, when

1. the loss went up in fewer than ``rho`` (0.75) of the steps since the last
   checkpoint (the step is too large to make progress), or
2. the step was not halved at the last checkpoint and the best loss has not improved
   since then (stuck).

The checkpoints come closer together as the run goes: the first at 22% of the
iterations, then each interval 3% shorter than the one before, but at least 6%.

The loss whose values are watched is the model's own (softmax cross-entropy, hence
"-CE"); the steps follow the sign of the never-vanishing direction of
:func:`attacks.attack_direction`. Each example ends at its first iterate that the
model misclassified, if there was one, else at its best-loss iterate.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.validation import is_integer

from .checks import real_number
from .methods import _clip, _prepare


def checkpoints(iterations: int) -> list:
    """The iterations at which APGD may halve a step: 22% in, then intervals 3% shorter each time (at least 6%)."""
    first, shrink, shortest = max(int(0.22 * iterations), 1), max(int(0.03 * iterations), 1), max(int(0.06 * iterations), 1)
    points, length = [first], first
    while points[-1] < iterations:
        length = max(length - shrink, shortest)
        points.append(points[-1] + length)
    return [p for p in points if p < iterations]


def apgd_ce(model, x, y=None, eps=0.25, iterations=100, *, rho=0.75, momentum=0.75, random_start=False, seed=None,
            clip=(0.0, 1.0), train_mode=False):
    """APGD with the model's loss (cross-entropy for a softmax), untargeted: see the module docstring.

    ``iterations`` gradient steps (AutoAttack uses 100); ``random_start`` starts at a
    uniform point of the eps-ball (drawn from ``seed``) instead of at x. Returns the
    adversarial examples, as :func:`attacks.pgd` does.
    """
    x, y, eps = _prepare(model, x, y, eps, clip, targeted=False, function="apgd_ce")
    if not is_integer(iterations) or iterations < 1:
        raise ValueError(f"apgd_ce: iterations must be an integer >= 1, got {iterations!r}")
    rho, momentum = real_number(rho, "apgd_ce: rho"), real_number(momentum, "apgd_ce: momentum")
    if not (0 < rho <= 1 and 0 < momentum <= 1):
        raise ValueError(f"apgd_ce: rho and momentum must be in (0, 1], got {rho} and {momentum}")
    column = (-1,) + (1,) * (x.ndim - 1)  # one number per example, broadcast over its features
    radius = np.broadcast_to(np.asarray(eps, dtype=x.dtype).reshape(column), (len(x),) + (1,) * (x.ndim - 1))
    low, high = x - radius, x + radius

    def project(z):
        np.clip(z, low, high, out=z)
        return _clip(z, clip)

    def evaluate(z):
        """(the loss of each example, the sign of its gradient, whether the model gets it wrong) at z."""
        seen = {}

        def direction_loss(t):
            logits = model(t)
            seen["logits"] = logits.data
            return model.direction_loss(logits, y)

        with model.evaluating(not train_mode):
            direction = mg.grad(direction_loss)(z)
        logits = seen["logits"]
        losses = model.loss(mg.Tensor(logits), y, reduction="none").data.astype(np.float64)
        wrong = model.class_scores(logits).argmax(axis=1) != y
        return losses, np.sign(direction), wrong

    current = x.copy()
    if random_start:
        current += radius * np.random.default_rng(seed).uniform(-1.0, 1.0, size=x.shape).astype(x.dtype)
        project(current)
    loss, sign, wrong = evaluate(current)
    best, best_loss, best_sign = current.copy(), loss.copy(), sign.copy()
    fooled, ever = current.copy(), wrong.copy()
    step = 2 * radius  # a new array, one step size per example
    previous = current.copy()
    rises = np.zeros(len(x))
    halved_last, best_at_last, last = np.zeros(len(x), bool), best_loss.copy(), 0
    marks = set(checkpoints(iterations))
    for k in range(iterations):
        z = project(current + step * sign)
        following = z if k == 0 else project(current + momentum * (z - current) + (1 - momentum) * (current - previous))
        new_loss, new_sign, new_wrong = evaluate(following)
        rises += new_loss > loss
        first_time = new_wrong & ~ever
        fooled[first_time], ever = following[first_time], ever | new_wrong
        better = new_loss > best_loss
        best[better], best_loss[better], best_sign[better] = following[better], new_loss[better], new_sign[better]
        previous, current, loss, sign = current, following, new_loss, new_sign
        if k + 1 in marks:
            stalled = rises < rho * (k + 1 - last)
            stuck = ~halved_last & (best_loss <= best_at_last)
            halve = stalled | stuck
            step[halve] /= 2
            current[halve], previous[halve], sign[halve], loss[halve] = best[halve], best[halve], best_sign[halve], best_loss[halve]
            halved_last, best_at_last, rises, last = halve, best_loss.copy(), np.zeros(len(x)), k + 1
    return np.where(ever.reshape(column), fooled, best)
