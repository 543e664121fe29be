"""One run of the reproduction: its data, budget, models, and stages in order."""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

import models
import training

from .. import figures
from ..adversarial_training import AdversarialObjective
from ..metrics import evaluate
from . import report, stages
from .cache import RunFolder, check_out_folder, idx_files, input_digests
from .claims import ALL_MODELS, CLAIMS, EPS


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much data and training each stage gets.

    ``patience``: epochs without a better validation error before training stops. The
    paper's recipe waits 100, but its runs were not capped; ours stop at
    ``maxout_epochs`` and ``adv_epochs``, and waiting 100 epochs on top of that cap
    only confirms a best epoch already found (``docs/measurements.md`` has the run that
    showed it).
    """

    n_train: int = 50_000  # the last sixth of the training set (MNIST: 10,000 images) validates
    n_test: int = 10_000
    maxout_hidden: tuple = (240, 240)
    maxout_epochs: int = 150
    adv_epochs: int = 380
    patience: int = 50
    softmax_epochs: int = 20
    rbf_epochs: int = 10
    logreg_epochs: int = 10
    mlp_epochs: int = 20  # only with --mlp
    conv_epochs: int = 12
    cifar_preset: str = "cpu"  # the ConvMaxoutNetwork preset (only with --cifar)
    cifar_epochs: int = 20
    n_curve: int = 2000  # test images per point of the eps curves
    n_rubbish: int = 10_000

    def record(self) -> dict:
        """The budget as a run folder records it (and as JSON gives it back: the tuple a list)."""
        fields = dataclasses.asdict(self)
        fields["maxout_hidden"] = list(self.maxout_hidden)
        return fields


FULL = Budget()
QUICK = Budget(maxout_hidden=(120, 120), maxout_epochs=20, adv_epochs=20, patience=20, softmax_epochs=5,
               rbf_epochs=5, logreg_epochs=5, mlp_epochs=5, conv_epochs=2, cifar_preset="tiny", cifar_epochs=2,
               n_curve=1000)
FULL_SIZE = dataclasses.replace(FULL, maxout_hidden=(1600, 1600), cifar_preset="paper")

OPTIONAL_MODELS = ("mlp",)  # trained only on request (--mlp)
#: The models of the paper, in the order they train.
MODELS = tuple(name for name in ALL_MODELS if name not in OPTIONAL_MODELS)


def adversarial_error(model, X, y) -> float:
    """The error on FGSM examples (eps 0.25, unclipped): what adversarial training early-stops on.

    ``evaluate`` works in batches of 1,000: one graph over all 10,000 validation images
    would hold gigabytes of activations at --full-size.
    """
    return evaluate(model, X, y, eps=[EPS], clip=None, zero_grad=False)[0]["error_rate"]


class Reproduction:
    """The pipeline into ``out``: ``run()`` trains what is missing, measures, and writes the report.

    ``models``: the names of the models to train and report (default: all of
    :data:`MODELS`); the stages that need another model are skipped, and their rows
    left out. ``mlp=True`` adds the ReLU MLP (784-1200-1200-10), trained and attacked
    like the others. ``cifar``: a folder (or archive) holding CIFAR-10 in either
    official format, which adds the CIFAR-10 stage (:func:`stages.cifar`);
    ``cifar_checksums`` replaces the official MD5s (for a set of one's own). Its rows
    carry the paper's numbers only when every file read matched an official MD5
    (:func:`training.read_cifar10`): an official archive, or the published Python
    batches; never an extracted binary folder, nor a synthetic set.
    """

    def __init__(self, out, *, budget: Budget = FULL, data=None, seed: int = 0, progress: bool = True,
                 models=None, mlp: bool = False, cifar=None, cifar_checksums=None):
        self.out, self.budget, self.seed, self.progress = os.fspath(out), budget, seed, progress
        self.selected = tuple(MODELS if models is None else models) + (("mlp",) if mlp else ())
        unknown = sorted(set(self.selected) - set(ALL_MODELS))
        if unknown:
            raise ValueError(f"unknown models {unknown}: choose from {list(ALL_MODELS)}")
        check_out_folder(self.out)  # before any data is loaded (or downloaded)
        if cifar is not None and not os.path.exists(cifar):
            raise training.DataNotFoundError(f"CIFAR-10 not found in {cifar}: no such file or folder")
        self.is_mnist, (self.X, self.y), (self.X_test, self.y_test) = load_data(data)
        self.labels = np.concatenate([self.y, self.y_test])  # every label a model of the run must have a class for
        self.n_classes = int(self.labels.max()) + 1
        n_val = max(1, len(self.X) // 6)  # MNIST: the last 10,000 training images validate, as in the paper
        n_train = min(budget.n_train, len(self.X) - n_val)
        self.X_test, self.y_test = self.X_test[: budget.n_test], self.y_test[: budget.n_test]
        self.train = (self.X[:n_train], self.y[:n_train])
        self.val = (self.X[-n_val:], self.y[-n_val:])
        self.cifar, self.cifar_labels, self.cifar_official, cifar_files = None, None, False, ()
        if cifar is not None:
            X, y, train_official, train_files = training.read_cifar10("train", cifar, checksums=cifar_checksums)
            n_val = max(1, len(X) // 5)  # the last 10,000 of 50,000 validate, as in pylearn2's cifar10.yaml
            X_test, y_test, test_official, test_files = training.read_cifar10("test", cifar, checksums=cifar_checksums)
            cifar_files = train_files + test_files
            self.cifar = {"train": (X[:-n_val], y[:-n_val]), "val": (X[-n_val:], y[-n_val:]),
                          "test": (X_test[: budget.n_test], y_test[: budget.n_test])}
            self.cifar_labels = np.concatenate([y, y_test])  # every label the CIFAR-10 model must have a class for
            self.cifar_official = train_official and test_official  # the paper's numbers only beside its own data
        config = {"budget": budget.record(), "seed": seed, "mnist": self.is_mnist,
                  **recorded_sources(data, cifar, cifar_checksums), "inputs": input_digests([*idx_files(data), *cifar_files])}
        self.folder = RunFolder(self.out, config)

    # --- the stages ---------------------------------------------------------------------------
    def plan(self) -> list:
        """``(stage, the models it needs)`` in the order they run, for the selected models."""
        square = math.isqrt(self.X.shape[1]) ** 2 == self.X.shape[1]  # the conv net needs images
        names = [name for name in ALL_MODELS if name in self.selected and (square or name != "conv")]
        steps = [(stages.toy, ())]
        if all(np.isin((3, 7), labels).all() for labels in (self.train[1], self.y_test)):  # a data set without them skips it
            steps.append((stages.logreg37, ()))
        steps += [(stages.fgsm_of(name), (name,)) for name in names]
        steps += [(stages.noise_of(name), (name,)) for name in names]
        steps += [(stages.curves([name for name in names if name != "softmax_converged"]), ()),
                  (stages.transfer, ("maxout", "maxout_adversarial")),
                  (stages.linearity_and_examples, ("maxout",)),
                  (stages.rubbish, ("maxout", "softmax", "rbf"))]
        if self.cifar is not None:
            steps.append((stages.cifar, ()))
        return [stage for stage, needs in steps if set(needs) <= set(self.selected)]

    def run(self) -> list:
        """Every planned stage; returns the report's rows (also written to results.json and results.md)."""
        measurements = run_stages(self, self.plan(), "advex reproduce")
        result = report.rows(CLAIMS, measurements, mnist=self.is_mnist, budget=self.budget,
                             cifar10=self.cifar is not None and self.cifar_official)
        report.write(self.out, result, budget=self.budget, seed=self.seed, mnist=self.is_mnist,
                     seconds=self.folder.seconds(), trained=self.folder.trained())
        return result

    def figure(self, name: str, plot, *args, **kwargs):
        """``plot(*args, OUT/figures/name, **kwargs)``, or a note when matplotlib is missing."""
        figures.draw(self.out, name, plot, *args, **kwargs)

    # --- the models ---------------------------------------------------------------------------
    def model(self, name: str):
        """The trained model ``name``: from the run folder, or trained now by its recipe."""
        cls, make = self._recipes()[name]
        data = (self.cifar["train"][0], self.cifar_labels) if name == "cifar_maxout" else (self.X, self.labels)
        return self.folder.model(name, cls, lambda: self._fit(name, *make()), data)

    def _recipes(self) -> dict:
        """name -> (class, a function making the untrained model and the keyword arguments of fit)."""
        d, k, b = self.X.shape[1], self.n_classes, self.budget

        def softmax(epochs):
            model = models.SoftmaxRegression(d, k)
            return model, training.linear_classifier_recipe(model, epochs=epochs)

        def maxout(adversarial):
            model = models.MaxoutNetwork(d, hidden=b.maxout_hidden, n_classes=k, seed=self.seed)
            kwargs = dict(monitor_size=0, checkpoint_interval=60.0,
                          **training.maxout_paper_recipe(model, epochs=b.adv_epochs if adversarial else b.maxout_epochs,
                                                         patience=b.patience))
            if adversarial:  # train on the objective, early-stop on the adversarial validation error
                kwargs.update(loss=AdversarialObjective(eps=EPS, alpha=0.5), validate=adversarial_error)
            return model, kwargs

        def rbf():
            model = models.RBFNetwork.from_data(*self.train)
            return model, training.rbf_recipe(model, epochs=b.rbf_epochs)

        def mlp():
            model = models.MLP((d, 1200, 1200, k), seed=self.seed)
            return model, training.mlp_recipe(model, epochs=b.mlp_epochs)

        def conv():
            side = math.isqrt(d)
            model = models.SmallConvNet((1, side, side), n_classes=k, seed=self.seed)
            return model, dict(monitor_size=0, **training.conv_recipe(model, epochs=b.conv_epochs))

        def cifar_maxout():
            (X, y), val = self.cifar["train"], self.cifar["val"]
            model = models.ConvMaxoutNetwork(b.cifar_preset, preprocessing="gcn_zca", seed=self.seed)
            model.preprocess.fit(X)  # on the training images only
            return model, dict(monitor_size=0, checkpoint_interval=60.0, data=((X, y), val),
                               **training.conv_maxout_recipe(model, epochs=b.cifar_epochs))

        return {"softmax": (models.SoftmaxRegression, lambda: softmax(1)),
                "softmax_converged": (models.SoftmaxRegression, lambda: softmax(b.softmax_epochs)),
                "maxout": (models.MaxoutNetwork, lambda: maxout(False)),
                "maxout_adversarial": (models.MaxoutNetwork, lambda: maxout(True)),
                "rbf": (models.RBFNetwork, rbf),
                "mlp": (models.MLP, mlp),
                "conv": (models.SmallConvNet, conv),
                "cifar_maxout": (models.ConvMaxoutNetwork, cifar_maxout)}

    def _fit(self, name, model, fit_kwargs):
        train, val = fit_kwargs.pop("data", (self.train, self.val))  # MNIST unless the recipe brings its own
        history = training.fit(model, *train, val=val, seed=self.seed, progress=self.progress,
                               checkpoint_dir=self.folder.checkpoint_dir(name), resume=True, **fit_kwargs)
        return model, training_record(history)


def recorded_sources(data, cifar, cifar_checksums) -> dict:
    """``--data`` and ``--cifar`` as a run's settings record them: absolute paths (and CIFAR-10's checksums)."""
    return {"data": None if data is None else os.path.abspath(data),
            "cifar": None if cifar is None else {"path": os.path.abspath(cifar), "checksums": cifar_checksums}}


def run_stages(run, plan, title: str) -> list:
    """Each stage of ``plan`` on ``run``, under one progress bar; their measurements, in order."""
    bar = training.progress.progress_bar(len(plan), title, run.progress)
    measurements = []
    for stage in plan:
        bar.set_postfix_str(stage.__name__)
        measurements += stage(run)
        bar.update(1)
    bar.close()
    return measurements


def training_record(history) -> dict:
    """What the report keeps of a training run: epochs run, the best epoch, seconds per epoch."""
    return {"epochs": len(history.epoch), "best_epoch": history.best_epoch,
            "seconds_per_epoch": float(np.mean(history.seconds)) if history.seconds else None}


def load_data(data):
    """(is MNIST, train, test): MNIST by default; with ``data``, that folder only.

    A folder is MNIST when its files match MNIST's checksums; any other IDX data set
    (Fashion-MNIST, KMNIST) loads without them and is reported without the paper's numbers.
    """
    if data is None:
        return True, training.load_mnist("train"), training.load_mnist("test")
    try:
        splits = [training.load_idx_dataset(data, split, checksums=training.data.MNIST_SHA256) for split in ("train", "test")]
        return True, *splits
    except training.DataNotFoundError:
        raise
    except training.DataError:  # readable, but not MNIST
        return False, training.load_idx_dataset(data, "train"), training.load_idx_dataset(data, "test")
