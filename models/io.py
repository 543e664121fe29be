"""Saving and loading a model as one ``.npz`` file: its architecture and its weights.

The file holds every parameter array under its dotted name, plus ``__model__``: a
JSON string with the class name and constructor arguments (``model.config``), so
:func:`load` can rebuild the model without the caller knowing its architecture.
Files are written atomically (to a temporary file in the same folder, then renamed),
so an interrupted save never leaves a half-written model behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from .classifiers import CLASSIFIERS

FORMAT = 1
_META = "__model__"


class ModelFileError(ValueError):
    """A model file that is missing, truncated, corrupt, or not the expected model."""


def save(model, path) -> None:
    """Write ``model`` (architecture and weights) to ``path`` (an ``.npz`` file), atomically."""
    meta = {"format": FORMAT, "class": type(model).__name__, "config": model.config}
    arrays = {name: value for name, value in model.state_dict().items()}
    arrays[_META] = np.array(json.dumps(meta))
    atomic_savez(path, arrays)


def atomic_write(path, write) -> None:
    """Call ``write(f)`` on a temporary binary file beside ``path``, then rename it onto ``path``.

    The rename is atomic, so ``path`` holds either its old content or the complete new
    one, never a half-written file; on any error the temporary file is removed. This is
    the one place the project writes files that way (models, checkpoints, results, figures,
    downloads).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_savez(path, arrays: dict) -> None:
    """``np.savez`` of ``arrays`` to ``path``, atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_npz(path) -> dict:
    """Every array of an ``.npz`` file, with clear errors for missing and corrupt files."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such model file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise ModelFileError(f"{path} is not a readable .npz file (truncated or corrupt?): {error}") from None


def load(path, expected=None):
    """Rebuild the model saved at ``path``; with ``expected`` (a class), insist on that class."""
    arrays = read_npz(path)
    if _META not in arrays:
        raise ModelFileError(f"{path} holds arrays but no model description: was it written by models.save?")
    meta = json.loads(str(arrays.pop(_META)))
    name = meta.get("class")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: unknown model file format {meta.get('format')!r} (this version reads {FORMAT})")
    if name not in CLASSIFIERS:
        raise ModelFileError(
            f"{path} holds a {name!r}, which is not a registered model class: if it is a class of your own, "
            "import the module that defines it (decorated with @models.register) before loading "
            "(advex attack --import MODULE)"
        )
    cls = CLASSIFIERS[name]
    if expected is not None and cls is not expected:
        raise ModelFileError(f"{path} holds a {name}, not a {expected.__name__}")
    model = cls(**meta["config"])
    try:
        model.load_state_dict(arrays)
    except ValueError as error:
        raise ModelFileError(f"{path}: {error}") from None
    return model
