"""The run folder: finished stages and trained models, kept so a re-run reuses them.

``OUT/stages.json`` holds the run's settings and each finished stage's JSON result with
its duration; ``OUT/models/NAME.npz`` each trained model. A stage runs once: a re-run
with the same settings reads its result back, and a folder holding a run with other
settings is refused (its results would be mixed with this run's). A model file is
written only when its training has ended, so the file, not a record, says the model
is done; a model whose file is missing is trained again (resuming its checkpoint), and
one that holds another class than its stage trains is refused. A folder that holds
anything the run does not write (someone's results, another tool's files) is refused
before anything is written into it.
"""

from __future__ import annotations

import json
import os
import time

import models
from models.io import atomic_write_text, foreign_files


#: Everything a run writes into its folder (and the ``.tmp-*`` files of its atomic writes).
WRITTEN = ("stages.json", "results.json", "results.md", "models", "checkpoints", "figures")


class RunFolder:
    """Stage results and model files of one run in ``out``, for the settings ``config``.

    ``command`` names the command in messages; ``written`` lists what it writes into the
    folder (anything else there is someone else's, and refused).
    """

    def __init__(self, out, config: dict, *, command: str = "advex reproduce", written=WRITTEN):
        self.out, self.config = os.fspath(out), config
        refuse_foreign(self.out, command, written)
        self.stages_path = os.path.join(self.out, "stages.json")
        self.stages = {}
        if os.path.exists(self.stages_path):
            with open(self.stages_path) as f:
                saved = json.load(f)
            if saved.get("config") != config:
                raise ValueError(f"{self.out} holds a run with other settings ({saved.get('config')}); "
                                 "pass another --out to start a new one")
            self.stages = saved["stages"]
        self.models = {}

    def stage(self, name: str, run):
        """``run()``'s JSON-able result, computed once and then read back from stages.json."""
        if name not in self.stages:
            started = time.perf_counter()
            result = run()
            self.record(name, result, time.perf_counter() - started)
        return self.stages[name]["result"]

    def record(self, name: str, result, seconds: float) -> None:
        self.stages[name] = {"result": result, "seconds": seconds}
        atomic_write_text(self.stages_path, json.dumps({"config": self.config, "stages": self.stages}, indent=1))

    def model(self, name: str, cls, train):
        """The model ``name`` of class ``cls``: loaded from its file, or ``train() -> (model,
        result)`` trained, saved, and its result recorded as the stage ``"train NAME"``."""
        if name not in self.models:
            path = self.model_path(name)
            if os.path.exists(path):
                self.models[name] = models.load(path, expected=cls)
            else:
                started = time.perf_counter()
                model, result = train()
                models.save(model, path)
                self.record(f"train {name}", result, time.perf_counter() - started)
                self.models[name] = model
        return self.models[name]

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


def refuse_foreign(out, command: str = "advex reproduce", written=WRITTEN) -> None:
    """A ValueError unless ``out`` is missing, empty, or a run folder holding only what a run writes.

    The runs call it first, before loading any data: a wrong --out costs nothing.
    """
    out, written = os.fspath(out), tuple(written)
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file, not a folder")
    foreign = foreign_files(out, written)
    entries = foreign_files(out, ())
    if foreign or (entries and "stages.json" not in entries):
        shown = ", ".join(foreign or entries)
        raise ValueError(f"{out} holds files that {command} did not write ({shown}); "
                         "nothing was changed: pass an empty or new --out")
