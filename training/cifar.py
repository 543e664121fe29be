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
  an array needs (NumPy's array reconstruction, and ``_codecs.encode`` with which a
  Python 3 pickle stores bytes: :class:`_BatchUnpickler`): a hostile file is refused
  before any of it runs.

An archive is read in memory, member by member, by the known names only: nothing is
extracted to disk, so a crafted member name (``../../somewhere``) writes nowhere.
Every archive is checked against its MD5 before it is read (the official digests
unless ``checksums`` names the archive's file).

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

import numpy as np

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


def load_cifar10(split: str = "train", path=None, *, download: bool = False, checksums=None, progress: bool = True):
    """CIFAR-10's ``split`` ("train": 50,000 images, "test": 10,000) as ``(X, y)``.

    ``X``: float32 (N, 3072) in [0, 1], channel-major (C, H, W) as the files store it;
    ``y``: int64 (N,) in 0..9. ``path``: an official archive, its extracted folder, or a
    folder holding either; used alone when given. Without it, ``$MINIGRAD_CIFAR10``, then
    :func:`default_cifar_dir`, then (only if ``download``: 163 MB) a download into that
    cache (:func:`download_cifar10`). ``checksums`` maps file names (an archive's or a
    Python batch's) to MD5 hex digests, replacing the official ones for those names
    (tests pass the digests of the files they wrote).
    """
    if split not in ("train", "test"):
        raise ValueError(f"load_cifar10: split must be 'train' or 'test', got {split!r}")
    if checksums is not None and not isinstance(checksums, dict):
        raise TypeError(f"load_cifar10: checksums must map file names to MD5 digests, got {type(checksums).__name__}")
    expected = {**CIFAR10_MD5, **(checksums or {})}
    places = [Path(path).expanduser()] if path is not None else [
        Path(p).expanduser() for p in (os.environ.get("MINIGRAD_CIFAR10"), default_cifar_dir()) if p]
    for place in places:
        found = _locate(place)
        if found is not None:
            kind, source = found
            parts = [_read_batch(kind, name, data, expected) for name, data in _batches(kind, source, split, expected)]
            X = np.concatenate([images for images, _ in parts], dtype=np.float32)  # no uint8 copy of the whole set
            X /= np.float32(255.0)  # in place: a second 600 MB array for the training split is not needed
            return X, np.concatenate([labels for _, labels in parts])
    looked = ", ".join(str(p) for p in places) or "(nowhere: pass path= or set MINIGRAD_CIFAR10)"
    if download and path is None:
        download_cifar10(default_cifar_dir(), md5=expected[ARCHIVES["binary"]], progress=progress)
        return load_cifar10(split, default_cifar_dir(), checksums=checksums)
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


def read_md5sums(path) -> dict:
    """``{file name: MD5}`` from a file in ``md5sum``'s format (``DIGEST  NAME`` per line).

    How ``advex --cifar-checksums`` takes the digests of a CIFAR-format set that is not
    the official one. Blank lines and ``#`` comments are skipped; a bad line is a
    DataError naming the file and the line.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such checksum file")
    digests = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 32 or any(c not in "0123456789abcdefABCDEF" for c in parts[0]):
            raise DataError(f"{path}, line {number}: expected 'MD5  FILE NAME' (32 hex digits, then a name), got {line!r}")
        digests[Path(parts[1].strip().lstrip("*")).name] = parts[0].lower()
    if not digests:
        raise DataError(f"{path}: holds no checksums")
    return digests


def _locate(place: Path):
    """(kind, an archive path or a folder of batch files) for the first form found at ``place``, or None."""
    if place.is_file():
        for kind, archive in ARCHIVES.items():
            if place.name == archive:
                return kind, place
        raise DataError(f"{place}: not a CIFAR-10 archive (expected {' or '.join(ARCHIVES.values())})")
    if not place.is_dir():
        return None
    for kind in ARCHIVES:
        for folder in (place / FOLDERS[kind], place):
            if (folder / BATCHES[kind]["test"][0]).is_file():
                return kind, folder
        if (place / ARCHIVES[kind]).is_file():
            return kind, place / ARCHIVES[kind]
    return None


def _batches(kind: str, source: Path, split: str, expected: dict):
    """(file name, bytes) of each batch of ``split``, from a folder or (in memory) from an archive."""
    names = BATCHES[kind][split]
    if source.is_dir():
        for name in names:
            file = source / name
            if not file.is_file():
                raise DataNotFoundError(f"{file}: missing (the CIFAR-10 {split} split needs {', '.join(names)})")
            yield name, _read_bounded(file, MAX_BATCH_BYTES)
        return
    data = _read_bounded(source, MAX_ARCHIVE_BYTES)
    _check_md5(data, expected.get(source.name), source)
    wanted, found = {f"{FOLDERS[kind]}/{name}": name for name in names}, {}
    try:  # one pass over the stream ("r|gz"): looking members up by name would inflate the archive twice
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as archive:
            for info in archive:
                name = wanted.get(info.name)
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
        yield name, found.pop(name)


def _read_bounded(file: Path, limit: int) -> bytes:
    """The file's bytes, refusing one far larger than any CIFAR-10 file before reading it."""
    try:
        size = file.stat().st_size
        if size > limit:
            raise DataError(f"{file}: {size:,} bytes is far larger than a CIFAR-10 file (at most {limit:,})")
        return file.read_bytes()
    except OSError as error:  # no permission, an I/O error: a DataError, as for MNIST's files
        raise DataError(f"{file}: cannot be read ({error.strerror or error})") from None


def _check_md5(data: bytes, digest, source) -> None:
    if digest is None:
        raise DataError(f"{source}: no MD5 to check it against; pass checksums={{'{Path(str(source)).name}': md5}}")
    actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if actual != digest.lower():
        raise DataError(f"{source}: MD5 mismatch: the file's is {actual}, expected {digest} (corrupt, or another file)")


def _read_batch(kind: str, name: str, data: bytes, expected: dict):
    """(uint8 images (N, 3072), int64 labels (N,)) of one batch file's bytes."""
    if kind == "binary":
        if not data or len(data) % RECORD:
            raise DataError(f"{name}: {len(data)} bytes is not a whole number of {RECORD}-byte CIFAR-10 records")
        records = np.frombuffer(data, np.uint8).reshape(-1, RECORD)
        images, labels = records[:, 1:], records[:, 0].astype(np.int64)
    else:
        _check_md5(data, expected.get(name), name)  # before a single byte is unpickled
        try:
            batch = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
        except pickle.UnpicklingError as error:
            raise DataError(f"{name}: refused: {error}") from None
        except Exception as error:  # a malformed pickle fails in many ways; none of it is usable
            raise DataError(f"{name}: not a readable CIFAR-10 batch ({type(error).__name__}: {error})") from None
        if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
            raise DataError(f"{name}: not a CIFAR-10 batch (no b'data' and b'labels')")
        images, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], dtype=np.int64)
        if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != RECORD - 1 or len(labels) != len(images):
            raise DataError(f"{name}: data of shape {images.shape} ({images.dtype}) and {len(labels)} labels "
                            f"do not make (N, {RECORD - 1}) uint8 images with N labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{name}: labels outside 0..9")
    return images, labels


class _BatchUnpickler(pickle.Unpickler):
    """Resolves only what a pickled NumPy array needs; anything else is refused before it runs."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how a Python 3 pickle of protocol 2 stores bytes: it only encodes a string
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"the pickle asks for {module}.{name}, which a CIFAR-10 batch never needs")
        if module == "numpy.core.multiarray" and hasattr(np, "_core"):  # NumPy 2 moved it; the files predate that
            module = "numpy._core.multiarray"
        return super().find_class(module, name)
