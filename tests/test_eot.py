"""attacks.eot: the expected gradient over fixed draws, EOT-PGD's bounds and effect, and adversariality."""

import numpy as np
import pytest

import attacks
import minigrad as mg
import models
import training
from attacks import camera, eot
from conftest import synthetic_idx_arrays

SHAPE = (1, 28, 28)


@pytest.fixture(scope="module")
def trained():
    X, y = synthetic_idx_arrays(700, 0)
    X = (X.reshape(700, -1) / np.float32(255)).astype(np.float32)
    model = models.MLP((784, 64, 10), seed=0)
    training.fit(model, X[:600], y[:600], progress=False, monitor_size=0, seed=0,
                 optimizer=training.SGD(model.parameters(), lr=0.1, momentum=0.5), batch_size=50, epochs=3)
    return model, X[600:], y[600:]


class FixedBrightness:
    """Copy k of the stacked rows gets brightness deltas[k]: fixed draws, so the expectation is a known mean."""

    def __init__(self, deltas):
        self.deltas = np.asarray(deltas, np.float32)

    def __call__(self, t):
        n = len(t.data) // len(self.deltas)
        return mg.clip(t + np.repeat(self.deltas, n)[:, None], 0.0, 1.0)


def test_on_fixed_draws_the_eot_gradient_is_the_mean_of_the_per_draw_gradients(trained):
    model, x, y = trained
    x, y = x[:20], y[:20]
    deltas = [-0.1, 0.0, 0.05, 0.2]
    got = eot.eot_gradient(model, x, y, FixedBrightness(deltas), samples=4)
    each = [mg.grad(lambda t, d=d: mg.cross_entropy(model(mg.clip(t + np.float32(d), 0.0, 1.0)), y, reduction="sum"))(x)
            for d in deltas]
    np.testing.assert_allclose(got, np.mean(each, axis=0), rtol=1e-5, atol=1e-7)


def test_eot_pgd_stays_in_its_budget_and_survives_the_camera_better_than_pgd(trained):
    model, x, y = trained
    photo = camera.Photo(image_shape=SHAPE, seed=0)
    x_eot = eot.eot_pgd(model, x, y, 0.1, camera.Photo(image_shape=SHAPE, seed=1), samples=8, steps=10, step_size=0.02)
    x_pgd = attacks.pgd(model, x, y, 0.1, step_size=0.02, steps=10, random_start=False)
    assert np.abs(x_eot - x).max() <= 0.1 + 1e-6 and x_eot.min() >= 0 and x_eot.max() <= 1
    assert x_eot.dtype == np.float32
    survived_eot = eot.adversariality(model, x_eot, y, photo, draws=10)
    survived_pgd = eot.adversariality(model, x_pgd, y, camera.Photo(image_shape=SHAPE, seed=0), draws=10)
    assert survived_eot > survived_pgd + 0.1, (survived_eot, survived_pgd)


def test_adversariality_is_the_error_under_the_identity_and_counts_every_draw(trained):
    model, x, y = trained
    x_adv = attacks.fgsm(model, x, y, 0.2)
    calls = []

    def identity(z):
        calls.append(len(z))
        return z.copy()

    assert eot.adversariality(model, x_adv, y, identity, draws=3) == pytest.approx(np.mean(model.predict(x_adv) != y))
    assert calls == [len(x)] * 3
    assert eot.adversariality(model, x_adv, y, lambda z: x.copy(), draws=2) == pytest.approx(np.mean(model.predict(x) != y))


def test_eot_pgd_refuses_bad_settings(trained):
    model, x, y = trained
    with pytest.raises(ValueError, match="samples"):
        eot.eot_pgd(model, x[:2], y[:2], 0.1, lambda t: t, samples=0, steps=1)
    with pytest.raises(ValueError, match="step_size"):
        eot.eot_pgd(model, x[:2], y[:2], 0.1, lambda t: t, steps=1, step_size=-1.0)
    with pytest.raises(TypeError, match="not differentiable"):
        eot.eot_pgd(models.KNearestNeighbors(k=1).fit(x, y), x[:2], y[:2], 0.1, lambda t: t)


def test_with_no_camera_and_one_draw_eot_pgd_is_pgd_even_where_the_softmax_saturates(trained):
    """A model made very sure of itself (its last layer times 30): the float32 cross-entropy's gradient is exactly 0
    on most rows, and EOT-PGD must still move them as PGD (whose direction never vanishes) does."""
    model, x, y = trained
    sure = models.MLP((784, 64, 10), seed=0)
    for (_, mine), (_, theirs) in zip(sure.named_weights(), model.named_weights()):
        mine.data[...] = theirs.data
    last = list(sure.named_weights())[-2][1]  # the last layer's weight
    last.data *= 30
    identity = lambda t: t  # noqa: E731
    plain = attacks.pgd(sure, x, y, 0.1, step_size=0.02, steps=5, random_start=False)
    expected = eot.eot_pgd(sure, x, y, 0.1, identity, samples=1, steps=5, step_size=0.02)
    saturated = ~eot.eot_gradient(sure, x, y, identity, 1).any(axis=1)
    assert saturated.mean() > 0.5  # the case this test is about
    np.testing.assert_array_equal(expected, plain)


def test_the_exact_direction_is_a_positive_multiple_of_the_expected_gradient_for_each_example(trained):
    model, x, y = trained
    x, y = x[:20], y[:20]
    draws = FixedBrightness([-0.1, 0.0, 0.05, 0.2])
    mean = eot.eot_gradient(model, x, y, draws, samples=4).astype(np.float64)
    exact = eot.eot_gradient(model, x, y, draws, samples=4, exact=True).astype(np.float64)
    for m, e in zip(mean, exact):
        scale = (m @ e) / (m @ m)
        assert scale > 0
        np.testing.assert_allclose(e, scale * m, rtol=1e-3, atol=1e-4 * np.abs(e).max())
