"""CIFAR-10 from its official files, read safely: ``load_cifar10(split, path)``.

Both official versions are read, as the archive or as its extracted folder:

* ``cifar-10-binary.tar.gz`` (folder ``cifar-10-batches-bin``): ``data_batch_1.bin`` ..
  ``data_batch_5.bin`` and ``test_batch.bin``, fixed records of 1 label byte and 3,072
  pixel bytes (3 x 32 x 32, channel-major). No pickle: nothing in it can run code.
* ``cifar-10-python.tar.gz`` (folder ``cifar-10-batches-py``): ``data_batch_1`` ..
  ``data_batch_5`` and ``test_batch``, each a pickled dict (``b"data"``: a uint8 array
  (N, 3072); ``b"labels"``: N ints). Unpickling can run arbitrary code, so a batch is
  unpickled only (1) after its MD5 matches the expected one, official or given in
  ``checksums``, and (2) through an unpickler that resolves nothing but the few names
  an array needs (NumPy's array reconstruction, from its state or its buffer, and
  ``_codecs.encode`` and an argument-free ``bytes`` with which a Python 3 pickle stores
  bytes: :class:`_BatchUnpickler`): a hostile file is refused
  before any of it runs. Its labels must be integers in 0..9, or floats with whole
  values (converted); anything else is refused, naming the file.

An archive is read in memory, member by member, by the known names only: nothing is
extracted to disk, so a crafted member name (``../../somewhere``) writes nowhere. A
folder holding several forms is read in the form that can be checked best: the binary
archive, the Python folder, the Python archive, and an extracted binary folder last.

What is checked, and what counts as official. The official MD5s (:data:`CIFAR10_MD5`)
are published for the two archives and the six pickled batches, not for the ``.bin``
files. Every archive and every pickled batch is checked before it is read, against the
digest ``checksums`` gives for its name, else the official one; a ``.bin`` file is
checked when ``checksums`` gives its digest, and read unchecked otherwise; when
``checksums`` are given, a file read that has no digest at all is refused. A split is
*official* (:attr:`CifarSplit.official`; what lets a reproduction print the paper's
numbers beside its own) only when every batch it holds matched an official digest:
its own, or that of the archive it came from. So an official archive is official;
an extracted Python folder is official when its batches are the published ones; an
extracted binary folder never is (nothing vouches for its files), and neither is a
file that matched only a digest of the user's.

A folder holding batch files of both formats (a stray ``test_batch.bin`` among the
Python batches, say) is refused, naming the folder and the files of each: which set
was meant cannot be known, and reading the wrong one would be silent.

Where it is found: ``path`` alone when given; else ``$MINIGRAD_CIFAR10``, then the cache
(``~/.cache/minigrad-adv/cifar10``); then, only with ``download=True``, the binary archive
(163 MB; no pickle in it) is fetched into the cache by :func:`download_cifar10`,
streamed to a temporary file with a progress bar and renamed into place only once its
MD5 is right. Machines without internet access (the project's own) cannot download:
put one of the archives (or its folder) where ``path``, ``$MINIGRAD_CIFAR10`` or the
cache points.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import pickle
import tarfile
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np

from minigrad.labels import check_labels
from models.io import atomic_write

from .data import DataError, DataNotFoundError, _network_error, cache_root
from .progress import progress_bar

ARCHIVES = {"binary": "cifar-10-binary.tar.gz", "python": "cifar-10-python.tar.gz"}
FOLDERS = {"binary": "cifar-10-batches-bin", "python": "cifar-10-batches-py"}
BATCHES = {
    "binary": {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]},
    "python": {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
}
#: The official MD5 digests: of both archives, and of the Python version's batch files.
CIFAR10_MD5 = {
    "cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530",
    "cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a",
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
#: Where the official binary archive is published.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
RECORD = 1 + 3 * 32 * 32  # one label byte, then the pixels
MAX_BATCH_BYTES, MAX_ARCHIVE_BYTES = 64 * 2**20, 256 * 2**20  # the official files: 31 MB and 163-170 MB


def default_cifar_dir() -> Path:
    """``$XDG_CACHE_HOME/minigrad-adv/cifar10``, or ``~/.cache/minigrad-adv/cifar10`` without it."""
    return cache_root() / "cifar10"


class CifarSplit(NamedTuple):
    """One split as :func:`read_cifar10` read it: the arrays, whether they are the official
    CIFAR-10, and the files they came from (what a run keys its results on)."""

    X: np.ndarray  #: float32 (N, 3072) in [0, 1], channel-major
    y: np.ndarray  #: int64 (N,) in 0..9
    official: bool  #: every batch matched an official MD5, its own or its archive's
    files: tuple  #: the files read (Paths): the archive, or the split's batch files in the folder


def load_cifar10(split: str = "train", path=None, *, download: bool = False, checksums=None, progress: bool = True):
    """CIFAR-10's ``split`` ("train": 50,000 images, "test": 10,000) as ``(X, y)``.

    ``X``: float32 (N, 3072) in [0, 1], channel-major (C, H, W) as the files store it;
    ``y``: int64 (N,) in 0..9. ``path``: an official archive, its extracted folder, or a
    folder holding either; used alone when given. Without it, ``$MINIGRAD_CIFAR10``, then
    :func:`default_cifar_dir`, then (only if ``download``: 163 MB) a download into that
    cache (:func:`download_cifar10`). ``checksums`` maps file names (an archive's, a
    Python batch's or a ``.bin`` file's) to MD5 hex digests, replacing the official ones
    for those names (tests pass the digests of the files they wrote). Every archive and
    Python batch is checked, a ``.bin`` file only when ``checksums`` names it. Whether
    what was read is the official CIFAR-10: :func:`read_cifar10`.
    """
    X, y, _, _ = read_cifar10(split, path, download=download, checksums=checksums, progress=progress)
    return X, y


def read_cifar10(split: str = "train", path=None, *, download: bool = False, checksums=None,
                 progress: bool = True) -> CifarSplit:
    """:func:`load_cifar10`'s ``(X, y)`` with where they came from: a :class:`CifarSplit`.

    ``official`` is True only when every batch of the split matched an official MD5
    (:data:`CIFAR10_MD5`), its own or that of the archive holding it: never for an
    extracted binary folder (no digests are published for ``.bin`` files), nor for a
    file that matched only a digest given in ``checksums``. ``files`` lists the files
    read: the archive alone, or the split's batch files in the folder (never the other
    split's, nor another form lying beside it).
    """
    if split not in ("train", "test"):
        raise ValueError(f"load_cifar10: split must be 'train' or 'test', got {split!r}")
    if checksums is not None and (not isinstance(checksums, dict)
                                  or not all(isinstance(d, str) for d in checksums.values())):
        raise TypeError(f"load_cifar10: checksums must map file names to MD5 hex strings, got {checksums!r:.80}")
    expected = {**CIFAR10_MD5, **(checksums or {})}
    places = [Path(path).expanduser()] if path is not None else [
        Path(p).expanduser() for p in (os.environ.get("MINIGRAD_CIFAR10"), default_cifar_dir()) if p]
    for place in places:
        found = _locate(place)
        if found is not None:
            kind, source = found
            parts, official = [], True
            for where, data, vouched in _batches(kind, source, split, expected, given=checksums is not None):
                parts.append(_read_batch(kind, where, data))
                official = official and vouched
            X = np.concatenate([images for images, _ in parts], dtype=np.float32)  # no uint8 copy of the whole set
            X /= np.float32(255.0)  # in place: a second 600 MB array for the training split is not needed
            return CifarSplit(X, np.concatenate([labels for _, labels in parts]), official,
                              _split_files(kind, source, split))
    looked = ", ".join(str(p) for p in places) or "(nowhere: pass path= or set MINIGRAD_CIFAR10)"
    if download and path is None:
        download_cifar10(default_cifar_dir(), md5=expected[ARCHIVES["binary"]], progress=progress)
        return read_cifar10(split, default_cifar_dir(), checksums=checksums)
    raise DataNotFoundError(
        f"CIFAR-10 not found in {looked}: put cifar-10-binary.tar.gz or cifar-10-python.tar.gz (or the folder "
        "either unpacks to) there" + ("" if path is not None else ", or pass download=True where the internet is reachable"))


def download_cifar10(directory=None, *, url=None, md5: str = CIFAR10_MD5["cifar-10-binary.tar.gz"],
                     timeout: float = 60.0, progress: bool = True) -> Path:
    """Fetch the binary archive from ``url`` (default :data:`CIFAR10_URL`) into ``directory``
    (default: the cache); return its path.

    Streamed in 1 MB pieces into a temporary file beside the target (never the whole
    163 MB in memory), with a progress bar; the MD5 is computed on the way and the file
    is renamed into place only if it matches ``md5``, so a failed, corrupt or
    interrupted download leaves nothing behind. Offline, raises
    :class:`DataNotFoundError`; a bad download, :class:`DataError`.
    """
    directory = default_cifar_dir() if directory is None else Path(directory)
    target, url = directory / ARCHIVES["binary"], CIFAR10_URL if url is None else url

    def write(f):
        try:
            response = urllib.request.urlopen(url, timeout=timeout)
        except (OSError, http.client.HTTPException) as error:  # offline, refused, HTTP 404...
            raise DataNotFoundError(f"could not download {url}: {_network_error(error)}") from None
        digest, size = hashlib.md5(usedforsecurity=False), 0
        with response:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = progress_bar(total, f"downloading {target.name}", progress)
            while True:
                try:
                    chunk = response.read(2**20)
                except (OSError, http.client.HTTPException) as error:
                    raise DataError(f"{url}: the download broke off after {size:,} bytes: {_network_error(error)}") from None
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_ARCHIVE_BYTES:
                    raise DataError(f"{url}: more than {MAX_ARCHIVE_BYTES:,} bytes, far more than the CIFAR-10 archive")
                digest.update(chunk)
                f.write(chunk)  # a local error here (a full disk) is an OSError of its own
                bar.update(len(chunk))
            bar.close()
        if total is not None and size != total:
            raise DataError(f"{url}: the download ended after {size:,} of {total:,} bytes")
        if digest.hexdigest() != md5.lower():
            raise DataError(f"{url}: MD5 mismatch: the download's is {digest.hexdigest()}, expected {md5}")

    atomic_write(target, write)
    return target


#: Every file name a CIFAR-10 set is read from: the archives and both formats' batch files.
FILE_NAMES = tuple(ARCHIVES.values()) + tuple(name for kind in BATCHES.values() for split in kind.values()
                                              for name in split)


#: The other files of the official folders: listed by ``md5sum *`` there, and skipped by :func:`read_md5sums`.
OTHER_FILE_NAMES = ("batches.meta", "batches.meta.txt", "readme.html")


class MissingChecksumError(DataError):
    """A file read has no digest, neither official nor among the checksums given."""


def read_md5sums(path) -> dict:
    """``{file name: MD5}`` from a file in ``md5sum``'s format (``DIGEST  NAME`` per line).

    How ``advex --cifar-checksums`` takes the digests of a CIFAR-format set that is not
    the official one. Blank lines and ``#`` comments are skipped, and so is a UTF-8 byte
    order mark. A DataError names the file and the line for a line that is no digest and
    name, for a name that is no CIFAR-10 file's (:data:`FILE_NAMES`: a typo would be kept,
    and the file it meant checked against the official digest), and for a name given
    twice with different digests. The other files of an official folder
    (:data:`OTHER_FILE_NAMES`, never read) are skipped, so ``md5sum * > MD5SUMS`` there works.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataNotFoundError(f"{path}: {'a folder, not a' if path.is_dir() else 'no such'} checksum file")
    digests, lines = {}, {}
    for number, line in enumerate(path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 32 or any(c not in "0123456789abcdefABCDEF" for c in parts[0]):
            raise DataError(f"{path}, line {number}: expected 'MD5  FILE NAME' (32 hex digits, then a name), got {line!r}")
        name, digest = Path(parts[1].strip().lstrip("*")).name, parts[0].lower()
        if name in OTHER_FILE_NAMES:
            continue
        if name not in FILE_NAMES:
            raise DataError(f"{path}, line {number}: {parts[1].strip()!r} names no CIFAR-10 file (they are "
                            f"{', '.join(FILE_NAMES)})")
        if digests.get(name, digest) != digest:
            raise DataError(f"{path}, line {number}: {name} was given another MD5 on line {lines[name]}")
        digests[name], lines[name] = digest, number
    if not digests:
        raise DataError(f"{path}: holds no checksums")
    return digests


def _locate(place: Path):
    """(kind, an archive path or a folder of batch files) at ``place``, or None.

    Where ``place`` holds more than one form, one whose files are checked comes first: the
    binary archive, then the Python folder, then the Python archive; an extracted binary
    folder, whose files no published digest vouches for, only last.
    """
    if place.is_file():
        for kind, archive in ARCHIVES.items():
            if place.name == archive:
                return kind, place
        raise DataError(f"{place}: not a CIFAR-10 archive (expected {' or '.join(ARCHIVES.values())})")
    if not place.is_dir():
        return None
    if (place / ARCHIVES["binary"]).is_file():
        return "binary", place / ARCHIVES["binary"]
    folder = _batch_folder(place, "python")
    if folder is not None:
        return "python", folder
    if (place / ARCHIVES["python"]).is_file():
        return "python", place / ARCHIVES["python"]
    folder = _batch_folder(place, "binary")
    return None if folder is None else ("binary", folder)


def _batch_folder(place: Path, kind: str):
    """The folder of ``kind``'s batch files at ``place`` (its own name under ``place``, or ``place``), or None."""
    for folder in (place / FOLDERS[kind], place):
        if any((folder / name).is_file() for name in BATCHES[kind]["train"] + BATCHES[kind]["test"]):
            _refuse_both_formats(folder)
            return folder
    return None


def _refuse_both_formats(folder: Path) -> None:
    """A DataError when ``folder`` holds batch files of both formats: which set is meant cannot be known."""
    present = {kind: [name for name in names["train"] + names["test"] if (folder / name).is_file()]
               for kind, names in BATCHES.items()}
    if all(present.values()):
        raise DataError(f"{folder}: holds batch files of both CIFAR-10 formats (binary: {', '.join(present['binary'])}; "
                        f"Python: {', '.join(present['python'])}): keep one format's files in a folder")


def _batches(kind: str, source: Path, split: str, expected: dict, *, given: bool = False):
    """(where, bytes, vouched) of each batch of ``split``, from a folder or (in memory) from an archive.

    ``where`` names the file in errors; ``vouched``: the bytes matched an official MD5,
    the batch's own or its archive's. Each batch is checked (:func:`_check_md5`) before
    it is read: a Python one always, a ``.bin`` one when a digest is given for it. When
    checksums were ``given``, every file read must have a digest (a
    :class:`MissingChecksumError` otherwise): checksums that name none of the files read
    would check nothing while seeming to.
    """
    names = BATCHES[kind][split]
    if source.is_dir():
        for name, file in zip(names, _split_files(kind, source, split)):
            if not file.is_file():
                raise DataNotFoundError(f"{file}: missing (the CIFAR-10 {split} split needs {', '.join(names)})")
            data = _read_bounded(file, MAX_BATCH_BYTES)
            yield file, data, _check_md5(data, name, file, expected, required=kind == "python" or given)
        return
    data = _read_bounded(source, MAX_ARCHIVE_BYTES)
    archive_official = _check_md5(data, source.name, source, expected, required=True)
    wanted, found = {f"{FOLDERS[kind]}/{name}": name for name in names}, {}
    try:  # one pass over the stream ("r|gz"): looking members up by name would inflate the archive twice
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as archive:
            for info in archive:
                name = wanted.get(_member_name(info.name))
                if name is None or name in found:
                    continue
                if not info.isfile():
                    raise DataError(f"{source}: {info.name} is not a regular file in the archive")
                if info.size > MAX_BATCH_BYTES:
                    raise DataError(f"{source}: {info.name} holds {info.size:,} bytes, far more than a CIFAR-10 batch")
                found[name] = archive.extractfile(info).read()
                if len(found) == len(wanted):
                    break
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{source}: not a readable .tar.gz archive (truncated or corrupt?): {error}") from None
    for member, name in wanted.items():
        if name not in found:
            raise DataError(f"{source}: the archive has no {member}")
        data, where = found.pop(name), f"{source}: {member}"
        yield where, data, _check_md5(data, name, where, expected, required=kind == "python") or archive_official


def _member_name(name: str) -> str:
    """An archive member's name without the leading ``./`` of ``tar czf X ./folder``."""
    while name.startswith("./"):
        name = name[2:]
    return name


def _split_files(kind: str, source: Path, split: str) -> tuple:
    """The files ``split`` is read from: the archive ``source``, or its batch files in the folder ``source``."""
    return tuple(source / name for name in BATCHES[kind][split]) if source.is_dir() else (source,)


def _read_bounded(file: Path, limit: int) -> bytes:
    """The file's bytes, refusing one far larger than any CIFAR-10 file before reading it."""
    try:
        size = file.stat().st_size
        if size > limit:
            raise DataError(f"{file}: {size:,} bytes is far larger than a CIFAR-10 file (at most {limit:,})")
        return file.read_bytes()
    except OSError as error:  # no permission, an I/O error: a DataError, as for MNIST's files
        raise DataError(f"{file}: cannot be read ({error.strerror or error})") from None


def _check_md5(data: bytes, name: str, where, expected: dict, *, required: bool) -> bool:
    """Whether ``data`` (file ``name``, found at ``where``) matched an official MD5.

    Checked against ``expected[name]``; a mismatch is a DataError, and a missing digest
    when ``required`` a :class:`MissingChecksumError`. ``expected`` holds the official
    digests, so only a file with none (a ``.bin`` batch) can miss one: required when
    checksums were given. Matching a digest that is not :data:`CIFAR10_MD5`'s (one given
    in ``checksums``) passes, but is not official.
    """
    digest = expected.get(name)
    if digest is None:
        if required:
            raise MissingChecksumError(f"{where}: the checksums given hold no MD5 for {name}, and every file read "
                                       "must have one when checksums are given")
        return False
    actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if actual != digest.lower():
        raise DataError(f"{where}: MD5 mismatch: the file's is {actual}, expected {digest} (corrupt, or another file)")
    return actual == CIFAR10_MD5.get(name)


def _read_batch(kind: str, where, data: bytes):
    """(uint8 images (N, 3072), int64 labels (N,)) of one batch file's bytes (already checked)."""
    if kind == "binary":
        if not data or len(data) % RECORD:
            raise DataError(f"{where}: {len(data)} bytes is not a whole number of {RECORD}-byte CIFAR-10 records")
        records = np.frombuffer(data, np.uint8).reshape(-1, RECORD)
        return records[:, 1:], _class_indices(records[:, 0], len(records), where)
    try:
        batch = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as error:
        raise DataError(f"{where}: refused: {error}") from None
    except Exception as error:  # a malformed pickle fails in many ways; none of it is usable
        raise DataError(f"{where}: not a readable CIFAR-10 batch ({type(error).__name__}: {error})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{where}: not a CIFAR-10 batch (no b'data' and b'labels')")
    images = batch[b"data"]
    if not isinstance(images, np.ndarray):
        raise DataError(f"{where}: b'data' must be (N, {RECORD - 1}) uint8 images, got {type(images).__name__}")
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != RECORD - 1:
        raise DataError(f"{where}: b'data' must be (N, {RECORD - 1}) uint8 images, got {images.dtype} of shape {images.shape}")
    if not len(images):
        raise DataError(f"{where}: holds no images")
    return images, _class_indices(batch[b"labels"], len(images), where)


def _class_indices(raw, n: int, where) -> np.ndarray:
    """The labels of a batch file as int64 (n,) in 0..9, or a DataError naming the file.

    Integers, or floats with whole values (converted). A fractional, NaN or
    out-of-range float is refused, never truncated; so are strings, None, bools, nested
    lists and integers beyond 0..9 (through the project's label check,
    :func:`minigrad.labels.check_labels`).
    """
    try:
        labels = np.asarray(raw)
    except (ValueError, TypeError, OverflowError) as error:  # nested lists of uneven lengths
        raise DataError(f"{where}: labels must be a flat list of {n} integers in 0..9 ({error})") from None
    if labels.shape != (n,):
        raise DataError(f"{where}: {n} images need a flat list of {n} labels, got {labels.dtype} of shape {labels.shape}")
    if labels.dtype.kind == "f":
        bad = ~(np.isin(labels, np.arange(10)))
        if bad.any():
            raise DataError(f"{where}: labels must be integers in 0..9 (or floats with whole values), "
                            f"found {np.unique(labels[bad])[:5].tolist()}")
        labels = labels.astype(np.int64)
    try:
        return check_labels(labels, n, 10, what=f"{where}: labels")
    except (TypeError, ValueError) as error:
        raise DataError(str(error)) from None


def _empty_bytes(*args):
    """``bytes()``, as a protocol-2 pickle stores an empty bytes value; with arguments (``bytes(10**12)``
    would allocate a terabyte), refused."""
    if args:
        raise pickle.UnpicklingError(f"the pickle calls bytes{args!r:.40}, where a CIFAR-10 batch holds only b''")
    return b""


class _BatchUnpickler(pickle.Unpickler):
    """Resolves only what a pickled NumPy array and its dict need; anything else is refused before it runs.

    Both spellings of NumPy's modules are allowed (``numpy.core``, as older files name
    it; ``numpy._core``, NumPy 2's): an array rebuilt from its state (``_reconstruct``,
    protocols up to 4) or from its bytes (``_frombuffer``, protocol 5), a NumPy scalar
    (``scalar``: labels written as ``list(array)``, or ``np.int64`` metadata); ``_codecs.encode``,
    with which a protocol-2 pickle stores bytes, and ``bytes`` itself, with which it
    stores an empty one (:func:`_empty_bytes`).
    """

    ALLOWED = {(f"{package}.{module}", name) for package in ("numpy.core", "numpy._core")
               for module, name in (("multiarray", "_reconstruct"), ("numeric", "_frombuffer"),
                                    ("multiarray", "scalar"))} | {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how a Python 3 pickle of protocol 2 stores bytes: it only encodes a string
    }
    BYTES = {("__builtin__", "bytes"), ("builtins", "bytes")}

    def find_class(self, module, name):
        if (module, name) in self.BYTES:
            return _empty_bytes
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"the pickle asks for {module}.{name}, which a CIFAR-10 batch never needs")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):  # NumPy 2 moved it; the files predate that
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)
