"""Argument checks shared by the attacks, so every attack fails the same clear way."""

from __future__ import annotations

import numpy as np

from minigrad.ops.nn import check_labels


def check_inputs(model, x, clip) -> np.ndarray:
    """x as a float array of shape (N, model.n_features) with no NaN or inf, inside ``clip`` if given.

    ``model=None`` checks a batch of any shape (the noise baseline has no model).
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"x must be a floating-point array, got dtype {x.dtype}")
    if model is not None and (x.ndim != 2 or x.shape[1] != model.n_features):
        raise ValueError(f"x must have shape (N, {model.n_features}) for this model, got {x.shape}")
    if x.size and not np.isfinite(x).all():
        raise ValueError("x contains NaN or inf")
    if clip is not None:
        if len(clip) != 2:
            raise ValueError(f"clip must be (low, high), got {clip}")
        low, high = clip
        if not low < high:
            raise ValueError(f"clip must be (low, high) with low < high, got {clip}")
        if x.size and (x.min() < low or x.max() > high):
            raise ValueError(f"x has values in [{x.min():g}, {x.max():g}], outside clip=({low:g}, {high:g})")
    return x


def examples_of(x, function: str, dtype=None) -> np.ndarray:
    """``x`` as an array of at least one example (a batch: its first axis counts them), or a
    ValueError naming ``function``.

    For what reports a rate over the examples: a rate over none has no value.
    """
    x = np.asarray(x, dtype=dtype)
    if x.ndim == 0:
        raise ValueError(f"{function}: x must be a batch of examples (N, ...), got a scalar")
    if not len(x):
        raise ValueError(f"{function}: x holds no examples")
    return x


def check_model_fits(model, X, y, what: str) -> None:
    """A ValueError naming ``what`` (the model's file or flag) unless ``model`` takes the rows
    of ``X`` and has a class for every label in ``y``."""
    n_features, n_classes = X.shape[1], int(y.max()) + 1 if len(y) else 0
    if n_features != model.n_features or n_classes > model.n_classes:
        raise ValueError(f"{what} is a {type(model).__name__} for {model.n_features} features and {model.n_classes} "
                         f"classes; the data have {n_features} features and {n_classes} classes")


def check_eps(eps, n: int, dtype) -> np.ndarray:
    """eps as a float array broadcastable over the rows of x: a scalar or one value per example."""
    eps = np.asarray(eps, dtype=dtype)
    if eps.ndim > 1 or (eps.ndim == 1 and eps.shape != (n,)):
        raise ValueError(f"eps must be a scalar or have shape ({n},), got shape {eps.shape}")
    bad = ~np.isfinite(eps) | (eps < 0)
    if bad.any():
        raise ValueError(f"eps must be finite and >= 0, got {eps if eps.ndim == 0 else eps[bad][:3]}")
    return eps.reshape(-1, 1) if eps.ndim == 1 else eps


def labels_for(model, y, n: int, *, required: bool, what: str = "y"):
    """``y`` checked as n class labels of the model (:func:`minigrad.ops.nn.check_labels`), or None when allowed.

    ``required``: the caller cannot do without labels; ``what`` names them in errors
    (the targets of a targeted attack, the true labels of an evaluation).
    """
    if y is None:
        if required:
            raise ValueError(f"{what} is required here, got None")
        return None
    return check_labels(y, n, model.n_classes, what=what)
