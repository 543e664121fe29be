"""The run folder: finished stages and trained models, kept so a re-run reuses them.

``OUT/stages.json`` holds the run's settings and each finished stage's JSON result with
its duration and the SHA-256 of the result's canonical JSON (:func:`result_digest`), and
the SHA-256 of each model file of ``OUT/models/NAME.npz``, each trained model (and of any other
file in the folder that its stages were computed from: :meth:`RunFolder.check_used_file`). A stage
result that no longer matches its digest (edited by hand), or a model file that no longer
matches its own (replaced since it was saved), is refused, naming the file, the stage or
the model, rather than reported; so is a model file the run did not save (no digest recorded
for it: copied in from another run). A folder written before these were recorded (no
``"models"`` entry in its stages.json) is read as it is, and a model file's digest is recorded
when it is first loaded. A stage runs once: a re-run
with the same settings reads its result back, and a folder holding a run with other
settings is refused (its results would be mixed with this run's), unless it computed nothing
(no stage, model or checkpoint: a run that died first), whose record this run replaces. A model file is
written only when its training has ended, so the file, not a record, says the model
is done; a model whose file is missing is trained again (resuming its checkpoint) unless
the run recorded its digest (its stages were computed from that file: refused), and one
that holds another class than its stage trains is refused. stages.json is written when
the run takes the folder, so a run killed before its first stage ends has its record. A folder that holds
anything the run does not write (someone's results, another tool's files) is refused
before anything is written into it.

The settings name the files a run reads by path, and a file can change under its path:
a run's settings also hold, under ``"inputs"``, the SHA-256 of every file it reads
(:func:`input_digests` of :func:`idx_files`, the IDX files the loader reads, of the files
a CIFAR-10 split was read from, :attr:`training.cifar.CifarSplit.files`, and of the model
files a run takes), so that a folder whose stages were computed from other contents is
refused, naming the files that changed, rather than mixing results of two data sets or
models. Files the run does not read (the other CIFAR-10 archive beside the one read, or
the ``.gz`` beside an uncompressed IDX file, say) are not hashed, and may change.

When: both runs (``advex reproduce`` and ``advex robustness``) hash their inputs once
they have read them all, before the first stage: which CIFAR-10 files a split comes from
is known only from the read. So a file replaced in the moment between its reading and
its hashing would key the stages to its new contents; nothing guards that moment.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import models
import training
from models.io import atomic_write_text, refuse_foreign

from ..checks import check_model_fits


#: Everything a run writes into its folder (and the ``.tmp-*`` files of its atomic writes).
WRITTEN = ("stages.json", "results.json", "results.md", "models", "checkpoints", "figures")


#: What ``stages.json`` records for a model while this run saves it, until its digest replaces it:
#: a run stopped in between finds the file it wrote (or none), never one of unknown origin.
SAVING = "saving"


class RunFolder:
    """Stage results and model files of one run in ``out``, for the settings ``config``.

    ``config`` is JSON-able, as JSON gives it back; its ``"inputs"`` entry, if any, maps
    each file the run reads to its SHA-256 (:func:`input_digests`). ``command`` names the
    command in messages; ``written`` lists what it writes into the folder (anything else
    there is someone else's, and refused).
    """

    def __init__(self, out, config: dict, *, command: str = "advex reproduce", written=WRITTEN):
        self.out, self.config = os.fspath(out), config
        check_out_folder(self.out, command, written)
        self.stages_path = os.path.join(self.out, "stages.json")
        self.stages, self.model_digests = {}, {}
        self.records_models = True  # False for a folder from before model digests were kept
        if os.path.exists(self.stages_path):
            saved = read_stages(self.stages_path, command)
            if config.get("inputs") == {}:  # a folder from before inputs were recorded, of a run that reads none
                saved["config"].setdefault("inputs", {})
            if saved["config"] == config:
                self.stages, self.model_digests = saved["stages"], saved.get("models", {})
                self.records_models = "models" in saved and not saved.get("adopts_models", False)
            elif self._computed(saved):
                raise ValueError(other_run(self.out, saved["config"], config))
            else:  # a run that died before computing anything: re-run with a corrected flag, it is this run's
                self._write()
        else:  # the record first: a run killed before its first stage ends can still be resumed
            os.makedirs(self.out, exist_ok=True)
            self._write()
        self.models = {}

    def _computed(self, saved: dict) -> bool:
        """Whether anything was computed under the settings of ``saved``, the folder's stages.json: a stage,
        a model, or a checkpoint of one in training. A record of none only says a run took the folder."""
        return bool(saved["stages"] or saved.get("models") or os.path.exists(os.path.join(self.out, "checkpoints")))

    def stage(self, name: str, run):
        """``run()``'s JSON-able result, computed once and then read back from stages.json."""
        if name not in self.stages:
            started = time.perf_counter()
            result = run()
            self.record(name, result, time.perf_counter() - started)
        return self.stages[name]["result"]

    def record(self, name: str, result, seconds: float) -> None:
        """Keep ``result`` as the stage ``name``, as JSON gives it back (so a re-run sees what this run saw)."""
        result = json.loads(json.dumps(result))
        self.stages[name] = {"result": result, "seconds": seconds, "digest": result_digest(result)}
        self._write()

    def _write(self) -> None:
        record = {"config": self.config, "stages": self.stages, "models": self.model_digests}
        if not self.records_models:  # a folder from before: it keeps recording model files on first load
            record["adopts_models"] = True
        atomic_write_text(self.stages_path, json.dumps(record, indent=1))

    def model(self, name: str, cls, train, data):
        """The model ``name`` of class ``cls`` for ``data`` (rows X, labels y): loaded from its file, or
        ``train() -> (model, result)`` trained, saved, and its result recorded as the stage ``"train NAME"``.

        A file that is not the one this run saved (its SHA-256 is not the one recorded
        when it was saved) is refused: the folder's stages were computed from the saved one;
        so is a model that does not fit ``data`` (:func:`attacks.checks.check_model_fits`),
        as a :class:`models.ModelFileError` naming the file.
        """
        if name not in self.models:
            path = self.model_path(name)
            if os.path.exists(path):
                model = models.load(path, expected=cls)
                try:
                    check_model_fits(model, *data, path)
                except ValueError as error:
                    raise models.ModelFileError(str(error)) from None
                self._check_model_file(name, path)
                self.models[name] = model
            else:
                self._refuse_retraining(name, path)
                started = time.perf_counter()
                model, result = train()
                self._save_recorded(name, path, lambda path: models.save(model, path))
                self.record(f"train {name}", result, time.perf_counter() - started)
                self.models[name] = model
        return self.models[name]

    def _check_model_file(self, name: str, path: str) -> None:
        """A ValueError naming ``path`` unless it holds what was recorded for the model ``name``.

        A model without a record was not saved by this run (every model it saves is recorded
        as it is saved), unless the folder is from before records were kept: then it is recorded now.
        One marked :data:`SAVING` was being saved by this run when it stopped: recorded now too.
        """
        digest, recorded = file_sha256(path), self.model_digests.get(name)
        if recorded == SAVING:  # this run was saving it when it stopped: the file is the one it trained
            recorded = None
        elif recorded is None and self.records_models:
            raise ValueError(f"{path} is not a model file this run saved: {self.stages_path} records no model {name} "
                             "(copied in from another run?), so its stages would report a model trained on data this "
                             "run does not know; nothing was changed: remove the file to train the model here, or pass "
                             "another --out to start a new run")
        if recorded is None:
            self.model_digests[name] = digest
            self._write()
        elif digest != recorded:
            raise ValueError(f"{path} is not the model file this run saved there (its SHA-256 has changed since), and "
                             f"the stages in {self.stages_path} were computed from that one; nothing was changed: restore "
                             "the file, or pass another --out to start a new run")

    def check_used_file(self, key: str) -> None:
        """Record the SHA-256 of the file ``OUT/key`` (a path in the folder) as the run's stages first use it,
        and refuse it later, naming it, once it is missing or holds other contents.

        For the files a run writes into its folder by other means than :meth:`model`, whose
        stages are computed from them: robustness's paper models, trained into
        ``OUT/paper-models`` by a reproduction with its own record, which goes when that
        folder goes, and its best-epoch files (written by :meth:`save_file`). Recorded beside
        the models (``key`` has a ``/``; a model's name has none).
        """
        path, recorded = os.path.join(self.out, key), self.model_digests.get(key)
        digest = file_sha256(path) if os.path.isfile(path) else None
        if recorded == SAVING:  # this run was writing it when it stopped (see save_file)
            recorded = None
        if recorded is None and digest is not None:
            self.model_digests[key] = digest
            self._write()
        elif recorded is not None and digest != recorded:
            state = "is missing" if digest is None else "holds other contents (its SHA-256 has changed)"
            raise ValueError(f"{path} {state}, but the stages in {self.stages_path} were computed from the file this "
                             "run recorded there; nothing was changed: restore the file, or pass another --out to "
                             "start a new run")

    def save_file(self, key: str, write) -> None:
        """``write(path)`` the file ``OUT/key`` that the run's stages use, and record its SHA-256
        (for :meth:`check_used_file`)."""
        self._save_recorded(key, os.path.join(self.out, key), write)

    def _save_recorded(self, key: str, path: str, write) -> None:
        """``write(path)``, with the file's SHA-256 recorded under ``key``; marked :data:`SAVING` in between,
        so a run stopped while writing it takes the file it finds as its own, never one of unknown origin."""
        self.model_digests[key] = SAVING
        self._write()
        write(path)
        self.model_digests[key] = file_sha256(path)
        self._write()

    def recorded_files(self) -> list:
        """The keys of the files recorded by :meth:`check_used_file`."""
        return [key for key in self.model_digests if "/" in key]

    def check_recorded_files(self) -> None:
        """:meth:`check_used_file` for every file recorded so far: run before any stage, whose cached results
        were computed from those files."""
        for key in self.recorded_files():
            self.check_used_file(key)

    def _refuse_retraining(self, name: str, path: str) -> None:
        """A ValueError naming ``path`` when the model ``name`` is missing but this run saved it (its digest is
        recorded): its stages were computed from that file, and a model trained again is another file (training
        is not bit-for-bit repeatable across machines or BLAS threading), which they would be reported beside."""
        if self.model_digests.get(name, SAVING) != SAVING:  # SAVING: it stopped before the file was written
            raise ValueError(f"{path} is missing, but this run saved the model {name} there and the stages in "
                             f"{self.stages_path} were computed from that file; nothing was changed: restore the file, "
                             "or pass another --out to start a new run (training it again would give another model)")

    def model_path(self, name: str) -> str:
        return os.path.join(self.out, "models", f"{name}.npz")

    def checkpoint_dir(self, name: str) -> str:
        return os.path.join(self.out, "checkpoints", name)

    def seconds(self) -> dict:
        """{stage name: seconds it took, rounded to 0.1}."""
        return {name: round(stage["seconds"], 1) for name, stage in self.stages.items()}

    def trained(self) -> dict:
        """{model name: its training result} for every model trained in this folder."""
        return {name[len("train "):]: stage["result"] for name, stage in self.stages.items() if name.startswith("train ")}


def check_out_folder(out, command: str = "advex reproduce", written=WRITTEN) -> None:
    """A ValueError unless ``out`` is missing, empty, or a run folder holding only what a run writes
    and its stages.json (:func:`models.io.refuse_foreign`).

    The runs call it first, before loading any data: a wrong --out costs nothing.
    """
    out = os.fspath(out)
    if not out:
        raise ValueError("--out is empty (''): pass a folder for the run (. for the current folder)")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file, not a folder")
    refuse_foreign(out, tuple(written), "stages.json", command)


def read_stages(path, command: str = "advex reproduce",
                advice: str = "restore it, or pass another --out to start a new run") -> dict:
    """``{"config": dict, "stages": {name: {"result", "seconds"}}}`` from ``path``, or a ValueError naming it
    and ending with ``advice``.

    The file is the run's own (written whole, atomically), so anything else in it was
    put there by hand: refused, never half-trusted.
    """
    try:
        with open(path, "rb") as f:
            saved = json.loads(f.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problem = f"not valid JSON ({error})"
    except RecursionError:  # '[' * 200000: Python's parser gives up before the JSON ends
        problem = "not valid JSON (nested too deeply)"
    else:
        problem = _stages_problem(saved)
    if problem is not None:
        raise ValueError(f"{path}: {problem}: not a stages.json written by {command}; nothing was changed: {advice}")
    return saved


_JSON_NAMES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean",
               type(None): "null"}


def _stages_problem(saved) -> str | None:
    """What is wrong with the parsed contents of a stages.json, or None.

    A stage whose ``"digest"`` is not its result's (:func:`result_digest`) was edited:
    its result might be of another shape than its stage reads, or another number. A
    stage without a digest is from a folder written before digests were kept.
    """
    if not isinstance(saved, dict):
        return f"holds {_JSON_NAMES[type(saved)]}, not an object with 'config' and 'stages'"
    missing = [key for key in ("config", "stages") if not isinstance(saved.get(key), dict)]
    if missing:
        return f"its {' and '.join(repr(key) for key in missing)} must be a JSON object"
    digests = saved.get("models", {})
    if not isinstance(digests, dict) or not all(isinstance(d, str) for d in digests.values()):
        return "its 'models' must map model names to SHA-256 digests"
    for name, stage in saved["stages"].items():
        if not isinstance(stage, dict) or "result" not in stage or type(stage.get("seconds")) not in (int, float):
            return f"its stage {name!r} is not {{'result': ..., 'seconds': a number}}"
        if "digest" in stage and stage["digest"] != result_digest(stage["result"]):
            return f"the result of its stage {name!r} does not match the digest recorded with it (edited by hand?)"
    return None


def result_digest(result) -> str:
    """The SHA-256 of ``result``'s canonical JSON (keys sorted): what a stage's result is checked against."""
    return hashlib.sha256(json.dumps(result, sort_keys=True).encode()).hexdigest()


def other_run(out, saved: dict, config: dict) -> str:
    """Why the folder ``out``, holding a run of the settings ``saved``, cannot be resumed with ``config``.

    When the settings agree but for the contents of the files the run reads, it names
    those files: the folder's stages were computed from what they held then. Beside
    other differing settings, the inputs are only counted: their paths and digests
    would bury the setting that matters in one line.
    """
    differing = sorted(key for key in saved.keys() | config.keys() if saved.get(key) != config.get(key))
    if differing != ["inputs"]:
        shown = "; ".join(inputs_differ(saved, config) if key == "inputs" else
                          f"{key}: {saved.get(key)} there, {config.get(key)} here" for key in differing)
        return f"{out} holds a run with other settings ({shown}); nothing was changed: pass another --out to start a new one"
    if "inputs" not in saved:
        return (f"{out} holds a run that did not record the contents of the files it read, so they cannot be checked "
                f"({', '.join(config['inputs'])}); nothing was changed: pass another --out to start a new run")
    return (f"{out} holds stages computed from other contents of {', '.join(_changed_inputs(saved, config))} "
            "(changed, added or removed since); nothing was changed: restore the file(s), or pass another --out to "
            "start a new run")


def _changed_inputs(saved: dict, config: dict) -> list:
    """The paths whose digest differs between the two settings' ``"inputs"`` (or that only one has)."""
    was, now = saved.get("inputs") or {}, config.get("inputs") or {}
    return sorted(path for path in was.keys() | now.keys() if was.get(path) != now.get(path))


def inputs_differ(saved: dict, config: dict) -> str:
    """``"inputs: 3 files differ"``: the inputs in a list of differing settings."""
    if "inputs" not in saved:
        return "inputs: not recorded there"
    count = len(_changed_inputs(saved, config))
    return f"inputs: {count} file{' differs' if count == 1 else 's differ'}"


def file_sha256(path, chunk_bytes: int = 2**20) -> str:
    """The SHA-256 of the file at ``path`` as hex, read in chunks (a 170 MB archive never whole in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def input_digests(paths) -> dict:
    """``{absolute path: SHA-256}`` of each existing file among ``paths``: the ``"inputs"`` of a run's settings."""
    files = {os.path.abspath(p) for p in paths if os.path.isfile(p)}
    return {path: file_sha256(path) for path in sorted(files)}


def idx_files(data) -> list:
    """The IDX files a run reads from the folder ``data``: those of both splits that the loader reads
    (:func:`training.data.idx_split_files`: plain, else gzipped), not the other form lying beside one.

    ``None`` (MNIST from its usual places) gives none: every file read there is checked
    against MNIST's published SHA-256 (:data:`training.data.MNIST_SHA256`), so what it
    holds cannot differ from one run to the next.
    """
    if data is None:
        return []
    return [file for split in training.data.SPLIT_FILES for file in training.data.idx_split_files(data, split)]
