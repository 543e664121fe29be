"""Test configuration shared by the whole suite: hypothesis profiles and data fixtures.

Profiles (choose with HYPOTHESIS_PROFILE=...; CI=true selects "ci"):
  dev       the default: a moderate number of examples, no deadline
  ci        fewer examples, derandomised so a CI run is reproducible
  thorough  many examples, for hunting bugs locally
Deadlines are off everywhere: these machines are shared and timings are noisy.
The gradient tolerances live beside the strategies, in tests/strategies.py.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def textbook_paths_after_each_test():
    """Every test starts on the textbook path: one that runs ``advex`` in-process (whose entry
    calls ``training.fast_paths.enable()``) or enables the fast paths itself is switched back."""
    yield
    from training import fast_paths

    if fast_paths.is_enabled():
        fast_paths.disable()


# ---------------------------------------------------------------------------- data sets


def synthetic_idx_arrays(n: int, seed: int):
    """``n`` uint8 28x28 images and their labels 0-9, learnable: class k lights up block k.

    The ten 6x4 blocks sit on a 2x5 grid; every image also gets uniform noise in 0..79, so
    a linear model separates the classes easily but not trivially.
    """
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 10)
    images = rng.integers(0, 80, size=(n, 28, 28), dtype=np.uint8)
    blocks = np.zeros((10, 28, 28), dtype=np.uint8)
    for k in range(10):  # ten classes, not a loop over examples
        row, col = 3 + 14 * (k // 5), 1 + 5 * (k % 5)
        blocks[k, row : row + 6, col : col + 4] = 170
    return images + blocks[y], y


@pytest.fixture(scope="session")
def synthetic_idx_dir(tmp_path_factory):
    """A folder with a small gzipped IDX data set: 200 train and 50 test images (see above)."""
    from training import write_idx_dataset

    directory = tmp_path_factory.mktemp("synthetic_idx")
    for split, n, seed in (("train", 200, 0), ("test", 50, 1)):
        write_idx_dataset(directory, *synthetic_idx_arrays(n, seed), split)
    return directory


@pytest.fixture(scope="session")
def mnist_or_skip():
    """``load(split)``: real MNIST via ``load_mnist(split, download=False)``, or a skip.

    Skips only when the files are not found (set MINIGRAD_DATA to provide them); corrupt
    or wrong files still fail the test.
    """
    from training import DataNotFoundError, load_mnist

    def load(split: str = "train"):
        try:
            return load_mnist(split, download=False)
        except DataNotFoundError:
            pytest.skip(
                "real MNIST not found: set MINIGRAD_DATA to a folder holding the four MNIST IDX "
                "files (train-/t10k-images-idx3-ubyte, train-/t10k-labels-idx1-ubyte, gzipped or not)"
            )

    return load
