"""training.data: reading IDX files, MNIST's lookup order and checksums, downloading.

Nothing here uses the internet: downloads come from a local HTTP server on 127.0.0.1
serving small synthetic IDX files (see the ``mirror`` fixture). The real-MNIST test
skips unless MINIGRAD_DATA (or the cache) holds the four MNIST files.
"""

import gzip
import hashlib
import http.server
import shutil
import socket
import threading
import time

import numpy as np
import pytest

import models.io
import training
from training import data as data_module
from training import DataError, DataNotFoundError, load_idx_dataset, load_mnist, write_idx_dataset

TRAIN_IMAGES, TRAIN_LABELS = training.data.SPLIT_FILES["train"]
TEST_IMAGES, TEST_LABELS = training.data.SPLIT_FILES["test"]


def listing(directory):
    """Every entry of ``directory``, hidden ones (such as temporary files) included."""
    return sorted(p.name for p in directory.iterdir())


def random_images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n)


def write_split(directory, n=10, seed=0, split="train", gzip=True):
    X, y = random_images(n, seed)
    write_idx_dataset(directory, X, y, split, gzip=gzip)
    return X, y


@pytest.fixture
def no_mnist_anywhere(monkeypatch, tmp_path):
    """MINIGRAD_DATA unset and the cache moved to an empty folder: only ``path=`` can help."""
    monkeypatch.delenv("MINIGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache" / "minigrad-adv" / "mnist"


# ---------------------------------------------------------------------------- reading


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "uncompressed"])
def test_write_then_load_round_trips(tmp_path, gz):
    X, y = write_split(tmp_path, n=12, gzip=gz)
    assert (tmp_path / (TRAIN_IMAGES + (".gz" if gz else ""))).is_file()
    X_loaded, y_loaded = load_idx_dataset(tmp_path, "train")
    assert X_loaded.dtype == np.float32 and y_loaded.dtype == np.int64
    assert X_loaded.shape == (12, 784) and X_loaded.flags.c_contiguous
    np.testing.assert_array_equal(X_loaded, X.reshape(12, 784).astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y_loaded, y)


def test_rewriting_replaces_the_other_form(tmp_path):
    write_split(tmp_path, seed=0, gzip=False)
    X, _ = write_split(tmp_path, seed=1, gzip=True)
    assert listing(tmp_path) == [TRAIN_IMAGES + ".gz", TRAIN_LABELS + ".gz"]
    np.testing.assert_array_equal(np.rint(load_idx_dataset(tmp_path)[0] * 255), X.reshape(len(X), -1))


def test_idx_layout_is_big_endian_header_then_c_order_bytes(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx_dataset(tmp_path, images, np.array([7, 1]), "test", gzip=False)
    raw = (tmp_path / TEST_IMAGES).read_bytes()
    assert raw[:16] == bytes.fromhex("00000803 00000002 00000003 00000004")
    assert raw[16:] == bytes(range(24))
    assert (tmp_path / TEST_LABELS).read_bytes() == bytes.fromhex("00000801 00000002 07 01")
    np.testing.assert_array_equal(training.read_idx(tmp_path / TEST_IMAGES), images)


def test_write_accepts_flat_square_images_and_rejects_floats(tmp_path):
    X, y = random_images(5)
    write_idx_dataset(tmp_path, X.reshape(5, 784), y, "train")
    assert training.read_idx(tmp_path / (TRAIN_IMAGES + ".gz")).shape == (5, 28, 28)
    with pytest.raises(ValueError, match="uint8"):
        write_idx_dataset(tmp_path, X / 255, y, "train")


def test_synthetic_fixture_is_small_and_learnable(synthetic_idx_dir):
    X_train, y_train = load_idx_dataset(synthetic_idx_dir, "train")
    X_test, y_test = load_idx_dataset(synthetic_idx_dir, "test")
    assert X_train.shape == (200, 784) and X_test.shape == (50, 784)
    assert np.bincount(y_train).tolist() == [20] * 10
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0
    means = np.stack([X_train[y_train == k].mean(axis=0) for k in range(10)])
    nearest_mean = np.argmin(((X_test[:, None, :] - means) ** 2).sum(axis=2), axis=1)
    assert (nearest_mean == y_test).mean() > 0.9


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: b"\x00\x00\x08\x02" + raw[4:], "wrong magic number 0x00000802"),
        (lambda raw: raw[:-5], "truncated"),
        (lambda raw: raw[:10], "truncated: the header needs 16 bytes"),
        (lambda raw: raw + b"\x00", "too long"),
    ],
    ids=["magic", "truncated", "truncated-header", "too-long"],
)
def test_malformed_image_file_names_the_file_and_the_problem(tmp_path, damage, message):
    write_split(tmp_path, gzip=False)
    file = tmp_path / TRAIN_IMAGES
    file.write_bytes(damage(file.read_bytes()))
    with pytest.raises(DataError, match=message) as info:
        load_idx_dataset(tmp_path, "train")
    assert str(file) in str(info.value)


def test_labels_where_images_belong_is_a_wrong_magic_number(tmp_path):
    write_split(tmp_path, gzip=False)
    shutil.copy(tmp_path / TRAIN_LABELS, tmp_path / TRAIN_IMAGES)
    with pytest.raises(DataError, match=r"0x00000801, expected 0x00000803 \(images\)"):
        load_idx_dataset(tmp_path, "train")


def test_truncated_gzipped_file_is_a_clear_error(tmp_path):
    write_split(tmp_path)
    file = tmp_path / (TRAIN_IMAGES + ".gz")
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(DataError, match="corrupt gzip") as info:
        load_idx_dataset(tmp_path, "train")
    assert str(file) in str(info.value)


def test_not_gzip_at_all_is_a_clear_error(tmp_path):
    write_split(tmp_path)
    (tmp_path / (TRAIN_LABELS + ".gz")).write_bytes(b"these are not gzipped bytes")
    with pytest.raises(DataError, match=f"{TRAIN_LABELS}.gz: corrupt gzip"):
        load_idx_dataset(tmp_path, "train")


def test_image_and_label_counts_must_agree(tmp_path):
    write_split(tmp_path, n=10)
    write_split(tmp_path / "other", n=9)
    shutil.copy(tmp_path / "other" / (TRAIN_LABELS + ".gz"), tmp_path / (TRAIN_LABELS + ".gz"))
    with pytest.raises(DataError, match="holds 10 images but .* holds 9 labels"):
        load_idx_dataset(tmp_path, "train")


def test_missing_file_is_data_not_found(tmp_path):
    write_split(tmp_path)
    (tmp_path / (TRAIN_LABELS + ".gz")).unlink()
    with pytest.raises(DataNotFoundError, match=f"neither {TRAIN_LABELS} nor {TRAIN_LABELS}.gz"):
        load_idx_dataset(tmp_path, "train")
    assert issubclass(DataNotFoundError, FileNotFoundError) and issubclass(DataNotFoundError, ValueError)


def test_unknown_split_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_idx_dataset(tmp_path, "validation")


def test_checksums_cover_the_decompressed_bytes(tmp_path):
    write_split(tmp_path, gzip=False)
    digest = hashlib.sha256((tmp_path / TRAIN_IMAGES).read_bytes()).hexdigest()
    X_raw, _ = load_idx_dataset(tmp_path, "train", checksums={TRAIN_IMAGES: digest})
    (tmp_path / TRAIN_IMAGES).unlink()
    write_split(tmp_path / "gz")  # the same arrays, gzipped: the same digest must pass
    X_gz, _ = load_idx_dataset(tmp_path / "gz", "train", checksums={TRAIN_IMAGES: digest})
    np.testing.assert_array_equal(X_raw, X_gz)
    with pytest.raises(DataError, match=f"checksum mismatch: .* is {digest}, expected {'0' * 64}"):
        load_idx_dataset(tmp_path / "gz", "train", checksums={TRAIN_IMAGES: "0" * 64})


# ---------------------------------------------------------------------------- MNIST lookup


def test_load_mnist_checks_mnists_checksums(synthetic_idx_dir, no_mnist_anywhere):
    with pytest.raises(DataError, match="checksum mismatch") as info:
        load_mnist("test", path=synthetic_idx_dir, download=False)
    assert not isinstance(info.value, DataNotFoundError)
    assert training.data.MNIST_SHA256[TEST_IMAGES] in str(info.value)


def test_lookup_order_path_then_environment_then_cache(tmp_path, monkeypatch, no_mnist_anywhere):
    # Three folders of wrong (synthetic) content: the checksum error names the one chosen.
    for folder in (tmp_path / "arg", tmp_path / "env", no_mnist_anywhere):
        write_split(folder, split="test")
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "env"))

    def chosen(**kwargs):
        with pytest.raises(DataError, match="checksum mismatch") as info:
            load_mnist("test", download=False, **kwargs)
        return str(info.value)

    assert str(tmp_path / "arg" / TEST_IMAGES) in chosen(path=tmp_path / "arg")
    assert str(tmp_path / "env" / TEST_IMAGES) in chosen()
    (tmp_path / "arg" / (TEST_LABELS + ".gz")).unlink()  # an explicit path is never passed over
    with pytest.raises(DataNotFoundError, match=f"not found in path=.*missing {TEST_LABELS}"):
        load_mnist("test", path=tmp_path / "arg", download=False)
    (tmp_path / "env" / (TEST_LABELS + ".gz")).unlink()  # an incomplete MINIGRAD_DATA is passed over
    assert str(no_mnist_anywhere / TEST_IMAGES) in chosen()
    monkeypatch.delenv("MINIGRAD_DATA")
    assert str(no_mnist_anywhere / TEST_IMAGES) in chosen()


def test_not_found_lists_every_place_and_the_fix(tmp_path, monkeypatch, no_mnist_anywhere):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("train", download=False)
    message = str(info.value)
    assert f"MINIGRAD_DATA: {tmp_path} (missing {TRAIN_IMAGES}, {TRAIN_LABELS})" in message
    assert f"cache: {no_mnist_anywhere} (no such folder)" in message
    assert "Set the MINIGRAD_DATA environment variable" in message and "path=" in message


def test_mnist_or_skip_skips_when_mnist_is_nowhere(no_mnist_anywhere, mnist_or_skip):
    with pytest.raises(pytest.skip.Exception, match="set MINIGRAD_DATA"):
        mnist_or_skip("train")


def test_real_mnist(mnist_or_skip):
    X_train, y_train = mnist_or_skip("train")
    X_test, y_test = mnist_or_skip("test")
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    for X, y in ((X_train, y_train), (X_test, y_test)):
        assert X.dtype == np.float32 and y.dtype == np.int64 and X.flags.c_contiguous
        assert X.min() == 0.0 and X.max() == 1.0
        assert y.min() == 0 and y.max() == 9
    counts = np.bincount(y_train, minlength=10)
    assert ((5000 <= counts) & (counts <= 7000)).all(), counts
    assert y_train[0] == 5


# ---------------------------------------------------------------------------- downloading


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (body, mode)``; mode "drop" sends half and hangs up,
    "stall" sends half and then waits longer than the client's timeout."""

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, mode = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if mode == "ok" else body[: len(body) // 2])
        self.wfile.flush()
        if mode == "stall":
            time.sleep(2.0)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mirror(synthetic_idx_dir):
    """A local HTTP server with mirrors "good/", "corrupt/" (checksum mismatch), "drop/",
    "stall/" and "missing/" (404) of the synthetic data set; shut down after the module
    or after 120 s, whichever comes first."""
    files = {name: (synthetic_idx_dir / f"{name}.gz").read_bytes() for name in training.data.MNIST_SHA256}
    routes = {}
    for name, body in files.items():
        tampered = bytearray(gzip.decompress(body))
        tampered[-1] ^= 0xFF
        routes[f"/good/{name}.gz"] = (body, "ok")
        routes[f"/corrupt/{name}.gz"] = (gzip.compress(bytes(tampered)), "ok")
        routes[f"/drop/{name}.gz"] = (body, "drop")
        routes[f"/stall/{name}.gz"] = (body, "stall")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    server.routes, server.requests = routes, []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    deadline = threading.Timer(120, server.shutdown)
    deadline.daemon = True
    deadline.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    server.checksums = {name: hashlib.sha256(gzip.decompress(body)).hexdigest() for name, body in files.items()}
    yield server
    deadline.cancel()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: connecting fails as it does offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def download(mirror, directory, *mirrors, names=(TEST_IMAGES, TEST_LABELS), timeout=5.0):
    urls = tuple(mirror.url + m if not m.startswith("http") else m for m in mirrors)
    return training.download_idx_files(directory, names, mirrors=urls, checksums=mirror.checksums, timeout=timeout)


def test_download_verifies_and_renames_into_place(mirror, tmp_path, synthetic_idx_dir):
    paths = download(mirror, tmp_path / "cache", "good/")
    assert [p.name for p in paths] == [TEST_IMAGES + ".gz", TEST_LABELS + ".gz"]
    assert listing(tmp_path / "cache") == [TEST_IMAGES + ".gz", TEST_LABELS + ".gz"]
    for got, want in zip(load_idx_dataset(tmp_path / "cache", "test"), load_idx_dataset(synthetic_idx_dir, "test")):
        np.testing.assert_array_equal(got, want)


def test_download_falls_back_through_bad_mirrors(mirror, tmp_path, closed_port_url):
    download(mirror, tmp_path, closed_port_url, "missing/", "corrupt/", "drop/", "good/", names=(TEST_LABELS,))
    assert listing(tmp_path) == [TEST_LABELS + ".gz"]


@pytest.mark.parametrize(
    "bad, error, message, timeout",
    [
        ("corrupt/", DataError, "checksum mismatch", 5.0),
        ("drop/", DataError, "corrupt gzip|IncompleteRead", 5.0),  # which depends on where it stops
        ("stall/", DataNotFoundError, "timed out", 0.5),
        ("missing/", DataNotFoundError, "HTTP 404", 5.0),
    ],
)
def test_failed_download_leaves_nothing_behind(mirror, tmp_path, bad, error, message, timeout):
    with pytest.raises(error, match=message) as info:
        download(mirror, tmp_path, bad, names=(TEST_LABELS,), timeout=timeout)
    assert f"{mirror.url}{bad}{TEST_LABELS}.gz" in str(info.value)
    assert listing(tmp_path) == []


def test_interrupted_download_leaves_nothing_behind(mirror, tmp_path, monkeypatch):
    def interrupt(fd):  # the verified bytes are in the temporary file, not yet renamed into place
        raise KeyboardInterrupt

    monkeypatch.setattr(models.io.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        download(mirror, tmp_path, "good/", names=(TEST_IMAGES,))
    assert listing(tmp_path) == []


def test_offline_error_names_each_mirror_on_one_line(mirror, tmp_path, closed_port_url):
    with pytest.raises(DataNotFoundError) as info:
        download(mirror, tmp_path, closed_port_url, "missing/", names=(TEST_IMAGES,))
    lines = str(info.value).splitlines()
    assert lines[0] == f"could not download {TEST_IMAGES}.gz from any mirror:"
    assert lines[1].startswith(f"  {closed_port_url}{TEST_IMAGES}.gz: ConnectionRefusedError")
    assert lines[2] == f"  {mirror.url}missing/{TEST_IMAGES}.gz: HTTP 404 Not Found"
    assert len(lines) == 3 and info.value.__cause__ is None


def test_download_refuses_files_without_a_checksum(mirror, tmp_path):
    before = len(mirror.requests)
    with pytest.raises(ValueError, match="no SHA-256 given for fashion"):
        training.download_idx_files(tmp_path, ["fashion"], mirrors=(mirror.url + "good/",), checksums={})
    assert len(mirror.requests) == before


def test_load_mnist_downloads_into_the_cache_once(mirror, monkeypatch, no_mnist_anywhere, synthetic_idx_dir):
    monkeypatch.setattr(data_module, "MNIST_MIRRORS", (mirror.url + "good/",))
    monkeypatch.setattr(data_module, "MNIST_SHA256", mirror.checksums)
    X, y = load_mnist("test")
    assert listing(no_mnist_anywhere) == [TEST_IMAGES + ".gz", TEST_LABELS + ".gz"]
    np.testing.assert_array_equal(y, load_idx_dataset(synthetic_idx_dir, "test")[1])
    before = len(mirror.requests)
    np.testing.assert_array_equal(load_mnist("test", download=False)[0], X)
    assert len(mirror.requests) == before


def test_load_mnist_offline_says_so(monkeypatch, no_mnist_anywhere, closed_port_url):
    monkeypatch.setattr(data_module, "MNIST_MIRRORS", (closed_port_url,))
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("test")
    message = str(info.value)
    assert "not found. Looked in:" in message and "MINIGRAD_DATA: (not set)" in message
    assert f"Downloading them into {no_mnist_anywhere} failed: could not download" in message
    assert f"{closed_port_url}{TEST_IMAGES}.gz: ConnectionRefusedError" in message
    assert listing(no_mnist_anywhere) == []
