"""Saving and loading a model as one ``.npz`` file, and the project's careful file writes.

The file holds every weight and buffer under its dotted name, plus ``__model__``: a
JSON string with the class name and constructor arguments (``model.config``), so
:func:`load` can rebuild the model without the caller knowing its architecture, as
long as the class is registered (``models.register``; its module must be imported),
and the number of the file's format (:data:`FORMAT`): a file of format 1, whose
:class:`models.Maxout` columns are grouped by unit (files written before issue 26), is upgraded as it loads
(:mod:`models.old_files`), and left as it is on disk. A file names a class, never code: loading runs nothing, and nothing is unpickled. A
hand-edited file is checked as it loads: the description's fields (a key given twice
is refused, not read as its last value), the config by the constructor itself (which
refuses a value of the wrong type, a bool for a number or a string for a flag, rather
than coerce it; a config too large to build is named as such), and every weight and
buffer for NaN and inf, so that what loads is what was saved or a ``ModelFileError``
naming the file and what is wrong in it. :func:`save` runs the same rebuild
(:func:`rebuild`) before it writes, so it never writes a file that :func:`load` refuses.

:func:`atomic_write` (with ``atomic_write_text`` and ``atomic_savez``) is how every
package writes files: to a temporary file beside the target, then renamed, so an
interrupted write never leaves a half-written file, and the next write cleans up the
temporary files of killed writers. ``read_npz``, ``json_default``, ``foreign_files`` and
``refuse_foreign`` are small helpers the checkpoints and the ``advex`` commands share.
"""

from __future__ import annotations

import collections
import json
import os
import tempfile
import zipfile

import numpy as np

from minigrad.validation import is_integer

from .classifiers import CLASSIFIERS, Classifier, PreprocessedInputs
from .old_files import UNIT_GROUPED_FORMAT, upgrade_unit_grouped_state

#: The model file format :func:`save` writes; :func:`load` also reads format 1, upgrading it (:mod:`models.old_files`).
FORMAT = 2
_META = "__model__"
_ZIP_MAGIC, _NPY_MAGIC = b"PK", b"\x93NUMPY"  # how an .npz (a zip archive) and an .npy file start
#: NumPy's words for a shape too large to allocate, as a constructor meets them when a config asks for one.
_TOO_LARGE = ("Maximum allowed dimension exceeded", "array is too big")


class ModelFileError(ValueError):
    """A model file that is missing, truncated, corrupt, or not the expected model."""


def save(model, path) -> None:
    """Write ``model`` (architecture and weights) to ``path`` (an ``.npz`` file), atomically.

    Every weight is written, frozen ones too (the file does not record which were
    frozen: :func:`load` returns them all trainable), and every buffer. Refuses what
    :func:`load` could not rebuild, with a ValueError naming what is wrong: a class that
    is not registered under its name (``models.register``), a ``config`` that is not
    plain JSON data, and a model that its class, built from ``config``, could not take
    the state of (a weight cast to float64, reshaped, or added since), or whose weights
    or buffers hold NaN or inf. To know, it rebuilds the model from ``config``, as
    :func:`load` will, and loads the state into it: nothing is converted, so what
    loads is what was saved.
    """
    _check_file_name(path, "models.save")
    cls = _saveable_class(model)
    config = getattr(model, "config", None)
    try:
        text = json.dumps({"format": FORMAT, "class": cls.__name__, "config": config}, default=json_default)
    except TypeError as error:
        raise ValueError(f"models.save: {cls.__name__}.config must be plain data (numbers, strings, lists, dicts): "
                         f"{error} (an int seed, not a Generator?)") from None
    if not isinstance(config, dict):
        raise ValueError(f"models.save: {cls.__name__}.config must be a dict of its constructor's arguments, got {config!r}")
    arrays = dict(model.state_arrays())  # the arrays themselves: savez copies them into the file anyway
    try:
        rebuild(cls, json.loads(text)["config"], arrays)  # the config as load will read it
    except ValueError as error:
        raise ValueError(f"models.save: models.load could not rebuild this {cls.__name__} from the file: {error}") \
            from None
    arrays[_META] = np.array(text)
    atomic_savez(path, arrays)


def _saveable_class(model) -> type:
    """The class of ``model``, if :func:`load` can find it by its name; a ValueError saying what to save instead."""
    cls = type(model)
    if isinstance(model, PreprocessedInputs):
        raise ValueError("models.save: a PreprocessedInputs (what model.on_preprocessed() returns) shares the weights "
                         "of the model it wraps and has no file of its own: save that model (its .model) instead")
    if not isinstance(model, Classifier):
        raise ValueError(f"models.save: saves a classifier (a registered models.Classifier), got {_with_article(cls.__name__)}")
    if CLASSIFIERS.get(cls.__name__) is not cls:
        raise ValueError(f"models.save: {cls.__name__} is not a registered model class, so models.load could not "
                         "rebuild it: decorate it with @models.register")
    return cls


def _check_file_name(path, what: str) -> None:
    """A TypeError naming ``what`` unless ``path`` is a file name (str, bytes or os.PathLike)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{what}: path must be a file name (a str or a pathlib.Path), got {path!r}")


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


def refuse_foreign(folder, written, record: str, command: str) -> None:
    """A ValueError unless ``folder`` (missing: nothing to refuse) holds only what ``command`` writes there,
    ``written`` (:func:`foreign_files`), and, if it holds anything, its record ``record``.

    Anything else is someone else's, which ``command`` would mix its own files with; its
    file names without its record are someone else's too (a user's ``attack.md`` beside no
    ``attack.json``), which it would overwrite, or cannot check.
    """
    foreign = foreign_files(folder, written)
    if foreign:
        raise ValueError(f"{folder} holds files that {command} did not write ({_listed(foreign)}); nothing was "
                         "changed: pass an empty or new --out")
    entries = foreign_files(folder, ())
    if entries and record not in entries:
        raise ValueError(f"{folder} holds {_listed(entries)} but no {record}: not the output of {command}, or one "
                         "without its record; nothing was changed: pass an empty or new --out")


def _listed(names: list, shown: int = 5) -> str:
    """The first ``shown`` of ``names``, comma-separated, and how many more there are."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


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
    if os.path.isdir(path):
        raise ModelFileError(f"{path} is a folder, not a model file")
    with open(path, "rb") as f:
        start = f.read(len(_NPY_MAGIC))
    if not start.startswith(_ZIP_MAGIC):  # NumPy would try to unpickle it, and its error advise allow_pickle
        kind = ("is empty" if not start else "holds a single array (.npy)" if start == _NPY_MAGIC
                else f"is no .npz archive (it starts with {start!r})")
        raise ModelFileError(f"{path} is not a model file written by models.save: it {kind}")
    unreadable = (zipfile.BadZipFile, ValueError, OSError, EOFError)
    try:
        data = np.load(path, allow_pickle=False)
    except unreadable as error:
        raise ModelFileError(f"{path} is not a readable .npz file (truncated or corrupt?): {error}") from None
    try:
        with data:
            return {name: _member(data, name, path) for name in data.files}
    except ModelFileError:
        raise
    except unreadable as error:
        raise ModelFileError(f"{path} is not a readable .npz file (truncated or corrupt?): {error}") from None


def _member(data, name: str, path) -> np.ndarray:
    """The array ``name`` of the open .npz ``data``. A ModelFileError for an array of Python objects
    (NumPy's own error would advise unpickling it, which runs whatever the file says) and for a
    member that is no .npy array at all (NumPy returns its bytes): models.save writes neither."""
    try:
        array = data[name]
    except ValueError as error:
        if "allow_pickle" not in str(error):
            raise
        array = None
    if not isinstance(array, np.ndarray):
        what = "Python objects (pickled data)" if array is None else "no NumPy array"
        raise ModelFileError(f"{path} is not a model file written by models.save: its member {name!r} holds {what}")
    return array


def load(path, expected=None):
    """Rebuild the model saved at ``path``; with ``expected`` (a class), insist on that class or a subclass.

    A :class:`ModelFileError` naming the file, and the key or array at fault, for a file
    that does not describe a model this version can rebuild as it was saved: not an
    .npz archive, a description that is not valid JSON or repeats a key, a class that
    is not registered, a config its class refuses or asks for a model too large to
    build, weights that do not fit the model or hold NaN or inf. A TypeError for a
    ``path`` that is no file name or an ``expected`` that is no model class.
    """
    _check_file_name(path, "models.load")
    if expected is not None and not isinstance(expected, type):
        raise TypeError(f"models.load: expected must be a model class such as models.MLP (or None), got {expected!r}")
    arrays = read_npz(path)
    if _META not in arrays:
        raise ModelFileError(f"{path} holds arrays but no model description: was it written by models.save?")
    meta = _description(path, arrays.pop(_META))
    name, version = meta.get("class"), meta.get("format")
    if not is_integer(version) or version not in (UNIT_GROUPED_FORMAT, FORMAT):
        raise ModelFileError(f"{path}: unknown model file format {version!r} (this version reads "
                             f"{UNIT_GROUPED_FORMAT} and {FORMAT})")
    if not isinstance(name, str):
        raise ModelFileError(f"{path}: its model description's 'class' must be the name of a class, got {name!r}")
    if name not in CLASSIFIERS:
        raise ModelFileError(
            f"{path} holds {_with_article(name, quoted=True)}, which is not a registered model class: if it is a class "
            "of your own, import the module that defines it (decorated with @models.register) before loading "
            "(advex attack --import MODULE)"
        )
    cls = CLASSIFIERS[name]
    if expected is not None and not issubclass(cls, expected):
        raise ModelFileError(f"{path} holds {_with_article(name)}, not {_with_article(expected.__name__)}")
    upgrade = upgrade_unit_grouped_state if version == UNIT_GROUPED_FORMAT else None
    try:
        return rebuild(cls, meta["config"], arrays, upgrade)
    except ValueError as error:
        raise ModelFileError(f"{path}: {error}") from None


def _description(path, text: np.ndarray) -> dict:
    """The file's model description (the JSON of ``__model__``) as a dict, or a ModelFileError naming
    ``path``: for text that is not JSON of that shape, and for a key given twice in one object, of
    which JSON would silently keep the last."""
    repeated = []

    def unique_keys(pairs: list) -> dict:
        counts = collections.Counter(key for key, _ in pairs)
        repeated.extend(key for key, count in counts.items() if count > 1)
        return dict(pairs)

    try:
        meta = json.loads(str(text), object_pairs_hook=unique_keys)
    except ValueError:
        meta = None
    if repeated:
        raise ModelFileError(f"{path}: its model description gives the key {repeated[0]!r} twice (which value "
                             "is meant?): a hand-edited file?")
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ModelFileError(f"{path}: its model description is not valid (was it written by models.save?)")
    return meta


def rebuild(cls, config: dict, arrays: dict, upgrade=None):
    """``cls(**config)`` holding the state ``arrays``: what :func:`load` returns and :func:`save` checks.

    ``upgrade(model, arrays) -> arrays``, if given, turns a state of an older file format
    into the layout of the model built (:mod:`models.old_files`) before it is loaded.

    A ValueError saying what is wrong: a config the class refuses, or asks for a model
    too large to build (the constructor's MemoryError, or NumPy's refusal of such a
    shape); a state that does not fit the model (a name, a shape or a dtype); weights
    that hold NaN or inf; buffers neither all finite nor all NaN (:func:`corrupt_buffers`).
    """
    try:
        model = cls(**config)
    except (MemoryError, OverflowError):
        raise ValueError(_too_large(config)) from None
    except TypeError as error:  # an argument the constructor does not take
        raise ValueError(str(error)) from None
    except ValueError as error:
        raise ValueError(_too_large(config) if any(words in str(error) for words in _TOO_LARGE) else str(error)) \
            from None
    model.load_state_dict(arrays if upgrade is None else upgrade(model, arrays))
    for name, weight in model.named_weights():
        if not np.isfinite(weight.data).all():
            raise ValueError(f"the weights {name!r} hold NaN or inf (a diverged training run?)")
    corrupt = corrupt_buffers(model)
    if corrupt:
        raise ValueError(f"the buffers {corrupt} hold NaN or inf; a layer's buffers are all finite "
                         "(fitted) or all NaN (unfitted)")
    return model


def _too_large(config: dict) -> str:
    return (f"its config asks for a model too large to build ({json.dumps(config, default=json_default)}): "
            "a damaged or hand-edited file?")


def _with_article(name: str, quoted: bool = False) -> str:
    """``name`` after "a" or "an", as it is read aloud: an ImageClassifier, an MLP (an initialism), a MaxoutNetwork."""
    initialism = name[:2].isupper()
    vowel_sound = name[:1].upper() in ("AEFHILMNORSX" if initialism else "AEIOU")
    return f"{'an' if vowel_sound else 'a'} {repr(name) if quoted else name}"


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
