"""CIFAR-10 loading on small archives and folders in both official formats, written by the tests.

No real CIFAR-10 is needed (it cannot be downloaded here): each test writes the files
it reads, with their MD5s passed as ``checksums``.
"""

import http.server
import pickle
import re
import socket
import tarfile
import threading

import numpy as np
import pytest

import training
from cifar_files import batch_arrays, binary_bytes, md5, python_bytes, write_set
from training.cifar import BATCHES, RECORD

N = 4  # images per batch file


@pytest.mark.parametrize("kind", ["binary", "python"])
@pytest.mark.parametrize("form", ["folder", "parent folder", "archive", "folder holding the archive"])
def test_both_formats_load_from_folders_and_archives(tmp_path, kind, form):
    folder, archive, checksums, X, y = write_set(tmp_path, kind)
    if form == "folder holding the archive":
        holder = tmp_path / "holder"
        holder.mkdir()
        archive.rename(holder / archive.name)
        archive = holder / archive.name
    path = {"folder": folder, "parent folder": tmp_path, "archive": archive, "folder holding the archive": archive.parent}[form]
    X_got, y_got = training.load_cifar10("train", path, checksums=checksums)
    assert X_got.dtype == np.float32 and X_got.shape == (5 * N, 3072) and y_got.dtype == np.int64
    np.testing.assert_allclose(X_got, X, rtol=1e-6)
    np.testing.assert_array_equal(y_got, y)
    assert training.load_cifar10("test", path, checksums=checksums)[0].shape == (N, 3072)


def test_a_corrupt_or_unchecked_file_is_refused_naming_it(tmp_path):
    folder, archive, checksums, _, _ = write_set(tmp_path, "python")
    with pytest.raises(training.DataError, match="data_batch_1: MD5 mismatch"):
        training.load_cifar10("train", folder)  # the official digests: our synthetic files are not CIFAR-10
    with pytest.raises(training.DataError, match="cifar-10-python.tar.gz: MD5 mismatch"):
        training.load_cifar10("train", archive)
    truncated = tmp_path / "t" / "cifar-10-python.tar.gz"
    truncated.parent.mkdir()
    truncated.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(training.DataError, match="not a readable .tar.gz archive"):
        training.load_cifar10("train", truncated, checksums={truncated.name: md5(truncated.read_bytes())})


def test_a_binary_file_of_a_wrong_size_is_refused(tmp_path):
    folder, _, _, _, _ = write_set(tmp_path, "binary")
    (folder / "data_batch_3.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(training.DataError, match="data_batch_3.bin: 3000 bytes is not a whole number"):
        training.load_cifar10("train", folder)  # no digests: a .bin file is read unchecked


class Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_a_hostile_pickle_is_refused_without_running(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder, _, checksums, _, _ = write_set(tmp_path, "python")
    hostile = pickle.dumps({b"data": Boom(), b"labels": []}, protocol=2)
    (folder / "data_batch_2").write_bytes(hostile)
    checksums["data_batch_2"] = md5(hostile)  # even a file whose checksum is "right" is not trusted
    with pytest.raises(training.DataError, match="data_batch_2: refused: the pickle asks for posix.system"):
        training.load_cifar10("train", folder, checksums=checksums)
    assert not (tmp_path / "PWNED").exists()


def test_a_crafted_archive_member_that_is_a_link_is_refused(tmp_path):
    (tmp_path / "set").mkdir()
    _, archive, checksums, _, _ = write_set(tmp_path / "set", "binary")
    crafted = tmp_path / "crafted" / "cifar-10-binary.tar.gz"
    crafted.parent.mkdir()
    with tarfile.open(archive) as source, tarfile.open(crafted, "w:gz") as tar:
        for member in source.getmembers():
            if member.name.endswith("data_batch_1.bin"):  # the batch becomes a link to a file outside
                link = tarfile.TarInfo(member.name)
                link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(link)
            else:
                tar.addfile(member, source.extractfile(member) if member.isfile() else None)
    checksums[crafted.name] = md5(crafted.read_bytes())
    with pytest.raises(training.DataError, match="data_batch_1.bin is not a regular file in the archive"):
        training.load_cifar10("train", crafted, checksums=checksums)
    assert sorted(p.name for p in crafted.parent.iterdir()) == [crafted.name]  # nothing was extracted


def test_a_hostile_pickle_with_the_wrong_digest_is_never_unpickled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder, _, checksums, _, _ = write_set(tmp_path, "python")
    (folder / "data_batch_1").write_bytes(pickle.dumps(Boom(), protocol=2))
    with pytest.raises(training.DataError, match="data_batch_1: MD5 mismatch"):
        training.load_cifar10("train", folder, checksums=checksums)
    assert not (tmp_path / "PWNED").exists()


def test_batches_pickled_by_older_numpy_load(tmp_path):
    """The official files name numpy.core.multiarray, which NumPy 2 moved to numpy._core."""
    folder, _, checksums, X, _ = write_set(tmp_path, "python")
    for name in BATCHES["python"]["train"]:
        old = (folder / name).read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        (folder / name).write_bytes(old)
        checksums[name] = md5(old)
    np.testing.assert_allclose(training.load_cifar10("train", folder, checksums=checksums)[0], X, rtol=1e-6)


def test_nothing_found_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIGRAD_CIFAR10", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(training.DataNotFoundError, match="CIFAR-10 not found in .*cifar10.*download=True"):
        training.load_cifar10("train")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        training.load_cifar10("validation", tmp_path)


# ---------------------------------------------------------------------------- what is official, what is checked


def make_official(monkeypatch, checksums):
    """Let the digests of the files a test wrote stand for the published ones, which (as in
    :data:`training.cifar.CIFAR10_MD5`) cover the archives and the Python batches, never a ``.bin`` file."""
    for name, digest in checksums.items():
        if not name.endswith(".bin"):
            monkeypatch.setitem(training.cifar.CIFAR10_MD5, name, digest)


@pytest.mark.parametrize("kind, form, official", [
    ("python", "folder", True), ("python", "archive", True), ("binary", "archive", True),
    ("binary", "folder", False),  # no digests are published for .bin files: nothing vouches for them
])
def test_a_split_is_official_only_when_every_batch_matched_an_official_digest(tmp_path, monkeypatch, kind, form, official):
    folder, archive, checksums, X, y = write_set(tmp_path, kind)
    make_official(monkeypatch, checksums)
    path = folder if form == "folder" else archive
    train, test = training.read_cifar10("train", path), training.read_cifar10("test", path)
    assert train.official is official and test.official is official
    np.testing.assert_allclose(train.X, X, rtol=1e-6)
    np.testing.assert_array_equal(train.y, y)


@pytest.mark.parametrize("kind", ["binary", "python"])
@pytest.mark.parametrize("form", ["folder", "archive"])
def test_files_that_match_only_the_users_digests_are_not_official(tmp_path, kind, form):
    folder, archive, checksums, _, _ = write_set(tmp_path, kind)
    for split in ("train", "test"):
        assert training.read_cifar10(split, folder if form == "folder" else archive, checksums=checksums).official is False


def test_one_batch_of_ones_own_among_official_ones_makes_its_split_unofficial(tmp_path, monkeypatch):
    folder, _, checksums, _, _ = write_set(tmp_path, "python")
    make_official(monkeypatch, checksums)
    own = python_bytes(*batch_arrays(7, N, False))
    (folder / "data_batch_4").write_bytes(own)
    assert training.read_cifar10("train", folder, checksums={"data_batch_4": md5(own)}).official is False
    assert training.read_cifar10("test", folder, checksums={"data_batch_4": md5(own)}).official is True  # not read


@pytest.mark.parametrize("form", ["folder", "archive"])
def test_digests_given_for_bin_files_are_checked(tmp_path, form):
    folder, archive, checksums, X, _ = write_set(tmp_path, "binary")
    path = folder if form == "folder" else archive
    wrong = checksums | {"data_batch_2.bin": checksums["data_batch_1.bin"]}
    with pytest.raises(training.DataError, match=r"data_batch_2\.bin: MD5 mismatch: the file's is [0-9a-f]{32}, "
                                                 f"expected {checksums['data_batch_1.bin']}"):
        training.load_cifar10("train", path, checksums=wrong)
    np.testing.assert_allclose(training.load_cifar10("train", path, checksums=checksums)[0], X, rtol=1e-6)


def test_checksums_must_be_digest_strings(tmp_path):
    folder, _, _, _, _ = write_set(tmp_path, "binary")
    with pytest.raises(TypeError, match="checksums must map file names to MD5 hex strings"):
        training.load_cifar10("train", folder, checksums={"data_batch_1.bin": 123})


def test_a_checked_form_is_read_before_an_extracted_binary_folder(tmp_path, monkeypatch):
    """A folder holding the binary archive and what it unpacks to: the archive, which an MD5 vouches for."""
    folder, archive, checksums, X, _ = write_set(tmp_path, "binary")
    make_official(monkeypatch, checksums)
    got = training.read_cifar10("train", tmp_path)
    assert got.files == (archive,) and got.official is True
    archive.unlink()
    got = training.read_cifar10("train", tmp_path)
    assert got.files == tuple(folder / name for name in BATCHES["binary"]["train"]) and got.official is False
    np.testing.assert_allclose(got.X, X, rtol=1e-6)


@pytest.mark.parametrize("kind", ["binary", "python"])
def test_a_split_lists_the_files_it_was_read_from(tmp_path, kind):
    """The archive alone, or the split's own batch files: what a run keys its results on."""
    folder, archive, checksums, _, _ = write_set(tmp_path, kind)
    for split in ("train", "test"):
        assert training.read_cifar10(split, archive, checksums=checksums).files == (archive,)
        read = training.read_cifar10(split, folder, checksums=checksums).files
        assert read == tuple(folder / name for name in BATCHES[kind][split])


# ---------------------------------------------------------------------------- labels


def write_pickled_batch(folder, checksums, name, labels):
    """A Python batch ``name`` of N black images with these ``labels``, its digest put in ``checksums``."""
    data = pickle.dumps({b"data": np.zeros((N, 3072), np.uint8), b"labels": labels}, protocol=2)
    (folder / name).write_bytes(data)
    checksums[name] = md5(data)


NOT_WHOLE = "labels must be integers in 0..9 (or floats with whole values), found "
NOT_INDICES = "labels must be integer class indices of shape (4,), got dtype "
WRONG_SHAPE = "4 images need a flat list of 4 labels, got int64 of shape "


@pytest.mark.parametrize("labels, problem", [
    ([0.7, 1.9, 9.99, 3.0], NOT_WHOLE + "[0.7, 1.9, 9.99]"),  # once truncated to [0, 1, 9, 3]
    ([[0, 1], [2, 3], [4, 5], [6, 7]], WRONG_SHAPE + "(4, 2)"),  # once a (N, 2) y
    (["0", "1", "2", "3"], NOT_INDICES + "<U1"),
    (["cat", "dog", "cat", "dog"], NOT_INDICES + "<U3"),
    ([None, 1, 2, 3], NOT_INDICES + "object"),
    ([2**70, 1, 2, 3], NOT_INDICES + "object"),  # too large for int64: Python ints in an object array
    ([2**63, 1, 2, 3], NOT_WHOLE + "[9.223372036854776e+18]"),  # NumPy makes it float64
    ([[0], [1, 2], [3], [4]], "labels must be a flat list of 4 integers in 0..9 (setting an array element"),
    ([True, False, True, False], NOT_INDICES + "bool"),
    ([float("nan"), 1.0, 2.0, 3.0], NOT_WHOLE + "[nan]"),
    ([12.0, 1.0, 2.0, 3.0], NOT_WHOLE + "[12.0]"),
    ([0, 1, 2, 10], "labels must be in 0..9; found [10]"),
    ([-1, 0, 1, 2], "labels must be in 0..9; found [-1]"),
    ([0, 1, 2], WRONG_SHAPE + "(3,)"),
    (5, WRONG_SHAPE + "()"),
    ({0: 1}, "4 images need a flat list of 4 labels, got object of shape ()"),
], ids=repr)
def test_malformed_labels_in_a_pickled_batch_are_refused_naming_the_file(tmp_path, labels, problem):
    folder, _, checksums, _, _ = write_set(tmp_path, "python")
    write_pickled_batch(folder, checksums, "data_batch_2", labels)
    with pytest.raises(training.DataError, match=re.escape(f"cifar-10-batches-py/data_batch_2: {problem}")):
        training.load_cifar10("train", folder, checksums=checksums)


def test_labels_stored_as_whole_floats_are_read_as_integers(tmp_path):
    folder, _, checksums, _, _ = write_set(tmp_path, "python")
    write_pickled_batch(folder, checksums, "test_batch", [0.0, 1.0, 9.0, 3.0])
    y = training.load_cifar10("test", folder, checksums=checksums)[1]
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 9, 3]


@pytest.mark.parametrize("form", ["folder", "archive"])
def test_a_binary_label_byte_beyond_9_is_refused_naming_the_file(tmp_path, form):
    (tmp_path / "set").mkdir()
    folder, _, _, _, _ = write_set(tmp_path / "set", "binary")
    data = bytearray((folder / "test_batch.bin").read_bytes())
    data[RECORD] = 10  # the second image's label byte
    (folder / "test_batch.bin").write_bytes(bytes(data))
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    path = folder if form == "folder" else archive
    with pytest.raises(training.DataError, match=r"test_batch\.bin: labels must be in 0\.\.9; found \[10\]"):
        training.load_cifar10("test", path, checksums={archive.name: md5(archive.read_bytes())} if form == "archive" else None)


# ---------------------------------------------------------------------------- a folder holding both formats


@pytest.mark.parametrize("kind, stray", [("python", "test_batch.bin"), ("python", "data_batch_3.bin"),
                                         ("binary", "test_batch"), ("binary", "data_batch_1")])
@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("given", ["folder", "parent folder"])
def test_a_folder_holding_batch_files_of_both_formats_is_refused_naming_them(tmp_path, kind, stray, split, given):
    """Which set was meant cannot be known: once, a stray test_batch.bin took over the Python set's test split."""
    folder, archive, checksums, _, _ = write_set(tmp_path, kind)
    archive.unlink()  # else the parent's binary archive is read (test_a_checked_form_is_read_first)
    images, labels = batch_arrays(9, 2, False)
    (folder / stray).write_bytes((binary_bytes if stray.endswith(".bin") else python_bytes)(images, labels))
    first_own = BATCHES[kind]["train"][0]
    refused = rf"{re.escape(str(folder))}: holds batch files of both CIFAR-10 formats .*{stray}"
    with pytest.raises(training.DataError, match=refused) as error:
        training.load_cifar10(split, folder if given == "folder" else tmp_path, checksums=checksums)
    assert first_own in str(error.value)


# ---------------------------------------------------------------------------- downloading (from 127.0.0.1 only)


class ArchiveHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.body`` at /good and its first half at /drop (with the full length announced)."""

    def do_GET(self):
        if self.path not in ("/good", "/drop"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body if self.path == "/good" else self.server.body[: len(self.server.body) // 2])

    def log_message(self, *args):
        pass


@pytest.fixture
def archive_server(tmp_path):
    (tmp_path / "served").mkdir()
    _, archive, checksums, X, _ = write_set(tmp_path / "served", "binary")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ArchiveHandler)
    server.body, server.md5, server.X = archive.read_bytes(), checksums[archive.name], X
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def test_download_streams_checks_the_md5_and_renames_into_place(archive_server, tmp_path):
    path = training.cifar.download_cifar10(tmp_path / "cache", url=archive_server.url + "/good", md5=archive_server.md5,
                                           progress=False)
    assert path.read_bytes() == archive_server.body and sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize("route, md5, error, message", [
    ("/good", "0" * 32, training.DataError, "MD5 mismatch"),
    ("/drop", None, training.DataError, "ended after|broke off"),
    ("/missing", None, training.DataNotFoundError, "HTTP 404"),
])
def test_a_failed_download_leaves_nothing_behind(archive_server, tmp_path, route, md5, error, message):
    cache = tmp_path / "cache"
    with pytest.raises(error, match=message):
        training.cifar.download_cifar10(cache, url=archive_server.url + route, md5=md5 or archive_server.md5,
                                        progress=False, timeout=5)
    assert not cache.exists() or not list(cache.iterdir())


def test_offline_is_data_not_found(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(training.DataNotFoundError, match="could not download"):
        training.cifar.download_cifar10(tmp_path, url=f"http://127.0.0.1:{port}/x", progress=False, timeout=5)


def test_load_downloads_into_the_cache_only_when_allowed(archive_server, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MINIGRAD_CIFAR10", raising=False)
    monkeypatch.setattr(training.cifar, "CIFAR10_URL", archive_server.url + "/good")
    checksums = {"cifar-10-binary.tar.gz": archive_server.md5}
    with pytest.raises(training.DataNotFoundError, match="download=True"):
        training.load_cifar10("train", checksums=checksums)
    X, _ = training.load_cifar10("train", download=True, checksums=checksums, progress=False)
    assert np.allclose(X, archive_server.X, atol=1e-6)
    assert (tmp_path / "xdg" / "minigrad-adv" / "cifar10" / "cifar-10-binary.tar.gz").is_file()


# --- round 2 of issue 25 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol, batch_label", [(5, b"synthetic"), (4, b""), (2, b"")])
def test_batches_pickled_with_protocol_5_or_an_empty_bytes_value_load(tmp_path, protocol, batch_label):
    """Refused as hostile: protocol 5 asks for numpy._core.numeric._frombuffer, and protocol 2 stores b'' as
    __builtin__.bytes(); both are safe."""
    folder, _, checksums, X, y = write_set(tmp_path, "python")
    for i, name in enumerate(BATCHES["python"]["train"]):
        images, labels = batch_arrays(i, N, False)
        data = pickle.dumps({b"batch_label": batch_label, b"labels": labels.tolist(), b"data": images}, protocol=protocol)
        (folder / name).write_bytes(data)
        checksums[name] = md5(data)
    X_read, y_read = training.load_cifar10("train", folder, checksums=checksums)
    np.testing.assert_allclose(X_read, X, rtol=1e-6)
    np.testing.assert_array_equal(y_read, y)


class Allocates:
    """bytes(10**12) in a pickle: a terabyte, through the one builtin a batch may name."""

    def __reduce__(self):
        return (bytes, (10**12,))


def test_bytes_with_an_argument_is_still_refused(tmp_path):
    folder, _, checksums, _, _ = write_set(tmp_path, "python")
    hostile = pickle.dumps({b"data": Allocates(), b"labels": []}, protocol=2)
    (folder / "data_batch_2").write_bytes(hostile)
    checksums["data_batch_2"] = md5(hostile)
    with pytest.raises(training.DataError, match=r"data_batch_2: refused: the pickle calls bytes\(1000000000000,\)"):
        training.load_cifar10("train", folder, checksums=checksums)


def test_an_archive_of_dot_slash_members_loads(tmp_path):
    """tar czf cifar-10-binary.tar.gz ./cifar-10-batches-bin: said to lack cifar-10-batches-bin/test_batch.bin."""
    folder, _, _, X, y = write_set(tmp_path, "binary")
    archive = tmp_path / "dotted" / "cifar-10-binary.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=f"./{folder.name}")
    X_read, y_read = training.load_cifar10("train", archive, checksums={archive.name: md5(archive.read_bytes())})
    np.testing.assert_allclose(X_read, X, rtol=1e-6)
    np.testing.assert_array_equal(y_read, y)


@pytest.mark.parametrize("contents, problem", [
    (f"{'a' * 32}  test_batchh\n", r"line 1: 'test_batchh' names no CIFAR-10 file \(they are cifar-10-binary\.tar\.gz, "),
    (f"{'a' * 32}  C:\\cifar\\test_batch\n", r"line 1: 'C:\\\\cifar\\\\test_batch' names no CIFAR-10 file"),
    (f"{'a' * 32}  test_batch\n# again\n{'b' * 32}  cifar/test_batch\n", r"line 3: test_batch was given another MD5 on line 1"),
], ids=["a typo", "a Windows path", "given twice"])
def test_a_checksum_file_naming_no_cifar_file_or_one_twice_is_refused(tmp_path, contents, problem):
    """Each entry was kept: the file it meant was then checked against the official digest ('MD5 mismatch ...
    expected <the official digest>'), or the last of two digests won."""
    sums = tmp_path / "MD5SUMS"
    sums.write_text(contents)
    with pytest.raises(training.DataError, match=f"^{re.escape(str(sums))}, {problem}"):
        training.read_md5sums(sums)


def test_a_checksum_file_may_start_with_a_byte_order_mark_and_repeat_a_digest(tmp_path):
    sums = tmp_path / "MD5SUMS"
    sums.write_bytes(f"\ufeff{'a' * 32}  test_batch\n{'A' * 32}  ./test_batch\n{'b' * 32}  *data_batch_1.bin\n".encode())
    assert training.read_md5sums(sums) == {"test_batch": "a" * 32, "data_batch_1.bin": "b" * 32}


# --- round 3 of issue 25 ---------------------------------------------------------------------------------
def test_checksums_that_miss_a_file_read_are_refused_naming_it(tmp_path):
    """Digests naming only the Python files checked nothing of a binary folder: every .bin was read unchecked."""
    folder, _, checksums, _, _ = write_set(tmp_path, "binary")
    python_only = {name: "a" * 32 for name in BATCHES["python"]["test"]}
    with pytest.raises(training.DataError,
                       match=f"^{re.escape(str(folder / 'test_batch.bin'))}: the checksums given hold no MD5 for "
                             "test_batch.bin"):
        training.load_cifar10("test", folder, checksums=python_only)
    del checksums["data_batch_3.bin"]  # some of them: the rest would be checked, that one not
    with pytest.raises(training.DataError, match="data_batch_3.bin: the checksums given hold no MD5"):
        training.load_cifar10("train", folder, checksums=checksums)
    assert training.read_cifar10("test", folder).official is False  # no checksums: read unchecked, as before


def test_md5sum_of_a_whole_official_folder_is_accepted(tmp_path):
    """The official folders also hold batches.meta, batches.meta.txt and readme.html: refused as no CIFAR-10 file's."""
    folder, _, checksums, _, _ = write_set(tmp_path, "binary")
    others = {"batches.meta.txt": "b" * 32, "batches.meta": "c" * 32, "readme.html": "d" * 32}
    sums = tmp_path / "MD5SUMS"
    sums.write_text("".join(f"{digest}  {name}\n" for name, digest in {**checksums, **others}.items()))
    assert training.read_md5sums(sums) == checksums


@pytest.mark.parametrize("protocol", [2, 5])
def test_a_batch_holding_numpy_scalars_loads(tmp_path, protocol):
    """Labels written as list(array), or np.int64 metadata, were refused as hostile (numpy._core.multiarray.scalar)."""
    folder, _, checksums, X, y = write_set(tmp_path, "python")
    for i, name in enumerate(BATCHES["python"]["train"]):
        images, labels = batch_arrays(i, N, False)
        data = pickle.dumps({b"labels": list(labels), b"data": images, b"count": np.int64(N)}, protocol=protocol)
        (folder / name).write_bytes(data)
        checksums[name] = md5(data)
    X_read, y_read = training.load_cifar10("train", folder, checksums=checksums)
    np.testing.assert_allclose(X_read, X, rtol=1e-6)
    np.testing.assert_array_equal(y_read, y)


def test_a_folder_without_test_batch_names_it_and_an_empty_batch_is_refused(tmp_path):
    """It said 'CIFAR-10 not found ... put the archive there'; a batch of 0 images failed only after training."""
    folder, _, checksums, _, _ = write_set(tmp_path, "python")
    (folder / "test_batch").unlink()
    with pytest.raises(training.DataNotFoundError, match=f"^{re.escape(str(folder / 'test_batch'))}: missing"):
        training.load_cifar10("test", folder, checksums=checksums)
    data = pickle.dumps({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, protocol=2)
    (folder / "test_batch").write_bytes(data)
    checksums["test_batch"] = md5(data)
    with pytest.raises(training.DataError, match=f"^{re.escape(str(folder / 'test_batch'))}: holds no images$"):
        training.load_cifar10("test", folder, checksums=checksums)


def test_a_folder_given_as_the_checksum_file_says_so(tmp_path):
    with pytest.raises(training.DataNotFoundError, match=f"^{re.escape(str(tmp_path))}: a folder, not a checksum file$"):
        training.read_md5sums(tmp_path)
