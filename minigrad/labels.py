"""Class labels: the one check every loss, model, attack and ``fit`` runs on them.

Labels are integer class indices, one per example. Checking them in one place gives
every caller the same rule and the same words when a one-hot matrix, a float array or
an out-of-range class arrives.
"""

from __future__ import annotations

import numpy as np

from .tensor import values_of


def check_labels(labels, n: int, n_classes: int | None, what: str = "labels") -> np.ndarray:
    """Integer class indices of shape (n,) in [0, n_classes), as int64, or one clear error.

    The one label check of the project: the losses, the models, the attacks and ``fit``
    call it.
    ``n_classes=None`` checks only that the labels are non-negative. One-hot labels of
    shape (n, k) are refused with a hint.
    """
    labels = np.asarray(values_of(labels))
    if labels.ndim == 2 and labels.shape[0] == n and labels.shape[1] > 1:
        raise TypeError(f"{what} must be integer class indices, not one-hot rows (shape {labels.shape}): pass {what}.argmax(axis=1)")
    if labels.dtype.kind not in "iu" or labels.shape != (n,):
        raise ValueError(f"{what} must be integer class indices of shape ({n},), got dtype {labels.dtype}, shape {labels.shape}")
    high = np.iinfo(np.int64).max if n_classes is None else n_classes
    if n and (labels.min() < 0 or labels.max() >= high):
        bad = np.unique(labels[(labels < 0) | (labels >= high)])[:5]
        valid = "non-negative" if n_classes is None else f"in 0..{n_classes - 1}"
        raise ValueError(f"{what} must be {valid}; found {bad.tolist()}")
    return labels.astype(np.int64, copy=False)
