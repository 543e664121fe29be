"""models.KNearestNeighbors: the brute-force definition, its tie rule, its memory bound, files, and no gradient."""

import tracemalloc
from collections import Counter

import numpy as np
import pytest

import attacks
import models
from models import neighbors


def brute_force(stored_x, stored_y, queries, k, n_classes):
    """(predictions, vote fractions) by the definition, one query at a time, in exact integer arithmetic."""
    predictions, fractions = [], []
    for q in queries.astype(np.int64):
        d = [int(((q - s) ** 2).sum()) for s in stored_x.astype(np.int64)]
        order = sorted(range(len(d)), key=lambda i: (d[i], i))[:k]  # equal distances: lower index first
        labels = [int(stored_y[i]) for i in order]
        votes = Counter(labels)
        most = max(votes.values())
        predictions.append(next(label for label in labels if votes[label] == most))  # the tied class met first
        fractions.append([votes[c] / k for c in range(n_classes)])
    return np.array(predictions), np.array(fractions, np.float32)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 40])
def test_predictions_equal_the_definition_computed_one_query_at_a_time(k):
    """Small integer features make the float32 distances exact, so many distances tie: the tie rules are
    exercised, not only the common case."""
    rng = np.random.default_rng(k)
    stored_x = rng.integers(0, 3, (40, 5)).astype(np.float32)
    stored_y = rng.integers(0, 4, 40)
    queries = rng.integers(0, 3, (30, 5)).astype(np.float32)
    model = models.KNearestNeighbors(k=k, n_features=5, n_classes=4).fit(stored_x, stored_y)
    expected, fractions = brute_force(stored_x, stored_y, queries, k, 4)
    np.testing.assert_array_equal(model.predict(queries), expected)
    np.testing.assert_allclose(model.predict_proba(queries), fractions, rtol=1e-6)


def test_a_tie_in_votes_goes_to_the_class_of_the_nearest_and_equal_distances_to_the_example_stored_first():
    model = models.KNearestNeighbors(k=3, n_features=1, n_classes=3)
    model.fit(np.array([[0.0], [2.0], [-2.0], [5.0]], np.float32), [1, 0, 2, 0])
    assert model.predict(np.array([[0.9]], np.float32)).tolist() == [1]  # one vote each: class 1's member is nearest
    assert model.predict(np.array([[1.1]], np.float32)).tolist() == [0]
    twins = models.KNearestNeighbors(k=1, n_features=1, n_classes=3).fit(np.array([[1.0], [-1.0]], np.float32), [2, 1])
    assert twins.predict(np.array([[0.0]], np.float32)).tolist() == [2]  # both at distance 1: the first stored wins


def test_a_saved_model_loads_with_its_stored_set_and_predicts_the_same(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.random((25, 6), dtype=np.float32), rng.integers(0, 3, 25)
    model = models.KNearestNeighbors(k=3, n_features=6, n_classes=3).fit(X, y)
    models.save(model, tmp_path / "knn.npz")
    loaded = models.load(tmp_path / "knn.npz")
    assert isinstance(loaded, models.KNearestNeighbors) and loaded.config == model.config
    assert loaded.config["n_stored"] == 25
    queries = rng.random((10, 6), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(queries), model.predict(queries))


@pytest.mark.parametrize("budget, within", [(2**20, True), (2**30, False)], ids=["bounded", "unbounded"])
def test_prediction_keeps_its_temporaries_within_the_working_budget(monkeypatch, budget, within):
    """5,000 stored examples and 500 queries: all the distances at once would be 10 MB (plus the ranking's
    indices); with a 1 MiB budget the peak of new memory stays near 1 MiB."""
    rng = np.random.default_rng(1)
    model = models.KNearestNeighbors(k=5, n_features=50, n_classes=10)
    model.fit(rng.random((5000, 50), dtype=np.float32), rng.integers(0, 10, 5000))
    queries = rng.random((500, 50), dtype=np.float32)
    monkeypatch.setattr(neighbors, "WORKING_BYTES", budget)
    tracemalloc.start()
    try:
        model.predict(queries, batch_size=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (peak < 2 * 2**20) == within, peak


def test_gradient_attacks_refuse_it_and_name_transfer():
    rng = np.random.default_rng(2)
    X, y = rng.random((20, 4), dtype=np.float32), rng.integers(0, 2, 20)
    model = models.KNearestNeighbors(k=1, n_features=4, n_classes=2).fit(X, y)
    with pytest.raises(TypeError, match="not differentiable.*transfer"):
        attacks.fgsm(model, X, y, 0.1)
    with pytest.raises(TypeError, match="KNearestNeighbors is not differentiable"):
        attacks.input_gradient(model, X, y)


def test_bad_settings_and_data_are_refused_naming_the_problem():
    with pytest.raises(ValueError, match="k"):
        models.KNearestNeighbors(k=0, n_features=3)
    model = models.KNearestNeighbors(k=3, n_features=3, n_classes=2)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        model.fit(np.zeros((4, 2), np.float32), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="NaN or inf"):
        model.fit(np.full((4, 3), np.nan, np.float32), [0, 1, 0, 1])
    with pytest.raises(ValueError):
        model.fit(np.zeros((4, 3), np.float32), [0, 1, 2, 1])  # label 2 of 2 classes
    with pytest.raises(ValueError, match="fit"):
        model.predict(np.zeros((1, 3), np.float32))  # nothing stored yet
    model.fit(np.zeros((2, 3), np.float32), [0, 1])
    with pytest.raises(ValueError, match="k=3 needs at least 3"):
        model.predict(np.zeros((1, 3), np.float32))


def test_apgd_refuses_it_too_and_fit_keeps_its_own_copy_of_the_data():
    rng = np.random.default_rng(3)
    X, y = rng.random((20, 4), dtype=np.float32), rng.integers(0, 2, 20)
    model = models.KNearestNeighbors(k=1, n_features=4, n_classes=2).fit(X, y)
    with pytest.raises(TypeError, match="not differentiable"):
        attacks.apgd_ce(model, X, y, 0.1, iterations=2)
    before = model.predict(X)
    X[:] = 0.0
    y[:] = 1
    assert not np.shares_memory(model.stored_x, X) and not np.shares_memory(model.stored_y, y)
    np.testing.assert_array_equal(model.predict(model.stored_x), before)  # the stored set is as it was given


def test_its_scores_are_float32_without_a_float64_step():
    model = models.KNearestNeighbors(k=3, n_features=2, n_classes=3)
    scores = model.votes(np.array([[2, 0, 2], [1, 1, 1]]))
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, [[1 + 2 / 4, 0, 2 + 3 / 4], [0, 3 + 3 / 4, 0]], rtol=1e-6)
