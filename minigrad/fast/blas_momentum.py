"""SGD's classical momentum step through NumPy's own BLAS.

What it replaces: the textbook ``training.optim.SGD._update`` for classical momentum
(no Nesterov, no weight decay),

    v[...] = momentum * v - lr * g;  w += v

whose ufuncs make several passes over parameter-sized arrays and temporaries
(``momentum * v``, ``lr * g``), each pass on one core. :func:`momentum_step` does the same arithmetic as three
in-place, threaded BLAS level-1 calls (:mod:`minigrad.fast.numpy_blas`):
``scal(momentum, v); axpy(-lr, g, v); axpy(1, v, w)``. The results agree with the
ufunc form to float rounding.

``training.fast_paths.enable()`` puts SGD's step through it; what it is worth is in
``docs/measurements.md``.
"""

from __future__ import annotations

import numpy as np

from . import numpy_blas


def momentum_step(v: np.ndarray, w: np.ndarray, g: np.ndarray, momentum: float, lr: float) -> None:
    """v <- momentum * v - lr * g, then w <- w + v, both in place (:func:`velocity_step`, then :func:`add_velocity`)."""
    velocity_step(v, g, momentum, lr)
    add_velocity(w, v)


def velocity_step(v: np.ndarray, g: np.ndarray, momentum: float, lr: float, scaled: bool = False) -> None:
    """v <- momentum * v - lr * g in place (with ``scaled``, v already holds momentum * v: v <- v - lr * g).

    Through ``scal`` and ``axpy`` where v and g are :func:`numpy_blas.suited` (large,
    C-contiguous, one float dtype) and ``momentum`` is not 0 (``scal`` by 0 would fill v
    with zeros, losing a NaN that ``v *= 0`` keeps). Else with ufuncs, as
    ``(v * (-momentum / lr) + g) * (-lr)``: three in-place passes, no temporary. That
    is the form the versions before issue 26 computed, so that ``advex`` runs of those
    versions repeat bit for bit (a different rounding of the biases' small updates
    was enough to move a seed's quick rows by a few points, see ``docs/measurements.md``).
    """
    if momentum and numpy_blas.suited(v, g):
        if not scaled:
            numpy_blas.scal(momentum, v)
        numpy_blas.axpy(-lr, g, v)
    elif scaled:
        v -= lr * g
    elif np.isfinite(momentum / lr):
        v *= -momentum / lr
        v += g
        v *= -lr
    else:  # an lr so small that momentum / lr overflows
        v *= momentum
        v -= lr * g


def add_velocity(w: np.ndarray, v: np.ndarray) -> None:
    """w <- w + v in place, through ``axpy`` where the two are :func:`numpy_blas.suited`."""
    if numpy_blas.suited(w, v):
        numpy_blas.axpy(1.0, v, w)
    else:
        w += v
