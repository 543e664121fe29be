"""Loading MNIST, and any other data set stored in the IDX format, as NumPy arrays.

The IDX format
--------------
MNIST is four files, an image file and a label file for each split::

    train-images-idx3-ubyte   60,000 images of 28x28 pixels
    train-labels-idx1-ubyte   their 60,000 labels (digits 0-9)
    t10k-images-idx3-ubyte    10,000 test images
    t10k-labels-idx1-ubyte    their labels

Each file is a big-endian header followed by the data. The header's first four bytes
are the magic number: two zero bytes, a type code (0x08: unsigned bytes) and the number
of dimensions. So images start with 0x00000803 (three dimensions: count, rows,
columns) and labels with 0x00000801 (one dimension: count). Then comes one 32-bit
big-endian size per dimension, and then the prod(sizes) data bytes in C order (the
last index varies fastest). Fashion-MNIST and KMNIST use the same layout and the same
file names, so :func:`load_idx_dataset` reads them too. The files are usually
distributed gzipped (``.gz``); both forms are accepted.

Checksums
---------
MNIST's files are checked against the SHA-256 of their *decompressed* bytes. The
gzip wrapper holds a time stamp, a file name and a compression level, which differ
between mirrors and between ``gzip`` runs; the IDX bytes inside cannot differ
without the data being different.

Where :func:`load_mnist` looks
------------------------------
In order: the ``path`` argument, the folder named by the ``MINIGRAD_DATA`` environment
variable, the per-user cache (:func:`default_cache_dir`), and, only if none holds
both files of the split and ``download`` is true, the public mirrors in
:data:`MNIST_MIRRORS` (into the cache). The first folder holding both files wins; an
uncompressed file is preferred to its ``.gz`` when a folder has both.

Errors
------
Bad data raises :class:`DataError` (a ``ValueError``) naming the file and the problem;
data that is nowhere (and cannot be downloaded) raises its subclass
:class:`DataNotFoundError`, also a ``FileNotFoundError``: tests skip on exactly that.
"""

from __future__ import annotations

import hashlib
import http.client
import math
import os
import urllib.error
import urllib.request
import zlib
from gzip import compress as gzip_compress
from gzip import decompress as gzip_decompress
from pathlib import Path

import numpy as np

from models.io import atomic_write

__all__ = [
    "DataError", "DataNotFoundError", "default_cache_dir", "download_idx_files", "idx_split_files", "load_idx_dataset",
    "load_mnist", "read_idx", "write_idx_dataset",
]  # fmt: skip

#: Base URLs of public copies of the original gzipped MNIST files, tried in order.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: SHA-256 of each MNIST file's decompressed (IDX) bytes.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: The (images, labels) file names of each split, shared by MNIST, Fashion-MNIST and KMNIST.
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_KINDS = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}

_HOW_TO_FIX = (
    "Set the MINIGRAD_DATA environment variable to a folder holding the four MNIST IDX "
    "files (gzipped or not), or pass path= to load_mnist."
)


class DataError(ValueError):
    """A data file is missing, malformed, or not the file it should be."""


class DataNotFoundError(DataError, FileNotFoundError):
    """The data could not be found locally (nor downloaded, where that was allowed)."""


# ---------------------------------------------------------------------------- reading


def read_idx(file, *, magic: int | None = None, sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (``.gz`` or not) into a uint8 array of the shape its header gives.

    With ``magic`` (:data:`IMAGES_MAGIC` or :data:`LABELS_MAGIC`) the file must start with
    that number; with ``sha256`` its decompressed bytes must have that digest. The result
    is a read-only view of the file's bytes: copy or convert it before writing to it.
    """
    file = Path(file)
    if magic is not None and magic not in _KINDS:
        raise ValueError(f"read_idx: magic must be IMAGES_MAGIC (0x{IMAGES_MAGIC:08x}) or LABELS_MAGIC (0x{LABELS_MAGIC:08x}), "
                         f"got 0x{magic:08x}")
    data = _read_bytes(file)
    array = _parse_idx(data, file, (magic,) if magic is not None else (IMAGES_MAGIC, LABELS_MAGIC))
    if sha256 is not None:
        _check_sha256(data, sha256, file)
    return array


def _read_bytes(file: Path) -> bytes:
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise DataNotFoundError(f"{file}: no such file") from None
    except OSError as error:  # no permission, a folder where the file should be, an I/O error
        raise DataError(f"{file}: cannot be read ({error.strerror or error})") from None
    return _gunzip(raw, file) if file.suffix == ".gz" else raw


def _gunzip(raw: bytes, source) -> bytes:
    try:
        return gzip_decompress(raw)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise DataError(f"{source}: corrupt gzip data ({e})") from None


def _check_sha256(data: bytes, expected: str, source) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.lower():
        message = f"checksum mismatch: the SHA-256 of the decompressed bytes is {actual}, expected {expected}"
        raise DataError(f"{source}: {message}")


def _parse_idx(data: bytes, source, allowed: tuple[int, ...]) -> np.ndarray:
    if len(data) < 4:
        raise DataError(f"{source}: {len(data)} bytes, too short for an IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic not in allowed:
        expected = " or ".join(f"0x{m:08x} ({_KINDS[m]})" for m in allowed)
        raise DataError(f"{source}: wrong magic number 0x{magic:08x}, expected {expected}")
    ndim = data[3]
    start = 4 + 4 * ndim
    if len(data) < start:
        raise DataError(f"{source}: truncated: the header needs {start} bytes, the file has {len(data)}")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    expected, actual = math.prod(shape), len(data) - start  # Python ints: a huge header cannot overflow
    if actual != expected:
        problem = "truncated" if actual < expected else "too long"
        details = f"the header says shape {shape}, i.e. {expected} data bytes, but the file holds {actual}"
        raise DataError(f"{source}: {problem}: {details}")
    return np.frombuffer(data, np.uint8, expected, offset=start).reshape(shape)


def _find(directory: Path, name: str) -> Path | None:
    """The uncompressed file if present, else its ``.gz``, else None."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _split_files(split: str) -> tuple[str, str]:
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return SPLIT_FILES[split]


def load_idx_dataset(directory, split: str = "train", *, checksums=None):
    """Load one split of an IDX data set from ``directory`` as ``(X, y)``.

    ``X`` is float32 of shape (N, rows * cols), C-contiguous, pixel / 255 in [0, 1];
    ``y`` is int64 of shape (N,). The file names are MNIST's (see :data:`SPLIT_FILES`),
    which Fashion-MNIST and KMNIST share. ``checksums`` maps file names (without
    ``.gz``) to the SHA-256 of their decompressed bytes; files not in it are not
    checked, and by default nothing is. This is the function for data sets other than
    MNIST: ``load_mnist(path=...)`` always checks MNIST's checksums, so it rejects a
    Fashion-MNIST folder as a checksum mismatch.
    """
    directory, checksums = Path(directory), {} if checksums is None else checksums
    if not isinstance(checksums, dict):
        raise TypeError(f"load_idx_dataset: checksums must map file names to SHA-256 digests, got {type(checksums).__name__}")
    image_name, label_name = _split_files(split)
    image_file, label_file = idx_split_files(directory, split)
    images = read_idx(image_file, magic=IMAGES_MAGIC, sha256=checksums.get(image_name))
    labels = read_idx(label_file, magic=LABELS_MAGIC, sha256=checksums.get(label_name))
    if len(images) != len(labels):
        raise DataError(f"{image_file} holds {len(images)} images but {label_file} holds {len(labels)} labels")
    if not len(images):
        raise DataError(f"{image_file} holds no images (its header says 0 items)")
    X = images.reshape(len(images), -1).astype(np.float32)
    X /= 255
    return X, labels.astype(np.int64)


def idx_split_files(directory, split: str = "train") -> tuple[Path, Path]:
    """The (images, labels) files :func:`load_idx_dataset` reads for ``split`` in ``directory``: each
    uncompressed file if present, else its ``.gz`` (a :class:`DataNotFoundError` if neither is there).

    What a run keys its results on: the files read, not every form of them that lies there.
    """
    return tuple(_locate(Path(directory), name) for name in _split_files(split))


def _locate(directory: Path, name: str) -> Path:
    file = _find(directory, name)
    if file is None:
        if not directory.is_dir():
            raise DataNotFoundError(f"{directory}: {'not a folder' if directory.exists() else 'no such folder'} "
                                    f"(an IDX data set is a folder holding {name} or {name}.gz)")
        raise DataNotFoundError(f"{directory}: neither {name} nor {name}.gz is there")
    return file


# ---------------------------------------------------------------------------- MNIST


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/minigrad-adv/mnist``, or ``~/.cache/minigrad-adv/mnist`` without it.

    Read at each call, so setting ``XDG_CACHE_HOME`` moves it (the tests do).
    """
    return cache_root() / "mnist"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/minigrad-adv``, or ``~/.cache/minigrad-adv``: where each data set has its folder."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minigrad-adv"


def load_mnist(split: str = "train", path=None, *, download: bool = True):
    """MNIST's ``split`` ("train": 60,000 examples, "test": 10,000) as ``(X, y)``.

    ``X``: float32, (N, 784), C-contiguous, pixel / 255 in [0, 1]; ``y``: int64, (N,).
    With ``path``, reads that folder only (a typo must not fall through to some other
    copy). Without it, looks in ``$MINIGRAD_DATA``, then :func:`default_cache_dir`; then,
    if ``download``, fetches the split's two files from :data:`MNIST_MIRRORS` into the
    cache. Every file is checked against :data:`MNIST_SHA256`. Raises
    :class:`DataNotFoundError` (listing every place it looked) when the data is
    nowhere and cannot be downloaded, :class:`DataError` when a file is bad. A
    Fashion-MNIST or KMNIST folder fails MNIST's checksums: read those with
    :func:`load_idx_dataset`.
    """
    names = _split_files(split)
    if path is not None:
        folder = Path(path).expanduser()
        if not all(_find(folder, name) for name in names):
            raise DataNotFoundError(f"MNIST {split} files not found in path={path}: {_describe_place(folder, names)}")
        return load_idx_dataset(folder, split, checksums=MNIST_SHA256)
    places = _mnist_places()
    cache = places[-1][1]
    for _, directory in places:
        if directory is not None and all(_find(directory, name) for name in names):
            return load_idx_dataset(directory, split, checksums=MNIST_SHA256)
    looked = "\n".join(f"  {label}: {_describe_place(directory, names)}" for label, directory in places)
    summary = f"MNIST {split} files {' and '.join(names)} (or .gz) not found. Looked in:\n{looked}"
    if not download:
        raise DataNotFoundError(f"{summary}\n{_HOW_TO_FIX}")
    try:
        download_idx_files(cache, names, mirrors=MNIST_MIRRORS, checksums=MNIST_SHA256)
    except DataError as e:
        raise type(e)(f"{summary}\nDownloading them into {cache} failed: {e}\n{_HOW_TO_FIX}") from None
    return load_idx_dataset(cache, split, checksums=MNIST_SHA256)


def _mnist_places() -> list[tuple[str, Path | None]]:
    """(label, folder or None when not set) of each place :func:`load_mnist` looks without ``path``, in order."""
    env = os.environ.get("MINIGRAD_DATA") or None
    return [("MINIGRAD_DATA", None if env is None else Path(env).expanduser()), ("cache", default_cache_dir())]


def _describe_place(directory, names) -> str:
    if directory is None:
        return "(not set)"
    if not directory.is_dir():
        return f"{directory} (no such folder)"
    missing = [name for name in names if _find(directory, name) is None]
    return f"{directory} (missing {', '.join(missing)})"


# ---------------------------------------------------------------------------- downloading


def download_idx_files(
    directory, names=tuple(MNIST_SHA256), *, mirrors=MNIST_MIRRORS, checksums=MNIST_SHA256, timeout=30.0
):
    """Download ``name + ".gz"`` for each of ``names`` into ``directory``; return the paths.

    Mirrors are tried in order until one serves a file whose decompressed bytes have
    the SHA-256 in ``checksums`` (which must cover every name: nothing unverified is
    kept). Each file (at most a few megabytes) is read into memory, verified, and only
    then written with :func:`models.io.atomic_write`, so a failed or interrupted
    download leaves nothing behind. When every mirror fails, raises
    :class:`DataError` listing each URL and its error on one line, or
    :class:`DataNotFoundError` if every failure was a network error (e.g. offline).
    """
    directory = Path(directory)
    missing = [name for name in names if name not in checksums]
    if missing:
        raise ValueError(f"no SHA-256 given for {', '.join(missing)}: refusing to download unverified files")
    directory.mkdir(parents=True, exist_ok=True)
    return [_download_one(directory, name, mirrors, checksums[name], timeout) for name in names]


def _download_one(directory: Path, name: str, mirrors, sha256: str, timeout: float) -> Path:
    failures, offline = [], True
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{name}.gz"
        try:
            raw = _fetch_verified(url, sha256, timeout)
        except DataError as e:  # its message starts with the URL
            failures.append(f"  {e}")
            offline = False
        except (OSError, http.client.HTTPException) as e:
            failures.append(f"  {url}: {_network_error(e)}")
        else:  # outside the try: a local write error is not a network error
            target = directory / f"{name}.gz"
            atomic_write(target, lambda f: f.write(raw))
            return target
    error = DataNotFoundError if offline else DataError
    raise error(f"could not download {name}.gz from any mirror:\n" + "\n".join(failures))


def _fetch_verified(url: str, sha256: str, timeout: float) -> bytes:
    """The gzipped bytes at ``url``, once their decompressed content has the right SHA-256."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        raw = response.read()
    _check_sha256(_gunzip(raw, url), sha256, url)
    return raw


def _network_error(e: Exception) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    reason = e.reason if isinstance(e, urllib.error.URLError) else e
    text = reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
    return text.replace("\n", " ")


# ---------------------------------------------------------------------------- writing


def write_idx_dataset(directory, X_uint8, y, split: str = "train", *, gzip: bool = True):
    """Write images and labels as the IDX files of ``split`` in ``directory``; return their paths.

    ``X_uint8``: uint8 images of shape (N, rows, cols), or (N, side * side) for square
    images; ``y``: N integer labels in 0..255. The inverse of :func:`load_idx_dataset`
    (up to the division by 255). Gzipped files get a zero time stamp, so the same
    arrays always give the same bytes. An earlier copy of a file in the other form
    (gzipped or not) is removed, since readers prefer the uncompressed one.
    """
    X, y = np.asarray(X_uint8), np.asarray(y)
    if X.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (0-255), got {X.dtype}")
    if X.ndim == 2:
        side = int(round(np.sqrt(X.shape[1])))
        if side * side != X.shape[1]:
            raise ValueError(f"cannot reshape {X.shape[1]} pixels into a square image: pass (N, rows, cols)")
        X = X.reshape(len(X), side, side)
    if X.ndim != 3 or y.shape != (len(X),):
        raise ValueError(f"need images (N, rows, cols) and labels (N,), got {X.shape} and {y.shape}")
    if not len(X):
        raise ValueError("write_idx_dataset: no images to write (a data set of 0 examples cannot be read back)")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() > 255)):
        raise ValueError("labels must be integers in 0..255")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, array in zip(_split_files(split), (X, y.astype(np.uint8))):
        header = (0x0800 | array.ndim).to_bytes(4, "big") + np.array(array.shape, ">u4").tobytes()
        data = header + np.ascontiguousarray(array).tobytes()
        gzipped, plain = directory / f"{name}.gz", directory / name
        file, other = (gzipped, plain) if gzip else (plain, gzipped)
        file.write_bytes(gzip_compress(data, mtime=0) if gzip else data)
        other.unlink(missing_ok=True)
        paths.append(file)
    return tuple(paths)

