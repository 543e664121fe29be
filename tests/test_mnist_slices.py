"""Real MNIST, on small slices (skipped, with a reason, when neither MINIGRAD_DATA nor the cache holds it)."""

import numpy as np
import pytest

import attacks
import models
import training


@pytest.fixture(scope="module")
def mnist_slice(mnist_or_skip):
    (X, y), (X_test, y_test) = mnist_or_skip("train"), mnist_or_skip("test")
    return (X[:5000], y[:5000]), (X_test[:2000], y_test[:2000])


@pytest.mark.parametrize(
    "make, lr, max_error",
    [
        (lambda: models.SoftmaxRegression(), 0.1, 0.15),
        (lambda: models.MLP((784, 100, 10), seed=0), 0.1, 0.15),
    ],
    ids=["softmax", "mlp"],
)
def test_learning_happens_on_a_slice(mnist_slice, make, lr, max_error):
    (X, y), (X_test, y_test) = mnist_slice
    model = make()
    training.fit(model, X, y, epochs=2, batch_size=50, optimizer=training.SGD(model.parameters(), lr=lr, momentum=0.5),
                 progress=False)
    assert training.error_rate(model, X_test, y_test) < max_error  # chance: 90%


def test_fgsm_fools_a_real_softmax_and_noise_does_not(mnist_slice):
    (X, y), (X_test, y_test) = mnist_slice
    model = models.SoftmaxRegression()
    training.fit(model, X, y, epochs=1, batch_size=100, optimizer=training.SGD(model.parameters(), lr=0.1), progress=False)
    fgsm, noise = (attacks.evaluate(model, X_test, y_test, attack=a, eps=[0.25], clip=None)[0]
                   for a in (attacks.fgsm, attacks.noise_attack(seed=0)))
    assert fgsm["error_rate"] > 0.95 and noise["error_rate"] < 0.25
    assert fgsm["n"] == 2000 and np.isfinite(fgsm["confidence_wrong"])
