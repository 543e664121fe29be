"""Data, optimizers and the training loop (adversarial training comes with its issue).

Built only on :mod:`minigrad`'s public API:

* :mod:`training.data`: MNIST, and any data set in the IDX format (Fashion-MNIST, KMNIST).
* :mod:`training.optim`: ``SGD``, ``Adam`` and schedules (``ExponentialDecay``,
  ``StepDecay``, ``LinearRamp``) that set an optimizer's settings step by step.
* :mod:`training.loop`: ``fit`` (shuffled minibatches, validation, ``EarlyStopping``,
  atomic checkpoints and exact resume, progress bars), ``error_rate``.
* :mod:`training.recipes`: ``maxout_paper_recipe``, the maxout paper's exact settings.
"""

from . import data
from .data import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    MNIST_MIRRORS,
    MNIST_SHA256,
    SPLIT_FILES,
    DataError,
    DataNotFoundError,
    default_cache_dir,
    download_idx_files,
    load_idx_dataset,
    load_mnist,
    read_idx,
    write_idx_dataset,
)
from .loop import EarlyStopping, History, default_loss, error_rate, fit
from .optim import SGD, Adam, ExponentialDecay, LinearRamp, Optimizer, Schedule, StepDecay
from .recipes import maxout_paper_recipe

__all__ = list(data.__all__) + [
    "Adam", "EarlyStopping", "ExponentialDecay", "History", "LinearRamp", "Optimizer", "SGD", "Schedule",
    "StepDecay", "default_loss", "error_rate", "fit", "maxout_paper_recipe",
]  # fmt: skip
