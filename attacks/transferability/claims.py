"""The rows of ``advex transfer``: transfer between algorithms, and the black-box attack, with the published numbers.

Each :class:`~attacks.reproduction.claims.Claim` is one row of ``results.md``, in the
format of ``advex reproduce``'s rows; the ids are a contract. Rates are fractions.

* Papernot, McDaniel & Goodfellow (2016), *Transferability in Machine Learning*: the
  cross-technique matrix, the % of a source's adversarial examples that a target
  misclassifies. The values in :data:`PUBLISHED_MATRIX` were read from a reproduction of
  the paper's figure, not from its text: approximate. The matrix row is reported beside
  them, not judged (our models and budgets are not theirs).
* Papernot et al. (2017), *Practical Black-Box Attacks*, in the protocol of CleverHans'
  ``mnist_blackbox`` tutorial, whose own test asserts the targets used here: the oracle
  above 70% clean accuracy, the substitute above 70%, the oracle below 30% on the
  transferred examples. The copies of that test we read train their oracle on a
  reduced set (one 2 epochs on 5,000 images, asserting below 20%; another on 10,000
  images, asserting only below 70%). The row ``blackbox_by_oracle`` runs the attack on
  such a briefly trained oracle (``conv_weak``) beside the fully trained one, which
  resists far better (``docs/transfer.md`` has the measurements). The target stays the
  tutorial's: a miss on the fully trained oracle is reported, not hidden.
"""

from __future__ import annotations

from ..reproduction.claims import CLIPPED, Claim

#: The attack's eps for the differentiable sources and the substitute (clipped to [0, 1]).
EPS = 0.3
#: The row and column keys, in order; ``ensemble`` is a target only.
TECHNIQUES = ("dnn", "lr", "svm", "dt", "knn")
TARGETS = TECHNIQUES + ("ensemble",)
#: Papernot et al. 2016's matrix, source -> target -> rate (read from a reproduction of its figure: approximate).
PUBLISHED_MATRIX = {
    "dnn": {"dnn": 0.3827, "lr": 0.2302, "svm": 0.6432, "dt": 0.7931, "knn": 0.0836},
    "lr": {"dnn": 0.0631, "lr": 0.9164, "svm": 0.9143, "dt": 0.8742, "knn": 0.1129},
    "svm": {"dnn": 0.0251, "lr": 0.3656, "svm": 1.0, "dt": 0.8003, "knn": 0.0519},
    "dt": {"dnn": 0.0082, "lr": 0.1222, "svm": 0.0885, "dt": 0.8929, "knn": 0.0331},
    "knn": {"dnn": 0.1175, "lr": 0.4289, "svm": 0.8216, "dt": 0.8295, "knn": 0.4165},
}

_MODELS = ("victims trained on one half of the training set ({n_half} images), sources on the other: DNN the paper's "
           "maxout {maxout_hidden} (the reproduction's recipe, at most {maxout_epochs} epochs, early-stopped on the "
           "last {n_val} of its half), LR softmax regression ({linear_epochs} epochs), SVM one-vs-rest linear "
           "({linear_epochs} epochs), DT CART (depth {tree_depth}), kNN (k = {knn_k}); ensemble: the victims' "
           "majority vote")
_MATRIX = ("misclassification rate of each target (victim half) on {n_craft} test images crafted on each source "
           "(attacker half): FGSM eps 0.3 clipped for dnn, lr, svm; Algorithm 2 for dt; FGSM on kNN's soft stand-in "
           "for knn. " + _MODELS)
_TREE = "Algorithm 2 (offset 0.001) on the attacker's tree, {n_craft} test images"
_BLACKBOX = ("oracle: SmallConvNet on the victim half (the reproduction's conv recipe, {conv_epochs} epochs); "
             "substitute: MLP 784-200-200-10 ReLU from {n_attacker} held-out test images, {rounds} rounds of "
             "{substitute_epochs} epochs, lambda -0.1 then +0.1 after 3 rounds; FGSM eps 0.3 clipped on the substitute, "
             "from its predictions; "
             "evaluated on {n_blackbox_eval} other test images")

_BY_ORACLE = ("each victim as the oracle, the same attack from the same images (conv: the SmallConvNet above; conv_weak: "
              "a SmallConvNet trained as in CleverHans' test of its tutorial, Adam 0.001 for {weak_oracle_epochs} epochs "
              "on {weak_oracle_images} images of the victim half)")


def _row(id, metric, setup, tolerance=None, paper=None, clip=None) -> Claim:
    return Claim(id, metric, paper, tolerance, setup, clip)


CLAIMS = (
    _row("transfer_clean_accuracy", "accuracy", "clean accuracy on the {n_craft} test images; " + _MODELS),
    _row("transfer_matrix", "error_rate", _MATRIX, clip=CLIPPED),
    _row("knn_standin_agreement", "agreement", "the fraction of the {n_craft} test images on which kNN's soft stand-in "
         "(softmax of minus the mean squared distance to each class's k nearest) predicts as the attacker's kNN does"),
    _row("dt_attack_success", "success_rate", _TREE + ": the fraction whose prediction changed"),
    _row("dt_attack_l0", "features_changed", _TREE + ": the mean number of pixels changed"),
    _row("dt_attack_linf", "linf", _TREE + ": the mean largest change of a pixel"),
    _row("blackbox_oracle_clean_accuracy", "accuracy", _BLACKBOX, {"at_least": 0.7}),
    _row("blackbox_substitute_accuracy", "accuracy", _BLACKBOX, {"at_least": 0.7}),
    _row("blackbox_substitute_agreement", "agreement", _BLACKBOX + "; the fraction on which substitute and oracle agree"),
    _row("blackbox_oracle_transfer_accuracy", "accuracy", _BLACKBOX, {"at_most": 0.3}, clip=CLIPPED),
    _row("blackbox_queries", "queries", "label queries while building the substitute ({n_attacker} x 2^(rounds - 1); "
         "the evaluation's own predictions are not counted)"),
    _row("blackbox_by_round", "accuracy", "after each round: the substitute's test accuracy and its agreement with "
         "the oracle, on the evaluation images; the set has {n_attacker} x 2^round points"),
    _row("blackbox_by_oracle", "accuracy", _BY_ORACLE + ": the oracle's accuracy on the transferred examples",
         clip=CLIPPED),
    _row("blackbox_clean_by_oracle", "accuracy", _BY_ORACLE + ": the oracle's clean accuracy"),
)
