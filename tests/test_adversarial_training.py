"""Adversarial training: the objective's value and gradient, its closed form, and its effect."""

import numpy as np
import pytest

import attacks
import minigrad as mg
import models
import training
from test_attacks import faint_patterns
from training.synthetic import strong_and_faint_features


def grads_of(model, loss):
    model.zero_grad()
    loss.backward()
    return [p.grad.copy() for p in model.parameters()]


def test_objective_is_the_weighted_sum_with_a_constant_perturbation():
    X, y = faint_patterns(40, seed=3)
    model = models.MLP((784, 16, 10), seed=0)
    objective = attacks.AdversarialObjective(eps=0.1, alpha=0.3)
    value = objective(model, X, y)
    ours = grads_of(model, value)
    x_adv = attacks.fgsm(model, X, y, eps=0.1, clip=None)
    reference = 0.3 * model.loss(model(mg.Tensor(X)), y) + 0.7 * model.loss(model(mg.Tensor(x_adv)), y)
    assert value.item() == pytest.approx(reference.item(), rel=1e-5)
    for a, b in zip(ours, grads_of(model, reference)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_logistic_closed_form_equals_the_fgsm_objective_value_and_gradient():
    rng = np.random.default_rng(0)
    model = models.LogisticRegression(12, init=0.3, seed=2)
    model.linear.bias.data[:] = -0.2
    X = rng.uniform(0, 1, size=(30, 12)).astype(np.float32)
    y = rng.integers(0, 2, size=30)
    closed = attacks.logistic_adversarial_loss(0.1)(model, X, y)
    fgsm_objective = attacks.AdversarialObjective(eps=0.1, alpha=0.0, clip=None)(model, X, y)
    assert closed.item() == pytest.approx(fgsm_objective.item(), rel=1e-5)
    for a, b in zip(grads_of(model, closed), grads_of(model, fgsm_objective)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_label_predicted_crafts_against_the_models_own_predictions():
    X, y = faint_patterns(20, seed=4)
    model = models.SoftmaxRegression(784, 10, init=0.01, seed=0)
    wrong = (y + 1) % 10
    objective = attacks.AdversarialObjective(eps=0.1, label="predicted")
    np.testing.assert_array_equal(objective.craft(model, X, wrong), attacks.fgsm(model, X, model.predict(X), 0.1, clip=None))
    pgd = attacks.AdversarialObjective(eps=0.1, attack="pgd", attack_kwargs={"steps": 2, "random_start": False})
    assert np.abs(pgd.craft(model, X, y) - X).max() <= 0.1 + 1e-6


def test_crafting_leaves_the_training_mode_on():
    X, y = faint_patterns(20, seed=5)
    model = models.MaxoutNetwork(784, hidden=(8, 8), pieces=2, n_classes=10, init=0.05, seed=0).train()
    attacks.AdversarialObjective(eps=0.1)(model, X, y).backward()
    assert all(m.training for m in model.modules())


def test_adversarial_training_makes_the_model_robust():
    X, y = strong_and_faint_features(1500, seed=6)
    X_test, y_test = X[1200:], y[1200:]
    results = {}
    for name, loss in (("plain", None), ("adversarial", attacks.AdversarialObjective(eps=0.2))):
        model = models.SoftmaxRegression(784, 10)
        training.fit(model, X[:1200], y[:1200], epochs=5, batch_size=50, loss=loss,
                     optimizer=training.SGD(model.parameters(), lr=0.1), progress=False)
        clean, adversarial = attacks.evaluate(model, X_test, y_test, eps=[0.0, 0.2], clip=None)
        results[name] = (clean["error_rate"], adversarial["error_rate"])
    assert results["plain"][1] > 0.9  # FGSM at 0.2 fools the plainly trained model
    assert results["adversarial"][1] < 0.1  # not the adversarially trained one
    assert results["adversarial"][0] < 0.05 and results["plain"][0] < 0.05  # both classify clean examples


def test_objective_argument_errors():
    with pytest.raises(ValueError, match="alpha must be in"):
        attacks.AdversarialObjective(alpha=1.5)
    with pytest.raises(ValueError, match="eps must be finite and >= 0"):
        attacks.AdversarialObjective(eps=-1)
    with pytest.raises(ValueError, match="attack must be one of"):
        attacks.AdversarialObjective(attack="cw")
    with pytest.raises(ValueError, match="label must be one of"):
        attacks.AdversarialObjective(label="leaked")


def test_the_triangular_schedule_rises_to_its_peak_and_falls_back_without_reaching_zero():
    schedule = training.Triangular("lr", 5e-3, 100)
    values = [schedule.value(step, 0) for step in range(100)]
    assert int(np.argmax(values)) in (39, 40) and max(values) <= 5e-3 and min(values) > 0
    assert all(a < b for a, b in zip(values[:39], values[1:40])) and all(a > b for a, b in zip(values[40:], values[41:]))
    with pytest.raises(ValueError, match="peak"):
        training.Triangular("lr", 0.0, 10)


def test_fast_adversarial_training_trains_on_fgsm_from_a_random_start_only():
    X, y = faint_patterns(300)
    model = models.SoftmaxRegression(784, 10, init=0.01, seed=0)
    recipe = attacks.fast_adversarial_recipe(model, len(X), epochs=2, eps=0.1, step_size=0.125)
    objective = recipe["loss"]
    assert objective.alpha == 0.0 and objective.attack == "fgsm_rs"
    assert objective.attack_kwargs == {"step_size": 0.125, "random_start": True}
    objective.set_rng(np.random.default_rng(5))
    x_adv = attacks.fgsm_random_start(model, X[:50], y[:50], 0.1, step_size=0.125, seed=np.random.default_rng(5))
    expected = model.loss(model(mg.Tensor(x_adv)), y[:50])
    assert np.isclose(objective(model, X[:50], y[:50]).item(), expected.item(), rtol=1e-5)  # no clean half
    assert np.abs(x_adv - X[:50]).max() <= 0.1 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert recipe["schedules"][0].steps == 2 * 3 and recipe["batch_size"] == 100


def test_fast_adversarial_training_makes_the_model_robust_to_pgd():
    X, y = strong_and_faint_features(1500, seed=6)  # strong features survive eps = 0.15; the faint ones do not
    X_test, y_test = X[1200:], y[1200:]
    pgd = lambda m: float(np.mean(m.predict(attacks.pgd(m, X_test, y_test, 0.15, step_size=0.04, steps=10, seed=0)) != y_test))  # noqa: E731
    clean_model, robust_model = models.SoftmaxRegression(784, 10), models.SoftmaxRegression(784, 10)
    training.fit(clean_model, X[:1200], y[:1200], epochs=10, batch_size=100, progress=False, seed=0,
                 optimizer=training.Adam(clean_model.parameters(), lr=5e-3))
    training.fit(robust_model, X[:1200], y[:1200], progress=False, seed=0,
                 **attacks.fast_adversarial_recipe(robust_model, 1200, epochs=10, eps=0.15, step_size=0.1875))
    assert training.error_rate(robust_model, X_test, y_test) < 0.05
    assert pgd(clean_model) > 0.8 and pgd(robust_model) < 0.1


def test_fgsm_random_start_takes_the_gradient_before_clipping_and_is_fgsm_without_the_start():
    model = models.SoftmaxRegression(784, 10, init=0.01, seed=0)
    X, y = faint_patterns(40)
    X[:, :100] = 0.0  # a dark border, as MNIST's background
    plain = attacks.fgsm_random_start(model, X, y, 0.3, step_size=0.375, random_start=False)
    np.testing.assert_allclose(plain, attacks.fgsm(model, X, y, 0.3), atol=1e-6)  # step >= eps: plain FGSM
    seen = []
    real = attacks.methods.attack_direction
    try:
        attacks.methods.attack_direction = lambda m, x, yy, **k: seen.append(x.copy()) or real(m, x, yy, **k)
        x_adv = attacks.fgsm_random_start(model, X, y, 0.3, step_size=0.375, seed=1)
    finally:
        attacks.methods.attack_direction = real
    assert seen[0][:, :100].min() < -0.1  # the start below the valid range, as in Wong et al.'s code
    assert np.abs(x_adv - X).max() <= 0.3 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    with pytest.raises(ValueError, match="step_size"):
        attacks.fgsm_random_start(model, X, y, 0.3, step_size=-1)
