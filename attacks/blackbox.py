"""The black-box attack of Papernot et al. (2017): from the victim's labels alone.

The attacker cannot see the victim's weights, logits or gradients, nor its training
data. It can only ask for the label the victim gives an input: the victim is an
*oracle*. The attack has three steps:

1. **A substitute.** The attacker trains a model of its own (any differentiable one)
   on a few inputs it holds, labelled by the oracle.
2. **Jacobian-based augmentation.** The substitute only needs to be right where the
   oracle's decision boundaries are, so the attacker asks about points near them. For
   each point x of the set S it adds

       x + lambda * sign(d F_c(x) / dx),   c = the oracle's label of x,

   where F_c is the substitute's probability of class c (its softmax output, as in
   CleverHans' tutorial). With lambda < 0 the step lowers the substitute's belief in
   the oracle's label: it heads for the boundary. The oracle labels the new points, the
   substitute trains again, and S doubles each round. The step's sign flips every few
   rounds (the paper's periodic step size, lambda_rho = lambda (-1)^floor(rho / tau)),
   so the set does not drift one way; as in CleverHans' tutorial the first rounds step
   towards the boundary (lambda_0 = -0.1), and the new points are not clipped.
3. **Transfer.** FGSM on the substitute (from its own predictions); the examples are
   given to the oracle.

:class:`LabelOracle` is the victim as the attacker sees it, counting the queries.
"""

from __future__ import annotations

import numpy as np

import training
from minigrad.labels import check_labels
from minigrad.validation import integer_at_least

from .checks import array_of, check_inputs, real_number
from .gradients import attack_direction


class LabelOracle:
    """A model behind a wall: ``labels(x)`` is all it answers, and every row asked is counted.

    It is no :class:`models.Classifier`: it has no logits, probabilities, parameters or
    gradient, so an attack that reaches for them fails (a gradient attack raises a
    TypeError). It knows the shape of its inputs and its number of classes, which an
    attacker of a deployed model knows too. The wall is a convention, as Python's
    privacy is: the model is reachable through private attributes, which no attack here uses.
    """

    differentiable = False  # what a gradient attack checks first: its error then says how to attack an oracle

    def __init__(self, model):
        if not hasattr(model, "predict"):
            raise TypeError(f"LabelOracle: needs a model with predict(x), got {type(model).__name__}")
        self._predict = model.predict
        self.n_features, self.n_classes = model.n_features, model.n_classes
        self.queries = 0

    def labels(self, x) -> np.ndarray:
        """(N,) int64: the model's predicted label of each row of x; counts N queries."""
        x = np.asarray(array_of(x), dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"LabelOracle.labels: x must have shape (N, {self.n_features}), got {x.shape}")
        labels = self._predict(x)
        self.queries += len(x)
        return labels

    def __repr__(self) -> str:
        return f"LabelOracle(n_features={self.n_features}, n_classes={self.n_classes}, queries={self.queries})"


def jacobian_augmentation(substitute, x, labels, step: float) -> np.ndarray:
    """x + step * sign(d F_c(x) / dx) for each row, c its label, F_c the substitute's probability of class c
    (the points added to the set; not clipped).

    The sign of d p_c / dx = p_c d log p_c / dx is that of d log p_c / dx, minus the gradient of
    the softmax cross-entropy at label c: so it is computed as minus the sign of
    :func:`attacks.attack_direction`, which does not vanish where a float32 softmax saturates
    (p_c rounds to 1 and its plain gradient to 0). Row i's derivative depends on row i alone.
    """
    x = check_inputs(substitute, x, None, "jacobian_augmentation")
    step = real_number(step, "jacobian_augmentation: step")
    labels = check_labels(labels, len(x), substitute.n_classes, what="jacobian_augmentation: labels")
    direction = attack_direction(substitute, x, labels)  # a positive multiple of d(-log p_c)/dx per row
    return (x - np.float32(step) * np.sign(direction)).astype(x.dtype)


def train_substitute(oracle: LabelOracle, x_initial, substitute, *, rounds: int = 6, epochs: int = 10,
                     step: float = -0.1, flip_every: int = 3, lr: float = 0.001, batch_size: int = 128, seed: int = 0,
                     after_round=None):
    """Train ``substitute`` from the oracle's labels by Jacobian-based augmentation; returns the final set (x, labels).

    Round rho (0 .. rounds - 1): the oracle labels the points new to the set, the
    substitute trains ``epochs`` epochs on the whole set (Adam, ``lr``, ``batch_size``,
    continuing from the round before), and, except after the last round, each point
    adds x + lambda_rho sign(dF/dx) with lambda_rho = step * (-1)^floor(rho / flip_every).
    Only new points are asked, so the oracle answers len(x_initial) * 2^(rounds - 1)
    queries in all. ``after_round(rho, substitute, set_size)`` is called after each
    round's training (to measure the substitute as it grows). The default step, -0.1, is
    CleverHans' tutorial's: its first rounds step against the oracle's label.
    """
    if not isinstance(oracle, LabelOracle):
        raise TypeError(f"train_substitute: the oracle must be a LabelOracle (labels only), got {type(oracle).__name__}")
    rounds = integer_at_least(rounds, 1, "train_substitute: rounds")
    flip_every = integer_at_least(flip_every, 1, "train_substitute: flip_every")
    x_set = check_inputs(substitute, x_initial, None, "train_substitute").astype(np.float32)
    labels = oracle.labels(x_set)
    for rho in range(rounds):
        optimizer = training.Adam(substitute.parameters(), lr=lr)
        training.fit(substitute, x_set, labels, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                     seed=seed + rho, progress=False, monitor_size=0)
        if after_round is not None:
            after_round(rho, substitute, len(x_set))
        if rho == rounds - 1:
            break
        lam = step * (-1) ** (rho // flip_every)
        new = jacobian_augmentation(substitute, x_set, labels, lam)
        x_set = np.concatenate([x_set, new])
        labels = np.concatenate([labels, oracle.labels(new)])
    return x_set, labels
