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
    """v <- momentum * v - lr * g, then w <- w + v, both in place.

    Through ``scal`` and ``axpy`` where the three arrays are :func:`numpy_blas.suited`
    (large, C-contiguous, one float dtype) and ``momentum`` is not 0 (``scal`` by 0
    would fill v with zeros, losing a NaN that ``v *= 0`` keeps); else with ufuncs.
    """
    if momentum and numpy_blas.suited(v, w, g):
        numpy_blas.scal(momentum, v)
        numpy_blas.axpy(-lr, g, v)
        numpy_blas.axpy(1.0, v, w)
    else:
        v *= momentum
        v -= lr * g
        w += v
