"""``advex reproduce --cifar`` and ``advex attack --cifar`` end to end on synthetic CIFAR-format sets.

The sets are written by the tests (``cifar_files``) in both official formats, as an
archive and as a folder; their MD5s reach the commands through ``--cifar-checksums``.
"""

import json
import pickle

import numpy as np
import pytest

import models
import training
from attacks import cli
from attacks.reproduction import CLAIMS, QUICK, Reproduction, report, stages
from cifar_files import md5, md5sums_text, write_set

CIFAR_IDS = {"cifar_maxout_clean", "cifar_maxout_fgsm", "cifar_maxout_fgsm_lecture"}


def synthetic_cifar(tmp_path, kind):
    folder, archive, checksums, _, _ = write_set(tmp_path, kind, n=60, learnable=True)
    return folder, archive, write_md5sums(tmp_path, checksums)


def write_md5sums(tmp_path, checksums: dict):
    """``tmp_path/MD5SUMS`` holding ``checksums`` in md5sum's format: what --cifar-checksums takes."""
    sums = tmp_path / "MD5SUMS"
    sums.write_text(md5sums_text(checksums))
    return sums


def reproduce_argv(data, out, cifar=None, sums=None) -> list:
    """``advex reproduce``'s arguments for a quick softmax-only run on the IDX set ``data``, with
    ``--cifar`` and ``--cifar-checksums`` when given."""
    argv = ["reproduce", "--quick", "--quiet", "--data", str(data), "--models", "softmax", "--out", str(out)]
    argv += [] if cifar is None else ["--cifar", str(cifar)]
    return argv + ([] if sums is None else ["--cifar-checksums", str(sums)])


@pytest.mark.parametrize("kind", ["binary", "python"])
@pytest.mark.parametrize("form", ["archive", "folder"])
def test_quick_reproduction_with_cifar_then_attack_its_model(synthetic_idx_dir, tmp_path, capsys, kind, form):
    folder, archive, sums = synthetic_cifar(tmp_path, kind)
    source = str(archive if form == "archive" else folder)
    out = tmp_path / "results"
    assert cli.main(reproduce_argv(synthetic_idx_dir, out, source, sums)) == 0
    results = json.loads((out / "results.json").read_text())
    rows = {(r["id"], r["metric"]): r for r in results["rows"] if r["id"] in CIFAR_IDS}
    assert {id for id, _ in rows} == CIFAR_IDS
    assert all(r["paper"] is None for r in rows.values())  # not the official files: no paper numbers
    assert rows["cifar_maxout_fgsm", "error_rate"]["n"] == 60
    cost, lecture_cost = (rows[id, "mean_linf_pixels"]["ours"] for id in ("cifar_maxout_fgsm", "cifar_maxout_fgsm_lecture"))
    assert 0 < cost < lecture_cost and rows["cifar_maxout_fgsm", "mean_linf_pixels"]["kind"] == "value"
    assert "| cifar_maxout_fgsm | mean_linf_pixels | None | 0." in (out / "results.md").read_text()
    assert results["training"]["cifar_maxout"]["epochs"] == QUICK.cifar_epochs
    assert (out / "figures" / "cifar_examples.png").exists() or "no figure" in capsys.readouterr().out

    attack_out = tmp_path / "attack"
    model = str(out / "models" / "cifar_maxout.npz")
    for units, eps in (("preprocessed", "0.1"), ("pixels", "0.03")):
        argv = ["attack", "--model", model, "--cifar", source, "--cifar-checksums", str(sums), "--units", units,
                "--eps", eps, "--out", str(attack_out)]
        assert cli.main(argv) == 0
        attack_rows = json.loads((attack_out / "attack.json").read_text())["rows"]
        assert [r["units"] for r in attack_rows] == ["pixels", units] and attack_rows[1]["eps"] == float(eps)
        assert attack_rows[1]["n"] == 60
        table = (attack_out / "attack.md").read_text()
        assert f"eps in {units}" in table and ("same perturbation in pixels" in table) == (units == "preprocessed")


def test_cifar_rows_carry_the_papers_numbers_only_for_the_official_files():
    measured = [{"id": "cifar_maxout_fgsm", "metric": "error_rate", "ours": 0.5, "n": 10}]
    official = report.rows(CLAIMS, measured, mnist=True, budget=QUICK, cifar10=True)
    synthetic = report.rows(CLAIMS, measured, mnist=True, budget=QUICK, cifar10=False)
    assert official[0]["paper"] == 0.8715 and synthetic[0]["paper"] is None
    assert "'tiny' preset" in official[0]["setup"] and "0.1 (the paper's)" in official[0]["setup"]


def run_error(argv, capsys) -> str:
    assert cli.main(argv) == 2
    return capsys.readouterr().err


def test_cifar_options_refuse_what_cannot_work(synthetic_idx_dir, tmp_path, capsys):
    folder, archive, sums = synthetic_cifar(tmp_path, "binary")
    err = run_error(reproduce_argv(synthetic_idx_dir, tmp_path / "a", sums=sums), capsys)
    assert "--cifar-checksums needs --cifar" in err
    err = run_error(reproduce_argv(synthetic_idx_dir, tmp_path / "b", tmp_path / "nowhere"), capsys)
    assert "CIFAR-10 not found" in err and "nowhere" in err
    err = run_error(reproduce_argv(synthetic_idx_dir, tmp_path / "c", archive), capsys)  # the official MD5s
    assert "MD5 mismatch" in err and "cifar-10-binary.tar.gz" in err
    bad = tmp_path / "BAD"
    bad.write_text("not-a-digest  data_batch_1.bin\n")
    err = run_error(reproduce_argv(synthetic_idx_dir, tmp_path / "d", folder, bad), capsys)
    assert "line 1" in err and "32 hex digits" in err
    assert not any((tmp_path / name).exists() for name in "abcd")  # refused before anything was written

    model = tmp_path / "softmax.npz"  # a model without preprocessing: its eps can only be in pixels
    models.save(models.SoftmaxRegression(3072, 10), model)
    attack = ["attack", "--model", str(model), "--cifar", str(folder), "--cifar-checksums", str(sums), "--out", str(tmp_path / "e")]
    assert "has no preprocessing layer" in run_error(attack + ["--units", "preprocessed"], capsys)
    assert "choose one" in run_error(attack + ["--data", str(synthetic_idx_dir)], capsys)
    assert "works with --attack fgsm" in run_error(attack + ["--units", "preprocessed", "--attack", "pgd"], capsys)


def measured_cifar_stage(r) -> list:
    """Stands in for :func:`stages.cifar` (its training and ZCA fit take seconds): one row, on the test split read."""
    return [stages.measurement("cifar_maxout_fgsm", "error_rate", 0.5, len(r.cifar["test"][1]))]


@pytest.mark.parametrize("kind, form, digests, paper", [
    ("binary", "folder", "none", None),  # once reported beside the paper's 87.15%
    ("binary", "folder", "official", None),  # no digests are published for .bin files: nothing vouches for them
    ("binary", "archive", "official", 0.8715),
    ("python", "folder", "official", 0.8715),
    ("python", "folder", "given", None),
])
def test_the_papers_numbers_show_only_beside_files_that_matched_official_digests(
        synthetic_idx_dir, tmp_path, monkeypatch, kind, form, digests, paper):
    folder, archive, checksums, _, _ = write_set(tmp_path, kind, n=10)
    if digests == "official":  # the test's files stand for the published ones (the archives and Python batches)
        for name, digest in checksums.items():
            if not name.endswith(".bin"):
                monkeypatch.setitem(training.cifar.CIFAR10_MD5, name, digest)
    sums = write_md5sums(tmp_path, checksums) if digests == "given" else None
    monkeypatch.setattr(Reproduction, "plan", lambda self: [measured_cifar_stage])
    out = tmp_path / "results"
    assert cli.main(reproduce_argv(synthetic_idx_dir, out, folder if form == "folder" else archive, sums)) == 0
    row, = json.loads((out / "results.json").read_text())["rows"]
    assert (row["id"], row["n"], row["paper"]) == ("cifar_maxout_fgsm", 10, paper)


def test_a_wrong_digest_for_a_bin_file_is_refused_naming_it(synthetic_idx_dir, tmp_path, capsys):
    folder, _, checksums, _, _ = write_set(tmp_path, "binary")
    sums = write_md5sums(tmp_path, checksums | {"data_batch_3.bin": "0" * 32})
    out = tmp_path / "results"
    err = run_error(reproduce_argv(synthetic_idx_dir, out, folder, sums), capsys)
    assert err.count("\n") == 1 and "data_batch_3.bin: MD5 mismatch" in err and "expected " + "0" * 32 in err
    assert not out.exists()


@pytest.mark.parametrize("labels", [[0.7, 1.9, 9.99, 3.0, 4.0], [None, 1, 2, 3, 4], [2**70, 1, 2, 3, 4]], ids=repr)
def test_malformed_labels_are_a_one_line_error_naming_the_file(synthetic_idx_dir, tmp_path, capsys, labels):
    folder, _, checksums, _, _ = write_set(tmp_path, "python", n=5)
    data = pickle.dumps({b"data": np.zeros((5, 3072), np.uint8), b"labels": labels}, protocol=2)
    (folder / "data_batch_1").write_bytes(data)
    sums = write_md5sums(tmp_path, checksums | {"data_batch_1": md5(data)})
    out = tmp_path / "results"
    err = run_error(reproduce_argv(synthetic_idx_dir, out, folder, sums), capsys)
    assert err.startswith("advex reproduce: error: ") and err.count("\n") == 1
    assert "cifar-10-batches-py/data_batch_1: labels must be" in err and not out.exists()


@pytest.mark.parametrize("command", ["reproduce", "attack"])
def test_help_says_which_cifar_files_are_checked_and_which_carry_the_papers_numbers(capsys, command):
    """The .bin files of an extracted binary folder: checked only when --cifar-checksums lists them, never official."""
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "every file it lists is checked, .bin files too" in text
    if command == "reproduce":
        assert "an extracted binary folder (its .bin files have none) is reported without them" in text
    else:
        assert "an extracted binary folder's are read unchecked without it" in text


def test_a_cifar_model_file_is_checked_against_the_labels_of_both_splits(synthetic_idx_dir, tmp_path):
    """Only the test labels were checked: a 9-class model fit a set whose label 9 is in the training split only."""
    from cifar_files import binary_bytes

    folder = write_set(tmp_path, "binary", n=10)[0]
    for name, labels in (("data_batch_1.bin", np.full(10, 9)), ("test_batch.bin", np.arange(10) % 9)):
        images = np.frombuffer((folder / name).read_bytes(), np.uint8).reshape(10, -1)[:, 1:]
        (folder / name).write_bytes(binary_bytes(images, labels))
    out = tmp_path / "results"
    run = Reproduction(out, budget=QUICK, data=synthetic_idx_dir, models=("softmax",), cifar=folder, progress=False)
    narrow = out / "models" / "cifar_maxout.npz"
    models.save(models.ConvMaxoutNetwork("tiny", n_classes=9, preprocessing=None, seed=0), narrow)
    with pytest.raises(models.ModelFileError, match=f"^{narrow} is a ConvMaxoutNetwork .* 9 classes; the data have "
                                                    "3072 features and labels up to 9$"):
        run.model("cifar_maxout")
