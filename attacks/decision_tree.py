"""An attack on a decision tree, which has no gradient: Papernot, McDaniel & Goodfellow 2016, Algorithm 2.

A tree's prediction is the class of the leaf an input reaches, and the leaf is fixed
by a few comparisons, "feature f at most t", along the path from the root. To change
the prediction, reach another leaf: find a leaf of another class close to the
input's own in the tree, and move just the features that its path tests, each just
past its threshold.

*Close in the tree*: the algorithm climbs from the input's leaf to its parent, its
grandparent, and so on, and stops at the first ancestor whose other subtree holds a
leaf of another class. Among the leaves found there, this implementation takes the one
that changes the fewest features, then the one with the smallest largest change, then
the lowest-numbered: a documented choice where the paper takes the first found.

*Just past the threshold*: a feature that must satisfy x_f <= t is set to t - offset; one
that must satisfy x_f > t is set to t + offset; a feature tested more than once along
the path must lie in the interval (lo, hi] that all its tests allow, and moves to its
nearer end (by ``offset``, or to the interval's middle if it is narrower than twice
that). Every test on the chosen leaf's path is checked, from the root, so the input
lands in that leaf, unless clipping to the valid range moves a feature back across a
threshold (the success rate shows it). The offset is 0.001, as in IBM ART's ``DecisionTreeAttack``: a tree grown on
MNIST puts its thresholds halfway between pixel values 1/255 apart, so 0.001 is past the
threshold and short of the next value.
"""

from __future__ import annotations

import numpy as np

from .checks import check_clip, check_inputs, labels_for, real_number

#: How far past a threshold a moved feature lands.
OFFSET = 0.001


def decision_tree_attack(tree, x, y=None, *, offset: float = OFFSET, clip=(0.0, 1.0)) -> np.ndarray:
    """x_adv: each row of x moved to the nearest leaf (in the tree) of a class other than its label.

    ``tree`` is a fitted :class:`models.DecisionTree`; ``y`` the labels to move away from
    (default: the tree's own predictions, as in the paper). A row the tree already
    misclassifies stays as it is. Moved features are clipped to ``clip``; the rows that
    clipping (or a feature at its interval's end) keeps from flipping are left as moved,
    and show in the success rate.
    """
    if not hasattr(tree, "leaves") or not hasattr(tree, "class_counts"):
        raise TypeError(f"decision_tree_attack: needs a models.DecisionTree, got {type(tree).__name__}")
    x = check_inputs(tree, x, clip, "decision_tree_attack")
    clip = check_clip(clip, "decision_tree_attack")
    offset = real_number(offset, "decision_tree_attack: offset")
    if not offset > 0:
        raise ValueError(f"decision_tree_attack: offset must be positive, got {offset}")
    y = tree.predict(x) if y is None else labels_for(tree, y, len(x), required=True, what="y")
    paths = LeafPaths(tree)
    x_adv = x.copy()
    for i, (leaf, label) in enumerate(zip(tree.leaves(x), y)):
        candidates = paths.nearest_other_leaves(leaf, label)
        if candidates.size == 0:  # already misclassified, or every leaf is of this class
            continue
        moved = paths.move_into(x[i], candidates, offset)
        changed = (moved != x[i][paths.used]).sum(axis=1)
        largest = np.abs(moved - x[i][paths.used]).max(axis=1, initial=0.0)
        best = np.lexsort((candidates, largest, changed))[0]
        x_adv[i, paths.used] = moved[best]
    if clip is not None:
        np.clip(x_adv, *clip, out=x_adv)
    return x_adv


class LeafPaths:
    """Each leaf's ancestors and the interval (lo, hi] its path allows each tested feature, as arrays.

    ``used`` are the features the tree tests; ``lo`` and ``hi`` have one row per leaf and one
    column per used feature (-inf and +inf where the path does not test it).
    """

    def __init__(self, tree):
        tree.check_structure()
        n_nodes = len(tree.feature)
        inside = tree.feature >= 0
        self.leaf_class = tree.class_counts.argmax(axis=1)
        self.used = np.unique(tree.feature[inside])
        column = np.zeros(max(tree.n_features, 1), np.int64)
        column[self.used] = np.arange(len(self.used))
        depth = tree.depth()
        self.ancestors = np.full((n_nodes, depth + 1), -1, np.int64)  # row v: the path root .. v, padded with -1
        self.ancestors[0, 0] = 0
        lo = np.full((n_nodes, len(self.used)), -np.inf)
        hi = np.full((n_nodes, len(self.used)), np.inf)
        level = np.zeros(n_nodes, np.int64)
        for node in np.flatnonzero(inside):  # parents before children: numbered breadth first
            f, t = column[tree.feature[node]], tree.threshold[node]
            for child, side in ((tree.left[node], "left"), (tree.right[node], "right")):
                level[child] = level[node] + 1
                self.ancestors[child] = self.ancestors[node]
                self.ancestors[child, level[child]] = child
                lo[child], hi[child] = lo[node], hi[node]
                if side == "left":
                    hi[child, f] = min(hi[node, f], t)
                else:
                    lo[child, f] = max(lo[node, f], t)
        self.leaves = np.flatnonzero(~inside)
        self.lo, self.hi = lo[self.leaves], hi[self.leaves]

    def nearest_other_leaves(self, leaf: int, label: int) -> np.ndarray:
        """The leaves (node numbers) of a class other than ``label`` that share the deepest ancestor with ``leaf``;
        ``leaf`` itself if its class is not ``label``; empty if no leaf has another class."""
        other = self.leaves[self.leaf_class[self.leaves] != label]
        if other.size == 0 or leaf in other:
            return other[other == leaf]
        shared = np.cumprod(self.ancestors[other] == self.ancestors[leaf], axis=1).sum(axis=1)
        return other[shared == shared.max()]

    def move_into(self, row: np.ndarray, candidates: np.ndarray, offset: float) -> np.ndarray:
        """(K, len(used)) the used features of ``row`` moved into each candidate leaf's intervals."""
        index = np.searchsorted(self.leaves, candidates)
        lo, hi = self.lo[index], self.hi[index]
        values = row[self.used].astype(np.float64)
        with np.errstate(invalid="ignore"):  # -inf + inf where a feature is untested: never selected below
            middle = (lo + hi) / 2
        raised = np.minimum(lo + offset, middle)  # just above lo, within the interval
        lowered = np.maximum(hi - offset, middle)  # just below (or at) hi
        moved = np.where(values <= lo, raised, np.where(values > hi, lowered, values)).astype(row.dtype)
        # Rounding to x's dtype may land a large value back on its bound: one step of that dtype's grid past it.
        moved = np.where(moved <= lo, np.nextafter(moved, np.inf, dtype=row.dtype), moved)
        return np.where(moved > hi, np.nextafter(moved, -np.inf, dtype=row.dtype), moved)
