"""models.DecisionTree against an exhaustive CART search, and attacks.decision_tree_attack (Algorithm 2)."""

from collections import deque
from fractions import Fraction

import numpy as np
import pytest

import attacks
import models
from models import decision_tree


def exhaustive_tree(X, y, n_classes, max_depth, min_samples_leaf):
    """CART by the definition: at each node every feature and every midpoint between two neighbouring values the
    node holds, scored by the weighted Gini impurity in exact fractions; the lowest impurity wins, then the
    lowest feature, then the lowest threshold; an impure node splits even if no split lowers it. Nodes are
    numbered breadth first. Returns (feature, threshold, left, right, class counts) as lists."""

    def impurity(labels):
        n = len(labels)
        return n - sum(Fraction(int((labels == c).sum()) ** 2, n) for c in range(n_classes))  # n * Gini

    feature, threshold, left, right, counts = [], [], [], [], []
    queue = deque([(np.arange(len(X)), 0, None)])
    while queue:
        examples, depth, parent = queue.popleft()
        number = len(feature)
        for array, value in ((feature, -1), (threshold, 0.0), (left, -1), (right, -1)):
            array.append(value)
        counts.append(np.bincount(y[examples], minlength=n_classes).tolist())
        if parent is not None:
            (left if parent[1] == "left" else right)[parent[0]] = number
        if len(set(y[examples].tolist())) < 2 or (max_depth is not None and depth >= max_depth):
            continue
        best = None
        for f in range(X.shape[1]):
            values = sorted(set(X[examples, f].tolist()))
            for low, high in zip(values, values[1:]):
                goes_left = X[examples, f] <= low
                if min(goes_left.sum(), (~goes_left).sum()) < min_samples_leaf:
                    continue
                score = impurity(y[examples][goes_left]) + impurity(y[examples][~goes_left])
                if best is None or score < best[0]:
                    best = (score, f, (low + high) / 2, goes_left)
        if best is None:
            continue
        _, feature[number], threshold[number], goes_left = best
        queue.append((examples[goes_left], depth + 1, (number, "left")))
        queue.append((examples[~goes_left], depth + 1, (number, "right")))
    return feature, threshold, left, right, counts


def small_problem(seed, n=60, n_features=4, n_values=4, n_classes=3):
    """Few distinct values per feature, so that many splits tie and both ways of counting (histogram, sort) run."""
    rng = np.random.default_rng(seed)
    X = (rng.integers(0, n_values, (n, n_features)) / n_values).astype(np.float32)
    y = (X[:, 0] * 2 + X[:, 1] + rng.random(n) * 0.8).astype(int) % n_classes
    return X, y


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_depth, min_samples_leaf", [(None, 1), (2, 1), (None, 4)])
def test_the_tree_equals_an_exhaustive_search_at_every_node(seed, max_depth, min_samples_leaf):
    X, y = small_problem(seed, n_values=3 + seed)
    tree = models.DecisionTree(max_depth=max_depth, min_samples_leaf=min_samples_leaf, n_features=4,
                               n_classes=3).fit(X, y)
    feature, threshold, left, right, counts = exhaustive_tree(X.astype(np.float64), y, 3, max_depth, min_samples_leaf)
    assert tree.feature.tolist() == feature
    np.testing.assert_allclose(tree.threshold, threshold, rtol=0, atol=1e-12)
    assert tree.left.tolist() == left and tree.right.tolist() == right
    assert tree.class_counts.tolist() == counts
    if max_depth is not None:
        assert tree.depth() <= max_depth
    leaf_sizes = tree.class_counts[tree.feature < 0].sum(axis=1)
    assert leaf_sizes.min() >= min_samples_leaf


@pytest.mark.parametrize("seed", range(4))
def test_the_histogram_and_the_sort_find_the_same_split(seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 12, (40, 7)).astype(np.uint8)
    y = rng.integers(0, 4, 40)
    counts = np.bincount(y, minlength=4)
    by_histogram = decision_tree.best_split(codes, y, counts, 2, by_histogram=True)
    by_sort = decision_tree.best_split(codes, y, counts, 2, by_histogram=False)
    assert by_histogram == by_sort and by_histogram is not None


def test_searching_the_features_in_small_chunks_grows_the_same_tree(monkeypatch):
    X, y = small_problem(7, n=200, n_features=9, n_values=20)
    whole = models.DecisionTree(n_features=9, n_classes=3).fit(X, y)
    monkeypatch.setattr(decision_tree, "WORKING_ELEMENTS", 1)
    chunked = models.DecisionTree(n_features=9, n_classes=3).fit(X, y)
    for name in whole.buffer_names:
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))


def test_predictions_follow_the_tree_one_example_at_a_time():
    X, y = small_problem(3, n=150, n_values=10)
    tree = models.DecisionTree(max_depth=5, n_features=4, n_classes=3).fit(X, y)
    queries = np.random.default_rng(9).random((40, 4), dtype=np.float32)
    expected = []
    for row in queries:
        node = 0
        while tree.feature[node] >= 0:
            node = tree.left[node] if row[tree.feature[node]] <= tree.threshold[node] else tree.right[node]
        expected.append(int(np.argmax(tree.class_counts[node])))
    assert tree.predict(queries).tolist() == expected
    fractions = tree.predict_proba(queries)
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0, rtol=1e-6)


def test_a_split_that_does_not_lower_the_impurity_is_taken_when_the_next_one_does():
    """XOR: no single split helps at the root, but the tree must still separate the classes."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 3, np.float32)
    y = np.array([0, 1, 1, 0] * 3)
    tree = models.DecisionTree(n_features=2, n_classes=2).fit(X, y)
    assert (tree.predict(X) == y).all() and tree.depth() == 2


def test_a_fully_grown_tree_fits_its_training_set():
    X, y = small_problem(4, n=120, n_values=50)
    X += np.arange(120, dtype=np.float32)[:, None] * 1e-4  # every row distinct, so every label can be fitted
    tree = models.DecisionTree(n_features=4, n_classes=3).fit(X, y)
    assert (tree.predict(X) == y).all()


def test_a_saved_tree_loads_and_predicts_the_same(tmp_path):
    X, y = small_problem(5, n=100, n_values=8)
    tree = models.DecisionTree(max_depth=4, n_features=4, n_classes=3).fit(X, y)
    models.save(tree, tmp_path / "tree.npz")
    loaded = models.load(tmp_path / "tree.npz")
    assert isinstance(loaded, models.DecisionTree) and loaded.config == tree.config
    np.testing.assert_array_equal(loaded.predict(X), tree.predict(X))


def test_arrays_that_are_not_a_tree_are_refused():
    X, y = small_problem(5, n=100, n_values=8)
    tree = models.DecisionTree(max_depth=3, n_features=4, n_classes=3).fit(X, y)
    tree.left[0] = 0  # a cycle: the root its own child
    with pytest.raises(ValueError, match="do not form a tree"):
        tree.predict(X)


def test_bad_input_is_refused_with_a_message_that_names_it():
    tree = models.DecisionTree(n_features=3, n_classes=2)
    with pytest.raises(ValueError, match="not grown yet"):
        tree.predict(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        tree.fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="NaN"):
        tree.fit(np.array([[np.nan, 0, 0]]), [0])
    with pytest.raises(ValueError, match="max_depth"):
        models.DecisionTree(max_depth=-1)


def test_a_gradient_attack_refuses_the_tree_and_names_its_own_attack():
    X, y = small_problem(0)
    tree = models.DecisionTree(n_features=4, n_classes=3).fit(X, y)
    with pytest.raises(TypeError, match="not differentiable.*decision_tree_attack"):
        attacks.fgsm(tree, X, y, 0.1)


# --- Algorithm 2 -----------------------------------------------------------------------------------------

def hand_built_tree():
    """x0 <= 0.5 ? (x1 <= 0.3 ? class 0 : class 1) : (x2 <= 0.7 ? class 2 : (x1 <= 0.6 ? class 0 : class 1)).

    Nodes, breadth first: 0 root; 1, 2 its children; 3, 4 under 1; 5, 6 under 2; 7, 8 under 6."""
    tree = models.DecisionTree(n_features=3, n_classes=3, n_nodes=9)
    tree.feature[:] = [0, 1, 2, -1, -1, -1, 1, -1, -1]
    tree.threshold[:] = [0.5, 0.3, 0.7, 0, 0, 0, 0.6, 0, 0]
    tree.left[:] = [1, 3, 5, -1, -1, -1, 7, -1, -1]
    tree.right[:] = [2, 4, 6, -1, -1, -1, 8, -1, -1]
    leaf_class = {3: 0, 4: 1, 5: 2, 7: 0, 8: 1}
    for node in range(9):
        tree.class_counts[node] = 1
    for node, c in leaf_class.items():
        tree.class_counts[node] = np.eye(3, dtype=np.int64)[c] * 5
    return tree


def test_algorithm_2_takes_the_nearest_leaf_in_the_tree_and_the_smallest_change():
    tree = hand_built_tree()
    x = np.array([[0.2, 0.1, 0.9],     # leaf 3 (class 0): its sibling leaf 4 (class 1) needs x1 just above 0.3
                  [0.9, 0.5, 0.9],     # leaf 7 (class 0): sibling leaf 8 needs x1 > 0.6
                  [0.9, 0.9, 0.1]],    # leaf 5 (class 2): leaves 7 and 8 under the sibling; 8 needs one change
                 np.float32)
    assert tree.predict(x).tolist() == [0, 0, 2]
    x_adv = attacks.decision_tree_attack(tree, x)
    expected = x.copy()
    expected[0, 1] = 0.3 + attacks.decision_tree.OFFSET
    expected[1, 1] = 0.6 + attacks.decision_tree.OFFSET
    expected[2, 2] = 0.7 + attacks.decision_tree.OFFSET
    np.testing.assert_allclose(x_adv, expected, rtol=0, atol=1e-7)
    assert tree.predict(x_adv).tolist() == [1, 1, 1]


def test_algorithm_2_climbs_when_the_sibling_subtree_has_only_the_same_class():
    tree = hand_built_tree()
    tree.class_counts[4] = [5, 0, 0]  # now both leaves under node 1 are class 0
    x = np.array([[0.2, 0.1, 0.9]], np.float32)  # leaf 3: the nearest other class is across the root
    x_adv = attacks.decision_tree_attack(tree, x)
    # Across the root: leaf 5 (class 2) needs x0 > 0.5 and x2 <= 0.7 (two changes), leaf 8 (class 1) needs
    # x0 > 0.5 and x1 > 0.6 but x2 = 0.9 > 0.7 already holds (two changes); leaf 5's largest change is smaller.
    expected = np.array([[0.5 + 0.001, 0.1, 0.7 - 0.001]], np.float32)
    np.testing.assert_allclose(x_adv, expected, rtol=0, atol=1e-7)
    assert tree.predict(x_adv).tolist() == [2]


def test_a_feature_tested_twice_on_the_path_moves_into_the_interval_both_tests_allow():
    """x0 <= 0.6 ? (x0 <= 0.2 ? class 0 : class 1) : class 2.  From x0 = 0.9 (class 2), the nearest other leaves are
    across the root: leaf 4 (class 1) needs 0.2 < x0 <= 0.6, so x0 moves to 0.6 - offset; and with an interval
    narrower than twice the offset, the feature goes to its middle."""
    tree = models.DecisionTree(n_features=2, n_classes=3, n_nodes=5)
    tree.feature[:] = [0, 0, -1, -1, -1]
    tree.threshold[:] = [0.6, 0.2, 0, 0, 0]
    tree.left[:] = [1, 3, -1, -1, -1]
    tree.right[:] = [2, 4, -1, -1, -1]
    tree.class_counts[:] = [[1, 1, 1], [1, 1, 0], [0, 0, 5], [5, 0, 0], [0, 5, 0]]
    x = np.array([[0.9, 0.5]], np.float32)
    # Leaf 3 (class 0) would need x0 <= 0.2 (a change of 0.701), leaf 4 only x0 <= 0.6 (0.301): leaf 4 wins.
    np.testing.assert_allclose(attacks.decision_tree_attack(tree, x), [[0.6 - 0.001, 0.5]], atol=1e-7)
    tree.threshold[1] = 0.5995  # leaf 4's interval is now (0.5995, 0.6], narrower than twice the offset
    x_adv = attacks.decision_tree_attack(tree, x)
    np.testing.assert_allclose(x_adv, [[0.59975, 0.5]], atol=1e-7)
    assert tree.predict(x_adv).tolist() == [1]


def test_a_move_that_rounds_back_onto_its_threshold_is_stepped_past_it():
    """Near 40,000 float32's grid is 1/256 apart: threshold + 0.001 rounds back to the threshold itself."""
    X = np.array([[40000.0], [40000.0078125]], np.float32)
    tree = models.DecisionTree(n_features=1, n_classes=2).fit(X, [0, 1])
    x_adv = attacks.decision_tree_attack(tree, X, clip=None)
    assert tree.predict(x_adv).tolist() == [1, 0]


def test_float64_training_data_are_split_as_they_are_predicted():
    """Predictions see float32 inputs, as every classifier's: the tree is grown on the same values."""
    X = np.array([[0.1], [0.1 + 1e-10], [0.7], [0.7 + 1e-3]])
    tree = models.DecisionTree(n_features=1, n_classes=2).fit(X, [0, 0, 1, 1])
    assert tree.predict(X).tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(tree.leaves(X), tree.leaves(X.astype(np.float32)))


def test_a_misclassified_row_is_left_alone_and_the_change_stays_in_range():
    tree = hand_built_tree()
    x = np.array([[0.2, 0.1, 0.9], [0.2, 0.1, 0.9]], np.float32)
    x_adv = attacks.decision_tree_attack(tree, x, y=[1, 0])  # the first row is already wrong (tree says 0)
    np.testing.assert_array_equal(x_adv[0], x[0])
    assert tree.predict(x_adv[1:]).tolist() == [1]
    assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_algorithm_2_flips_every_prediction_of_a_grown_tree_with_few_features():
    X, y = small_problem(2, n=300, n_features=6, n_values=30)
    tree = models.DecisionTree(max_depth=6, n_features=6, n_classes=3).fit(X, y)
    x_adv = attacks.decision_tree_attack(tree, X)
    assert (tree.predict(x_adv) != tree.predict(X)).all()
    assert x_adv.dtype == np.float32 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv != X).sum(axis=1).max() <= tree.depth()


def test_the_attack_refuses_what_is_not_a_tree():
    with pytest.raises(TypeError, match="DecisionTree"):
        attacks.decision_tree_attack(models.SoftmaxRegression(n_features=3, n_classes=2), np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="offset"):
        attacks.decision_tree_attack(hand_built_tree(), np.zeros((1, 3), np.float32), offset=0)


def test_on_mnist_the_tree_learns_and_algorithm_2_flips_it_with_few_pixels(mnist_or_skip):
    X, y = mnist_or_skip("train")
    X_test, y_test = mnist_or_skip("test")
    tree = models.DecisionTree(max_depth=8).fit(X[:5000], y[:5000])
    assert (tree.predict(X_test[:1000]) == y_test[:1000]).mean() > 0.65
    x_adv = attacks.decision_tree_attack(tree, X_test[:200])
    assert (tree.predict(x_adv) != tree.predict(X_test[:200])).mean() > 0.95
    assert (x_adv != X_test[:200]).sum(axis=1).mean() < 3
