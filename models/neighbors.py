"""k-nearest neighbours: a classifier that is not a network, and has no gradient.

The lecture's claim that "many machine learning models (not just neural networks) are
vulnerable" needs models of other kinds; this is the simplest. ``fit(X, y)`` stores the
training set; a prediction is the majority label of the ``k`` stored examples nearest
to the input in Euclidean distance.

Distances come from one matrix product per batch of inputs,

    ||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2,

so the work is BLAS's. Only the ranking of each row matters, so ``||a||^2`` is left out.
The batches are sized so that the distances and the ranking's indices stay within
:data:`WORKING_BYTES` beside the stored set.

The model has no gradient (its output is a count of votes, a step function of the
input), so gradient attacks refuse it (``differentiable = False``); it is attacked by
transfer, with examples made on a differentiable model.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.labels import check_labels
from minigrad.validation import integer_at_least

from .classifiers import Classifier, n_classes_of, register
from .layers import positive_int

#: The most bytes a prediction's temporaries take at once, beyond the stored set.
WORKING_BYTES = 64 * 2**20


@register
class KNearestNeighbors(Classifier):
    """The majority label of the ``k`` nearest stored examples (Euclidean distance).

    Ties, the documented rule: among the stored examples at equal distance, the one
    stored first counts as nearer; among the classes with the most votes, the one whose
    nearest member is nearest wins. (With k = 1 this is the nearest example's label.)

    ``model(x)`` returns, per class, its number of votes plus a fraction below 1 that
    encodes the tie rule: ``(k - r) / (k + 1)`` for a class whose nearest member has rank
    r among the k (0 the nearest), 0 for a class with no vote. The argmax of these
    scores is the prediction; :meth:`probabilities` are the vote fractions. They are
    constants: the model has no gradient.

    ``n_stored`` is the number of stored examples, which :meth:`fit` sets; it is in the
    config so that :func:`models.load` can rebuild the buffers.
    """

    differentiable = False
    output_name = "votes"
    buffer_names = ("stored_x", "stored_y")

    def __init__(self, k: int = 1, n_features: int = 784, n_classes: int = 10, n_stored: int = 0):
        super().__init__()
        self.k = positive_int(k, "KNearestNeighbors: k")
        self.n_features = positive_int(n_features, "KNearestNeighbors: n_features")
        self.n_classes = n_classes_of(n_classes, "KNearestNeighbors")
        n_stored = integer_at_least(n_stored, 0, "KNearestNeighbors: n_stored")
        self.stored_x = np.zeros((n_stored, self.n_features), np.float32)
        self.stored_y = np.zeros(n_stored, np.int64)
        self.config = {"k": self.k, "n_features": self.n_features, "n_classes": self.n_classes, "n_stored": n_stored}

    def fit(self, X, y) -> "KNearestNeighbors":
        """Store (X, y), X of shape (N, n_features) (as float32), y integer labels in 0..n_classes-1; returns the model."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"KNearestNeighbors.fit: X must have shape (N, {self.n_features}), got {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("KNearestNeighbors.fit: X holds NaN or inf")
        self.stored_y = check_labels(y, len(X), self.n_classes).copy()  # copies: the caller's arrays may change later
        self.stored_x = np.array(X, dtype=np.float32, order="C")
        self.config["n_stored"] = len(X)
        return self

    def logits(self, x: mg.Tensor) -> mg.Tensor:
        if len(self.stored_x) < self.k:
            raise ValueError(f"KNearestNeighbors: k={self.k} needs at least {self.k} stored examples, "
                             f"it holds {len(self.stored_x)} (call fit(X, y) first)")
        scores = np.zeros((len(x.data), self.n_classes), np.float32)
        stored_sq = np.einsum("ij,ij->i", self.stored_x, self.stored_x)
        rows = max(1, WORKING_BYTES // (16 * max(len(self.stored_x), 1)))  # float32 distances, int64 ranking
        for start in range(0, len(x.data), rows):
            nearest = self.nearest(x.data[start : start + rows], stored_sq)
            scores[start : start + rows] = self.votes(self.stored_y[nearest])
        return mg.Tensor(scores)

    def nearest(self, queries: np.ndarray, stored_sq: np.ndarray) -> np.ndarray:
        """(B, k) indices of the stored examples nearest to each query, nearest first (ties: lower index first).

        ``argpartition`` finds the k smallest distances without sorting a whole row; a
        row where another example is as near as the k-th (a tie at the boundary, which
        ``argpartition`` would settle arbitrarily) is sorted whole instead.
        """
        distances = self.ranking_distances(queries, stored_sq)
        k = self.k
        candidates = np.argpartition(distances, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(distances, candidates, axis=1).max(axis=1)
        tied = (distances <= kth[:, None]).sum(axis=1) > k
        if tied.any():
            candidates[tied] = np.argsort(distances[tied], axis=1, kind="stable")[:, :k]
        candidates = np.sort(candidates, axis=1)  # by index, so that a stable sort by distance puts lower indices first
        order = np.argsort(np.take_along_axis(distances, candidates, axis=1), axis=1, kind="stable")
        return np.take_along_axis(candidates, order, axis=1)

    def ranking_distances(self, queries: np.ndarray, stored_sq: np.ndarray) -> np.ndarray:
        """(B, N) ||b||^2 - 2 a.b for each query a and stored example b (``stored_sq`` their ||b||^2): the squared
        distance ||a - b||^2 less ||a||^2, which ranks a row's stored examples alike, by one BLAS product."""
        distances = queries @ self.stored_x.T
        distances *= -2
        distances += stored_sq
        return distances

    def votes(self, labels: np.ndarray) -> np.ndarray:
        """(B, n_classes) scores from the (B, k) labels of the nearest examples, nearest first (see the class docstring)."""
        rows, k = np.arange(len(labels))[:, None], labels.shape[1]
        scores = np.zeros((len(labels), self.n_classes), np.float32)
        np.add.at(scores, (rows, labels), 1.0)
        first_rank = np.full((len(labels), self.n_classes), k, np.int64)
        np.minimum.at(first_rank, (rows, labels), np.arange(k))
        return scores + (k - first_rank).astype(np.float32) / np.float32(k + 1)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """The fraction of the k votes each class received."""
        return (np.floor(logits) / self.k).astype(np.float32)


class SoftNearestNeighbors(Classifier):
    """A differentiable stand-in for a fitted :class:`KNearestNeighbors`, for crafting examples on it.

    kNN's votes are a step function of the input: no gradient says which way to move.
    Its stand-in keeps what the votes depend on, the distances to the stored examples,
    and smooths the vote. The logit of class c is minus the mean squared distance from x
    to the k stored examples of class c nearest to it, over a temperature T:

        logit_c(x) = -(1 / (k T)) sum over those s of ||x - s||^2,

    so the softmax favours the class whose k nearest members are nearest, as the votes
    mostly do. Its gradient, (2 / (k T)) sum (s - x), points from x to those members:
    FGSM on the softmax cross-entropy moves x towards the nearest other class and away
    from its own. The members are chosen anew at each call (without a gradient; the
    choice is piecewise constant). T scales distances in squared pixels; the attacks'
    never-vanishing direction (``direction_loss``) keeps a direction however sharp the
    softmax is.
    """

    def __init__(self, knn: KNearestNeighbors, temperature: float = 1.0):
        super().__init__()
        if not isinstance(knn, KNearestNeighbors):
            raise TypeError(f"SoftNearestNeighbors: needs a fitted KNearestNeighbors, got {type(knn).__name__}")
        missing = [c for c in range(knn.n_classes) if np.count_nonzero(knn.stored_y == c) < knn.k]
        if missing:
            raise ValueError(f"SoftNearestNeighbors: classes {missing} have fewer than k={knn.k} stored examples")
        if not (isinstance(temperature, (int, float)) and np.isfinite(temperature) and temperature > 0):
            raise ValueError(f"SoftNearestNeighbors: temperature must be a positive number, got {temperature!r}")
        self.knn, self.temperature = knn, float(temperature)
        self.n_features, self.n_classes = knn.n_features, knn.n_classes

    def logits(self, x: mg.Tensor) -> mg.Tensor:
        means, mean_squares = self.members(x.data)
        x_squared = (x * x).sum(axis=1, keepdims=True)
        cross = (x.reshape((len(x.data), 1, self.n_features)) * mg.Tensor(means)).sum(axis=2)
        distances = x_squared - 2.0 * cross + mg.Tensor(mean_squares)
        return distances * np.float32(-1.0 / self.temperature)

    def members(self, queries: np.ndarray):
        """(B, C, D) the mean of the k nearest stored examples of each class, and (B, C) the mean of their squared
        norms: what ||x - s||^2 = ||x||^2 - 2 x.s + ||s||^2, averaged over them, needs."""
        knn, k = self.knn, self.knn.k
        stored_sq = np.einsum("ij,ij->i", knn.stored_x, knn.stored_x)
        means = np.empty((len(queries), self.n_classes, self.n_features), np.float32)
        mean_squares = np.empty((len(queries), self.n_classes), np.float32)
        rows = max(1, WORKING_BYTES // (8 * max(len(knn.stored_x), 1)))
        for start in range(0, len(queries), rows):
            distances = knn.ranking_distances(queries[start : start + rows], stored_sq)
            for c in range(self.n_classes):
                members = np.flatnonzero(knn.stored_y == c)
                nearest = members[np.argpartition(distances[:, members], k - 1, axis=1)[:, :k]]
                means[start : start + rows, c] = knn.stored_x[nearest].mean(axis=1)
                mean_squares[start : start + rows, c] = stored_sq[nearest].mean(axis=1)
        return means, mean_squares
