"""One run of ``advex transfer``: its data halves, budget, models and stages, in a resumable folder."""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

import models
import training
from models.io import atomic_write_text

from .. import figures
from ..reproduction import report
from ..reproduction.cache import RunFolder, check_out_folder, idx_files, input_digests
from ..reproduction.run import load_data, run_stages, training_record
from . import stages
from .claims import CLAIMS, PUBLISHED_MATRIX, TARGETS, TECHNIQUES


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much data and training each part gets."""

    n_half: int = 30_000  # each half of the training set: the victims train on the first, the sources on the second
    n_val: int = 5_000  # the last of each half validate the networks (early stopping)
    n_craft: int = 1000  # test images each source crafts from
    maxout_hidden: tuple = (240, 240)
    maxout_epochs: int = 150
    patience: int = 50
    linear_epochs: int = 20
    conv_epochs: int = 12
    tree_depth: int | None = None  # grown until its leaves are pure
    knn_k: int = 3
    n_attacker: int = 150  # test images the black-box attacker holds, removed from every evaluation
    rounds: int = 6
    substitute_epochs: int = 10
    n_blackbox_eval: int = 9_850  # the rest of the test set
    weak_oracle_images: int = 5_000  # the briefly trained conv oracle of CleverHans' test of its tutorial:
    weak_oracle_epochs: int = 2  # Adam, learning rate 0.001, batch 128, this many epochs on this many images


FULL = Budget()
QUICK = Budget(n_half=5_000, n_val=500, n_craft=200, maxout_hidden=(120, 120), maxout_epochs=20, patience=20,
               linear_epochs=3, conv_epochs=1, tree_depth=8, rounds=3, substitute_epochs=3, n_blackbox_eval=500)

#: The training record of a model fitted in one go (the tree, kNN), for the report's training table.
NOT_BY_EPOCHS = {"epochs": 0, "best_epoch": None, "seconds_per_epoch": None}
#: What a transfer run writes into its folder.
WRITTEN = ("stages.json", "results.json", "results.md", "models", "checkpoints", "figures")


def matrix_table(matrix: dict, targets=TECHNIQUES) -> str:
    """``matrix[source][target]`` (fractions) as a Markdown table of percentages, sources as rows."""
    lines = ["| source \\ target | " + " | ".join(targets) + " |", "|---" * (len(targets) + 1) + "|"]
    lines += [f"| {s} | " + " | ".join(f"{100 * matrix[s][t]:.2f}%" for t in targets) + " |" for s in matrix]
    return "\n".join(lines)


INTRO = ("Rates as fractions. Papernot, McDaniel & Goodfellow 2016 (the matrix; their values below were read from a "
         "reproduction of the paper's figure, so they are approximate, and their models and budgets were not ours) and "
         "Papernot et al. 2017 in the protocol of CleverHans' mnist_blackbox (the black-box rows, judged by that "
         "tutorial's test). The published matrix, source -> target, % misclassified:\n\n")


class Transferability:
    """Transfer between algorithms and the black-box attack into ``out``: ``run()`` trains what is missing,
    measures, and reports. Data: MNIST by default, or the IDX folder ``data``."""

    def __init__(self, out, *, quick: bool = False, data=None, seed: int = 0, progress: bool = True, budget=None):
        self.out, self.seed, self.progress = os.fspath(out), seed, progress
        self.budget = budget if budget is not None else QUICK if quick else FULL
        check_out_folder(self.out, "advex transfer", WRITTEN)  # before any data is loaded
        self.is_mnist, (X, y), (X_test, y_test) = load_data(data)
        b = self.budget
        if len(X) < 2 * b.n_half:
            raise ValueError(f"advex transfer: needs two halves of {b.n_half} training images, the data have {len(X)}")
        if b.n_val >= b.n_half:
            raise ValueError(f"advex transfer: n_val ({b.n_val}) must be below n_half ({b.n_half})")
        need = b.n_attacker + max(b.n_craft, b.n_blackbox_eval)
        if len(X_test) < need:
            raise ValueError(f"advex transfer: needs {need} test images ({b.n_attacker} for the attacker, then the "
                             f"evaluation's), the data have {len(X_test)}")
        self.labels = np.concatenate([y, y_test])  # every label a model of the run must have a class for
        self.n_features, self.n_classes = X.shape[1], int(self.labels.max()) + 1
        self.halves = {"victim": (X[: b.n_half], y[: b.n_half]), "source": (X[b.n_half : 2 * b.n_half], y[b.n_half : 2 * b.n_half])}
        self.attacker = X_test[: b.n_attacker]  # the black-box attacker's own images; its labels are the oracle's
        rest = (X_test[b.n_attacker :], y_test[b.n_attacker :])
        self.craft = (rest[0][: b.n_craft], rest[1][: b.n_craft])
        self.blackbox_eval = (rest[0][: b.n_blackbox_eval], rest[1][: b.n_blackbox_eval])
        config = {"budget": {**dataclasses.asdict(b), "maxout_hidden": list(b.maxout_hidden)}, "seed": seed,
                  "mnist": self.is_mnist, "data": None if data is None else os.path.abspath(data),
                  "inputs": input_digests(idx_files(data))}
        self.folder = RunFolder(self.out, config, command="advex transfer", written=WRITTEN)

    def run(self) -> list:
        plan = [stages.clean_accuracy, stages.transfer_between_techniques, stages.tree_attack, stages.blackbox,
                stages.blackbox_other_oracles]
        measurements = run_stages(self, plan, "advex transfer")
        rows = report.rows(CLAIMS, measurements, mnist=self.is_mnist, budget=self.budget)
        report.write(self.out, rows, budget=self.budget, seed=self.seed, mnist=self.is_mnist,
                     seconds=self.folder.seconds(), trained=self.folder.trained(),
                     title="Transfer between algorithms and the black-box attack: our numbers beside the published ones",
                     intro=INTRO + matrix_table(PUBLISHED_MATRIX) + f"\n\nBudget: {dataclasses.asdict(self.budget)}.")
        ours = next((row["ours"] for row in rows if row["id"] == "transfer_matrix"), None)
        if ours is not None:  # the matrix row again, as a table that reads like the published one
            path = os.path.join(self.out, "results.md")
            with open(path) as file:
                text = file.read()
            atomic_write_text(path, text + "\nOur matrix (the row transfer_matrix), source -> target, % misclassified:\n\n"
                              + matrix_table(ours, TARGETS) + "\n")
        return rows

    def figure(self, name: str, plot, *args, **kwargs):
        figures.draw(self.out, name, plot, *args, **kwargs)

    # --- the models ---------------------------------------------------------------------
    def model(self, technique: str, half: str):
        """The model of ``technique`` (a key of :data:`TECHNIQUES`, ``conv`` or ``conv_weak``) trained on ``half``
        ("victim" or "source"): from the folder, or trained now."""
        cls, train = self._recipes(half)[technique]
        return self.folder.model(f"{technique}_{half}", cls, train, (self.halves[half][0], self.labels))

    def _recipes(self, half: str) -> dict:
        """technique -> (class, a function training the model on ``half`` and returning (model, result))."""
        b, d, k = self.budget, self.n_features, self.n_classes
        X, y = self.halves[half]
        train, val = (X[: -b.n_val], y[: -b.n_val]), (X[-b.n_val :], y[-b.n_val :])

        def fitted(technique, model, recipe, data=(X, y), **extra):
            history = training.fit(model, *data, seed=self.seed, progress=self.progress, monitor_size=0,
                                   checkpoint_dir=self.folder.checkpoint_dir(f"{technique}_{half}"), resume=True,
                                   **recipe, **extra)
            return model, training_record(history)

        def dnn():
            model = models.MaxoutNetwork(d, hidden=b.maxout_hidden, n_classes=k, seed=self.seed)
            return fitted("dnn", model, training.maxout_paper_recipe(model, epochs=b.maxout_epochs, patience=b.patience),
                          train, val=val, checkpoint_interval=60.0)

        def lr():
            model = models.SoftmaxRegression(d, k)
            return fitted("lr", model, training.linear_classifier_recipe(model, epochs=b.linear_epochs))

        def svm():
            model = models.LinearSVM(d, k)
            optimizer = training.SGD(model.parameters(), lr=0.01, momentum=0.5, weight_decay=1e-4)
            return fitted("svm", model, dict(optimizer=optimizer, batch_size=100, epochs=b.linear_epochs))

        def dt():
            return models.DecisionTree(max_depth=b.tree_depth, n_features=d, n_classes=k).fit(X, y), NOT_BY_EPOCHS

        def knn():
            return models.KNearestNeighbors(k=b.knn_k, n_features=d, n_classes=k).fit(X, y), NOT_BY_EPOCHS

        def conv():
            side = math.isqrt(d)
            if side * side != d:
                raise ValueError(f"advex transfer: the conv oracle needs square grey images; the data have {d} features")
            model = models.SmallConvNet((1, side, side), n_classes=k, seed=self.seed)
            return fitted("conv", model, training.conv_recipe(model, epochs=b.conv_epochs), train, val=val)

        def conv_weak():
            model = models.SmallConvNet((1, math.isqrt(d), math.isqrt(d)), n_classes=k, seed=self.seed)
            few = (X[: b.weak_oracle_images], y[: b.weak_oracle_images])
            recipe = dict(optimizer=training.Adam(model.parameters(), lr=0.001), batch_size=128,
                          epochs=b.weak_oracle_epochs)
            return fitted("conv_weak", model, recipe, few)

        return {"dnn": (models.MaxoutNetwork, dnn), "lr": (models.SoftmaxRegression, lr), "svm": (models.LinearSVM, svm),
                "dt": (models.DecisionTree, dt), "knn": (models.KNearestNeighbors, knn), "conv": (models.SmallConvNet, conv),
                "conv_weak": (models.SmallConvNet, conv_weak)}
