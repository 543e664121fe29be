"""Undoing NumPy broadcasting in the backward pass.

If ``z = x + y`` broadcast ``x`` of shape ``(3,)`` against ``y`` of shape ``(2, 3)``,
then every ``x[j]`` contributed to both ``z[0, j]`` and ``z[1, j]``, so
``dL/dx[j] = sum_i dL/dz[i, j]``. In general the gradient of an input is the
upstream gradient summed over the axes that broadcasting added (leading ones) or
stretched (size 1 in the input). The engine applies this to every op's VJP result,
so that ops never have to.
"""

from __future__ import annotations

import numpy as np


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` down to ``shape``, the inverse of broadcasting ``shape`` up to ``g.shape``.

    Raises ``ValueError`` when ``shape`` does not broadcast to ``g.shape``.

    >>> unbroadcast(np.ones((2, 3)), (3,))
    array([2., 2., 2.])
    >>> unbroadcast(np.ones((2, 3)), (2, 1))
    array([[3.],
           [3.]])
    """
    shape = tuple(shape)
    extra = g.ndim - len(shape)
    if extra < 0:
        raise ValueError(f"cannot reduce a gradient of shape {g.shape} to shape {shape}")
    for size, g_size in zip(shape, g.shape[extra:]):
        if size != g_size and size != 1:
            raise ValueError(f"cannot reduce a gradient of shape {g.shape} to shape {shape}")
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, (size, g_size) in enumerate(zip(shape, g.shape)) if size == 1 != g_size)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return np.asarray(g)
