"""Saving and loading a model as one ``.npz`` file, and the project's careful file writes.

The file holds every parameter array under its dotted name, plus ``__model__``: a
JSON string with the class name and constructor arguments (``model.config``), so
:func:`load` can rebuild the model without the caller knowing its architecture, as
long as the class is registered (``models.register``; its module must be imported).
A file names a class, never code: loading runs nothing. A hand-edited file is checked
as it loads: the description's fields, the config by the constructor itself (which
refuses a value of the wrong type, a bool for a number or a string for a flag, rather
than coerce it), and every parameter and buffer for NaN and inf, so that what loads is
what was saved or a ``ModelFileError`` naming the file and what is wrong in it.

:func:`atomic_write` (with ``atomic_write_text`` and ``atomic_savez``) is how every
package writes files: to a temporary file beside the target, then renamed, so an
interrupted write never leaves a half-written file, and the next write cleans up the
temporary files of killed writers. ``read_npz``, ``json_default`` and
``foreign_files`` are small helpers the checkpoints and the ``advex`` commands share.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from minigrad.validation import is_integer

from .classifiers import CLASSIFIERS

FORMAT = 1
_META = "__model__"


class ModelFileError(ValueError):
    """A model file that is missing, truncated, corrupt, or not the expected model."""


def save(model, path) -> None:
    """Write ``model`` (architecture and weights) to ``path`` (an ``.npz`` file), atomically.

    Refuses what :func:`load` could not rebuild: a class that is not registered under
    its name (``models.register``), or a ``config`` that is not plain JSON data.
    """
    cls = type(model)
    if CLASSIFIERS.get(cls.__name__) is not cls:
        raise ValueError(f"models.save: {cls.__name__} is not a registered model class, so models.load could not "
                         "rebuild it: decorate it with @models.register")
    config = getattr(model, "config", None)
    try:
        text = json.dumps({"format": FORMAT, "class": cls.__name__, "config": config}, default=json_default)
    except TypeError as error:
        raise ValueError(f"models.save: {cls.__name__}.config must be plain data (numbers, strings, lists, dicts): "
                         f"{error} (an int seed, not a Generator?)") from None
    if not isinstance(config, dict):
        raise ValueError(f"models.save: {cls.__name__}.config must be a dict of its constructor's arguments, got {config!r}")
    arrays = dict(model.state_arrays())  # the arrays themselves: savez copies them into the file anyway
    arrays[_META] = np.array(text)
    atomic_savez(path, arrays)


def json_default(value):
    """NumPy scalars and arrays as JSON numbers and lists: ``json.dumps(obj, default=json_default)``.

    A config built with ``seed=np.int64(3)`` or a NumPy float is then saved, not refused.
    """
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def atomic_write(path, write) -> None:
    """Call ``write(f)`` on a temporary binary file beside ``path``, then rename it onto ``path``.

    The rename is atomic, so ``path`` holds either its old content or the complete new
    one, never a half-written file; on any error the temporary file is removed. A process
    killed mid-write (``kill -9``, a power cut) cannot remove its temporary file, so each
    is named after the file it stands for and the process writing it
    (``.tmp-NAME.PID.XXXX``), and the next write of ``NAME`` deletes those whose process
    is gone. The final file gets the permissions an ordinary ``open`` would give it (the
    umask's), not the owner-only mode of a temporary file. This is the one place the
    project writes files that way (models, checkpoints, results, figures, downloads).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder: give the name of a file to write")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    _remove_orphans(folder, name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".tmp-{name}.{os.getpid()}.", suffix=os.path.splitext(path)[1])
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if hasattr(os, "fchmod"):  # POSIX; elsewhere the temporary file keeps its mode
                os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def foreign_files(folder, allowed) -> list:
    """The entries of ``folder`` (missing: none) that are not in ``allowed``, nor temporary files of
    :func:`atomic_write`: what a command that writes ``allowed`` there must not clobber or mix with."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    return sorted(e for e in os.listdir(folder) if e not in allowed and not e.startswith(".tmp-"))


def _umask() -> int:
    """The process's umask (reading it means setting it: it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_orphans(folder: str, name: str) -> None:
    """Delete the temporary files of ``name`` left by processes that no longer run."""
    prefix = f".tmp-{name}."
    for entry in os.listdir(folder):
        if not entry.startswith(prefix):
            continue
        pid = entry[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            try:
                os.unlink(os.path.join(folder, entry))
            except FileNotFoundError:  # another writer removed it first
                pass


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_savez(path, arrays: dict) -> None:
    """``np.savez`` of ``arrays`` to ``path``, atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_npz(path) -> dict:
    """Every array of an ``.npz`` file, with clear errors for missing, corrupt and wrong files."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such model file: {path}")
    unreadable = (zipfile.BadZipFile, ValueError, OSError, EOFError)
    try:
        data = np.load(path, allow_pickle=False)
    except unreadable as error:
        raise ModelFileError(f"{path} is not a readable .npz file (truncated or corrupt?): {error}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{path} holds a single array (.npy), not an .npz archive of named arrays")
    try:
        with data:
            return {name: data[name] for name in data.files}
    except unreadable as error:
        raise ModelFileError(f"{path} is not a readable .npz file (truncated or corrupt?): {error}") from None


def load(path, expected=None):
    """Rebuild the model saved at ``path``; with ``expected`` (a class), insist on that class.

    A :class:`ModelFileError` naming the file, and the key or array at fault, for a file
    that does not describe a model this version can rebuild as it was saved.
    """
    arrays = read_npz(path)
    if _META not in arrays:
        raise ModelFileError(f"{path} holds arrays but no model description: was it written by models.save?")
    try:
        meta = json.loads(str(arrays.pop(_META)))
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ModelFileError(f"{path}: its model description is not valid (was it written by models.save?)")
    name, version = meta.get("class"), meta.get("format")
    if not is_integer(version) or version != FORMAT:
        raise ModelFileError(f"{path}: unknown model file format {version!r} (this version reads {FORMAT})")
    if not isinstance(name, str):
        raise ModelFileError(f"{path}: its model description's 'class' must be the name of a class, got {name!r}")
    if name not in CLASSIFIERS:
        raise ModelFileError(
            f"{path} holds a {name!r}, which is not a registered model class: if it is a class of your own, "
            "import the module that defines it (decorated with @models.register) before loading "
            "(advex attack --import MODULE)"
        )
    cls = CLASSIFIERS[name]
    if expected is not None and cls is not expected:
        raise ModelFileError(f"{path} holds a {name}, not a {expected.__name__}")
    try:
        model = cls(**meta["config"])
        model.load_state_dict(arrays)
    except (TypeError, ValueError) as error:  # a config the class does not take, or weights that do not fit
        raise ModelFileError(f"{path}: {error}") from None
    for name, p in model.named_parameters():
        if not np.isfinite(p.data).all():
            raise ModelFileError(f"{path}: the weights {name!r} hold NaN or inf (a diverged training run?)")
    corrupt = corrupt_buffers(model)
    if corrupt:
        raise ModelFileError(f"{path}: the buffers {corrupt} hold NaN or inf; a layer's buffers are all finite "
                             "(fitted) or all NaN (unfitted): a damaged file?")
    return model


def corrupt_buffers(model) -> list:
    """The names of the buffers that make a layer's state neither fitted nor unfitted.

    A layer's buffers are either all finite (fitted, or fixed) or all NaN, every one of
    them (the state of a layer such as :class:`models.ContrastWhitening` before its fit,
    which it refuses to run in). A NaN or inf anywhere else is damage, which would
    otherwise surface far from the file, as NaN logits.
    """
    corrupt = []
    for prefix, module in model.named_modules():
        own = {prefix + name: getattr(module, name) for name in module.buffer_names}
        if all(np.isnan(array).all() for array in own.values()):
            continue
        corrupt += [name for name, array in own.items() if not np.isfinite(array).all()]
    return corrupt
