"""Exercise 10: the logistic regression's exact adversarial loss.

With labels y in {-1, +1}, a logistic regression p(y | x) = sigmoid(y (w . x + b)) has
the loss zeta(-y (w . x + b)), where zeta(t) = log(1 + e^t) is the softplus.

FGSM against it has a closed form. The gradient of the loss with respect to x is a
positive multiple of -y w, so FGSM moves x by eta = -eps * y * sign(w), and

    w . eta = -eps * y * ||w||_1.

Put that into the loss to get the loss on the adversarial example, exactly: no
gradient is computed at all. (The paper printed a version that is right only for
y = +1; yours must be right for both labels. Step 9 of the project's walkthrough,
docs/walkthrough.md, shows both.)
Training on this loss is adversarial training for a linear model: it looks like L1
weight decay, but *inside* the softplus, so it stops mattering for examples with a
large margin.

Write it with minigrad ops (``mg.abs``, ``.sum()``, ``@``, ...), so that the engine can
differentiate it and train with it.

Check your work:  advex exercises check 10
"""

import numpy as np

import minigrad as mg


def adversarial_logistic_loss(model, x, y, eps):
    """The mean over the batch of the loss at FGSM's example x + eta, in closed form: a 0-d Tensor.

    ``model``: a ``models.LogisticRegression``, whose ``model(x)`` is the Tensor of scores
    w . x + b (shape (N,)) and whose weights are the Tensor ``model.linear.weight``, of
    shape (D, 1). ``x``: (N, D) float32 array; ``y``: (N,) float32 array of -1.0 and +1.0.
    An array times a Tensor (``y * scores``) is a Tensor.
    Derive: zeta(-y (w . (x + eta) + b)) with the eta above; y * y = 1 for both labels.
    Hint: zeta(t) for a Tensor t of shape (N,), averaged over the batch, is
    ``mg.binary_cross_entropy_with_logits(t, np.zeros(len(x), dtype=np.float32))`` (its
    default reduction is the mean), computed without overflow, where
    ``mg.log(1 + mg.exp(t))`` overflows for large t.
    """
    raise NotImplementedError
