"""Data for the walkthrough's code blocks when pytest runs them (never downloaded data).

``DATA`` in the walkthrough names a folder in MNIST's IDX layout. Under pytest it is a
small synthetic set written here: ten classes of 28x28 images, each with a strong
feature (24 bright pixels) and a faint one (+0.15 on 30% of the pixels) in noise, so
that a linear model is accurate, fragile to FGSM, and can be made robust: the story of
the lecture, in a few seconds.
"""

import numpy as np
import pytest

import training


def strong_and_faint_digits(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    faint = (rng.random((10, 784)) < 0.3).astype(np.float32)
    strong = np.zeros((10, 784), dtype=np.float32)
    for k in range(10):  # ten classes, not a loop over examples
        strong[k, 40 * k : 40 * k + 24] = 1.0
    y = rng.integers(0, 10, n)
    X = np.clip(0.2 + 0.6 * strong[y] + 0.15 * faint[y] + rng.normal(0, 0.15, (n, 784)), 0, 1)
    return np.round(X * 255).astype(np.uint8).reshape(n, 28, 28), y


@pytest.fixture(scope="session")
def walkthrough_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("walkthrough_data")
    images, labels = strong_and_faint_digits(2500)
    training.write_idx_dataset(folder, images[:2000], labels[:2000], "train")
    training.write_idx_dataset(folder, images[2000:], labels[2000:], "test")
    return str(folder)


@pytest.fixture(autouse=True)
def add_data(doctest_namespace, walkthrough_data):
    doctest_namespace["DATA"] = walkthrough_data
