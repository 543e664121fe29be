"""Checkpoints of a training run: what :func:`training.fit` needs to continue it, in one ``.npz``.

A checkpoint holds the model's weights and buffers (``model/NAME``, frozen weights too),
the optimizer's buffers (``optimizer/BUFFER/i``, for the optimizer's parameter i), early
stopping's best weights (``best/NAME``) and, as JSON in ``__meta__``: the checkpoint's
format (:data:`FORMAT`), the run it belongs to (:func:`run_key`), the epoch and step
reached, the optimizer's settings and step count, the state of the run's generator, the
history and early stopping's record. :func:`save` writes it atomically, so a run killed
at any moment leaves the previous checkpoint or the new one, and :func:`restore` puts
all of it back, so the resumed run ends with exactly the weights of an uninterrupted one.

A checkpoint without a format number was written by commit e4bdc86 (or by a commit
before this module): format 1, whose Maxout columns are grouped by unit, as in model
files of format 1, and which may leave frozen weights out. :func:`restore` upgrades it
as it reads it (:func:`upgrade_unit_grouped_checkpoint`); the file stays as it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import numpy as np

from minigrad.validation import is_integer
from models.io import atomic_savez, json_default, read_npz
from models.old_files import UNIT_GROUPED_FORMAT, upgrade_unit_grouped_parameter_arrays, upgrade_unit_grouped_state

CHECKPOINT_NAME = "checkpoint.npz"
#: The format :func:`save` writes; :func:`restore` also reads format 1 (no number), upgrading it.
FORMAT = 2
_META = "__meta__"


def checkpoint_path(checkpoint_dir) -> str | None:
    """The checkpoint file of ``checkpoint_dir`` (None: no checkpoints)."""
    return None if checkpoint_dir is None else os.path.join(os.fspath(checkpoint_dir), CHECKPOINT_NAME)


def run_key(model, optimizer, X, y, *, batch_size: int, seed, scheduled=()) -> dict:
    """What a checkpoint must match to be resumed: the same model, optimizer, data and seed.

    The model's class and ``config`` (a value JSON cannot hold, such as a Generator
    seed, by its ``repr``), the optimizer's class and the settings no schedule sets (a
    scheduled one has moved on by the time a run is retried; the checkpoint restores
    it), the batch size and seed, and a fingerprint of the data: its shapes, and a hash of the
    labels and of 1,000 to 2,000 evenly spaced rows (cheap, yet different data of the same size
    is told apart). As JSON gives it back, so that it compares with a saved one.
    """
    rows = X[:: max(1, len(X) // 1000)]
    digest = hashlib.blake2b(np.ascontiguousarray(rows).tobytes(), digest_size=16)
    digest.update(np.ascontiguousarray(y).tobytes())
    key = {
        "model": type(model).__name__, "config": getattr(model, "config", None),
        "optimizer": type(optimizer).__name__,
        # a setting left at None (unused, as SGD's lr_scales mostly is) stays out: a new optional setting keeps the key
        "settings": {name: getattr(optimizer, name) for name in optimizer.settings
                     if name not in scheduled and getattr(optimizer, name) is not None},
        "n_train": len(X), "data": f"{X.shape} {X.dtype} {digest.hexdigest()}", "batch_size": batch_size, "seed": seed,
    }
    return json.loads(json.dumps(key, default=_json_or_repr))


def _json_or_repr(value):
    try:
        return json_default(value)
    except TypeError:
        return repr(value)


def save(path, run, epoch, step, model, optimizer, rng, history, early_stopping) -> None:
    """Everything needed to continue the run, in one atomically written .npz."""
    opt_state = optimizer.state_dict()
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    for name, buffers in opt_state["buffers"].items():
        arrays.update({f"optimizer/{name}/{i}": b for i, b in enumerate(buffers)})
    stopper = None
    if early_stopping is not None:
        stopper = {"best": early_stopping.best, "best_epoch": early_stopping.best_epoch, "waited": early_stopping.waited}
        if early_stopping.best_state is not None:
            arrays.update({f"best/{k}": v for k, v in early_stopping.best_state.items()})
    meta = {
        "format": FORMAT,
        "run": run,
        "epoch": epoch,
        "step": step,
        "optimizer": {"settings": opt_state["settings"], "steps": opt_state["steps"]},
        "rng": rng.bit_generator.state,
        "history": dataclasses.asdict(history),
        "early_stopping": stopper,
    }
    arrays[_META] = np.array(json.dumps(meta))
    atomic_savez(path, arrays)


def read_meta(path) -> dict:
    """What a checkpoint records beside its arrays: the epoch, the history so far, early stopping's record
    (``best_epoch``), the optimizer's settings, the generator's state."""
    with np.load(path) as saved:
        return json.loads(str(saved[_META]))


def restore(path, run, model, optimizer, rng, history, early_stopping) -> tuple[int, int]:
    """Put the run saved at ``path`` back into the model, the optimizer, the generator ``rng``, ``history``
    and ``early_stopping``; return the (epoch, step) it had reached.

    Checks everything before changing anything: a checkpoint of another run (another
    :func:`run_key`), of an unknown format, or whose arrays do not fit the model or the
    optimizer is refused with a ValueError naming it.
    """
    arrays = read_npz(path)
    meta = json.loads(str(arrays.pop(_META)))
    _check_run(path, meta["run"], run)
    version = _format(path, meta)
    state, best = _arrays_under("model/", arrays), _arrays_under("best/", arrays)  # best: none before a best epoch
    opt_state = {**meta["optimizer"], "buffers": _optimizer_buffers(path, arrays)}
    if version == UNIT_GROUPED_FORMAT:
        state, best = upgrade_unit_grouped_checkpoint(model, state, best)
    _check_checkpoint_state(path, model, state, "weights")
    if early_stopping is not None and best:
        _check_checkpoint_state(path, model, best, "early-stopping best weights")
    _check_optimizer_state(path, optimizer, opt_state)
    if version == UNIT_GROUPED_FORMAT:
        opt_state["buffers"] = {name: upgrade_unit_grouped_parameter_arrays(model, optimizer.params, buffers)
                                for name, buffers in opt_state["buffers"].items()}
    model.load_state_dict(state)
    optimizer.load_state_dict(opt_state)
    rng.bit_generator.state = meta["rng"]
    for name, value in meta["history"].items():
        setattr(history, name, value)
    if early_stopping is not None and meta["early_stopping"] is not None:
        for name, value in meta["early_stopping"].items():
            setattr(early_stopping, name, value)
        early_stopping.best_state = best or None
    return meta["epoch"], meta["step"]


def upgrade_unit_grouped_checkpoint(model, state: dict, best: dict) -> tuple[dict, dict]:
    """The model's weights ``state`` and the best epoch's ``best`` of a checkpoint of format 1 (commit
    e4bdc86), in this version's layout: Maxout columns made piece-major (:mod:`models.old_files`), and
    each frozen weight it left out taken from ``model`` (a frozen weight is never trained, so the
    model's own value is the one that run had). Its optimizer buffers are upgraded once they are
    checked to fit (:func:`models.old_files.upgrade_unit_grouped_parameter_arrays`)."""
    state = _with_frozen_weights(model, upgrade_unit_grouped_state(model, state))
    best = best and _with_frozen_weights(model, upgrade_unit_grouped_state(model, best))
    return state, best


def _check_run(path, saved: dict, run: dict) -> None:
    """A ValueError naming the checkpoint ``path`` and what differs unless it was ``saved`` by this ``run``."""
    if saved != run:
        differ = sorted(k for k in set(run) | set(saved) if run.get(k) != saved.get(k))
        raise ValueError(f"fit(resume=True): the checkpoint {path} is of another run: its {', '.join(differ)} "
                         f"differ ({ {k: saved.get(k) for k in differ} } there, { {k: run.get(k) for k in differ} } here); "
                         "pass another checkpoint_dir, or resume=False to start over")


def _format(path, meta: dict) -> int:
    """The checkpoint's format: 1 without a number (commit e4bdc86), else its number, if this version reads it."""
    version = meta.get("format", UNIT_GROUPED_FORMAT)
    if not is_integer(version) or version not in (UNIT_GROUPED_FORMAT, FORMAT):
        raise ValueError(f"fit(resume=True): the checkpoint {path} has the unknown format {version!r} (this version "
                         f"reads {UNIT_GROUPED_FORMAT} and {FORMAT}); pass another checkpoint_dir, or resume=False "
                         "to start over")
    return version


def _arrays_under(prefix: str, arrays: dict) -> dict:
    """The checkpoint's arrays whose keys start with ``prefix``, by the rest of their key."""
    return {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}


def _check_checkpoint_state(path, model, state: dict, what: str) -> None:
    """A ValueError naming the checkpoint ``path`` unless ``model`` can load ``state`` (its ``what``)."""
    try:
        model.check_state_dict(state)
    except ValueError as error:
        absent = [name for name, _ in model.named_parameters() if name not in state]
        hint = f" ({', '.join(absent)} frozen in the run that wrote it? freeze them here too)" if absent else ""
        raise ValueError(f"fit(resume=True): the {what} of the checkpoint {path} do not fit the model{hint}: {error}; "
                         "pass another checkpoint_dir, or resume=False to start over") from None


def _with_frozen_weights(model, state: dict) -> dict:
    """``state`` with each frozen weight of ``model`` it lacks taken from the model itself.

    Checkpoints of commit e4bdc86 left frozen weights out, the model's arrays and early
    stopping's best weights alike. ``Module.load_state_dict`` itself needs every weight.
    """
    absent = [name for name, weight in model.named_weights() if not weight.requires_grad and name not in state]
    if not absent:
        return state
    own = model.state_dict()
    return {**state, **{name: own[name] for name in absent}}


def _optimizer_buffers(path, arrays: dict) -> dict:
    """The checkpoint's optimizer buffers, ``{name: [array per parameter]}``.

    A buffer's arrays are numbered 0, 1, ... in the order of the optimizer's parameters;
    numbers with a gap (a hand-edited file) would put arrays beside the wrong parameters.
    """
    numbered = {}
    for key, value in arrays.items():
        if key.startswith("optimizer/"):
            _, name, index = key.split("/")
            numbered.setdefault(name, {})[int(index)] = value
    for name, saved in numbered.items():
        if sorted(saved) != list(range(len(saved))):
            raise ValueError(f"fit(resume=True): the checkpoint {path} numbers its optimizer buffer {name!r} "
                             f"{sorted(saved)}, not 0 to {len(saved) - 1}: pass another checkpoint_dir, "
                             "or resume=False to start over")
    return {name: [saved[i] for i in range(len(saved))] for name, saved in numbered.items()}


def _check_optimizer_state(path, optimizer, state: dict) -> None:
    """A ValueError naming the checkpoint ``path`` unless ``optimizer`` can load ``state``."""
    try:
        optimizer.check_state_dict(state)
    except ValueError as error:
        raise ValueError(f"fit(resume=True): the optimizer state of the checkpoint {path} does not fit the optimizer "
                         f"(a weight frozen or unfrozen since?): {error}; "
                         "pass another checkpoint_dir, or resume=False to start over") from None
