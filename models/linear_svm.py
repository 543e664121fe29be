"""A linear support vector machine: a model that is not a network, trained through the engine.

Scores ``s = x W + b``, one per class; the prediction is the class with the largest
score. The loss is the one-vs-rest hinge: each class c is a binary problem, "c or not
c", with target t_c = +1 for the true class and -1 for the others, and

    loss(x, y) = sum over c of max(0, 1 - t_c s_c),

which is zero once every score is on its side of the margin (s_y >= 1, every other
s_c <= -1). The margin's regularisation, lambda/2 ||W||^2, is the optimizer's
``weight_decay`` (``training.SGD(..., weight_decay=lambda)``), so the loss stays a loss
of the scores alone, as every classifier's is.

Attacks need a direction that does not vanish: the hinge's gradient is zero beyond the
margin, on exactly the examples the model is surest of. Like every classifier here,
the SVM's ``direction_loss`` is the softmax cross-entropy of its scores, whose gradient
never vanishes and points the way that lowers the true class's score against the others.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.labels import check_labels
from minigrad.ops.nn import check_reduction, reduce_losses

from .classifiers import SoftmaxRegression, register


@register
class LinearSVM(SoftmaxRegression):
    """A multiclass linear SVM: :class:`~models.SoftmaxRegression`'s scores ``x W + b``,
    trained on the one-vs-rest hinge loss (see the module docstring)."""

    output_name = "score"

    def loss(self, logits, y, reduction: str = "mean"):
        """The one-vs-rest hinge, sum over c of max(0, 1 - t_c s_c), per example, reduced."""
        check_reduction(reduction)
        scores = mg.as_tensor(logits)
        y = check_labels(y, scores.shape[0], self.n_classes)
        targets = np.where(np.arange(self.n_classes) == y[:, None], *np.array([1, -1], scores.dtype))
        hinge = mg.relu(1.0 - scores * targets)
        return reduce_losses(hinge.sum(axis=1), reduction, "LinearSVM.loss")
