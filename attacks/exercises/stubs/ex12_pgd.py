"""Exercise 12: projected gradient descent (PGD) with a random start, and the projection onto the L-infinity ball.

FGSM takes one step of size eps. PGD (Madry et al. 2018) takes many small ones, and
after each step puts the point back into the allowed set, the L-infinity ball of
radius eps around x (every pixel within eps of its original value):

    x_0     = x + uniform noise in [-eps, eps], clipped to the valid range
    repeat ``steps`` times:
      x_k  <- x_k + step_size * sign(grad_x L(x_k, y))     (a small FGSM step)
      x_k  <- project x_k onto the ball around x
      x_k  <- clip(x_k, low, high)                          (a valid image)

The projection is the nearest point of the ball. In L-infinity the ball is a box, so
the nearest point is found coordinate by coordinate. (The L2 ball is a sphere: its
projection rescales the whole perturbation instead. Do not confuse them.)

Check your work:  advex exercises check 12
"""

import numpy as np

import minigrad as mg


def project_linf(x_adv, x, eps):
    """The nearest point to ``x_adv`` whose every coordinate is within ``eps`` of ``x``'s.

    Hint: ``np.clip`` takes arrays as bounds.
    """
    raise NotImplementedError


def pgd(model, x, y, eps, step_size, steps, rng, clip=(0.0, 1.0)):
    """PGD from a random start: x_adv of x's shape and dtype, within eps of x and inside ``clip`` = (low, high).

    ``rng``: a ``np.random.Generator``, for the random start: ``rng.uniform(-eps, eps, size=x.shape)``.
    It returns float64: cast it with ``.astype(x.dtype)``, or x_adv becomes float64 too.
    The gradient, as in exercise 9, is an array of x_adv's shape and dtype:
    ``mg.grad(lambda t: model.loss(model(t), y, reduction="sum"))(x_adv)``.
    Project, then clip: the result is then both within eps of x and a valid image.
    """
    raise NotImplementedError
