"""One run of ``advex physical``: its data, budget, models and stages, in a resumable folder."""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

import models

from .. import figures
from ..reproduction import FULL, QUICK, report
from ..reproduction.cache import RunFolder, check_out_folder, idx_files, input_digests
from ..reproduction.paper_models import PaperModels
from ..reproduction.run import load_data, run_stages
from . import stages
from .claims import CLAIMS, PUBLISHED_PHOTO


@dataclasses.dataclass(frozen=True)
class Budget:
    """How many images each part attacks, and how hard EOT works."""

    n_eval: int = 1000  # test images the three methods attack, at every eps, on both models
    eps: tuple = (0.1, 0.2, 0.3)
    n_eot: int = 200  # test images PGD and EOT-PGD attack
    eot_samples: int = 10  # draws of the photo chain per step
    eot_steps: int = 20
    eot_step_size: float = 0.01
    adversariality_draws: int = 100


FULL_BUDGET = Budget()
QUICK_BUDGET = Budget(n_eval=200, eps=(0.1, 0.3), n_eot=50, eot_samples=4, eot_steps=5, eot_step_size=0.03,
                      adversariality_draws=20)

#: What a physical run writes into its folder.
WRITTEN = ("stages.json", "results.json", "results.md", "figures", "paper-models")
#: The reproduction's models the experiment attacks, read from ``--paper-models DIR/models/NAME.npz``.
PAPER_MODELS = {"maxout": models.MaxoutNetwork, "conv": models.SmallConvNet}


def photo_table() -> str:
    lines = ["| eps (of 255) | fast | iter | ll |", "|---|---|---|---|"]
    lines += [f"| {eps} | " + " | ".join(f"{100 * r[m]:.1f}%" for m in ("fast", "iter", "ll")) + " |"
              for eps, r in PUBLISHED_PHOTO.items()]
    return "\n".join(lines)


INTRO = ("Rates as fractions. Kurakin, Goodfellow & Bengio 2016 (destruction rates; their photos of ImageNet images, "
         "top-1, average case, are below: ours are MNIST digits through a simulated camera, reported beside theirs, "
         "not judged against them) and Athalye, Engstrom, Ilyas & Kwok 2018 (EOT, adversariality). Kurakin et al.'s "
         "photo destruction rates:\n\n")


class Physical:
    """Whether adversarial examples survive a camera, into ``out``: ``run()`` measures and reports.

    The models are the reproduction's maxout network and SmallConvNet: from ``paper_models``
    (an ``advex reproduce`` folder, checked as :class:`~attacks.reproduction.paper_models.PaperModels`
    says), or trained into ``out/paper-models`` at the reproduction's settings (its quick
    ones with ``quick``).
    """

    def __init__(self, out, *, quick: bool = False, data=None, seed: int = 0, progress: bool = True, paper_models=None,
                 budget=None):
        self.out, self.seed, self.progress, self.quick = os.fspath(out), seed, progress, quick
        self.budget = budget if budget is not None else QUICK_BUDGET if quick else FULL_BUDGET
        check_out_folder(self.out, "advex physical", WRITTEN)  # before any data is loaded
        self.paper = PaperModels(paper_models, PAPER_MODELS)
        self.is_mnist, (X, y), (X_test, y_test) = load_data(data)
        side = math.isqrt(X.shape[1])
        if side * side != X.shape[1]:
            raise ValueError(f"advex physical needs square grey images; the data have {X.shape[1]} features")
        self.image_shape = (1, side, side)
        b = self.budget
        if stages.ROW_EPS not in b.eps:
            raise ValueError(f"advex physical: the budget's eps {b.eps} must include {stages.ROW_EPS}, the eps of its rows")
        if len(X_test) < max(b.n_eval, b.n_eot):
            raise ValueError(f"advex physical: needs {max(b.n_eval, b.n_eot)} test images, the data have {len(X_test)}")
        data_files = input_digests(idx_files(data))
        self.labels = np.concatenate([y, y_test])
        self.paper.read(data=data, is_mnist=self.is_mnist, data_files=data_files, X=X, labels=self.labels)
        self.test = (X_test[: b.n_eval], y_test[: b.n_eval])
        self.eot_test = (X_test[: b.n_eot], y_test[: b.n_eot])
        config = {"budget": {**dataclasses.asdict(b), "eps": list(b.eps)}, "quick": quick, "seed": seed,
                  "mnist": self.is_mnist, "data": None if data is None else os.path.abspath(data),
                  "paper_models": self.paper.paper_models, "inputs": {**data_files, **self.paper.digests}}
        self.folder = RunFolder(self.out, config, command="advex physical", written=WRITTEN)
        self.folder.check_recorded_files()
        self.maxout_hidden = self.paper.maxout_hidden(QUICK if quick else FULL)

    def run(self) -> list:
        measurements = run_stages(self, [stages.destruction, stages.expectation_over_transformation], "advex physical")
        rows = report.rows(CLAIMS, measurements, mnist=self.is_mnist, budget=self.budget,
                           setup_fields={"maxout_hidden": self.maxout_hidden})
        report.write(self.out, rows, budget=self.budget, seed=self.seed, mnist=self.is_mnist,
                     seconds=self.folder.seconds(), trained=self.folder.trained(),
                     title="Off the screen: adversarial examples through a simulated camera, beside the published numbers",
                     intro=INTRO + photo_table() + f"\n\nBudget: {dataclasses.asdict(self.budget)}.")
        return rows

    def figure(self, name: str, plot, *args, **kwargs):
        figures.draw(self.out, name, plot, *args, **kwargs)

    def model(self, name: str):
        """The reproduction's ``maxout`` or ``conv``: from --paper-models, or trained here."""
        return self.paper.model(name, out=self.out, budget=QUICK if self.quick else FULL, seed=self.seed,
                                progress=self.progress, folder=self.folder)
