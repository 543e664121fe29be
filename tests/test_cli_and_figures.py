"""The ``advex`` command line and the figures, end to end on a synthetic IDX data set."""

import json

import numpy as np
import pytest

import attacks
import models
import training
from attacks import cli, figures
from figure_checks import PNG, assert_drawn

def test_demo_prints_the_lecture_numbers(capsys):
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "w.x   = -2.00" in out and "p(y=1) = sigmoid(-2.0) = 0.12" in out and "w.x_adv = +1.40" in out
    assert "0.1 * 34 = 3.40" in out and out.rstrip().splitlines()[-2].endswith("-> class 1")


def test_demo_computes_the_class_after_the_attack(capsys):
    """At eps = 0.05 the logit only rises to -0.30 (the flip needs eps > 2 / 34): still class 0."""
    assert cli.main(["demo", "--eps", "0.05"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "w.x_adv = -0.30" in lines[-2] and lines[-2].endswith("-> class 0")


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
        assert_drawn(out / name)
    assert "figures and tables written" in capsys.readouterr().out
    assert "nan" not in (out / "attack.md").read_text()


def test_attack_errors_are_one_line(saved_softmax, synthetic_idx_dir, tmp_path, capsys):
    assert cli.main(["attack", "--model", str(tmp_path / "missing.npz"), "--data", str(synthetic_idx_dir)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert cli.main(["attack", "--model", str(saved_softmax), "--eps", "-0.1", "--data", str(synthetic_idx_dir)]) == 2
    assert "--eps must be a finite number >= 0" in capsys.readouterr().err
    small = tmp_path / "small.npz"
    models.save(models.SoftmaxRegression(5, 3), small)
    assert cli.main(["attack", "--model", str(small), "--data", str(synthetic_idx_dir), "--out", str(tmp_path / "out")]) == 2
    assert "for 5 features and 3 classes" in capsys.readouterr().err
    assert cli.main(["attack", "--model", str(saved_softmax), "--data", str(tmp_path / "nowhere")]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("n_features, n_classes", [(5, 10), (784, 3)])
def test_attack_names_the_model_that_does_not_fit_the_data_as_robustness_does(synthetic_idx_dir, tmp_path, capsys,
                                                                               n_features, n_classes):
    """One check for both commands (attacks.checks.check_model_fits): it said 'the test set has' here."""
    model = tmp_path / "model.npz"
    models.save(models.SoftmaxRegression(n_features, n_classes), model)
    assert cli.main(["attack", "--model", str(model), "--data", str(synthetic_idx_dir), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"advex attack: error: {model} is a SoftmaxRegression for {n_features} features "
                                       f"and {n_classes} classes; the data have 784 features and labels up to 9\n")
    assert not (tmp_path / "out").exists()


USER_MODULE = """
import numpy as np
import minigrad as mg
import models


@models.register
class UserTanhNet(models.Classifier):
    def __init__(self, n_features=784, hidden=16, n_classes=10, seed=0):
        self.config = dict(n_features=n_features, hidden=hidden, n_classes=n_classes, seed=seed)
        self.n_features, self.n_classes = n_features, n_classes
        rng = np.random.default_rng(seed)
        self.hidden, self.out = models.Linear(n_features, hidden, rng=rng), models.Linear(hidden, n_classes, rng=rng)

    def logits(self, x):
        return self.out(mg.tanh(self.hidden(x)))
"""


def test_a_registered_model_of_your_own_trains_saves_loads_and_is_attacked(synthetic_idx_dir, tmp_path, monkeypatch, capsys):
    import importlib
    import sys

    (tmp_path / "user_models_for_test.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("user_models_for_test")
    X, y = training.load_idx_dataset(synthetic_idx_dir, "train")
    net = module.UserTanhNet()
    training.fit(net, X, y, epochs=5, batch_size=20, optimizer=training.SGD(net.parameters(), lr=0.1), progress=False)
    assert training.error_rate(net, X, y) < 0.2
    models.save(net, tmp_path / "net.npz")
    np.testing.assert_array_equal(models.load(tmp_path / "net.npz").predict(X), net.predict(X))

    # A fresh process would not know the class: advex attack imports the module named by --import.
    monkeypatch.delitem(models.classifiers.CLASSIFIERS, "UserTanhNet")
    monkeypatch.delitem(sys.modules, "user_models_for_test")
    argv = ["attack", "--model", "net.npz", "--data", str(synthetic_idx_dir), "--eps", "0.25", "--out", "out"]
    assert cli.main(argv) == 2
    assert "not a registered model class" in capsys.readouterr().err
    assert cli.main(argv + ["--import", "user_models_for_test"]) == 0
    rows = json.loads((tmp_path / "out" / "attack.json").read_text())["rows"]
    assert rows[0]["error_rate"] < 0.2 and rows[1]["error_rate"] > rows[0]["error_rate"] + 0.3
    assert cli.main(argv + ["--import", "no_such_module_anywhere"]) == 2
    assert "--import no_such_module_anywhere" in capsys.readouterr().err
    for path in ("./user_models_for_test", ".user_models_for_test", "../tmp/user_models_for_test", "user_models_for_test.py"):
        assert cli.main(argv + ["--import", path]) == 2  # a path, not a module's name: what to pass instead
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--import takes a module's name (my_models, lab.models), not a path" in err
        assert f"got {path!r}" in err and "PYTHONPATH" in err


def test_register_refuses_what_it_cannot_load():
    with pytest.raises(TypeError, match="subclass of models.Classifier"):
        models.register(object)

    class SoftmaxRegression(models.Classifier):  # a user class shadowing a built-in's name
        pass

    with pytest.raises(ValueError, match="built-in classifier"):
        models.register(SoftmaxRegression)


def test_fit_says_at_the_start_what_a_model_lacks():
    class NoLoss(models.Module):
        def __init__(self):
            self.linear = models.Linear(4, 2)

        def forward(self, x):
            return self.linear(x)

    X, y = np.zeros((10, 4), dtype=np.float32), np.zeros(10, dtype=np.int64)
    with pytest.raises(TypeError, match=r"fit: NoLoss has no loss\(\), predict\(\); subclass models.Classifier"):
        training.fit(NoLoss(), X, y, epochs=1, batch_size=5, optimizer=training.SGD(NoLoss().parameters(), lr=0.1), progress=False)


def test_a_subclass_that_overrides_loss_keeps_the_never_vanishing_direction():
    class Smoothed(models.SoftmaxRegression):
        def loss(self, logits, y, reduction="mean"):
            return models.SoftmaxRegression.loss(self, logits, y, reduction) * 0.9

    model = Smoothed(2, 2)
    model.linear.weight.data[:] = [[100.0, -100.0], [0.0, 0.0]]  # margin 200: the plain gradient is 0
    x = np.array([[1.0, 0.5]], dtype=np.float32)
    assert not attacks.attack_direction(model, x, np.array([0]), exact=False).any()
    assert attacks.attack_direction(model, x, np.array([0]))[0, 0] < 0


@pytest.mark.parametrize("command", [[], ["demo"], ["attack"]])
def test_help_on_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command + ["--help"])
    assert exit_info.value.code == 0 and "usage: advex" in capsys.readouterr().out


def test_attack_help_says_import_takes_a_module_name(capsys):
    with pytest.raises(SystemExit):
        cli.main(["attack", "--help"])
    assert "A module name as Python imports it (my_models, not ./my_models.py)" in " ".join(capsys.readouterr().out.split())


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
    runs = {"a": {"fgsm": [0.2, 0.9, 1.0], "pgd": [0.3, 0.6, 0.0]}, "b": {"fgsm": [0.5, 0.6, 0.7], "pgd": [0.4, 0.5, 0.6]}}
    figures.plot_accuracy_by_epoch(runs, tmp_path / "d.png", marks={"a": 3, "b": None})
    names = ["a.png", "b.png", "c.png", "d.png"]
    for name in names:
        assert_drawn(tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # no temporary files left


def test_a_colour_conv_net_is_drawn_from_its_input_shape(tmp_path):
    model = models.SmallConvNet((3, 8, 8), n_classes=3, seed=0)
    x = np.random.default_rng(0).uniform(0, 1, size=(4, 192)).astype(np.float32)
    y = model.predict(x)
    assert figures.image_shape_of(model, 192) == (3, 8, 8) and figures.image_shape_of(models.SoftmaxRegression(20, 2), 20) is None
    figures.plot_examples(model, x, attacks.fgsm(model, x, y, eps=0.1), y, tmp_path / "colour.png")
    assert (tmp_path / "colour.png").read_bytes()[:8] == PNG
    picture = figures._as_picture(x[0], (3, 8, 8))
    assert picture.shape == (8, 8, 3) and picture[2, 5, 1] == x[0].reshape(3, 8, 8)[1, 2, 5]  # (H, W, C) of (C, H, W)


def test_unclipped_examples_are_drawn_over_a_range_that_covers_them(tmp_path):
    x = np.full((2, 16), 0.5, dtype=np.float32)
    assert figures.display_range(x, x + 0.25) == (0.0, 1.0)
    assert figures.display_range(x, x + 0.75, x - 0.75) == (-0.25, 1.25)  # nothing clamped for display
    picture = figures._as_picture(np.array([-0.25, 0.5, 1.25, 1.0]), (2, 2), (-0.25, 1.25))
    assert picture.ravel().tolist() == [0.0, 0.5, 1.0, 1.25 / 1.5]
    model = models.SoftmaxRegression(16, 3, init=0.5, seed=0)
    figures.plot_examples(model, x, x + 0.75, np.array([0, 1]), tmp_path / "unclipped.png", image_shape=(4, 4),
                          adversarial_label="noise")
    assert_drawn(tmp_path / "unclipped.png", min_width=150)


def test_linearity_marks_where_the_prediction_leaves_the_label(tmp_path):
    rng = np.random.default_rng(1)
    model = models.SoftmaxRegression(16, 3, init=0.5, seed=0)
    x = rng.uniform(0, 1, size=(1, 16)).astype(np.float32)
    label = model.predict(x)
    walk = attacks.linearity(model, x, label, eps_max=2.0, num=201)
    flip = figures.flip_eps(walk)
    assert flip is not None  # a linear model's true logit falls fastest along the sign of the gradient
    at = int(np.flatnonzero(np.isclose(walk["eps"], flip))[0])
    assert walk["logits"][at, 0].argmax() != label[0] and walk["logits"][at - 1, 0].argmax() == label[0]
    figures.plot_linearity(walk, tmp_path / "linearity.png", attack_eps=0.25)
    assert_drawn(tmp_path / "linearity.png")
    still = {**walk, "logits": np.zeros_like(walk["logits"])}  # every class tied: the argmax is class 0 throughout
    still["labels"] = np.array([0])
    assert figures.flip_eps(still) is None


def test_eps_curves_say_when_there_are_no_mistakes(tmp_path):
    x = np.zeros((3, 4), dtype=np.float32)
    model = models.SoftmaxRegression(4, 2, init="zeros")
    model.linear.bias.data[:] = [5.0, 0.0]  # class 0 everywhere, whatever eps
    rows = attacks.evaluate(model, x, np.zeros(3, dtype=int), eps=[0.0, 0.1, 0.2])
    assert all(np.isnan(r["confidence_wrong"]) for r in rows)
    figures.plot_eps_curves({"constant": rows}, tmp_path / "curves.png")
    assert_drawn(tmp_path / "curves.png")
    assert "no mistakes" in cli.table(rows, "t") and "nan" not in cli.table(rows, "t")


def test_flip_eps_is_zero_for_an_example_already_wrong(tmp_path):
    eps = np.linspace(-1, 1, 5, dtype=np.float32)
    logits = np.zeros((5, 1, 3), dtype=np.float32)
    logits[:, 0, 2] = 1.0  # class 2 everywhere, the label is 0
    walk = {"eps": eps, "logits": logits, "labels": np.array([0]), "output": "logit"}
    assert figures.flip_eps(walk) == 0.0
    figures.plot_linearity(walk, tmp_path / "wrong.png")
    assert_drawn(tmp_path / "wrong.png")


def test_a_model_that_does_not_fit_a_slice_of_the_test_set_is_told_its_highest_label(synthetic_idx_dir, tmp_path, capsys):
    """With --n 5 it said 'the data have 784 features and 8 classes': the highest label of the slice + 1."""
    model = tmp_path / "wide.npz"
    models.save(models.SoftmaxRegression(100, 10), model)
    highest = training.load_idx_dataset(synthetic_idx_dir, "test")[1][:5].max()
    assert cli.main(["attack", "--model", str(model), "--data", str(synthetic_idx_dir), "--n", "5",
                     "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.endswith(f"the data have 784 features and labels up to {highest}\n")


def test_an_unfitted_saved_model_is_refused_naming_its_file(synthetic_idx_dir, tmp_path, capsys):
    """It said 'ContrastWhitening: not fitted: call fit(training rows) first', naming no file."""
    model = tmp_path / "unfitted.npz"
    models.save(models.ConvMaxoutNetwork("tiny", input_shape=(1, 28, 28), preprocessing="gcn_zca", seed=0), model)
    assert cli.main(["attack", "--model", str(model), "--data", str(synthetic_idx_dir), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"advex attack: error: --model {model}: its ContrastWhitening layer was saved unfitted")
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()
