"""Attacks: exact numbers on the linear cases, the perturbation bounds, and the effect on trained models."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import attacks
import minigrad as mg
import models
import training

F32_SLACK = 1e-6  # x + eps and the clip are float32 operations: allow one rounding


# --- the lecture's toy example and the logistic closed form ----------------------------------
def test_toy_example_numbers():
    e = attacks.toy_example()
    assert e["wx"] == pytest.approx(-2.0) and e["p_before"] == pytest.approx(0.1192, abs=1e-4)
    assert e["wx_adv"] == pytest.approx(1.4, abs=1e-5) and e["p_after"] == pytest.approx(0.8022, abs=1e-4)
    assert e["wx_adv"] - e["wx"] == pytest.approx(0.1 * 34, abs=1e-5)
    np.testing.assert_allclose(e["x_adv"], attacks.toy.X + 0.1 * np.sign(attacks.toy.W), atol=1e-7)
    targeted = attacks.fgsm(attacks.toy_model(), attacks.toy.X[None], np.array([1]), eps=0.1, targeted=True, clip=None)
    np.testing.assert_array_equal(targeted[0], e["x_adv"])
    assert "w.x   = -2.00" in attacks.describe(e) and "0.80" in attacks.describe(e)


@pytest.mark.parametrize("label", [0, 1])
def test_logistic_fgsm_closed_form(label):
    rng = np.random.default_rng(0)
    model = models.LogisticRegression(8, init=0.5, seed=1)
    model.linear.bias.data[:] = 0.3
    w, b = model.linear.weight.data[:, 0], 0.3
    x = rng.uniform(0, 1, size=(5, 8)).astype(np.float32)
    labels = np.full(5, label)
    eps = 0.2
    x_adv = attacks.fgsm(model, x, labels, eps=eps, clip=None)
    y_pm = 2 * label - 1
    np.testing.assert_allclose(x_adv - x, np.broadcast_to(-eps * y_pm * np.sign(w), x.shape), atol=1e-7)
    expected = np.logaddexp(0, -y_pm * (x @ w + b) + eps * np.abs(w).sum())  # softplus(-y(w.x+b) + eps ||w||_1)
    actual = model.loss(model(x_adv), labels, reduction="none").data
    np.testing.assert_allclose(actual, expected, rtol=1e-5)


# --- bounds, range, dtype, immutability (hypothesis) ------------------------------------------
def small_softmax(d=6, k=3, seed=0):
    model = models.SoftmaxRegression(d, k, init=1.0, seed=seed)
    model.linear.bias.data[:] = np.random.default_rng(seed).normal(size=k)
    return model


ATTACKS = {
    "fgsm": lambda m, x, y, eps, clip: attacks.fgsm(m, x, y, eps, clip=clip),
    "fgsm_targeted": lambda m, x, y, eps, clip: attacks.fgsm(m, x, (y + 1) % m.n_classes, eps, targeted=True, clip=clip),
    "pgd": lambda m, x, y, eps, clip: attacks.pgd(m, x, y, eps, step_size=eps / 4, steps=5, seed=0, clip=clip),
    "bim": lambda m, x, y, eps, clip: attacks.bim(m, x, y, eps, step_size=eps / 4, steps=5, clip=clip),
    "noise": lambda m, x, y, eps, clip: attacks.random_sign_noise(x, eps, clip=clip, seed=0),
    "pgd_restarts": lambda m, x, y, eps, clip: attacks.pgd(m, x, y, eps, step_size=eps / 4, steps=3, seed=0, clip=clip,
                                                          restarts=3),
    "apgd_ce": lambda m, x, y, eps, clip: attacks.apgd_ce(m, x, y, eps, iterations=6, clip=clip),
    "fgsm_random_start": lambda m, x, y, eps, clip: attacks.fgsm_random_start(m, x, y, eps, step_size=1.25 * eps, seed=0,
                                                                              clip=clip),
    "square": lambda m, x, y, eps, clip: attacks.square_attack(m, x, y, eps, queries=8, p_init=0.5, seed=0, clip=clip),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("clip", [(0.0, 1.0), None])
@given(n=st.integers(1, 8), eps=st.floats(0.0, 0.5, width=32), seed=st.integers(0, 100))
def test_linf_bound_range_dtype_and_no_mutation(name, clip, n, eps, seed):
    model = small_softmax()
    x = np.random.default_rng(seed).uniform(0, 1, size=(n, 6)).astype(np.float32)
    y = np.arange(n) % 3
    before = x.copy()
    x_adv = ATTACKS[name](model, x, y, eps, clip)
    np.testing.assert_array_equal(x, before)
    assert x_adv.dtype == np.float32 and x_adv.shape == x.shape and x_adv is not x
    assert np.abs(x_adv - x).max() <= eps + F32_SLACK
    if clip is not None:
        assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    elif name in ("fgsm", "fgsm_targeted", "noise") and eps > 0:
        # unclipped sign steps move every pixel by exactly eps (the gradient has no zero here)
        np.testing.assert_allclose(np.abs(x_adv - x), eps, rtol=1e-6, atol=F32_SLACK)


@given(n=st.integers(1, 6), eps=st.floats(0.0625, 2.0, width=32))
def test_fgm_takes_an_l2_step_of_size_eps(n, eps):
    model = small_softmax()
    x = np.random.default_rng(n).uniform(0, 1, size=(n, 6)).astype(np.float32)
    x_adv = attacks.fgm(model, x, np.zeros(n, dtype=np.int64), eps=eps, clip=None)
    np.testing.assert_allclose(np.linalg.norm(x_adv - x, axis=1), eps, rtol=1e-5)


def test_fgm_gives_the_einsum_norms_results_to_float32_rounding_and_leaves_a_zero_gradient_row(monkeypatch):
    model = models.MLP((784, 64, 10), seed=0)
    x = np.random.default_rng(1).uniform(0, 1, size=(20, 784)).astype(np.float32)
    y = np.arange(20) % 10
    g = attacks.attack_direction(model, x, y)
    g[3] = 0.0  # a row whose direction is exactly 0
    norms = np.sqrt(np.einsum("ij,ij->i", g, g))[:, None]  # the norms as fgm computed them before issue 26
    before = x + 0.5 * np.divide(g, norms, out=np.zeros_like(g), where=norms > 0)
    monkeypatch.setattr(attacks.methods, "attack_direction", lambda *args, **kwargs: g)
    x_adv = attacks.fgm(model, x, y, eps=0.5, clip=None)
    assert x_adv.dtype == np.float32
    np.testing.assert_array_equal(x_adv[3], x[3])
    np.testing.assert_allclose(x_adv, before, rtol=1e-6, atol=1e-7)


def test_eps_zero_returns_a_copy_and_per_example_eps():
    model = small_softmax()
    x = np.random.default_rng(0).uniform(0, 1, size=(4, 6)).astype(np.float32)
    same = attacks.fgsm(model, x, eps=0.0)
    assert same is not x and np.array_equal(same, x)
    eps = np.array([0.0, 0.1, 0.2, 0.3], dtype=np.float32)
    moved = np.abs(attacks.fgsm(model, x, eps=eps, clip=None) - x).max(axis=1)
    np.testing.assert_allclose(moved, eps, rtol=1e-6)


def test_float64_inputs_come_back_as_float64_and_repeated_eps_are_counted_once():
    model = small_softmax()
    x = np.random.default_rng(5).uniform(0.3, 0.7, size=(4, 6))
    x_adv = attacks.fgsm(model, x, eps=0.1)
    assert x_adv.dtype == np.float64
    np.testing.assert_allclose(np.abs(x_adv - x), 0.1, rtol=1e-6)
    rows = attacks.evaluate(model, x.astype(np.float32), np.zeros(4, dtype=np.int64), eps=[0.2, 0.2])
    assert rows[0] == rows[1] and 0.0 <= rows[0]["error_rate"] <= 1.0


def test_y_none_uses_the_models_predictions():
    model = small_softmax()
    x = np.random.default_rng(1).uniform(0, 1, size=(6, 6)).astype(np.float32)
    np.testing.assert_array_equal(attacks.fgsm(model, x), attacks.fgsm(model, x, model.predict(x)))


def test_fgsm_moves_an_example_with_a_logit_margin_of_200():
    model = models.SoftmaxRegression(2, 2, init="zeros")
    model.linear.weight.data[:] = [[100.0, -100.0], [0.0, 0.0]]  # logits (100 x0, -100 x0)
    x = np.array([[1.0, 0.5]], dtype=np.float32)  # margin 200 for class 0
    assert attacks.attack_direction(model, x, np.array([0]), exact=False).max() == 0  # plain float32 gradient vanishes
    moved = attacks.fgsm(model, x, np.array([0]), eps=0.1, clip=None)
    np.testing.assert_allclose(moved, [[0.9, 0.5]], atol=1e-6)  # the exact direction still pushes x0 down
    assert np.array_equal(attacks.fgsm(model, x, np.array([0]), eps=0.1, clip=None, exact=False), x)


def test_input_gradient_is_the_plain_gradient_and_leaves_weights_alone():
    model = small_softmax()
    x = np.random.default_rng(2).uniform(0, 1, size=(5, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1])
    g = attacks.input_gradient(model, x, y)
    W, b = model.linear.weight.data, model.linear.bias.data
    z = x @ W + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(g, (p - np.eye(3)[y]) @ W.T, rtol=1e-5, atol=1e-6)
    assert all(p.grad is None for p in model.parameters())
    # the attack direction is a positive multiple of it, row by row
    d = attacks.attack_direction(model, x, y)
    ratio = np.linalg.norm(g, axis=1) / np.linalg.norm(d, axis=1)
    np.testing.assert_allclose(g, d * ratio[:, None], rtol=1e-4, atol=1e-6)


def test_attacks_run_in_eval_mode_and_restore_the_mode():
    model = models.MaxoutNetwork(6, hidden=(4, 4), pieces=2, n_classes=3, init=0.5, seed=0).train()
    x = np.random.default_rng(3).uniform(0, 1, size=(5, 6)).astype(np.float32)
    y = np.zeros(5, dtype=np.int64)
    first, second = attacks.fgsm(model, x, y), attacks.fgsm(model, x, y)
    np.testing.assert_array_equal(first, second)  # no dropout noise in the gradient
    assert all(m.training for m in model.modules())
    model.eval()
    attacks.pgd(model, x, y, steps=2)
    assert not any(m.training for m in model.modules())


def test_attack_errors():
    model = small_softmax()
    x = np.random.default_rng(0).uniform(0, 1, size=(3, 6)).astype(np.float32)
    y = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="eps must be finite and >= 0"):
        attacks.fgsm(model, x, y, eps=-0.1)
    with pytest.raises(ValueError, match="eps must be finite and >= 0"):
        attacks.fgsm(model, x, y, eps=float("nan"))
    with pytest.raises(ValueError, match=r"outside clip=\(0, 1\)"):
        attacks.fgsm(model, x + 1, y)
    with pytest.raises(ValueError, match="x contains NaN"):
        attacks.fgsm(model, np.full_like(x, np.nan), y, clip=None)
    with pytest.raises(ValueError, match=r"shape \(N, 6\)"):
        attacks.fgsm(model, x[:, :5], y)
    with pytest.raises(ValueError, match=r"y must be in 0..2; found \[3\]"):
        attacks.fgsm(model, x, np.array([0, 1, 3]))
    with pytest.raises(TypeError, match="one-hot"):
        attacks.fgsm(model, x, np.eye(3)[y])
    with pytest.raises(ValueError, match=r"y \(the target class of each example\) is required"):
        attacks.fgsm(model, x, targeted=True)
    with pytest.raises(ValueError, match=r"eps must be a scalar or have shape \(3,\)"):
        attacks.fgsm(model, x, y, eps=np.ones(2))


# --- on a trained model --------------------------------------------------------------------------
def faint_patterns(n, seed=0):
    """Ten classes, each a faint random pattern (+0.2 on 30% of 784 pixels) in strong noise.

    Like MNIST in the way that matters here: no single pixel decides the class, so a
    linear model spreads its weight over many pixels, and a small step on each of them
    adds up (the paper's linearity argument). Clean error is near 0, FGSM at 0.25 near 100%.
    """
    rng = np.random.default_rng(seed)
    templates = (rng.random((10, 784)) < 0.3).astype(np.float32)
    y = rng.integers(0, 10, n)
    X = np.clip(0.3 + 0.2 * templates[y] + rng.normal(0, 0.2, (n, 784)), 0, 1).astype(np.float32)
    return X, y


@pytest.fixture(scope="module")
def trained():
    """A softmax classifier trained on faint patterns, and 200 held-out examples."""
    X, y = faint_patterns(1200)
    model = models.SoftmaxRegression(784, 10)
    training.fit(model, X[:1000], y[:1000], epochs=5, batch_size=50, optimizer=training.SGD(model.parameters(), lr=0.1),
                 progress=False)
    return model, X[1000:], y[1000:]


def test_fgsm_beats_random_noise_of_the_same_size(trained):
    model, X, y = trained
    clean = training.error_rate(model, X, y)
    fgsm_error = np.mean(model.predict(attacks.fgsm(model, X, y, eps=0.25)) != y)
    noise_error = np.mean(model.predict(attacks.random_sign_noise(X, 0.25, seed=0)) != y)
    assert clean < 0.1
    assert fgsm_error > 0.9 and noise_error < 0.3
    assert fgsm_error - clean > 5 * (noise_error - clean)


def test_targeted_fgsm_raises_the_target_probability(trained):
    model, X, y = trained
    target = (y + 3) % 10
    before = model.predict_proba(X)[np.arange(len(y)), target]
    after = model.predict_proba(attacks.fgsm(model, X, target, eps=0.1, targeted=True))[np.arange(len(y)), target]
    assert (after > before).mean() > 0.95
    ll = attacks.least_likely_class(model, X)
    assert (model.predict_proba(X)[np.arange(len(y)), ll] <= model.predict_proba(X).min(axis=1) + 1e-12).all()


def test_pgd_one_step_equals_fgsm_and_many_steps_are_at_least_as_strong(trained):
    model, X, y = trained
    one = attacks.pgd(model, X, y, eps=0.1, step_size=0.1, steps=1, random_start=False)
    np.testing.assert_array_equal(one, attacks.fgsm(model, X, y, eps=0.1))
    many = attacks.pgd(model, X, y, eps=0.1, step_size=0.02, steps=10, seed=0)
    assert np.mean(model.predict(many) != y) >= np.mean(model.predict(one) != y) - 0.02


def test_evaluate_rows(trained):
    model, X, y = trained
    rows = attacks.evaluate(model, X, y, eps=[0.0, 0.1, 0.25], batch_size=40)
    assert [r["eps"] for r in rows] == [0.0, 0.1, 0.25] and all(r["n"] == len(y) and r["clip"] == [0.0, 1.0] for r in rows)
    assert rows[0]["error_rate"] == pytest.approx(training.error_rate(model, X, y))
    assert rows[0]["linf"] == 0 and rows[1]["linf"] <= 0.1 + F32_SLACK and rows[2]["linf"] <= 0.25 + F32_SLACK
    assert rows[2]["error_rate"] >= rows[1]["error_rate"] >= rows[0]["error_rate"]
    assert rows[2]["p_true"] < rows[0]["p_true"]
    assert rows[0]["zero_grad_fraction"] == pytest.approx(np.mean(attacks.attack_direction(model, X, y, exact=False) == 0))
    wrong = model.predict(attacks.fgsm(model, X, y, eps=0.25)) != y
    proba = model.predict_proba(attacks.fgsm(model, X, y, eps=0.25))
    assert rows[2]["confidence_wrong"] == pytest.approx(proba.max(1)[wrong].mean(), rel=1e-5)
    noise = attacks.evaluate(model, X, y, attack=attacks.noise_attack(seed=0), eps=[0.25], clip=None)
    assert noise[0]["clip"] is None and noise[0]["linf"] == pytest.approx(0.25)
    skipped = attacks.evaluate(model, X, y, attack=attacks.noise_attack(seed=0), eps=[0.25], clip=None, zero_grad=False)
    assert skipped[0]["zero_grad_fraction"] is None and skipped[0]["error_rate"] == noise[0]["error_rate"]


def test_transfer_matrix_matches_direct_evaluation(trained):
    model, X, y = trained
    other = models.SoftmaxRegression(784, 10)
    training.fit(other, X, y, epochs=3, batch_size=20, optimizer=training.SGD(other.parameters(), lr=0.1), progress=False, seed=1)
    result = attacks.transfer_matrix([model, other], X, y, eps=0.15, batch_size=30)
    for i, source in enumerate([model, other]):
        x_adv = attacks.fgsm(source, X, y, eps=0.15)
        for j, target in enumerate([model, other]):
            assert result["error"][i, j] == pytest.approx(np.mean(target.predict(x_adv) != y))
    p0, p1 = model.predict(attacks.fgsm(model, X, y, eps=0.15)), other.predict(attacks.fgsm(model, X, y, eps=0.15))
    assert result["agree_wrong"][0, 1] == pytest.approx(np.mean((p0 != y) & (p1 != y) & (p0 == p1)))
    assert result["n"] == len(y)


def test_linearity_walks_along_the_fgsm_direction(trained):
    model, X, y = trained
    walk = attacks.linearity(model, X[:3], eps_max=0.5, num=11)
    assert walk["logits"].shape == (11, 3, 10) and walk["eps"][5] == 0
    np.testing.assert_allclose(walk["logits"][5], model(X[:3]).data, rtol=1e-5, atol=1e-5)
    # a softmax regression is exactly linear: second differences along the walk vanish
    np.testing.assert_allclose(np.diff(walk["logits"], 2, axis=0), 0, atol=1e-3)


# --- issue 25: empty batches -----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("net", ["dense", "conv"])
def test_every_attack_returns_an_empty_batch_for_an_empty_batch(name, net):
    """Dense models always did; conv nets failed in Flatten, and square_attack failed on both."""
    model = small_softmax() if net == "dense" else models.SmallConvNet(seed=0)
    x = np.zeros((0, 6 if net == "dense" else 784), np.float32)
    with np.errstate(all="raise"):
        x_adv = ATTACKS[name](model, x, np.zeros(0, np.int64), 0.1, (0.0, 1.0))
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32


def test_fgsm_preprocessed_refuses_an_empty_batch_as_evaluate_does():
    """It divided by n = 0 (ZeroDivisionError); a rate over no examples has no value."""
    net = models.ConvMaxoutNetwork("tiny", input_shape=(3, 4, 4), n_classes=3, preprocessing="gcn_zca", seed=0)
    with pytest.raises(ValueError, match="fgsm_preprocessed: x holds no examples"):
        attacks.fgsm_preprocessed(net, np.zeros((0, 48), np.float32), np.zeros(0, np.int64), [0.1])
    with pytest.raises(ValueError, match="evaluate: x holds no examples"):
        attacks.evaluate(net, np.zeros((0, 48), np.float32), np.zeros(0, np.int64), eps=[0.1])


MEASURES = {  # what reports a rate over the examples of x: refuses no examples, naming itself
    "evaluate": lambda m, x, y: attacks.evaluate(m, x, y, eps=[0.1]),
    "fgsm_preprocessed": lambda m, x, y: attacks.fgsm_preprocessed(m, x, y, [0.1]),
    "transfer_matrix": lambda m, x, y: attacks.transfer_matrix([m], x, y, 0.1),
    "linearity": lambda m, x, y: attacks.linearity(m, x, y),
    "worst_case": lambda m, x, y: attacks.worst_case(m, x, y, 0.1, white_box={"fgsm": attacks.fgsm}),
}


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_measures_refuse_x_of_no_examples_or_a_scalar_naming_themselves(name):
    """A scalar x failed as 'len() of unsized object' (linearity's as a shape error); transfer_matrix
    worded an empty x its own way."""
    net = models.ConvMaxoutNetwork("tiny", input_shape=(3, 4, 4), n_classes=3, preprocessing="gcn_zca", seed=0)
    with pytest.raises(ValueError, match=f"^{name}: x holds no examples$"):
        MEASURES[name](net, np.zeros((0, 48), np.float32), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match=rf"^{name}: x must be a batch of examples \(N, \.\.\.\), got a scalar$"):
        MEASURES[name](net, np.float32(0.5), np.zeros(1, np.int64))


def test_transfer_matrix_refuses_no_models():
    with pytest.raises(ValueError, match="^transfer_matrix: needs at least one model, got none$"):
        attacks.transfer_matrix([], np.zeros((2, 6), np.float32), np.zeros(2, np.int64), 0.1)


def test_a_model_fits_data_of_its_width_and_at_most_its_classes():
    from attacks.checks import check_model_fits

    model = models.SoftmaxRegression(6, 3)
    check_model_fits(model, np.zeros((4, 6)), np.array([0, 2, 1, 2]), "m.npz")
    check_model_fits(model, np.zeros((4, 6)), np.array([0, 1, 1, 0]), "m.npz")  # a class the data lack is no misfit
    check_model_fits(model, np.zeros((0, 6)), np.zeros(0, np.int64), "m.npz")  # no labels: no class too many
    with pytest.raises(ValueError, match=r"^m\.npz is a SoftmaxRegression for 6 features and 3 classes; "
                                         r"the data have 6 features and labels up to 3$"):
        check_model_fits(model, np.zeros((4, 6)), np.array([0, 3, 1, 2]), "m.npz")
    with pytest.raises(ValueError, match="^m.npz is a SoftmaxRegression for 6 .*; the data have 5 features and labels up to 2$"):
        check_model_fits(model, np.zeros((4, 5)), np.array([0, 1, 1, 2]), "m.npz")


# --- round 2 of issue 25: what a measurement's attacks return, and the arguments of every attack ---------
def cheat(model, x, y, eps, clip=(0.0, 1.0)):
    """An 'attack' that leaves the eps-ball: every pixel up by 0.9, whatever eps."""
    return np.clip(x + 0.9, *clip)


def one_row_short(model, x, y, eps, clip=(0.0, 1.0)):
    return attacks.fgsm(model, x, y, eps, clip=clip)[:-1]


def as_float64(model, x, y, eps, clip=(0.0, 1.0)):
    return attacks.fgsm(model, x, y, eps, clip=clip).astype(np.float64)


def as_int(model, x, y, eps, clip=(0.0, 1.0)):
    return np.rint(x).astype(np.int64)


def as_complex(model, x, y, eps, clip=(0.0, 1.0)):
    return x.astype(np.complex64)


def unclipped(model, x, y, eps, clip=(0.0, 1.0)):
    """Within eps, but never clipped: below 0 where x is 0."""
    return x - eps


def nan_rows(model, x, y, eps, clip=(0.0, 1.0)):
    return np.full_like(x, np.nan)


MISBEHAVING = {
    "cheat": (cheat, ValueError, r"the attack 'cheat' moved example 0 by 0\.9 \(L-inf\), more than its eps 0\.05"),
    "one_row_short": (one_row_short, ValueError, r"the attack 'one_row_short' returned an array of shape \(3, 6\) "
                                                r"and dtype float32 for x of shape \(4, 6\)"),
    "as_int": (as_int, ValueError, r"the attack 'as_int' returned an array of shape \(4, 6\) and dtype int64 for x "
                                   r"of shape \(4, 6\) and dtype float32: an attack returns floats of x's shape$"),
    "as_complex": (as_complex, ValueError, r"the attack 'as_complex' returned .* dtype complex64 for x .* dtype float32"),
    "unclipped": (unclipped, ValueError, r"the attack 'unclipped' returned values in \[-0\.05, .*\], outside clip=\(0, 1\)"),
    "nan_rows": (nan_rows, ValueError, r"the attack 'nan_rows' returned NaN or inf"),
}
MEASURING = {  # each runs an attack callable and counts what the model gets wrong on its answer
    "worst_case": lambda m, x, y, attack: attacks.worst_case(m, x, y, 0.05, white_box={attack.__name__: attack}),
    "evaluate": lambda m, x, y, attack: attacks.evaluate(m, x, y, attack=attack, eps=[0.05]),
    "transfer_matrix": lambda m, x, y, attack: attacks.transfer_matrix([m], x, y, 0.05, attack=attack),
}


@pytest.mark.parametrize("measure", sorted(MEASURING))
@pytest.mark.parametrize("name", sorted(MISBEHAVING))
def test_a_measurement_refuses_an_attack_whose_answer_is_not_one_naming_it(measure, name):
    """worst_case reported a worst-case error of 0.94 for the cheat at eps 0.05; one row short broadcast."""
    attack, error, message = MISBEHAVING[name]
    model = small_softmax()
    x = np.random.default_rng(0).uniform(0, 1, size=(4, 6)).astype(np.float32)
    x[:, 0] = 0.0
    with pytest.raises(error, match=f"^{measure}: {message}"):
        MEASURING[measure](model, x, model.predict(x), attack)


def fgsm_as_given(model, x, y, eps, clip=(0.0, 1.0)):
    return attacks.fgsm(model, x, y, eps, clip=clip)


@pytest.mark.parametrize("measure", sorted(MEASURING))
def test_a_measurement_takes_an_attack_answering_in_float64_as_its_float32_answer(measure):
    """Round 4: since round 2 an attack returning float64 for float32 x (NumPy's arithmetic with a float64
    array, as in a noise baseline) was refused; e4bdc86 measured it. It is checked, then cast to x's dtype."""
    model = small_softmax()
    x = np.random.default_rng(0).uniform(0, 1, size=(4, 6)).astype(np.float32)
    y = model.predict(x)

    def widened(model, x, y, eps, clip=(0.0, 1.0)):
        return fgsm_as_given(model, x, y, eps, clip=clip).astype(np.float64)

    widened.__name__ = fgsm_as_given.__name__  # the rows name the attack: the same name, the same rows
    def as_json(attack):  # NaN == NaN as text; transfer_matrix's matrices as lists
        return json.dumps(MEASURING[measure](model, x, y, attack), sort_keys=True, default=np.ndarray.tolist)

    assert as_json(widened) == as_json(fgsm_as_given)


def test_an_answer_in_float64_is_checked_then_returned_in_x_dtype():
    from attacks.checks import check_adversarial

    x = np.full((2, 3), 0.5, np.float32)
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, x.shape)  # float64, as x + rng.uniform(...) gives
    x_adv = check_adversarial(np.clip(x + noise, 0.0, 1.0), x, 0.1, (0.0, 1.0), "noise", "evaluate")
    assert x_adv.dtype == np.float32 and np.array_equal(x_adv, (x + noise).astype(np.float32))
    with pytest.raises(ValueError, match=r"^evaluate: the attack 'noise' moved example 0 by 0\.2 .*its eps 0\.1"):
        check_adversarial(x + np.float64(0.2), x, 0.1, (0.0, 1.0), "noise", "evaluate")  # checked before the cast


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("clip, low, high", [((0.0, 1.0), 0.0, 1.0), ((0.0, 0.3), 0.0, 0.3), (None, -60.0, 60.0)])
def test_every_attack_of_the_lab_passes_the_check_of_its_answer(name, clip, low, high):
    """The check allows float32 rounding, relative to |x|: far from 0 unclipped, and at a clip bound that
    float32 rounds (0.3)."""
    model = small_softmax()
    x = np.random.default_rng(1).uniform(low, high, size=(16, 6)).astype(np.float32)
    attack = lambda m, xb, yb, e, clip=clip: ATTACKS[name](m, xb, yb, e, clip)  # noqa: E731
    result = attacks.worst_case(model, x, np.arange(16) % 3, 0.27, white_box={name: attack}, clip=clip, batch_size=5)
    assert 0 <= result["worst_case"]["error_rate"] <= 1


BAD_ARGUMENTS = {
    "eps complex": (lambda m, x, y: attacks.fgsm(m, x, y, eps=1j), TypeError,
                    r"^fgsm: eps must be a number or a list of numbers, got 1j$"),
    "eps None": (lambda m, x, y: attacks.fgsm(m, x, y, eps=None), TypeError, r"^fgsm: eps must be .*, got None$"),
    "eps True": (lambda m, x, y: attacks.pgd(m, x, y, eps=True), TypeError, r"^pgd: eps must be .*, got True$"),
    "eps a string": (lambda m, x, y: attacks.fgm(m, x, y, eps="0.1"), TypeError, r"^fgm: eps must be .*, got '0\.1'$"),
    "eps a list with a bool": (lambda m, x, y: attacks.fgsm(m, x, y, eps=[0.1, True, 0.2]), TypeError,
                               r"^fgsm: eps must be .*, got \[0\.1, True, 0\.2\]$"),
    "eps beyond float32": (lambda m, x, y: attacks.fgsm(m, x, y, eps=1e39), ValueError,
                           r"^fgsm: eps must be finite and >= 0 \(in x's dtype float32\), got 1e\+39$"),
    "clip a number": (lambda m, x, y: attacks.fgsm(m, x, y, clip=1.0), TypeError,
                      r"^fgsm: clip must be None or a pair of numbers \(low, high\), got 1\.0$"),
    "clip of strings": (lambda m, x, y: attacks.square_attack(m, x, y, clip=("0", "1")), TypeError,
                        r"^square_attack: clip must be None or a pair of numbers \(low, high\), got \('0', '1'\)$"),
    "evaluate eps a string": (lambda m, x, y: attacks.evaluate(m, x, y, eps="abc"), TypeError,
                              r"^evaluate: eps must be a number or a list of numbers, got 'abc'$"),
    "evaluate eps empty": (lambda m, x, y: attacks.evaluate(m, x, y, eps=[]), ValueError, r"^evaluate: eps is empty"),
    "evaluate clip a number": (lambda m, x, y: attacks.evaluate(m, x, y, clip=1.0), TypeError, r"^evaluate: clip must be"),
    "worst_case eps True": (lambda m, x, y: attacks.worst_case(m, x, y, True, white_box={"fgsm": attacks.fgsm}),
                            TypeError, r"^worst_case: eps must be .*, got True$"),
    "square p_init a string": (lambda m, x, y: attacks.square_attack(m, x, y, p_init="0.1"), TypeError,
                               r"^square_attack: p_init must be a number, got '0\.1'$"),
    "pgd step_size a string": (lambda m, x, y: attacks.pgd(m, x, y, step_size="0.01"), TypeError,
                               r"^pgd: step_size must be a number, got '0\.01'$"),
    "apgd rho a string": (lambda m, x, y: attacks.apgd_ce(m, x, y, rho="0.75"), TypeError,
                          r"^apgd_ce: rho must be a number, got '0\.75'$"),
    "fgsm_random_start step a bool": (lambda m, x, y: attacks.fgsm_random_start(m, x, y, step_size=True), TypeError,
                                      r"^fgsm_random_start: step_size must be a number, got True$"),
    "linearity eps_max a string": (lambda m, x, y: attacks.linearity(m, x, y, eps_max="1"), TypeError,
                                   r"^linearity: eps_max must be a number, got '1'$"),
    "objective eps a string": (lambda m, x, y: attacks.AdversarialObjective(eps="0.25"), TypeError,
                               r"^AdversarialObjective: eps must be a number, got '0\.25'$"),
    "objective clip a number": (lambda m, x, y: attacks.AdversarialObjective(clip=1.0), TypeError,
                                r"^AdversarialObjective: clip must be None or a pair of numbers"),
    "evaluate x NaN": (lambda m, x, y: attacks.evaluate(m, np.where(x > 0.5, np.nan, x), y), ValueError,
                       r"^evaluate: x contains NaN or inf$"),
    "worst_case x NaN": (lambda m, x, y: attacks.worst_case(m, np.where(x > 0.5, np.nan, x), y, 0.1,
                                                            white_box={"fgsm": attacks.fgsm}), ValueError,
                         r"^worst_case: x contains NaN or inf$"),
    "x float16": (lambda m, x, y: attacks.fgsm(m, x.astype(np.float16), y), TypeError,
                  r"^fgsm: x has dtype float16, too coarse .*: pass x\.astype\(np\.float32\)$"),
    "noise x float16": (lambda m, x, y: attacks.random_sign_noise(x.astype(np.float16), 0.1), TypeError,
                        r"^random_sign_noise: x has dtype float16"),
}


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENTS))
def test_a_bad_argument_is_refused_naming_the_function_the_argument_and_the_value_given(name):
    """Each gave NumPy's or Python's words (float() argument must be..., has no len(), '<' not supported),
    or ran: eps=True as 1.0, eps='0.1' as 0.1, float16 x beyond the eps-ball; NaN x was named by cross_entropy."""
    call, error, message = BAD_ARGUMENTS[name]
    model = small_softmax()
    x = np.random.default_rng(0).uniform(0, 1, size=(4, 6)).astype(np.float32)
    with pytest.raises(error, match=message):
        call(model, x, model.predict(x))


def test_square_spends_no_query_on_rows_of_eps_zero(monkeypatch):
    """It spent its whole budget on them (12 s for 300 queries on 32 images); fgsm returns a copy at once."""
    model = small_softmax()
    x = np.random.default_rng(0).uniform(0, 1, size=(6, 6)).astype(np.float32)
    y = model.predict(x)
    asked = []
    real = type(model).logits_of
    monkeypatch.setattr(type(model), "logits_of", lambda self, rows, *a, **k: asked.append(len(rows)) or real(self, rows, *a, **k))
    same = attacks.square_attack(model, x, y, eps=0.0, queries=50, seed=0)
    assert asked == [] and np.array_equal(same, x) and same is not x
    eps = np.array([0.0, 0.3, 0.0, 0.3, 0.0, 0.0])
    moved = attacks.square_attack(model, x, y, eps=eps, queries=5, seed=0)
    assert max(asked) == 2 and np.array_equal(moved[eps == 0], x[eps == 0])


def test_preprocessed_units_are_named_in_the_errors_that_concern_them():
    """fgsm_preprocessed(eps=[]) said 'finite numbers >= 0'; an attack on the preprocessed view with the
    default clip said only 'outside clip=(0, 1)'."""
    net = models.ConvMaxoutNetwork("tiny", input_shape=(3, 4, 4), n_classes=3, preprocessing="gcn_zca", seed=0)
    x = np.random.default_rng(0).uniform(0, 1, size=(5, 48)).astype(np.float32)
    net.preprocess.fit(x)
    with pytest.raises(ValueError, match="^fgsm_preprocessed: eps is empty"):
        attacks.fgsm_preprocessed(net, x, np.zeros(5, np.int64), [])
    z = net.preprocess(x).data
    with pytest.raises(ValueError, match=r"^fgsm: x has values in .*, outside clip=\(0, 1\); x is in the model's "
                                         r"preprocessed units, which have no valid range: pass clip=None$"):
        attacks.fgsm(net.on_preprocessed(), z, np.zeros(5, np.int64), 0.1)


# --- round 3 of issue 25: a Tensor as x, and attacks that write into x ------------------------------
TENSOR_X = {  # each takes x as a Tensor and must give what it gives for the Tensor's values
    "fgsm": lambda m, x, y: attacks.fgsm(m, x, y, 0.1),
    "pgd": lambda m, x, y: attacks.pgd(m, x, y, 0.1, step_size=0.05, steps=2, seed=0),
    "square_attack": lambda m, x, y: attacks.square_attack(m, x, y, 0.1, queries=4, seed=0),
    "random_sign_noise": lambda m, x, y: attacks.random_sign_noise(x, 0.1, seed=0),
    "evaluate": lambda m, x, y: attacks.evaluate(m, x, y, eps=[0.0, 0.1])[1]["error_rate"],
    "worst_case": lambda m, x, y: attacks.worst_case(m, x, y, 0.1, white_box={"fgsm": attacks.fgsm})["worst_case"]["error_rate"],
    "linearity": lambda m, x, y: attacks.linearity(m, x, y, num=3)["logits"],
    "attack_direction": lambda m, x, y: attacks.attack_direction(m, x, y),
    "input_gradient": lambda m, x, y: attacks.input_gradient(m, x, y),
}


@pytest.mark.parametrize("name", sorted(TENSOR_X))
def test_x_may_be_a_tensor_whose_values_are_attacked(name):
    """fgsm(model, mg.Tensor(x)) said 'x must be a floating-point array, got dtype object'; evaluate said
    'x must be a batch of examples (N, ...), got a scalar'."""
    model = small_softmax()
    x = np.random.default_rng(0).uniform(0, 1, size=(4, 6)).astype(np.float32)
    y = model.predict(x)
    np.testing.assert_array_equal(TENSOR_X[name](model, mg.Tensor(x), y), TENSOR_X[name](model, x, y))


def inplace(model, x, y, eps, clip=(0.0, 1.0)):
    """FGSM written into x itself: the caller's x moved by eps at every call, and the bound check, measuring
    from the moved x, saw no perturbation at all."""
    x += np.float32(eps) * np.sign(attacks.attack_direction(model, x, y))
    np.clip(x, *clip, out=x)
    return x


def relabelling(model, x, y, eps, clip=(0.0, 1.0)):
    """An attack that overwrites the labels it is given, so the model is scored against other ones."""
    y[:] = (y + 1) % model.n_classes
    return attacks.fgsm(model, x, y, eps, clip=clip)


MEASURING_ONE_EPS = {
    "worst_case": lambda m, x, y, attack: attacks.worst_case(m, x, y, 0.02, white_box={attack.__name__: attack,
                                                                                        "fgsm": attacks.fgsm}),
    "evaluate": lambda m, x, y, attack: attacks.evaluate(m, x, y, attack=attack, eps=[0.02, 0.04, 0.06, 0.08]),
    "transfer_matrix": lambda m, x, y, attack: attacks.transfer_matrix([m, m], x, y, 0.02, attack=attack),
}


@pytest.mark.parametrize("measure", sorted(MEASURING_ONE_EPS))
@pytest.mark.parametrize("attack", [inplace, relabelling], ids=lambda a: a.__name__)
def test_a_measurement_refuses_an_attack_that_writes_into_its_inputs_and_leaves_them_unchanged(trained, measure, attack):
    """evaluate with the in-place attack reported linf 0.0 at every eps and left the user's x moved by 0.20;
    worst_case counted fgsm on the moved x (0.875 beside fgsm's own 0.75)."""
    model, X, y = trained
    x, labels = X[:40].copy(), y[:40].copy()
    with pytest.raises(ValueError, match=f"^{measure}: the attack '{attack.__name__}' wrote into a read-only array"):
        MEASURING_ONE_EPS[measure](model, x, labels, attack)
    np.testing.assert_array_equal(x, X[:40])
    np.testing.assert_array_equal(labels, y[:40])
