"""The reproduction's models that a later experiment attacks: read from ``--paper-models DIR``, or trained here.

``advex robustness`` and ``advex physical`` attack networks that ``advex reproduce``
trains. Given the output folder of a reproduction (``--paper-models DIR``), they read
its model files once, before any stage, and check them against the run's data: the
folder's stages.json must record the same data as this run's (MNIST, or IDX files of the
same contents) and the SHA-256 of each model file as it is (the files it saved, not
others put there), and each model must be of its expected class and fit the data.
Without the flag, they train the models at the reproduction's settings into
``OUT/paper-models``, a reproduction folder of their own, and the run folder records
each file as the stages first use it (:meth:`RunFolder.check_used_file`).
"""

from __future__ import annotations

import os

import models
import training

from ..checks import check_model_fits
from .cache import input_digests, read_stages
from .run import Reproduction

#: What to do when --paper-models cannot be used.
ADVICE = "pass the --out of an advex reproduce run on the same data, or leave out --paper-models to train them here"


class PaperModels:
    """The models ``classes`` (name -> expected class) of a reproduction, for a run of another experiment.

    Built in two steps, because the checks need the run's data: ``PaperModels(flag, classes)``
    checks that the files exist (before any data is loaded), then :meth:`read` reads and
    checks them. :attr:`digests` ({file: SHA-256}, of the files as read) belongs in the run's
    config; :meth:`model` gives a model, from the flag's folder or trained into
    ``OUT/paper-models`` by a :class:`~attacks.reproduction.run.Reproduction`.
    """

    advice = ADVICE

    def __init__(self, flag, classes: dict):
        self.flag, self.classes, self.names = flag, dict(classes), tuple(classes)
        self.paper_models = None if flag is None else os.path.abspath(flag)
        self.files = [] if flag is None else [os.path.join(self.paper_models, "models", f"{name}.npz")
                                              for name in self.names]
        for path in self.files:
            if not os.path.exists(path):
                holds = " and ".join(f"models/{name}.npz" for name in self.names)
                raise FileNotFoundError(f"--paper-models {flag}: no {path} (an advex reproduce output folder holds {holds})")
        self.given, self.digests, self._own = {}, {}, None

    def read(self, *, data, is_mnist: bool, data_files: dict, X, labels) -> None:
        """Read and check the flag's models against this run's data (``data`` its --data, ``data_files`` the
        digests of its IDX files, ``X`` its training rows, ``labels`` every label it has); a no-op without the flag."""
        self.data, self.is_mnist = data, is_mnist
        if self.flag is None:
            return
        recorded = self._paper_record(self.flag, data_files)
        self.given = {name: self._read_paper_model(name, path, self.flag, X, labels)
                      for name, path in zip(self.names, self.files)}
        self.digests = input_digests(self.files)  # once read (cache.py says why)
        self._check_paper_digests(self.flag, recorded, self.files, self.digests)

    def maxout_hidden(self, budget) -> tuple:
        """The hidden layers of the maxout network the run attacks: the flag's, or ``budget``'s (for one trained here)."""
        given = self.given.get("maxout")
        return tuple(given.config["hidden"]) if given is not None else tuple(budget.maxout_hidden)

    def model(self, name: str, *, out: str, budget, seed: int, progress: bool, folder):
        """The model ``name``: the flag's, or trained (at ``budget``) into ``OUT/paper-models`` and recorded in the
        run's ``folder`` as its stages first use it."""
        if self.flag is not None:
            return self.given[name]
        if self._own is None:
            self._own = Reproduction(os.path.join(out, "paper-models"), budget=budget, data=self.data, seed=seed,
                                     progress=progress, models=self.names)
        model = self._own.model(name)
        folder.check_used_file(own_file(name))
        return model

    def _paper_record(self, flag: str, data_files: dict):
        """The model digests the stages.json of ``--paper-models flag`` records (None: a folder from before
        they were recorded), or a ValueError naming the flag unless it records this run's data
        (:meth:`_check_paper_data`)."""
        path = os.path.join(self.paper_models, "stages.json")
        if not os.path.exists(path):
            raise ValueError(f"--paper-models {flag}: no {path}, the record of the data its models were trained on; "
                             f"{self.advice}")
        saved = read_stages(path, "advex reproduce", advice=f"it is the record of --paper-models {flag}: {self.advice}")
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
        for name, file in zip(self.names, model_files):
            if recorded.get(name) is None:
                problem = f"its stages.json records no {name} model, so {file} is none that advex reproduce saved there"
            elif recorded[name] != digests[file]:
                problem = (f"{file} is not the {name} model advex reproduce saved there (its SHA-256 is not the one "
                           "its stages.json records)")
            else:
                continue
            raise ValueError(f"--paper-models {flag}: {problem}; {self.advice}")

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
        raise ValueError(f"--paper-models {flag}: {problem}; {self.advice}")

    def _read_paper_model(self, name: str, path: str, flag: str, X, labels):
        """The model ``name`` at ``path`` (given as ``--paper-models flag``), of its expected class and fit for
        the data (``X``, ``labels``), or an error naming both.

        The folder is the user's reproduction: the advice is another --paper-models, or none.
        """
        try:
            model = models.load(path, expected=self.classes[name])
        except models.ModelFileError as error:
            raise models.ModelFileError(f"--paper-models {flag}: {error}; {self.advice}") from None
        try:
            check_model_fits(model, X, labels, f"--paper-models {flag}: {path}")
        except ValueError as error:
            raise ValueError(f"{error}: {self.advice}") from None
        return model


def own_file(name: str) -> str:
    """Where a run without --paper-models trains the model ``name``, in its folder."""
    return f"paper-models/models/{name}.npz"


def _by_name(inputs):
    """``{file name: SHA-256}`` of the IDX files among a run's ``inputs`` (None when they were not recorded)."""
    if not isinstance(inputs, dict):
        return None
    names = {name for split in training.data.SPLIT_FILES.values() for name in split}
    return {os.path.basename(path): digest for path, digest in inputs.items()
            if os.path.basename(path).removesuffix(".gz") in names}


def _data_name(folder, data) -> str:
    return "MNIST" if data == "MNIST" else f"the IDX data set in {folder} (not MNIST)"
