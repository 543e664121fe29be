"""Small CIFAR-format data sets that the tests write themselves, in both official formats.

Real CIFAR-10 cannot be downloaded on the project's machines, so every CIFAR test
writes the files it reads: batch files (fixed binary records, or pickled dicts), the
folder they sit in, and its ``.tar.gz`` archive, with their MD5s to pass as
``checksums``. ``learnable=True`` draws images that a small network can tell apart
(each class a colour and a stripe direction, plus noise), for the tests that train.
"""

import hashlib
import pickle
import tarfile

import numpy as np

from training.cifar import BATCHES, FOLDERS


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def batch_arrays(index: int, n: int, learnable: bool):
    """(uint8 images (n, 3072), int64 labels (n,)) of batch file ``index``."""
    rng = np.random.default_rng(index)
    labels = rng.integers(0, 10, size=n)
    if not learnable:
        return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), labels
    rows, cols = np.mgrid[0:32, 0:32]
    colours = np.random.default_rng(99).uniform(0.2, 0.8, size=(10, 3))
    images = np.empty((n, 3, 32, 32))
    for i, c in enumerate(labels):
        stripes = np.sin((rows if c % 2 else cols) * (0.4 + 0.1 * (c // 2)))
        images[i] = colours[c][:, None, None] + 0.15 * stripes
    images += rng.normal(0, 0.08, size=images.shape)
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8).reshape(n, 3072), labels


def binary_bytes(images, labels) -> bytes:
    return np.concatenate([labels.astype(np.uint8)[:, None], images], axis=1).tobytes()


def python_bytes(images, labels) -> bytes:
    return pickle.dumps({b"batch_label": b"synthetic", b"labels": labels.tolist(), b"data": images,
                         b"filenames": [b"x.png"] * len(labels)}, protocol=2)


def write_set(tmp_path, kind: str, *, n: int = 4, learnable: bool = False):
    """The folder of ``kind`` ("binary" or "python") and its archive, ``n`` images per batch file.

    Returns (folder, archive, checksums, X, y): X and y are the training split as
    ``load_cifar10`` should return it.
    """
    folder = tmp_path / FOLDERS[kind]
    folder.mkdir()
    files, arrays = {}, {}
    for i, name in enumerate(BATCHES[kind]["train"] + BATCHES[kind]["test"]):
        arrays[name] = batch_arrays(i, n, learnable)
        files[name] = (binary_bytes if kind == "binary" else python_bytes)(*arrays[name])
        (folder / name).write_bytes(files[name])
    archive = tmp_path / ("cifar-10-binary.tar.gz" if kind == "binary" else "cifar-10-python.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=FOLDERS[kind])
    checksums = {name: md5(data) for name, data in files.items()} | {archive.name: md5(archive.read_bytes())}
    X = np.concatenate([arrays[n][0] for n in BATCHES[kind]["train"]]) / 255.0
    y = np.concatenate([arrays[n][1] for n in BATCHES[kind]["train"]])
    return folder, archive, checksums, X, y


def md5sums_text(checksums: dict) -> str:
    """The digests as ``md5sum`` prints them (for ``--cifar-checksums``)."""
    return "".join(f"{digest}  {name}\n" for name, digest in checksums.items())
