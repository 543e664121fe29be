"""The stronger evaluation: PGD with restarts, APGD-CE, the Square attack, and the worst case with its flags."""

import numpy as np
import pytest

import attacks
import minigrad as mg
import models
import training
from attacks.apgd import checkpoints
from attacks.square import square_fraction


@pytest.fixture(scope="module")
def hard():
    """An MLP trained on noisy class prototypes (64 features, 10 classes) and 400 held-out examples."""
    rng = np.random.default_rng(0)
    centers = rng.random((10, 64), dtype=np.float32)
    y = rng.integers(0, 10, 1900)
    X = np.clip(centers[y] + 0.45 * rng.standard_normal((1900, 64), dtype=np.float32), 0, 1)
    net = models.MLP((64, 128, 10), seed=0)
    training.fit(net, X[:1500], y[:1500], epochs=10, batch_size=50, progress=False,
                 optimizer=training.SGD(net.parameters(), lr=0.1, momentum=0.9))
    return net, X[1500:], y[1500:]


def error(model, x, y):
    return float(np.mean(model.predict(x) != y))


def test_apgd_checkpoints_follow_autoattack():
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(1) == [] and all(0 < c < 10 for c in checkpoints(10))


def test_square_areas_halve_on_the_papers_schedule():
    assert square_fraction(1, 10_000, 0.8) == 0.8 and square_fraction(11, 10_000, 0.8) == 0.4
    assert square_fraction(9_999, 10_000, 0.8) == 0.8 / 2**9
    assert square_fraction(50, 100, 0.1) == square_fraction(5_000, 10_000, 0.1)  # stretched to the budget


def test_restarts_keep_each_examples_worst_case(hard):
    model, X, y = hard
    one = attacks.pgd(model, X, y, 0.1, step_size=0.025, steps=5, seed=3)
    five = attacks.pgd(model, X, y, 0.1, step_size=0.025, steps=5, seed=3, restarts=5)
    assert np.all(attacks.margin(model, five, y) >= attacks.margin(model, one, y) - 1e-6)  # the first restart is `one`
    assert error(model, five, y) > error(model, one, y)
    assert np.array_equal(five, attacks.pgd(model, X, y, 0.1, step_size=0.025, steps=5, seed=3, restarts=5))
    with pytest.raises(ValueError, match="restarts must be"):
        attacks.pgd(model, X, y, restarts=0)
    with pytest.raises(ValueError, match="random start"):
        attacks.pgd(model, X, y, restarts=2, random_start=False)


def test_apgd_is_at_least_as_strong_as_pgd_with_the_same_number_of_steps(hard):
    model, X, y = hard
    eps, steps = 0.15, 20
    apgd = error(model, attacks.apgd_ce(model, X, y, eps, iterations=steps), y)
    madry = error(model, attacks.pgd(model, X, y, eps, step_size=0.01, steps=steps, seed=0), y)
    tuned = error(model, attacks.pgd(model, X, y, eps, step_size=eps / 4, steps=steps, seed=0), y)
    fgsm = error(model, attacks.fgsm(model, X, y, eps), y)
    assert apgd >= madry + 0.05 and apgd >= tuned - 0.02 and apgd > fgsm  # no step size to tune, and no worse
    assert np.array_equal(attacks.apgd_ce(model, X[:20], y[:20], eps, iterations=5, random_start=True, seed=1),
                          attacks.apgd_ce(model, X[:20], y[:20], eps, iterations=5, random_start=True, seed=1))
    with pytest.raises(ValueError, match="iterations must be"):
        attacks.apgd_ce(model, X, y, iterations=0)


def test_square_breaks_a_model_without_looking_at_its_gradient(hard, monkeypatch):
    model, X, y = hard
    monkeypatch.setattr(attacks.gradients, "input_gradient", lambda *a, **k: pytest.fail("Square asked for a gradient"))
    found = attacks.square_attack(model, X, y, 0.15, queries=300, p_init=0.3, seed=0)
    assert np.abs(found - X).max() <= 0.15 + 1e-6 and found.min() >= 0 and found.max() <= 1
    assert error(model, found, y) > error(model, attacks.random_sign_noise(X, 0.15, seed=0), y) + 0.3
    again = [attacks.square_attack(model, X[:50], y[:50], 0.15, queries=50, p_init=0.3, seed=s) for s in (0, 0, 1)]
    assert np.array_equal(again[0], again[1]) and not np.array_equal(again[0], again[2])  # the seed fixes the search


def test_new_attacks_run_in_eval_mode_and_restore_the_mode():
    model = models.MaxoutNetwork(16, hidden=(8, 8), pieces=2, n_classes=3, init=0.5, seed=0).train()
    x = np.random.default_rng(3).uniform(0, 1, size=(5, 16)).astype(np.float32)
    y = np.zeros(5, dtype=np.int64)
    for attack in (lambda: attacks.apgd_ce(model, x, y, 0.1, iterations=4),
                   lambda: attacks.square_attack(model, x, y, 0.1, queries=5, seed=0),
                   lambda: attacks.pgd(model, x, y, 0.1, steps=2, restarts=2, seed=0)):
        assert np.array_equal(attack(), attack())  # no dropout noise: the same answer twice
        assert all(m.training for m in model.modules())


class Quantised(models.Classifier):
    """A model behind an input quantiser (rounding to 1/4): its input gradient is zero almost everywhere."""

    def __init__(self, inner):
        self.inner, self.n_features, self.n_classes, self.config = inner, inner.n_features, inner.n_classes, {}

    def logits(self, x):
        rounded = np.round(x.data * 4) / 4
        return self.inner(x * 0 + rounded)  # the value of the rounded input, the gradient of a constant


def test_worst_case_takes_the_per_example_worst_and_flags_gradient_masking(hard):
    model, X, y = hard
    white = {"fgsm": attacks.fgsm, "pgd": lambda m, x, y, e, clip: attacks.pgd(m, x, y, e, step_size=e / 4, steps=10,
                                                                              seed=0, clip=clip)}
    black = {"square": lambda m, x, y, e, clip: attacks.square_attack(m, x, y, e, queries=200, p_init=0.3, seed=0,
                                                                      clip=clip)}
    plain = attacks.worst_case(model, X, y, 0.15, white_box=white, black_box=black, batch_size=150)
    assert plain["n"] == len(X) and set(plain["attacks"]) == {"fgsm", "pgd", "square"}
    assert plain["worst_case"]["error_rate"] >= max(a["error_rate"] for a in plain["attacks"].values())
    assert not plain["flags"]["zero_gradients"]["fired"] and not plain["flags"]["outputs_are_probabilities"]["fired"]
    assert not plain["flags"]["random_outputs"]["fired"]

    masked = attacks.worst_case(Quantised(model), X, y, 0.15, white_box=white, black_box=black, batch_size=150)
    flags = masked["flags"]
    assert flags["zero_gradients"]["fired"] and flags["zero_gradients"]["value"] > 0.9
    assert flags["black_box_beats_white_box"]["fired"]
    assert masked["attacks"]["square"]["error_rate"] > masked["attacks"]["fgsm"]["error_rate"] + 0.2
    with pytest.raises(ValueError, match="white-box"):
        attacks.worst_case(model, X, y, 0.1, white_box={})


class Softmaxed(models.Classifier):
    """Outputs probabilities where logits should be; and, with noise, different ones each call."""

    def __init__(self, inner, noise=0.0):
        self.inner, self.n_features, self.n_classes, self.config = inner, inner.n_features, inner.n_classes, {}
        self.noise, self.rng = noise, np.random.default_rng(0)

    def logits(self, x):
        out = mg.softmax(self.inner(x))
        return out + self.rng.normal(0, self.noise, out.shape).astype(np.float32) if self.noise else out


def test_the_flags_catch_probability_outputs_and_random_outputs(hard):
    model, X, y = hard
    white = {"fgsm": attacks.fgsm}
    assert attacks.worst_case(Softmaxed(model), X[:50], y[:50], 0.1, white_box=white)["flags"]["outputs_are_probabilities"]["fired"]
    noisy = attacks.worst_case(Softmaxed(model, noise=0.01), X[:50], y[:50], 0.1, white_box=white)["flags"]
    assert noisy["random_outputs"]["fired"] and not noisy["outputs_are_probabilities"]["fired"]


def test_a_quantised_conv_net_masks_its_gradient_and_bpda_sees_through_it(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    X = np.clip(0.35 + 0.3 * y[:, None] * (np.arange(64) % 2) + rng.normal(0, 0.1, (300, 64)), 0, 1).astype(np.float32)
    net = models.SmallConvNet((1, 8, 8), n_classes=2, quantise=5, seed=0)
    training.fit(net, X, y, epochs=8, batch_size=30, progress=False, seed=0, optimizer=training.Adam(net.parameters(), lr=1e-2))
    assert error(net, X, y) < 0.05 and net.config["quantise"] == 5
    models.save(net, tmp_path / "q.npz")
    assert isinstance(models.load(tmp_path / "q.npz").net.layers[0], models.Quantise)
    white = error(net, attacks.fgsm(net, X, y, 0.2), y)
    through = error(net, attacks.bpda(attacks.fgsm)(net, X, y, 0.2), y)
    assert not attacks.attack_direction(net, X[:20], y[:20], exact=False).any()  # masked: nothing to follow
    assert through > white + 0.2
    assert not any(m.straight_through for m in net.modules() if isinstance(m, models.Quantise))  # restored
    with pytest.raises(ValueError, match="no Quantise layer"):
        attacks.bpda(attacks.fgsm)(models.SoftmaxRegression(64, 2), X, y, 0.1)


def test_worst_case_takes_one_eps_per_example_across_batches_and_refuses_no_examples(hard):
    model, X, y = hard
    eps = np.where(np.arange(len(X)) % 2, 0.0, 0.15).astype(np.float32)  # every other example untouched
    result = attacks.worst_case(model, X, y, eps, white_box={"fgsm": attacks.fgsm}, batch_size=64)
    clean_wrong = model.predict(X) != y
    broken = model.predict(attacks.fgsm(model, X, y, eps.astype(np.float32))) != y
    assert result["attacks"]["fgsm"]["error_rate"] == pytest.approx(float((broken | clean_wrong).mean()))
    assert len(result["eps"]) == len(X)
    with pytest.raises(ValueError, match="no examples"):
        attacks.worst_case(model, X[:0], y[:0], 0.1, white_box={"fgsm": attacks.fgsm})


@pytest.mark.parametrize("n_eps", [2, 99, 101, 1000])
def test_worst_case_refuses_an_eps_array_not_one_per_example(hard, n_eps):
    model, X, y = hard  # 100 examples; batches of 64 once saw a piece of eps of another length
    X, y = X[:100], y[:100]
    with pytest.raises(ValueError, match=rf"eps must be a scalar or have shape \(100,\), got shape \({n_eps},\)"):
        attacks.worst_case(model, X, y, np.full(n_eps, 0.1, np.float32), white_box={"fgsm": attacks.fgsm}, batch_size=64)


def test_straight_through_unwinds_to_what_each_layer_was():
    net = models.SmallConvNet((1, 8, 8), n_classes=2, quantise=4, seed=0)
    layer = net.net.layers[0]
    with models.straight_through(net):
        with models.straight_through(net):
            assert layer.straight_through
        assert layer.straight_through  # still inside the outer block
    assert not layer.straight_through
