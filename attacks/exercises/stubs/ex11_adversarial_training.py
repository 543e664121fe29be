"""Exercise 11: the adversarial training objective.

Goodfellow et al. train on a mix of clean and adversarial examples:

    J~(theta, x, y) = alpha * J(theta, x, y) + (1 - alpha) * J(theta, x + eps * sign(grad_x J(theta, x, y)), y)

J is the model's loss (the mean cross-entropy, ``model.loss(model(x), y)``). The
adversarial example is crafted afresh for every batch, against the *current*
parameters, and then held fixed: it is a constant to the engine, and no gradient
flows through the sign (it is piecewise constant anyway). The paper uses alpha = 0.5
and eps = 0.25, and does not clip.

Check your work:  advex exercises check 11
"""

import numpy as np

import minigrad as mg


def adversarial_objective(model, x, y, eps, alpha):
    """J~ for the batch (x, y): a 0-d Tensor that ``.backward()`` turns into the parameters' gradients.

    Hint: craft x_adv with your FGSM of exercise 9 without clipping, or with
    ``attacks.fgsm(model, x, y, eps, clip=None)``; then two losses, weighted.
    """
    raise NotImplementedError
