"""A small synthetic data set that tells the lecture's story in seconds, for tests and docs.

Ten classes of 784 pixels (28 x 28). Each class has a *strong* feature, 24 pixels that
are 0.6 brighter, and a *faint* one, +0.15 on a random 30% of the pixels, all in
Gaussian noise. A linear model trained on it leans on the many faint pixels too, which
FGSM flips cheaply; yet robust classification is possible through the strong feature
alone, so adversarial training has something to learn (up to eps of about 0.2).
"""

from __future__ import annotations

import numpy as np


def strong_and_faint_features(n: int, seed: int = 0):
    """``(X, y)``: X float32 (n, 784) in [0, 1], y int64 (n,) in 0..9; fixed by ``seed``.

    The class features are drawn from ``seed`` too: draw one set and split it, since two
    calls with different seeds give different classes.
    """
    rng = np.random.default_rng(seed)
    faint = (rng.random((10, 784)) < 0.3).astype(np.float32)
    strong = np.zeros((10, 784), dtype=np.float32)
    for k in range(10):  # ten classes, not a loop over examples
        strong[k, 40 * k : 40 * k + 24] = 1.0
    y = rng.integers(0, 10, n)
    X = np.clip(0.2 + 0.6 * strong[y] + 0.15 * faint[y] + rng.normal(0, 0.15, (n, 784)), 0, 1).astype(np.float32)
    return X, y.astype(np.int64)
