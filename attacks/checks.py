"""Argument checks shared by the attacks, so every attack fails the same clear way."""

from __future__ import annotations

import numpy as np

from minigrad.ops.nn import check_labels


def check_inputs(model, x, clip) -> np.ndarray:
    """x as a float array of shape (N, model.n_features) with no NaN, inside ``clip`` if given."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"x must be a floating-point array, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[1] != model.n_features:
        raise ValueError(f"x must have shape (N, {model.n_features}) for this model, got {x.shape}")
    if np.isnan(x).any():
        raise ValueError("x contains NaN")
    if clip is not None:
        low, high = clip
        if not low < high:
            raise ValueError(f"clip must be (low, high) with low < high, got {clip}")
        if x.size and (x.min() < low or x.max() > high):
            raise ValueError(f"x has values in [{x.min():g}, {x.max():g}], outside clip=({low:g}, {high:g})")
    return x


def check_eps(eps, n: int, dtype) -> np.ndarray:
    """eps as a float array broadcastable over the rows of x: a scalar or one value per example."""
    eps = np.asarray(eps, dtype=dtype)
    if eps.ndim > 1 or (eps.ndim == 1 and eps.shape != (n,)):
        raise ValueError(f"eps must be a scalar or have shape ({n},), got shape {eps.shape}")
    if np.isnan(eps).any() or (eps < 0).any():
        raise ValueError(f"eps must be >= 0 and not NaN, got {eps if eps.ndim == 0 else eps[np.isnan(eps) | (eps < 0)][:3]}")
    return eps.reshape(-1, 1) if eps.ndim == 1 else eps


def labels_for(model, y, n: int, *, required: bool, what: str = "y"):
    """``y`` checked as n class labels of the model (:func:`minigrad.ops.nn.check_labels`), or None when allowed."""
    if y is None:
        if required:
            raise ValueError(f"{what} is required for a targeted attack (the target class of each example)")
        return None
    return check_labels(y, n, model.n_classes, what=what)
