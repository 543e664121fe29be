"""Data for the walkthrough's code blocks when pytest runs them (never downloaded data).

``DATA`` in the walkthrough names a folder in MNIST's IDX layout. Under pytest it is the
small synthetic set of :mod:`training.synthetic`, written here as IDX files: a linear
model is accurate on it, fragile to FGSM, and can be made robust, which is the story of
the lecture in a few seconds.
"""

import numpy as np
import pytest

import training
from training.synthetic import strong_and_faint_features


@pytest.fixture(scope="session")
def walkthrough_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("walkthrough_data")
    X, y = strong_and_faint_features(2500)
    images = np.round(X * 255).astype(np.uint8).reshape(-1, 28, 28)
    training.write_idx_dataset(folder, images[:2000], y[:2000], "train")
    training.write_idx_dataset(folder, images[2000:], y[2000:], "test")
    return str(folder)


@pytest.fixture(autouse=True)
def add_data(doctest_namespace, walkthrough_data):
    doctest_namespace["DATA"] = walkthrough_data
