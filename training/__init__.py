"""Data, optimizers and the training loop: generic, knowing nothing about attacks.

Built on :mod:`minigrad` and on :mod:`models` (its file helpers: atomic writes,
``read_npz``, ``json_default``). Adversarial
training is a loss that :func:`fit` takes like any other; it lives with the attacks
(:mod:`attacks.adversarial_training`).

* :mod:`training.data`: MNIST, and any data set in the IDX format (Fashion-MNIST, KMNIST).
* :mod:`training.cifar`: CIFAR-10 from either official archive or folder, checked and
  unpickled safely (``load_cifar10``; ``read_cifar10`` also says whether it is the official set).
* :mod:`training.optim`: ``SGD``, ``Adam`` and schedules (``ExponentialDecay``,
  ``StepDecay``, ``LinearRamp``, ``Triangular``) that set an optimizer's settings step by step.
* :mod:`training.loop`: ``fit`` (shuffled minibatches, validation, ``EarlyStopping``,
  atomic checkpoints and exact resume, progress bars), its update ``train_step``, and
  ``error_rate``.
* :mod:`training.recipes`: ``maxout_paper_recipe``, the maxout paper's settings (with an
  epoch cap of ours), our ``linear_classifier_recipe``, ``rbf_recipe``, ``mlp_recipe`` and
  ``conv_recipe``, and the maxout paper's CIFAR-10 ``conv_maxout_recipe``.
* :mod:`training.synthetic`: a small synthetic data set with strong and faint features.
* :mod:`training.fast_paths`: ``enable()``, the one switch for the speed tricks of
  :mod:`minigrad.fast`. Importing ``training`` switches nothing on; it imports that
  module only for an old name it keeps: ``Optimizer.backward_and_step(loss)``, which is
  ``loss.backward()`` then ``step()``, attached to :class:`Optimizer` there.
"""

from . import data
from .cifar import load_cifar10, read_cifar10, read_md5sums
from .data import (
    DataError,
    DataNotFoundError,
    default_cache_dir,
    download_idx_files,
    idx_split_files,
    load_idx_dataset,
    load_mnist,
    read_idx,
    write_idx_dataset,
)
from .loop import EarlyStopping, History, default_loss, error_rate, fit, train_step
from .optim import SGD, Adam, ExponentialDecay, LinearRamp, Optimizer, Schedule, StepDecay, Triangular
from . import fast_paths  # attaches the old name Optimizer.backward_and_step; switches nothing on
from .recipes import conv_maxout_recipe, conv_recipe, linear_classifier_recipe, maxout_paper_recipe, mlp_recipe, rbf_recipe

__all__ = list(data.__all__) + ["load_cifar10", "read_cifar10", "read_md5sums"] + [
    "Adam", "EarlyStopping", "ExponentialDecay", "History", "LinearRamp", "Optimizer", "SGD", "Schedule",
    "StepDecay", "Triangular", "conv_maxout_recipe", "conv_recipe", "default_loss", "error_rate", "fit", "linear_classifier_recipe", "maxout_paper_recipe", "mlp_recipe", "rbf_recipe",
    "train_step",
]  # fmt: skip
