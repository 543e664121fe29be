"""One run of ``advex robustness``: its data, budget, models and stages, in a resumable folder."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

import models
import training

from .. import figures
from ..checks import check_model_fits
from ..reproduction import FULL, QUICK, Reproduction, report
from ..reproduction.cache import RunFolder, check_out_folder, idx_files, input_digests, read_stages
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
#: Where a run without --paper-models trains each of them, in its folder.
OWN_PAPER_MODELS = {name: f"paper-models/models/{name}.npz" for name in PAPER_MODELS}
#: What to do when --paper-models cannot be used.
PAPER_ADVICE = "pass the --out of an advex reproduce run on the same data, or leave out --paper-models to train them here"


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
        self.paper_models = None if paper_models is None else os.path.abspath(paper_models)
        model_files = [] if paper_models is None else [os.path.join(self.paper_models, "models", f"{name}.npz")
                                                        for name in PAPER_MODELS]
        for path in model_files:
            if not os.path.exists(path):
                raise FileNotFoundError(f"--paper-models {paper_models}: no {path} (an advex reproduce output folder "
                                        "holds models/maxout.npz and models/maxout_adversarial.npz)")
        self.is_mnist, (self.X, self.y), (X_test, y_test) = load_data(data)
        self.image_shape()  # the conv nets need square images: refused before any work
        data_files = input_digests(idx_files(data))
        recorded = {} if paper_models is None else self._paper_record(paper_models, data_files)
        n_holdout = min(self.budget.n_holdout, max(1, len(self.X) // 6))  # MNIST: train on 59,000, hold out 1,000 (--quick: 200)
        self.train = (self.X[:-n_holdout], self.y[:-n_holdout])
        self.holdout = (self.X[-n_holdout:], self.y[-n_holdout:])
        self.test = (X_test[: self.budget.n_eval], y_test[: self.budget.n_eval])
        self.labels = labels = np.concatenate([self.y, y_test])  # every label a model of the run must have a class for
        self._given = {name: self._read_paper_model(path, paper_models, labels)
                       for name, path in zip(PAPER_MODELS, model_files)}
        model_digests = input_digests(model_files)  # once read (cache.py says why)
        if paper_models is not None:
            self._check_paper_digests(paper_models, recorded, model_files, model_digests)
        config = {"budget": dataclasses.asdict(self.budget), "quick": quick, "seed": seed, "mnist": self.is_mnist,
                  "data": None if data is None else os.path.abspath(data), "paper_models": self.paper_models,
                  "inputs": {**data_files, **model_digests}}
        self.folder = RunFolder(self.out, config, command="advex robustness", written=WRITTEN)
        for key in self.folder.recorded_files():  # before any stage: cached ones were computed from these files
            self.folder.check_used_file(key)
        self._paper = None
        given = self._given.get("maxout")
        self.maxout_hidden = tuple(given.config["hidden"]) if given is not None else (QUICK if quick else FULL).maxout_hidden

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
        if self.paper_models is not None:
            return self._given[name]
        if self._paper is None:
            self._paper = Reproduction(os.path.join(self.out, "paper-models"), budget=QUICK if self.quick else FULL,
                                       data=self.data, seed=self.seed, progress=self.progress,
                                       models=("maxout", "maxout_adversarial"))
        model = self._paper.model(name)
        self.folder.check_used_file(OWN_PAPER_MODELS[name])
        return model

    def _paper_record(self, flag: str, data_files: dict):
        """The model digests the stages.json of ``--paper-models flag`` records (None: a folder from before
        they were recorded), or a ValueError naming the flag unless it records this run's data
        (:meth:`_check_paper_data`)."""
        path = os.path.join(self.paper_models, "stages.json")
        if not os.path.exists(path):
            raise ValueError(f"--paper-models {flag}: no {path}, the record of the data its models were trained on; "
                             f"{PAPER_ADVICE}")
        saved = read_stages(path, "advex reproduce", advice=f"it is the record of --paper-models {flag}: {PAPER_ADVICE}")
        self._check_paper_data(flag, data_files, saved["config"])
        return saved.get("models")

    def _check_paper_digests(self, flag: str, recorded, model_files: list, digests: dict) -> None:
        """A ValueError naming ``--paper-models flag`` unless ``recorded``, the model digests of its
        stages.json, holds ``digests[file]`` (the SHA-256 of each file as read) for each model.

        A model file the reproduction did not save (copied in from another run, or
        replaced since) was never trained on the data its record names. A folder written
        before digests were recorded (``recorded`` None) cannot be checked, but a re-run of
        its reproduction records them: its stages load their models first.
        """
        if recorded is None:
            raise ValueError(f"--paper-models {flag}: its stages.json records no SHA-256 of its model files (written "
                             "before advex reproduce recorded them), so they cannot be checked: run advex reproduce "
                             f"--out {flag} again with that run's settings (it records them as its stages load the "
                             "models), or leave out --paper-models to train them here")
        for name, file in zip(PAPER_MODELS, model_files):
            if recorded.get(name) is None:
                problem = f"its stages.json records no {name} model, so {file} is none that advex reproduce saved there"
            elif recorded[name] != digests[file]:
                problem = (f"{file} is not the {name} model advex reproduce saved there (its SHA-256 is not the one "
                           "its stages.json records)")
            else:
                continue
            raise ValueError(f"--paper-models {flag}: {problem}; {PAPER_ADVICE}")

    def _check_paper_data(self, flag: str, data_files: dict, config: dict) -> None:
        """A ValueError naming ``--paper-models flag`` unless ``config``, its stages.json's settings, records
        this run's data: MNIST for MNIST, else IDX files of the same contents (``data_files``, by file name).

        Models trained on other data would be attacked on data they never saw, their
        numbers printed beside the paper's.
        """
        ours = "MNIST" if self.is_mnist else _by_name(data_files)
        theirs = "MNIST" if config.get("mnist") is True else _by_name(config.get("inputs"))
        if ours == theirs:
            return
        if "MNIST" in (ours, theirs):
            trained, here = (_data_name(config.get("data"), theirs), _data_name(self.data, ours))
            problem = f"its models were trained on {trained}, this run's data are {here}"
        elif theirs is None:
            problem = "its stages.json does not record the contents of the files its models were trained on"
        else:
            changed = sorted(name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name))
            problem = (f"its models were trained on other contents of {', '.join(changed)} (from {config.get('data')}) "
                       f"than this run's --data {self.data}")
        raise ValueError(f"--paper-models {flag}: {problem}; {PAPER_ADVICE}")

    def _read_paper_model(self, path: str, flag: str, labels):
        """The MaxoutNetwork at ``path`` (given as ``--paper-models flag``), fit for the data (``self.X``,
        ``labels``), or an error naming both.

        The folder is the user's reproduction: the advice is another --paper-models, or none.
        """
        try:
            model = models.load(path, expected=models.MaxoutNetwork)
        except models.ModelFileError as error:
            raise models.ModelFileError(f"--paper-models {flag}: {error}; {PAPER_ADVICE}") from None
        try:
            check_model_fits(model, self.X, labels, f"--paper-models {flag}: {path}")
        except ValueError as error:
            raise ValueError(f"{error}: {PAPER_ADVICE}") from None
        return model

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


def _by_name(inputs):
    """``{file name: SHA-256}`` of the IDX files among a run's ``inputs`` (None when they were not recorded)."""
    if not isinstance(inputs, dict):
        return None
    names = {name for split in training.data.SPLIT_FILES.values() for name in split}
    return {os.path.basename(path): digest for path, digest in inputs.items()
            if os.path.basename(path).removesuffix(".gz") in names}


def _data_name(folder, data) -> str:
    return "MNIST" if data == "MNIST" else f"the IDX data set in {folder} (not MNIST)"
