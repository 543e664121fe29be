"""One run of ``advex robustness``: its data, budget, models and stages, in a resumable folder."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

import models
import training

from .. import figures
from ..reproduction import FULL, QUICK, report
from ..reproduction.cache import RunFolder, check_out_folder, idx_files, input_digests
from ..reproduction.paper_models import PaperModels
from ..reproduction.run import load_data, run_stages, training_record
from . import stages
from .claims import CLAIMS


@dataclasses.dataclass(frozen=True)
class Budget:
    """How many images, steps, restarts, queries and epochs each lesson gets."""

    n_eval: int = 1000  # test images every attack of a lesson runs on
    n_holdout: int = 1000  # the last training images: held out, the per-epoch accuracies are measured on them
    pgd_steps: int = 40
    pgd_restarts: int = 10
    apgd_iterations: int = 100
    square_queries: int = 1000
    fast_epochs: int = 10
    fast_seeds: int = 3  # fast adversarial training from this many seeds (it is unstable at eps 0.3)
    eval_pgd_steps: int = 50
    eval_pgd_restarts: int = 10
    track_pgd_steps: int = 10  # the per-epoch PGD (eps / 4 steps): cheap enough to run after every epoch
    overfit_step: float = 0.3  # the step without a random start: plain FGSM at eps 0.3
    quantise_levels: int = 8
    surrogate_epochs: int = 3


FULL_BUDGET = Budget()
QUICK_BUDGET = Budget(n_eval=200, n_holdout=200, pgd_steps=10, pgd_restarts=2, apgd_iterations=20, square_queries=100,
                      fast_epochs=2, fast_seeds=1, eval_pgd_steps=10, eval_pgd_restarts=2, track_pgd_steps=5, surrogate_epochs=1)

#: The first paragraph of results.md: the units, and where each lesson and number comes from.
INTRO = ("Error rates as fractions of the n test images each setup names: eps 0.25 unclipped for the paper's maxout "
         "networks, 0.3 clipped to [0, 1] for the conv nets; per-epoch rows are accuracies on the held-out training "
         "images. Published numbers: Goodfellow, Shlens & Szegedy 2014 (the adversarially trained maxout under FGSM); "
         "Wong, Rice & Kolter 2020, 'Fast is better than free' (fgsmrs_*). The lessons follow Madry et al. 2018 (PGD), "
         "Croce & Hein 2020 (APGD-CE, the worst case, the flags), Andriushchenko et al. 2020 (Square), Kurakin, "
         "Goodfellow & Bengio 2016 (label leaking: FGSM from the true labels giving a lower error than FGSM from the "
         "predictions, even than clean) and Athalye, Carlini & Wagner 2018 (gradient masking, BPDA).")

#: What a robustness run writes into its folder.
WRITTEN = ("stages.json", "results.json", "results.md", "models", "checkpoints", "figures", "paper-models")
#: The reproduction's models the lab attacks, read from ``--paper-models DIR/models/NAME.npz``.
PAPER_MODELS = ("maxout", "maxout_adversarial")


class Robustness:
    """The robustness lab into ``out``: ``run()`` trains what is missing, measures, and reports.

    ``paper_models``: an ``advex reproduce`` output folder whose maxout networks
    (``models/maxout.npz``, ``models/maxout_adversarial.npz``) are reused; without it
    they are trained into ``out/paper-models`` at the reproduction's settings
    (its quick ones with ``quick``). They are read once, before any stage, and checked
    against the data: the folder's stages.json must record the same data as this run's
    (MNIST, or IDX files of the same contents) and the SHA-256 of both model files as
    they are (the files it saved, not others put there), and the models must fit it. The run
    folder keeps their digests with the data's, so a folder whose stages attacked other
    models is refused. Paper models trained here are recorded in the run folder too, as
    the stages first use them (:meth:`RunFolder.check_used_file`): a re-run whose
    ``out/paper-models`` lost or changed them is refused before any stage, rather than
    reporting the cached stages of the old ones beside new stages of new ones.
    """

    def __init__(self, out, *, quick: bool = False, data=None, seed: int = 0, progress: bool = True, paper_models=None):
        self.out, self.seed, self.progress, self.quick = os.fspath(out), seed, progress, quick
        self.budget = QUICK_BUDGET if quick else FULL_BUDGET
        self.data = data
        check_out_folder(self.out, "advex robustness", WRITTEN)  # before any data is loaded (or downloaded)
        self.paper = PaperModels(paper_models, dict.fromkeys(PAPER_MODELS, models.MaxoutNetwork))  # before the data
        self.paper_models = self.paper.paper_models
        self.is_mnist, (self.X, self.y), (X_test, y_test) = load_data(data)
        self.image_shape()  # the conv nets need square images: refused before any work
        data_files = input_digests(idx_files(data))
        n_holdout = min(self.budget.n_holdout, max(1, len(self.X) // 6))  # MNIST: train on 59,000, hold out 1,000 (--quick: 200)
        self.train = (self.X[:-n_holdout], self.y[:-n_holdout])
        self.holdout = (self.X[-n_holdout:], self.y[-n_holdout:])
        self.test = (X_test[: self.budget.n_eval], y_test[: self.budget.n_eval])
        self.labels = np.concatenate([self.y, y_test])  # every label a model of the run must have a class for
        self.paper.read(data=data, is_mnist=self.is_mnist, data_files=data_files, X=self.X, labels=self.labels)
        config = {"budget": dataclasses.asdict(self.budget), "quick": quick, "seed": seed, "mnist": self.is_mnist,
                  "data": None if data is None else os.path.abspath(data), "paper_models": self.paper_models,
                  "inputs": {**data_files, **self.paper.digests}}
        self.folder = RunFolder(self.out, config, command="advex robustness", written=WRITTEN)
        self.folder.check_recorded_files()
        self.maxout_hidden = self.paper.maxout_hidden(QUICK if quick else FULL)

    def run(self) -> list:
        plan = [stages.strong_attacks, stages.label_leaking, stages.fast_adversarial, stages.catastrophic_overfitting,
                stages.plain_gradient_masking, stages.masked_model]
        measurements = run_stages(self, plan, "advex robustness")
        rows = report.rows(CLAIMS, measurements, mnist=self.is_mnist, budget=self.budget,
                           setup_fields={"maxout_hidden": self.maxout_hidden})
        report.write(self.out, rows, budget=self.budget, seed=self.seed, mnist=self.is_mnist,
                     seconds=self.folder.seconds(), trained=self.folder.trained(),
                     title="After the paper: the robustness lab, our numbers beside the published ones",
                     intro=INTRO + f" Budget: {dataclasses.asdict(self.budget)}.")
        return rows

    def figure(self, name: str, plot, *args, **kwargs):
        """``plot(*args, OUT/figures/name, **kwargs)``, or a note when matplotlib is missing."""
        figures.draw(self.out, name, plot, *args, **kwargs)

    # --- the models ---------------------------------------------------------------------
    def paper_model(self, name: str):
        """The reproduction's ``maxout`` or ``maxout_adversarial``: from --paper-models, or trained here."""
        return self.paper.model(name, out=self.out, budget=QUICK if self.quick else FULL, seed=self.seed,
                                progress=self.progress, folder=self.folder)

    def model(self, name: str, make, fit_kwargs):
        """The model ``name`` trained on the training split by ``fit_kwargs``: from the folder, or trained now."""
        def train():
            model = make()
            history = training.fit(model, *self.train, seed=self.seed, progress=self.progress,
                                   checkpoint_dir=self.folder.checkpoint_dir(name), resume=True, monitor_size=0,
                                   **fit_kwargs(model))
            return model, training_record(history)

        return self.folder.model(name, models.SmallConvNet, train, (self.X, self.labels))

    def image_shape(self):
        side = int(round(np.sqrt(self.X.shape[1])))
        if side * side != self.X.shape[1]:
            raise ValueError(f"advex robustness needs square grey images; the data have {self.X.shape[1]} features")
        return (1, side, side)
