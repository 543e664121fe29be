"""The Square attack (Andriushchenko et al. 2020): an L-infinity attack that never looks at a gradient.

Why this one: a model whose gradients are useless (masked, shattered, zero) can make
every gradient attack fail while being no more robust at all. An attack that only asks
the model for its outputs cannot be fooled that way. Square is the gradient-free attack
of AutoAttack: random search over the corners of the eps-ball, with one hyperparameter
(the size of the first squares), no gradient estimate to tune (as SPSA has), and one
query per iteration.

It minimises the margin ``score(true class) - max score(other classes)`` (negative:
misclassified), starting from vertical stripes (each column of each channel moved by
+eps or -eps). Each iteration picks, for every example not yet fooled, a random square
window and a random sign per channel, sets the window's pixels to x +- eps, and keeps
the change only if the margin went down. The window's area starts at ``p_init`` of the
image and shrinks by halves on a fixed schedule (the paper's, stretched to the number
of queries), so the search moves from coarse to fine.
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.validation import is_integer

from .checks import real_number
from .methods import _clip, _prepare, margin

#: Where the paper's schedule halves the square's area, in iterations out of 10,000.
HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def square_fraction(iteration: int, queries: int, p_init: float) -> float:
    """The fraction of the image a square covers at ``iteration`` of ``queries``."""
    scaled = iteration * 10_000 // max(queries, 1)
    return p_init / 2 ** sum(scaled > h for h in HALVINGS)


def image_shape(model, n_features: int) -> tuple:
    """(C, H, W) to lay a row out as: the model's ``input_shape``, else one square channel, else one row."""
    shape = getattr(model, "input_shape", None)
    if shape is not None and int(np.prod(shape)) == n_features:
        return tuple(shape)
    side = math.isqrt(n_features)
    return (1, side, side) if side * side == n_features else (1, 1, n_features)


def square_attack(model, x, y=None, eps=0.25, queries=1000, *, p_init=0.05, seed=None, clip=(0.0, 1.0)):
    """The Square attack, untargeted, with at most ``queries`` model evaluations per example.

    ``p_init``: the first squares' share of the image's area (the paper: 0.05 on CIFAR-10
    and ImageNet, 0.8 on MNIST at eps = 0.3). Labels from ``y`` or the clean
    predictions; ``seed`` fixes the search. Returns the adversarial examples; the rows
    of eps 0 are x's, returned without a query.
    """
    x, y, eps = _prepare(model, x, y, eps, clip, targeted=False, function="square_attack")
    if not is_integer(queries) or queries < 1:
        raise ValueError(f"square_attack: queries must be an integer >= 1, got {queries!r}")
    if not 0 < real_number(p_init, "square_attack: p_init") <= 1:
        raise ValueError(f"square_attack: p_init must be in (0, 1], got {p_init}")
    if x.ndim != 2:
        raise ValueError(f"square_attack: x must have shape (N, features), got {x.shape}")
    channels, height, width = image_shape(model, x.shape[1])
    n, rng = len(x), np.random.default_rng(seed)
    radius = np.broadcast_to(np.asarray(eps, dtype=x.dtype).reshape(-1, 1, 1, 1), (n, 1, 1, 1))
    images = x.reshape(n, channels, height, width)
    stripes = rng.choice(np.array([-1, 1], dtype=x.dtype), size=(n, channels, 1, width))
    adversarial = _clip(images + radius * stripes, clip).reshape(x.shape)  # not (n, -1): n may be 0; x where eps is 0
    moving = np.flatnonzero(radius.reshape(n) > 0)  # a row of eps 0 is x itself: no query can change it
    distance = np.full(n, -np.inf)  # negative once fooled, or never searched
    if len(moving):
        distance[moving] = -margin(model, adversarial[moving], y[moving])
    for i in range(1, queries):
        active = np.flatnonzero(distance > 0)
        if not len(active):
            break
        side = max(1, min(height, width, round(math.sqrt(square_fraction(i, queries, p_init) * height * width))))
        top = rng.integers(0, height - side + 1, size=len(active))
        left = rng.integers(0, width - side + 1, size=len(active))
        rows = np.arange(height) - top[:, None]
        cols = np.arange(width) - left[:, None]
        window = ((rows >= 0) & (rows < side))[:, None, :, None] & ((cols >= 0) & (cols < side))[:, None, None, :]
        signs = rng.choice(np.array([-1, 1], dtype=x.dtype), size=(len(active), channels, 1, 1))
        current = adversarial[active].reshape(len(active), channels, height, width)
        corner = _clip(images[active] + radius[active] * signs, clip)
        candidate = np.where(window, corner, current).reshape(len(active), -1)
        new = -margin(model, candidate, y[active])
        better = new < distance[active]
        adversarial[active[better]], distance[active[better]] = candidate[better], new[better]
    return adversarial
