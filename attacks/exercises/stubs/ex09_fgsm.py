"""Exercise 9: the fast gradient sign method (FGSM).

A network is not linear, but Goodfellow et al.'s point is that it is linear *enough*:
replace the loss by its first-order Taylor expansion around x,

    L(x + eta) ~ L(x) + eta . grad_x L(x),

and exercise 8's argument applies with w = grad_x L(x). The best eta in the
L-infinity ball of radius eps is eps * sign(grad_x L(x)), and the attack is

    x_adv = clip(x + eps * sign(grad_x L(x, y)), low, high)

where the clip keeps x_adv a valid image (pixels in [0, 1]).

The gradient with respect to the input (not the weights) comes from the engine:

    import minigrad as mg
    gradient = mg.grad(lambda t: model.loss(model(t), y, reduction="sum"))(x)

gives d(sum_i loss_i)/dx, whose row i is d loss_i / d x_i: one backward pass for
the whole batch. (Why "sum" and not "mean"? Either works for the sign; "sum" keeps
each row's gradient at its own scale.)

Check your work:  advex exercises check 9
"""

import numpy as np

import minigrad as mg


def fgsm(model, x, y, eps, clip=(0.0, 1.0)):
    """x_adv for a batch ``x`` (N, D) with true labels ``y`` (N,): an array of x's shape and dtype.

    Every x_adv[i] is within eps of x[i] in every pixel and inside ``clip`` = (low, high);
    ``clip=None`` does not clip (the paper's setting, which exercise 11 uses).
    ``x`` itself must not change.
    Hint: three lines: the gradient, the step, the clip (``np.clip``).
    """
    raise NotImplementedError
