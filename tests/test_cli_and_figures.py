"""The ``advex`` command line and the figures, end to end on a synthetic IDX data set."""

import json

import numpy as np
import pytest

import attacks
import models
import training
from attacks import cli, figures

PNG = b"\x89PNG\r\n\x1a\n"


def test_demo_prints_the_lecture_numbers(capsys):
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "w.x   = -2.00" in out and "p(y=1) = sigmoid(-2.0) = 0.12" in out and "w.x_adv = +1.40" in out
    assert "0.1 * 34 = 3.40" in out


@pytest.fixture(scope="module")
def saved_softmax(tmp_path_factory, synthetic_idx_dir):
    X, y = training.load_idx_dataset(synthetic_idx_dir, "train")
    model = models.SoftmaxRegression(784, 10)
    training.fit(model, X, y, epochs=3, batch_size=20, optimizer=training.SGD(model.parameters(), lr=0.1), progress=False)
    path = tmp_path_factory.mktemp("model") / "softmax.npz"
    models.save(model, path)
    return path


@pytest.mark.parametrize("attack", ["fgsm", "pgd", "noise"])
def test_attack_writes_tables_and_figures(attack, saved_softmax, synthetic_idx_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["attack", "--model", str(saved_softmax), "--data", str(synthetic_idx_dir), "--eps", "0.1", "0.3",
            "--attack", attack, "--steps", "3", "--out", str(out)]
    assert cli.main(argv) == 0
    result = json.loads((out / "attack.json").read_text())
    assert [r["eps"] for r in result["rows"]] == [0.0, 0.1, 0.3] and result["rows"][0]["n"] == 50
    assert "| 0.3 |" in (out / "attack.md").read_text()
    for name in ("examples.png", "eps_curve.png", "linearity.png"):
        assert (out / name).read_bytes()[:8] == PNG
    assert "figures and tables written" in capsys.readouterr().out


def test_attack_errors_are_one_line(saved_softmax, synthetic_idx_dir, tmp_path, capsys):
    assert cli.main(["attack", "--model", str(tmp_path / "missing.npz"), "--data", str(synthetic_idx_dir)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert cli.main(["attack", "--model", str(saved_softmax), "--eps", "-0.1", "--data", str(synthetic_idx_dir)]) == 2
    assert "--eps must be >= 0" in capsys.readouterr().err
    small = tmp_path / "small.npz"
    models.save(models.SoftmaxRegression(5, 3), small)
    assert cli.main(["attack", "--model", str(small), "--data", str(synthetic_idx_dir), "--out", str(tmp_path)]) == 2
    assert "for 5 features and 3 classes" in capsys.readouterr().err
    assert cli.main(["attack", "--model", str(saved_softmax), "--data", str(tmp_path / "nowhere")]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["demo"], ["attack"]])
def test_help_on_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command + ["--help"])
    assert exit_info.value.code == 0 and "usage: advex" in capsys.readouterr().out


def test_figures_render_small(tmp_path):
    rng = np.random.default_rng(0)
    model = models.SoftmaxRegression(16, 3, init=0.5, seed=0)
    x = rng.uniform(0, 1, size=(4, 16)).astype(np.float32)
    y = np.array([0, 1, 2, 0])
    x_adv = attacks.fgsm(model, x, y, eps=0.2)
    figures.plot_examples(model, x, x_adv, y, tmp_path / "a.png", image_shape=(4, 4))
    rows = attacks.evaluate(model, x, y, eps=[0.0, 0.2])
    figures.plot_eps_curves({"fgsm": rows, "noise": attacks.evaluate(model, x, y, attack=attacks.noise_attack(0), eps=[0.0, 0.2])},
                            tmp_path / "b.png")
    figures.plot_linearity(attacks.linearity(model, x[:1], num=5), tmp_path / "c.png")
    assert all((tmp_path / f).read_bytes()[:8] == PNG for f in ("a.png", "b.png", "c.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "c.png"]  # no temporary files left
