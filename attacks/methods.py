"""The attacks: one gradient step (FGSM, FGM), iterated steps (BIM, PGD), and the noise baseline.

All of them take a batch ``x`` of shape (N, n_features) in the input space the model
sees (MNIST pixels in [0, 1]; preprocessing belongs inside the model), never modify
it, and return a new array of its shape and dtype, within eps of x in L-infinity to
float32 rounding (a few units in the last place of |x| + eps: x + eps is rounded; x in
float16, whose rounding is coarser, is refused). ``clip=(low, high)`` is the valid
input range the result is clipped to (``clip=None``: no clipping, as in the paper);
``x`` itself must lie inside it. Labels are integer class indices; ``y=None`` in an
untargeted attack uses the model's own predictions instead of the true labels, so
the attack cannot exploit "label leaking" (Kurakin et al. 2017). The model runs in
evaluation mode (dropout off) unless ``train_mode=True``, and gets its mode back.
"""

from __future__ import annotations

import numpy as np

import models
from minigrad.validation import is_integer

from .checks import check_eps, check_inputs, labels_for, real_number
from .gradients import attack_direction, check_differentiable


#: The short PGD that adversarial training and ``advex attack`` use by default: 10 steps
#: of eps / 4 (2.5 eps of travel, more than the ball's diameter of 2 eps; ``pgd``'s own defaults,
#: 40 steps of 0.01, are the stronger evaluation of Madry et al. on MNIST).
SHORT_PGD_STEPS = 10
SHORT_PGD_STEP_FRACTION = 0.25


def _prepare(model, x, y, eps, clip, targeted, function):
    """The checked x, labels (the predictions when y is None and the attack is untargeted) and eps of
    the attack named ``function``; a model without a gradient is refused first."""
    check_differentiable(model)
    x = check_inputs(model, x, clip, function)
    eps = check_eps(eps, len(x), x.dtype, function)
    y = labels_for(model, y, len(x), required=targeted, what="y (the target class of each example)" if targeted else "y")
    if y is None:
        y = model.predict(x)
    return x, y, eps


def _clip(x_adv, clip):
    return x_adv if clip is None else np.clip(x_adv, clip[0], clip[1], out=x_adv)


def fgsm(model, x, y=None, eps=0.25, *, targeted=False, clip=(0.0, 1.0), loss=None, train_mode=False, exact=True):
    """The fast gradient sign method (Goodfellow, Shlens & Szegedy 2014).

        untargeted:  x_adv = clip(x + eps * sign(grad_x L(x, y)))         (raise the loss of y)
        targeted:    x_adv = clip(x - eps * sign(grad_x L(x, y_target)))  (lower the loss of the target)

    It is the exact maximiser of the linearised loss over the L-infinity ball of
    radius eps: each pixel moves by eps in the direction that increases the loss.
    ``eps`` is a scalar or one value per example; ``eps=0`` returns a copy of x.
    ``exact=False`` uses the plain float32 gradient, which loses the true class's term,
    and then vanishes, as the softmax saturates (a teaching option: see :mod:`minigrad.ops.nn`).
    """
    x, y, eps = _prepare(model, x, y, eps, clip, targeted, "fgsm")
    if not eps.any():
        return x.copy()
    direction = np.sign(attack_direction(model, x, y, exact=exact, loss=loss, train_mode=train_mode))
    step = -eps if targeted else eps
    return _clip(x + step * direction, clip)


def fgm(model, x, y=None, eps=1.0, *, targeted=False, clip=(0.0, 1.0), loss=None, train_mode=False):
    """The fast gradient method in L2: x_adv = clip(x + eps * g / ||g||_2), g = grad_x L (per example).

    The maximiser of the linearised loss over the L2 ball of radius eps. A row whose
    gradient is exactly 0 is left unchanged.
    """
    x, y, eps = _prepare(model, x, y, eps, clip, targeted, "fgm")
    g = attack_direction(model, x, y, loss=loss, train_mode=train_mode)
    norms = np.linalg.norm(g, axis=1, keepdims=True)
    unit = np.divide(g, norms, out=np.zeros_like(g), where=norms > 0)
    return _clip(x + (-eps if targeted else eps) * unit, clip)


def pgd(model, x, y=None, eps=0.25, step_size=0.01, steps=40, *, random_start=True, seed=None, targeted=False,
        clip=(0.0, 1.0), loss=None, train_mode=False, restarts=1):
    """Projected gradient descent in L-infinity (Madry et al. 2018): iterated FGSM.

    Start at x (or, with ``random_start``, at x plus uniform noise in [-eps, eps]), then
    ``steps`` times:

        step:     x_k <- x_k + step_size * sign(grad L(x_k))    (minus, if targeted)
        project:  x_k <- x + clip(x_k - x, -eps, eps)           (back into the eps-ball)
        clip:     x_k <- clip(x_k, valid range)

    The labels are fixed once, from ``y`` or the clean predictions. With one step,
    ``step_size = eps`` and no random start it is exactly FGSM.

    ``restarts`` > 1 runs that many random starts (drawn from one generator seeded by
    ``seed``) and keeps, for each example, its worst case: the restart with the largest
    :func:`margin` (positive once the example is misclassified, or, if targeted, has
    reached its target). A restart attacks only the examples no earlier one broke, and
    the attack stops once every example is broken.
    """
    x, y, eps = _prepare(model, x, y, eps, clip, targeted, "pgd")
    if not is_integer(steps) or steps < 0 or not 0 <= real_number(step_size, "pgd: step_size") < np.inf:
        raise ValueError(f"pgd: need an integer steps >= 0 and a finite step_size >= 0, got {steps!r} and {step_size}")
    if not is_integer(restarts) or restarts < 1:
        raise ValueError(f"pgd: restarts must be an integer >= 1, got {restarts!r}")
    if restarts > 1 and not random_start:
        raise ValueError("pgd: restarts without a random start would repeat the same attack: pass random_start=True")
    rng = np.random.default_rng(seed)
    best = _pgd_run(model, x, y, eps, step_size, steps, rng, random_start=random_start, targeted=targeted, clip=clip,
                    loss=loss, train_mode=train_mode)  # the first start attacks every example
    if restarts == 1:
        return best
    best_margin = margin(model, best, y, targeted=targeted)
    for _ in range(restarts - 1):
        todo = np.flatnonzero(best_margin <= 0)  # the examples no start has broken yet
        if not len(todo):
            break
        x_adv = _pgd_run(model, x[todo], y[todo], eps[todo] if eps.ndim else eps, step_size, steps, rng,
                         random_start=random_start, targeted=targeted, clip=clip, loss=loss, train_mode=train_mode)
        found = margin(model, x_adv, y[todo], targeted=targeted)
        better = found > best_margin[todo]
        best[todo[better]], best_margin[todo[better]] = x_adv[better], found[better]
    return best


def _pgd_run(model, x, y, eps, step_size, steps, rng, *, random_start, targeted, clip, loss, train_mode):
    """One PGD run from one start (see :func:`pgd`) on checked inputs."""
    x_adv = x.copy()
    if random_start:
        x_adv += eps * rng.uniform(-1.0, 1.0, size=x.shape).astype(x.dtype)
        _clip(x_adv, clip)
    step = np.asarray(-step_size if targeted else step_size, dtype=x.dtype)
    low, high = x - eps, x + eps  # the eps-ball, computed once for all steps
    for _ in range(steps):
        x_adv += step * np.sign(attack_direction(model, x_adv, y, loss=loss, train_mode=train_mode))
        np.clip(x_adv, low, high, out=x_adv)
        _clip(x_adv, clip)
    return x_adv


def fgsm_random_start(model, x, y=None, eps=0.3, step_size=0.375, *, random_start=True, seed=None, clip=(0.0, 1.0),
                      train_mode=False):
    """FGSM from a random start (Wong, Rice & Kolter 2020): the attack of fast adversarial training.

        delta = uniform in [-eps, eps]                     (0 without ``random_start``)
        delta = clip(delta + step_size * sign(grad L(x + delta)), -eps, eps)
        x_adv = clip(x + delta, valid range)

    As in their code, the gradient is taken at x + delta *before* it is clipped to the
    valid range: on MNIST, whose background pixels sit at 0, clipping the start first
    would undo half of it on most pixels, and the training overfits catastrophically
    (``docs/measurements.md``). Without the random start and with ``step_size >= eps``
    it is plain FGSM.
    """
    x, y, eps = _prepare(model, x, y, eps, clip, targeted=False, function="fgsm_random_start")
    if not 0 <= real_number(step_size, "fgsm_random_start: step_size") < np.inf:
        raise ValueError(f"fgsm_random_start: step_size must be finite and >= 0, got {step_size}")
    delta = np.zeros_like(x)
    if random_start:
        delta += eps * np.random.default_rng(seed).uniform(-1.0, 1.0, size=x.shape).astype(x.dtype)
    delta += np.asarray(step_size, dtype=x.dtype) * np.sign(attack_direction(model, x + delta, y, train_mode=train_mode))
    np.clip(delta, -eps, eps, out=delta)
    return _clip(x + delta, clip)


def margin(model, x, y, *, targeted: bool = False) -> np.ndarray:
    """How far each example is past the decision boundary, in the model's class scores.

    Untargeted: the best wrong class's score minus the true class's (y); targeted: the
    target's score minus the best other class's. Positive means the attack succeeded on
    that example. A multi-restart attack keeps, per example, the restart with the
    largest margin.
    """
    scores = model.class_scores(model.logits_of(x, what="margin")).astype(np.float64)
    each = np.arange(len(scores))
    chosen = scores[each, y]
    scores[each, y] = -np.inf
    best_other = scores.max(axis=1)
    return chosen - best_other if targeted else best_other - chosen


def bim(model, x, y=None, eps=0.25, step_size=0.01, steps=40, **kwargs):
    """The basic iterative method (Kurakin et al. 2017): :func:`pgd` without the random start."""
    if "random_start" in kwargs:
        raise TypeError("bim is pgd without a random start: call attacks.pgd(..., random_start=True) for one")
    return pgd(model, x, y, eps, step_size, steps, random_start=False, **kwargs)


def least_likely_class(model, x) -> np.ndarray:
    """The class each example is *least* likely to be: the hardest target for a targeted attack.

    ``fgsm(model, x, least_likely_class(model, x), targeted=True)`` is the "step l.l."
    attack of Kurakin et al.
    """
    return model.class_scores(model.logits_of(x, what="least_likely_class")).argmin(axis=1).astype(np.int64)


def random_sign_noise(x, eps, *, clip=(0.0, 1.0), seed=None) -> np.ndarray:
    """The baseline: x + eps * s with s a random sign per pixel, clipped like FGSM.

    The same L-infinity size as FGSM's perturbation, but in a random direction: the
    comparison shows that the *direction* of an adversarial perturbation matters, not
    its size.
    """
    x = check_inputs(None, x, clip, "random_sign_noise")
    eps = check_eps(eps, len(x), x.dtype, "random_sign_noise")
    if eps.ndim and x.ndim != 2:
        raise ValueError(f"random_sign_noise: one eps per example needs x of shape (N, features), got {x.shape}")
    signs = np.random.default_rng(seed).integers(0, 2, size=x.shape).astype(x.dtype) * 2 - 1
    return _clip(x + eps * signs, clip)


def noise_attack(seed=None):
    """``random_sign_noise`` as an attack callable ``(model, x, y, eps, clip=...) -> x_adv``."""
    rng = np.random.default_rng(seed)

    def attack(model, x, y, eps, clip=(0.0, 1.0)):
        return random_sign_noise(x, eps, clip=clip, seed=rng)

    return attack


def bpda(attack):
    """BPDA (Athalye, Carlini & Wagner 2018) for a model behind :class:`models.Quantise` layers.

    Returns ``attack`` (any ``(model, x, y, eps, clip=...) -> x_adv``) run with each
    quantiser's gradient replaced by the identity (``models.straight_through``): the
    forward pass is the real, quantised model, the backward pass pretends the rounding
    is not there. The gradient is then an honest approximation, where the true one is
    zero, and the attack works again.
    """
    def differentiated_through(model, x, y, eps, clip=(0.0, 1.0)):
        with models.straight_through(model):
            return attack(model, x, y, eps, clip=clip)

    return differentiated_through
