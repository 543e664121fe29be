"""A decision tree (CART, Gini impurity): a classifier that is not a network, and has no gradient.

A tree asks one question per node, "is feature f at most t?", and sends the input left
if so, right if not, until it reaches a leaf; the leaf's majority class is the
prediction. CART grows it greedily from the root: at each node it tries every
feature and every threshold, and keeps the split that leaves the least impurity. The
Gini impurity of a set with class counts n_c (n in all) is

    G = 1 - sum_c (n_c / n)^2,

the chance that two draws from the set disagree. A split into L and R leaves
n_L G_L + n_R G_R = n - (sum_c L_c^2 / n_L + sum_c R_c^2 / n_R), so the best split is the
one that maximises the bracket; only that bracket is computed.

Every threshold of a feature is tried at once, from cumulative class counts. Sort a
node's examples by the feature: the left side of the split after the i-th of them
holds the class counts of the first i, a cumulative sum, and the right side the rest.
Two ways give those sums, and the tree takes the cheaper for each node:

* **a histogram**, for a node with at least as many examples as the feature has
  values: one ``bincount`` of (feature, value, class) triples, summed along the values;
* **a sort**, for a smaller node: sort its examples by every feature at once, and sum
  the one-hot labels along the sorted order.

Both see a feature through its *codes*: the rank of each value among the feature's
distinct training values (MNIST's pixels have at most 256), computed once. A split
falls between two values that the node holds, and its threshold is their midpoint; a
feature the node holds one value of is left out of its search (deep in an MNIST tree,
most pixels are blank in every example a node holds).

The fitted tree is five arrays, which the model file keeps: each node's ``feature``
(-1 at a leaf), ``threshold``, ``left`` and ``right`` children (-1 at a leaf), and its
training examples' ``class_counts``. Nodes are numbered breadth first, so a child's
number is always above its parent's.
"""

from __future__ import annotations

from collections import deque

import numpy as np

import minigrad as mg
from minigrad.labels import check_labels
from minigrad.validation import integer_at_least

from .classifiers import Classifier, n_classes_of, register
from .layers import positive_int

#: The number of elements of a split search's largest temporaries (int64 or float64; a few are alive at once).
WORKING_ELEMENTS = 2**23


@register
class DecisionTree(Classifier):
    """CART with Gini impurity (see the module docstring), grown by :meth:`fit`.

    A node is split when it holds more than one class, is shallower than ``max_depth``
    (the root has depth 0; ``None`` for no limit), and some split leaves at least
    ``min_samples_leaf`` examples on each side. It takes the split that leaves the least
    impurity, even if that is no less than the node's own (as on XOR-like data, where
    only the split after next helps); among equally good splits the lowest feature wins,
    then the lowest threshold.

    ``model(x)`` returns the class fractions of the leaf that x reaches; the argmax
    (the leaf's majority class, the lowest class on a tie) is the prediction. They are
    constants: the model has no gradient (``differentiable = False``), and is attacked
    by transfer or by its own attack, :func:`attacks.decision_tree_attack`.

    ``n_nodes`` is the number of nodes, which :meth:`fit` sets; it is in the config so
    that :func:`models.load` can rebuild the arrays.
    """

    differentiable = False
    own_attack = "attacks.decision_tree_attack"
    output_name = "leaf fraction"
    buffer_names = ("feature", "threshold", "left", "right", "class_counts")

    def __init__(self, max_depth: int | None = None, min_samples_leaf: int = 1, n_features: int = 784,
                 n_classes: int = 10, n_nodes: int = 0):
        super().__init__()
        self.max_depth = None if max_depth is None else integer_at_least(max_depth, 0, "DecisionTree: max_depth")
        self.min_samples_leaf = positive_int(min_samples_leaf, "DecisionTree: min_samples_leaf")
        self.n_features = positive_int(n_features, "DecisionTree: n_features")
        self.n_classes = n_classes_of(n_classes, "DecisionTree")
        n_nodes = integer_at_least(n_nodes, 0, "DecisionTree: n_nodes")
        self.feature = np.full(n_nodes, -1, np.int64)
        self.threshold = np.zeros(n_nodes, np.float64)
        self.left = np.full(n_nodes, -1, np.int64)
        self.right = np.full(n_nodes, -1, np.int64)
        self.class_counts = np.zeros((n_nodes, self.n_classes), np.int64)
        self.config = {"max_depth": self.max_depth, "min_samples_leaf": self.min_samples_leaf,
                       "n_features": self.n_features, "n_classes": self.n_classes, "n_nodes": n_nodes}

    # --- growing --------------------------------------------------------------------------
    def fit(self, X, y) -> "DecisionTree":
        """Grow the tree on X, of shape (N, n_features), and integer labels y in 0..n_classes-1; returns the model.

        X is taken as float32, the dtype every classifier's inputs are predicted in, so that a
        training point falls on the side of a threshold it was split to. A threshold is the
        float64 midpoint of two float32 values, which lies strictly between them.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features or len(X) == 0:
            raise ValueError(f"DecisionTree.fit: X must have shape (N, {self.n_features}) with N >= 1, got {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("DecisionTree.fit: X holds NaN or inf")
        X = X.astype(np.float32)
        if not np.isfinite(X).all():
            raise ValueError("DecisionTree.fit: X holds values beyond float32's range")
        y = check_labels(y, len(X), self.n_classes)
        codes, values = feature_codes(X)
        nodes = []  # per node: [feature, threshold, left, right, class counts]
        queue = deque([(np.arange(len(X)), 0, None)])  # (its examples, its depth, (parent, side))
        while queue:
            examples, depth, parent = queue.popleft()
            number = len(nodes)
            counts = np.bincount(y[examples], minlength=self.n_classes)
            nodes.append([-1, 0.0, -1, -1, counts])
            if parent is not None:
                nodes[parent[0]][2 if parent[1] == "left" else 3] = number
            if (counts > 0).sum() < 2 or (self.max_depth is not None and depth >= self.max_depth):
                continue
            split = best_split(codes[examples], y[examples], counts, self.min_samples_leaf)
            if split is None:
                continue
            feature, left_code, right_code = split
            nodes[number][:2] = feature, (values[feature, left_code] + values[feature, right_code]) / 2
            goes_left = codes[examples, feature] <= left_code
            queue.append((examples[goes_left], depth + 1, (number, "left")))
            queue.append((examples[~goes_left], depth + 1, (number, "right")))
        self.feature = np.array([node[0] for node in nodes], np.int64)
        self.threshold = np.array([node[1] for node in nodes], np.float64)
        self.left = np.array([node[2] for node in nodes], np.int64)
        self.right = np.array([node[3] for node in nodes], np.int64)
        self.class_counts = np.array([node[4] for node in nodes], np.int64)
        self.config["n_nodes"] = len(nodes)
        return self

    # --- predicting -----------------------------------------------------------------------
    def leaves(self, x: np.ndarray) -> np.ndarray:
        """(N,) the number of the leaf each row of x reaches: every row descends one level per step."""
        self.check_structure()
        x = np.asarray(x, dtype=np.float32)  # as fit saw the training points
        node = np.zeros(len(x), np.int64)
        rows = np.arange(len(x))
        while True:
            inside = self.feature[node] >= 0
            if not inside.any():
                return node
            at = node[inside]
            goes_left = x[rows[inside], self.feature[at]] <= self.threshold[at]
            node[inside] = np.where(goes_left, self.left[at], self.right[at])

    def logits(self, x: mg.Tensor) -> mg.Tensor:
        counts = self.class_counts[self.leaves(x.data)]
        return mg.Tensor((counts / counts.sum(axis=1, keepdims=True)).astype(np.float32))

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """The leaf's class fractions, which the outputs already are."""
        return logits

    def check_structure(self) -> None:
        """Refuse an unfitted tree, and arrays that are not a tree (a damaged file): children must be numbered
        above their parent, within the tree, and every node must hold examples."""
        n = len(self.feature)
        if n == 0:
            raise ValueError("DecisionTree: the tree is not grown yet (call fit(X, y) first)")
        inside = self.feature >= 0
        numbers = np.arange(n)
        bad = ((self.feature >= self.n_features)
               | (inside & ((self.left <= numbers) | (self.right <= numbers) | (self.left >= n) | (self.right >= n)))
               | (~inside & ((self.left != -1) | (self.right != -1)))
               | (self.class_counts.sum(axis=1) == 0) | (self.class_counts < 0).any(axis=1))
        if bad.any():
            raise ValueError(f"DecisionTree: the arrays do not form a tree (nodes {np.flatnonzero(bad)[:5].tolist()}); "
                             "the model file is damaged")

    def depth(self) -> int:
        """The depth of the deepest leaf (0 for a tree that is only its root)."""
        self.check_structure()
        depth = np.zeros(len(self.feature), np.int64)
        for node in np.flatnonzero(self.feature >= 0):  # parents before children: numbered breadth first
            depth[[self.left[node], self.right[node]]] = depth[node] + 1
        return int(depth.max())


def feature_codes(X: np.ndarray):
    """(codes, values): codes[i, f] is the rank of X[i, f] among feature f's distinct values, and
    values[f, r] the value of rank r (padded with +inf), in float64.

    The codes are the smallest unsigned type that holds them (uint8 for MNIST's pixels)."""
    distinct = [np.unique(column) for column in X.T]
    width = max(len(d) for d in distinct)
    dtype = np.uint8 if width <= 2**8 else np.uint16 if width <= 2**16 else np.uint32
    codes = np.empty(X.shape, dtype)
    values = np.full((X.shape[1], width), np.inf)
    for f, column_values in enumerate(distinct):
        codes[:, f] = np.searchsorted(column_values, X[:, f])
        values[f, : len(column_values)] = column_values
    return codes, values


def best_split(codes: np.ndarray, y: np.ndarray, counts: np.ndarray, min_samples_leaf: int, by_histogram=None):
    """(feature, left code, right code) of the best split of a node, or None if no split is allowed.

    ``codes`` (n, F) are the node's examples' codes, ``y`` their labels and ``counts`` their class counts.
    The split sends codes <= left code left; the right code is the next code the node holds.
    The cumulative counts come from a histogram when the node has at least as many examples as
    there are codes, from a sort otherwise (``by_histogram`` forces one way; both give the same split).
    Features are searched in chunks that keep the temporaries within :data:`WORKING_ELEMENTS`.
    """
    varying = np.flatnonzero(codes.min(axis=0) != codes.max(axis=0))  # a feature the node holds one value of cannot split it
    if varying.size == 0:
        return None
    codes = codes[:, varying]
    n, n_features = codes.shape
    width = int(codes.max()) + 1
    by_histogram = n >= width if by_histogram is None else by_histogram
    per_feature = max(n, width * len(counts)) if by_histogram else n * len(counts)
    chunk = max(1, WORKING_ELEMENTS // per_feature)
    best, best_score = None, -np.inf
    for start in range(0, n_features, chunk):
        block = codes[:, start : start + chunk]
        if by_histogram:
            left_counts, left_codes, right_codes = cumulative_counts_by_histogram(block, y, width, len(counts))
        else:
            left_counts, left_codes, right_codes = cumulative_counts_by_sort(block, y, len(counts))
        scores = split_scores(left_counts, counts, right_codes >= 0, min_samples_leaf)
        top = scores.max()
        first = np.argmax(scores >= top - 1e-12 * abs(top))  # the first of equal scores: lowest feature, then code
        f, k = np.unravel_index(first, scores.shape)
        if top > -np.inf and (best is None or top > best_score * (1 + 1e-12)):  # better than earlier chunks' best
            best, best_score = (int(varying[start + f]), int(left_codes[f, k]), int(right_codes[f, k])), top
    return best


def cumulative_counts_by_histogram(codes: np.ndarray, y: np.ndarray, width: int, n_classes: int):
    """For every feature and code b: the class counts of the examples with code <= b, shape (F, width, C);
    and each candidate's left code b and right code (the next code present, -1 if none), shape (F, width)."""
    n_features = codes.shape[1]
    triples = (codes + np.arange(n_features) * width) * n_classes + y[:, None]  # (feature, code, class) as one number
    histogram = np.bincount(triples.ravel(), minlength=n_features * width * n_classes)
    histogram = histogram.reshape(n_features, width, n_classes)
    present = histogram.sum(axis=2) > 0
    next_present = np.full((n_features, width), -1, np.int64)  # the smallest present code above b
    later = np.where(present, np.arange(width), width)
    next_present[:, :-1] = np.minimum.accumulate(later[:, ::-1], axis=1)[:, ::-1][:, 1:]
    next_present[next_present == width] = -1
    right_codes = np.where(present, next_present, -1)  # a split only just above a code the node holds
    left_codes = np.broadcast_to(np.arange(width), (n_features, width))
    return np.cumsum(histogram, axis=1), left_codes, right_codes


def cumulative_counts_by_sort(codes: np.ndarray, y: np.ndarray, n_classes: int):
    """For every feature and position i of the node's examples sorted by it: the class counts of the first
    i + 1, shape (F, n, C); and the codes on both sides of the cut after position i, shape (F, n)
    (right code -1 where the next example has the same code, or there is none)."""
    order = np.argsort(codes, axis=0, kind="stable")
    sorted_codes = np.take_along_axis(codes, order, axis=0).T.astype(np.int64)  # (F, n)
    one_hot = np.eye(n_classes, dtype=np.int64)[y[order.T]]  # (F, n, C)
    right_codes = np.full(sorted_codes.shape, -1, np.int64)
    right_codes[:, :-1] = np.where(sorted_codes[:, 1:] > sorted_codes[:, :-1], sorted_codes[:, 1:], -1)
    return np.cumsum(one_hot, axis=1), sorted_codes, right_codes


def split_scores(left_counts: np.ndarray, counts: np.ndarray, allowed: np.ndarray, min_samples_leaf: int) -> np.ndarray:
    """sum_c L_c^2 / n_L + sum_c R_c^2 / n_R for each candidate (the larger, the lower the impurity left),
    -inf where the split is not allowed or leaves fewer than ``min_samples_leaf`` examples on a side."""
    n = counts.sum()
    n_left = left_counts.sum(axis=2)
    n_right = n - n_left
    allowed = allowed & (n_left >= min_samples_leaf) & (n_right >= min_samples_leaf)
    right_counts = counts - left_counts
    scores = (left_counts**2).sum(axis=2) / np.maximum(n_left, 1) + (right_counts**2).sum(axis=2) / np.maximum(n_right, 1)
    return np.where(allowed, scores, -np.inf)
