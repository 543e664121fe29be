"""Adversarial training: fit on clean and FGSM examples at once (Goodfellow, Shlens & Szegedy 2014, section 6).

The objective, for each minibatch (x, y) and the current parameters theta:

    J~(theta, x, y) = alpha * J(theta, x, y) + (1 - alpha) * J(theta, x + eps * sign(grad_x J(theta, x, y)), y)

The adversarial example is regenerated for every minibatch against the current
parameters and then treated as a constant: no gradient flows through the sign (it is
piecewise constant anyway). The paper uses alpha = 0.5 and eps = 0.25 on MNIST.

For logistic regression the same objective has a closed form: with y in {-1, +1},
FGSM moves w . x by -eps * y * ||w||_1, so J~ with alpha = 0 is

    softplus(-y (w . x + b) + eps ||w||_1)

which looks like L1 weight decay, but *inside* the loss: once the margin y (w . x + b)
is large the penalty stops mattering, unlike an L1 term added outside.

A departure from the paper's text: it writes the objective as
zeta(y (eps ||w||_1 - w . x - b)), which is the expression above only for y = +1; for
y = -1 it gives zeta(w . x + b - eps ||w||_1), where the attack *lowers* the loss. The
code uses the form above, which FGSM's own perturbation gives for both labels (the
tests check it against ``AdversarialObjective``).
"""

from __future__ import annotations

import math

import numpy as np

import minigrad as mg
import training
from minigrad.labels import check_labels
from models import LogisticRegression

from .checks import check_clip, real_number
from .methods import SHORT_PGD_STEP_FRACTION, SHORT_PGD_STEPS, fgsm, fgsm_random_start, pgd

ATTACKS = ("fgsm", "pgd", "fgsm_rs")
LABELS = ("true", "predicted")


class AdversarialObjective:
    """The loss callable ``(model, x, y) -> scalar Tensor`` of adversarial training, for :func:`training.fit`.

    ``eps``, ``alpha``: as in the objective above. ``attack="pgd"`` with
    ``attack_kwargs`` (such as ``steps`` and ``step_size``) gives PGD adversarial
    training (Madry et al. 2018) for comparison; ``attack="fgsm_rs"`` FGSM from a random
    start (:func:`attacks.fgsm_random_start`, fast adversarial training). ``label="predicted"`` crafts against
    the model's own predictions instead of the true labels (no label leaking); the
    loss itself always uses the true labels. ``clip``: the valid range of the crafted
    examples (``None``, the paper's setting, does not clip).

    ``train_mode``: whether dropout is on while crafting. The paper does not say. The
    default (False) crafts against the deterministic network that is evaluated and
    attacked at test time, so the training examples are the attack the model will
    face; ``True`` crafts against a random dropout sub-network, as a single Theano
    graph of the dropout cost would.

    The clean and the adversarial halves go through the model as one batch of 2N
    examples, weighted ``alpha / N`` and ``(1 - alpha) / N`` so that the sum is the
    objective above. One batch, not two passes: each dropout layer then draws the masks
    of both halves at once, the order of draws that runs and checkpoints of earlier
    versions were made with (two passes would give each example other masks).
    """

    def __init__(self, eps: float = 0.25, alpha: float = 0.5, *, attack: str = "fgsm", attack_kwargs=None,
                 label: str = "true", clip=None, train_mode: bool = False):
        if not 0 <= real_number(eps, "AdversarialObjective: eps") < np.inf:
            raise ValueError(f"AdversarialObjective: eps must be finite and >= 0, got {eps}")
        if not 0.0 <= real_number(alpha, "AdversarialObjective: alpha") <= 1.0:
            raise ValueError(f"AdversarialObjective: alpha must be in [0, 1], got {alpha}")
        if attack not in ATTACKS:
            raise ValueError(f"AdversarialObjective: attack must be one of {ATTACKS}, got {attack!r}")
        if label not in LABELS:
            raise ValueError(f"AdversarialObjective: label must be one of {LABELS}, got {label!r}")
        self.eps, self.alpha, self.attack, self.label = float(eps), float(alpha), attack, label
        self.attack_kwargs = dict(attack_kwargs or {})
        self.clip, self.train_mode = check_clip(clip, "AdversarialObjective"), train_mode
        self.rng = np.random.default_rng()  # PGD's random starts: fit hands over its own through set_rng

    def set_rng(self, rng: np.random.Generator) -> None:
        """The hook through which :func:`training.fit` makes its seed decide PGD's random starts."""
        self.rng = rng

    def craft(self, model, x, y) -> np.ndarray:
        """The adversarial version of the batch against the current parameters (a constant)."""
        target = y if self.label == "true" else None  # None: the attacks craft against the predictions
        if self.attack == "fgsm":
            return fgsm(model, x, target, self.eps, clip=self.clip, train_mode=self.train_mode, **self.attack_kwargs)
        if self.attack == "fgsm_rs":
            return fgsm_random_start(model, x, target, self.eps, clip=self.clip, train_mode=self.train_mode, seed=self.rng,
                                     **self.attack_kwargs)
        kwargs = {"step_size": self.eps * SHORT_PGD_STEP_FRACTION, "steps": SHORT_PGD_STEPS, "seed": self.rng,
                  **self.attack_kwargs}
        return pgd(model, x, target, self.eps, clip=self.clip, train_mode=self.train_mode, **kwargs)

    def __call__(self, model, x, y):
        x_adv = self.craft(model, x, y)
        if self.alpha == 0.0:  # the adversarial half alone (fast adversarial training): no clean pass to weight by 0
            return model.loss(model(mg.Tensor(x_adv)), y)
        n = len(x)
        losses = model.loss(model(mg.Tensor(np.concatenate([x, x_adv]))), np.concatenate([y, y]), reduction="none")
        weights = np.empty(2 * n, dtype=losses.dtype)
        weights[:n], weights[n:] = self.alpha / n, (1.0 - self.alpha) / n
        return (losses * weights).sum()


#: Wong, Rice & Kolter (2020), "Fast is better than free", on MNIST.
FAST_EPS, FAST_STEP, FAST_LR, FAST_EPOCHS = 0.3, 0.375, 5e-3, 10


def fast_adversarial_recipe(model, n_train: int, *, epochs: int = FAST_EPOCHS, eps: float = FAST_EPS,
                            step_size: float = FAST_STEP, random_start: bool = True, lr: float = FAST_LR,
                            batch_size: int = 100) -> dict:
    """Fast adversarial training (Wong, Rice & Kolter 2020): the keyword arguments of :func:`training.fit`.

    Each minibatch is replaced by FGSM from a random start
    (:func:`attacks.fgsm_random_start`: delta uniform in [-eps, eps], one step of
    ``step_size`` (1.25 eps) along the gradient's sign, back into the eps-ball and into
    [0, 1]); the model trains on those examples only (alpha = 0). Adam, batch 100, the learning rate rising linearly from 0
    to ``lr`` over the first 2/5 of the run and back to 0 (their cyclic schedule).
    ``random_start=False`` is plain FGSM training with that step: the setting in which
    Wong et al. saw "catastrophic overfitting".
    """
    steps = epochs * math.ceil(n_train / batch_size)
    optimizer = training.Adam(model.parameters(), lr=lr)
    return dict(optimizer=optimizer, schedules=[training.Triangular("lr", lr, steps)], batch_size=batch_size,
                epochs=epochs, loss=AdversarialObjective(eps, alpha=0.0, attack="fgsm_rs", clip=(0.0, 1.0), attack_kwargs=dict(
                    step_size=step_size, random_start=random_start)))


def logistic_adversarial_loss(eps: float):
    """The closed form of FGSM adversarial training for ``LogisticRegression`` (alpha = 0).

    Returns a loss callable ``(model, x, y) -> mean_i softplus(-y_i (w . x_i + b) + eps ||w||_1)``
    with y_i = 2 * label_i - 1, for :func:`training.fit`. It equals
    ``AdversarialObjective(eps, alpha=0, clip=None)`` on that model, value and gradient.
    """

    if not 0 <= real_number(eps, "logistic_adversarial_loss: eps") < np.inf:
        raise ValueError(f"logistic_adversarial_loss: eps must be finite and >= 0, got {eps}")

    def loss(model, x, y):
        if not isinstance(model, LogisticRegression):
            raise TypeError(f"logistic_adversarial_loss is the closed form for LogisticRegression, not {type(model).__name__}: "
                            "use AdversarialObjective")
        y = check_labels(y, len(x), 2, what="logistic_adversarial_loss: y")
        y_pm = (2.0 * y - 1.0).astype(np.float32)
        margin_term = -(model(mg.Tensor(x)) * y_pm) + eps * mg.abs(model.linear.weight).sum()
        return mg.binary_cross_entropy_with_logits(margin_term, np.zeros(len(x), dtype=np.float32))  # softplus

    return loss
