"""attacks.blackbox (the label-only oracle, Jacobian-based augmentation, the substitute) and kNN's stand-in."""

import numpy as np
import pytest

import attacks
import minigrad as mg
import models
import training
from attacks import blackbox
from conftest import synthetic_idx_arrays


def synthetic(n, seed):
    X, y = synthetic_idx_arrays(n, seed)
    return (X.reshape(n, -1) / np.float32(255)).astype(np.float32), y


def trained_softmax(X, y, epochs=3):
    model = models.SoftmaxRegression(X.shape[1], 10)
    training.fit(model, X, y, progress=False, monitor_size=0, seed=0,
                 **training.linear_classifier_recipe(model, epochs=epochs))
    return model


# --- the oracle ---------------------------------------------------------------------------------------------

def test_the_oracle_answers_labels_only_and_counts_every_row():
    X, y = synthetic(60, 0)
    victim = trained_softmax(X, y)
    oracle = blackbox.LabelOracle(victim)
    labels = oracle.labels(X[:25])
    assert labels.dtype == np.int64 and labels.shape == (25,)
    np.testing.assert_array_equal(labels, victim.predict(X[:25]))
    oracle.labels(X[:5])
    assert oracle.queries == 30
    for name in ("logits", "predict_proba", "parameters", "forward", "loss", "logits_of", "direction_loss", "weight"):
        assert not hasattr(oracle, name), name
    with pytest.raises(TypeError, match="LabelOracle is not differentiable.*black-box attack"):
        attacks.fgsm(oracle, X[:5], y[:5], 0.1)
    with pytest.raises(ValueError, match=r"shape \(N, 784\)"):
        oracle.labels(X[:2, :10])


def test_the_oracle_stays_frozen_while_the_substitute_learns_from_it():
    """CleverHans #183: an oracle that trained along with the substitute made the attack look far weaker."""
    X, y = synthetic(300, 1)
    victim = trained_softmax(X, y)
    before = {name: w.data.copy() for name, w in victim.named_weights()}
    oracle = blackbox.LabelOracle(victim)
    blackbox.train_substitute(oracle, X[:20], models.MLP((784, 30, 10), seed=0), rounds=2, epochs=2)
    for name, w in victim.named_weights():
        np.testing.assert_array_equal(w.data, before[name])


# --- the augmentation ---------------------------------------------------------------------------------------

def test_the_augmentation_steps_along_the_sign_of_the_chosen_probabilitys_gradient():
    """For softmax regression, p = softmax(x W + b) and d log p_c / dx = W[:, c] - sum_j p_j W[:, j], whose sign is
    that of d p_c / dx: the new point is x + step * that sign (computed here in float64)."""
    rng = np.random.default_rng(0)
    model = models.SoftmaxRegression(6, 3)
    model.linear.weight.data[...] = rng.standard_normal((6, 3)).astype(np.float32)
    x = rng.random((4, 6), dtype=np.float32)
    labels = np.array([0, 2, 1, 2])
    W = model.linear.weight.data.astype(np.float64)
    z = x.astype(np.float64) @ W
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    slope = W[:, labels].T - p @ W.T
    new = blackbox.jacobian_augmentation(model, x, labels, -0.1)
    np.testing.assert_allclose(new, x - np.float32(0.1) * np.sign(slope), rtol=0, atol=1e-7)
    assert new.dtype == np.float32


def test_the_augmentation_keeps_a_direction_where_the_softmax_saturates():
    """p_c rounds to 1 in float32, so its plain gradient is 0; the step must still move every coordinate."""
    model = models.SoftmaxRegression(4, 2)
    model.linear.weight.data[...] = np.array([[60.0, -60.0], [30.0, -30.0], [-20.0, 20.0], [10.0, -10.0]], np.float32)
    x = np.ones((1, 4), np.float32)
    new = blackbox.jacobian_augmentation(model, x, [0], -0.1)  # towards class 1: against sign(W[:, 0] - W[:, 1])
    np.testing.assert_allclose(new - x, [[-0.1, -0.1, 0.1, -0.1]], atol=1e-7)


def test_the_augmentation_of_a_network_agrees_with_finite_differences():
    rng = np.random.default_rng(1)
    model = models.MLP((5, 7, 3), seed=2)
    x = rng.random((3, 5)).astype(np.float32)
    labels = np.array([1, 0, 2])
    new = blackbox.jacobian_augmentation(model, x, labels, 0.5)

    def log_p(row, c):
        z = model.logits_of(row)[0].astype(np.float64)
        return z[c] - np.log(np.exp(z - z.max()).sum()) - z.max()

    h = 1e-2
    for i in range(3):
        for j in range(5):
            up, down = x[i : i + 1].copy(), x[i : i + 1].copy()
            up[0, j] += h
            down[0, j] -= h
            slope = (log_p(up, labels[i]) - log_p(down, labels[i])) / (2 * h)
            if abs(slope) > 1e-3:  # clear of zero: the sign is unambiguous
                assert new[i, j] - x[i, j] == pytest.approx(0.5 * np.sign(slope), abs=1e-6)


def test_the_substitute_asks_only_new_points_and_flips_its_step_every_few_rounds(monkeypatch):
    X, y = synthetic(200, 2)
    oracle = blackbox.LabelOracle(trained_softmax(X, y))
    steps = []
    real = blackbox.jacobian_augmentation

    def recording(substitute, x, labels, step):
        steps.append(step)
        return real(substitute, x, labels, step)

    monkeypatch.setattr(blackbox, "jacobian_augmentation", recording)
    sizes = []
    x_set, labels = blackbox.train_substitute(oracle, X[:10], models.MLP((784, 20, 10), seed=0), rounds=6, epochs=1,
                                              flip_every=3, after_round=lambda rho, m, n: sizes.append(n))
    assert steps == [-0.1, -0.1, -0.1, 0.1, 0.1]  # CleverHans' tutorial: towards the boundary first
    assert sizes == [10, 20, 40, 80, 160, 320] and len(x_set) == len(labels) == 320
    assert oracle.queries == 320  # 10 * 2^5: each point asked once
    first_new = x_set[10:20] - x_set[:10]
    size = np.abs(first_new)
    assert (np.isclose(size, 0.0, atol=1e-6) | np.isclose(size, 0.1, atol=1e-6)).all()  # x - 0.1 * sign(...), unclipped


def test_train_substitute_refuses_a_model_as_its_oracle():
    X, y = synthetic(40, 3)
    with pytest.raises(TypeError, match="LabelOracle"):
        blackbox.train_substitute(trained_softmax(X, y), X[:5], models.MLP((784, 5, 10)))


def test_on_mnist_the_substitute_learns_the_oracle_from_150_images_and_its_examples_transfer(mnist_or_skip):
    X, y = mnist_or_skip("train")
    X_test, y_test = mnist_or_skip("test")
    victim = trained_softmax(X[:10_000], y[:10_000], epochs=3)
    oracle = blackbox.LabelOracle(victim)
    substitute = models.MLP((784, 200, 200, 10), seed=0)
    blackbox.train_substitute(oracle, X_test[:150], substitute, rounds=4, epochs=10)
    x_eval, y_eval = X_test[150:1150], y_test[150:1150]
    agreement = np.mean(substitute.predict(x_eval) == victim.predict(x_eval))
    assert agreement > 0.7 and oracle.queries == 150 * 8
    x_adv = attacks.fgsm(substitute, x_eval, y_eval, 0.3, clip=(0, 1))
    assert np.abs(x_adv - x_eval).max() <= 0.3 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert np.mean(victim.predict(x_adv) == y_eval) < np.mean(victim.predict(x_eval) == y_eval) - 0.3


# --- kNN's stand-in ------------------------------------------------------------------------------------------

def test_the_stand_ins_logits_are_minus_the_mean_squared_distance_to_each_class_nearest():
    rng = np.random.default_rng(4)
    X, y = rng.random((90, 5), dtype=np.float32), rng.integers(0, 3, 90)
    knn = models.KNearestNeighbors(k=4, n_features=5, n_classes=3).fit(X, y)
    stand_in = models.SoftNearestNeighbors(knn, temperature=2.0)
    queries = rng.random((7, 5), dtype=np.float32)
    expected = [[-np.sort(((X[y == c] - q) ** 2).sum(axis=1))[:4].mean() / 2.0 for c in range(3)] for q in queries]
    np.testing.assert_allclose(stand_in.logits_of(queries), expected, rtol=1e-5, atol=1e-5)


def test_the_stand_ins_gradient_agrees_with_finite_differences():
    rng = np.random.default_rng(5)
    X, y = rng.random((60, 4), dtype=np.float32), rng.integers(0, 3, 60)
    stand_in = models.SoftNearestNeighbors(models.KNearestNeighbors(k=2, n_features=4, n_classes=3).fit(X, y))
    x, label = rng.random((1, 4), dtype=np.float32), np.array([1])
    gradient = attacks.input_gradient(stand_in, x, label)
    h = 1e-3
    for j in range(4):
        up, down = x.copy(), x.copy()
        up[0, j] += h
        down[0, j] -= h
        loss = lambda z: float(stand_in.loss(mg.Tensor(stand_in.logits_of(z)), label).data)  # noqa: E731
        assert gradient[0, j] == pytest.approx((loss(up) - loss(down)) / (2 * h), rel=2e-2, abs=2e-3)


def test_fgsm_on_the_stand_in_fools_the_knn_it_stands_for():
    X, y = synthetic(400, 6)
    knn = models.KNearestNeighbors(k=3).fit(X[:300], y[:300])
    x, labels = X[300:], y[300:]
    assert np.mean(knn.predict(x) == labels) > 0.9
    x_adv = attacks.fgsm(models.SoftNearestNeighbors(knn), x, labels, 0.3, clip=(0, 1))
    assert np.mean(knn.predict(x_adv) == labels) < 0.5
    assert np.abs(x_adv - x).max() <= 0.3 + 1e-6


def test_the_stand_in_refuses_a_temperature_that_is_not_positive():
    knn = models.KNearestNeighbors(k=1, n_features=2, n_classes=2).fit(np.eye(2), [0, 1])
    for bad in (0, -1.0, float("nan"), "1"):
        with pytest.raises(ValueError, match="temperature must be a positive number"):
            models.SoftNearestNeighbors(knn, temperature=bad)


def test_the_stand_in_needs_k_examples_of_every_class():
    knn = models.KNearestNeighbors(k=3, n_features=2, n_classes=3).fit(np.zeros((5, 2)), [0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"classes \[1, 2\]"):
        models.SoftNearestNeighbors(knn)
