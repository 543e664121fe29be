"""models.LinearSVM: its hinge loss and gradient against closed forms, training through the engine, and FGSM on it."""

import numpy as np
import pytest

import attacks
import minigrad as mg
import models
import training
from conftest import synthetic_idx_arrays


def hinge_by_hand(scores, y):
    """sum over c of max(0, 1 - t_c s_c) per row, t_c = +1 for the true class, -1 otherwise (float64)."""
    t = np.where(np.arange(scores.shape[1]) == y[:, None], 1.0, -1.0)
    return np.maximum(0.0, 1.0 - t * scores.astype(np.float64)).sum(axis=1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_the_loss_is_the_one_vs_rest_hinge(reduction):
    rng = np.random.default_rng(0)
    scores, y = (rng.standard_normal((8, 4)) * 2).astype(np.float32), rng.integers(0, 4, 8)
    model = models.LinearSVM(n_features=3, n_classes=4)
    losses = hinge_by_hand(scores, y)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    got = model.loss(mg.Tensor(scores), y, reduction=reduction)
    assert got.data.dtype == np.float32
    np.testing.assert_allclose(got.data, expected, rtol=1e-6)


def test_the_hinge_gradient_is_minus_the_target_inside_the_margin_and_zero_beyond_it():
    """d loss / d s_c = -t_c where 1 - t_c s_c > 0, else 0: the closed form, on scores away from the kinks."""
    rng = np.random.default_rng(1)
    scores = rng.uniform(-3, 3, (6, 5)).astype(np.float32)
    y = rng.integers(0, 5, 6)
    t = np.where(np.arange(5) == y[:, None], 1.0, -1.0)
    scores[np.abs(1 - t * scores) < 0.05] += 0.2  # no score on a kink
    model = models.LinearSVM(n_features=2, n_classes=5)
    got = mg.grad(lambda s: model.loss(s, y, reduction="sum"))(scores)
    np.testing.assert_array_equal(got, np.where(1 - t * scores > 0, -t, 0.0).astype(np.float32))


def trained_svm():
    images, labels = synthetic_idx_arrays(1200, seed=3)
    X = images.reshape(len(images), -1).astype(np.float32) / 255
    model = models.LinearSVM(seed=0)
    optimizer = training.SGD(model.parameters(), lr=0.01, momentum=0.5, weight_decay=1e-4)
    training.fit(model, X[:1000], labels[:1000], epochs=5, batch_size=50, optimizer=optimizer, progress=False, seed=0)
    return model, X[1000:], labels[1000:]


def test_trained_through_the_engine_it_learns_and_fgsm_fools_it_within_its_budget(tmp_path):
    model, X, y = trained_svm()
    clean_error = float((model.predict(X) != y).mean())
    assert clean_error < 0.05
    eps = 0.3  # the eps of the transfer experiments (Papernot et al. 2016); this synthetic data resists 0.25
    x_adv = attacks.fgsm(model, X, y, eps)
    assert np.abs(x_adv - X).max() <= eps + 1e-6 and x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    adversarial_error = float((model.predict(x_adv) != y).mean())
    assert adversarial_error > clean_error + 0.5, (clean_error, adversarial_error)
    models.save(model, tmp_path / "svm.npz")
    np.testing.assert_array_equal(models.load(tmp_path / "svm.npz").predict(x_adv), model.predict(x_adv))


def test_the_attack_direction_does_not_vanish_where_the_hinge_gradient_does():
    """Beyond the margin the hinge's input gradient is 0; the direction loss (softmax on the scores) is not."""
    model, X, y = trained_svm()
    scores = model.logits_of(X)
    t = np.where(np.arange(10) == y[:, None], 1.0, -1.0)
    beyond = (1 - t * scores <= 0).all(axis=1)
    assert beyond.any()
    plain = attacks.input_gradient(model, X[beyond], y[beyond])
    assert not plain.any()
    direction = attacks.attack_direction(model, X[beyond], y[beyond])
    assert (np.abs(direction).sum(axis=1) > 0).all()
