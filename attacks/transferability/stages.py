"""The stages of ``advex transfer``, each a function of the running :class:`~attacks.transferability.run.Transferability`.

Like the reproduction's stages, each computes once (kept in the run folder under its
name) and returns measurements ``{"id", "metric", "ours", "n"}`` for the report.
"""

from __future__ import annotations

import numpy as np

import models

from .. import figures
from ..blackbox import LabelOracle, train_substitute
from ..decision_tree import decision_tree_attack
from ..methods import fgsm
from ..reproduction.stages import measurement
from .claims import EPS, PUBLISHED_MATRIX, TARGETS, TECHNIQUES

CLIP = (0.0, 1.0)


def majority_vote(predictions: np.ndarray) -> np.ndarray:
    """(N,) the label most of the (K, N) predictions give; a tie goes to the tied label of the earliest model."""
    k, n = predictions.shape
    counts = np.zeros((n, int(predictions.max()) + 1), np.int64)
    np.add.at(counts, (np.arange(n)[None, :].repeat(k, 0), predictions), 1)
    tied = counts[np.arange(n)[None, :], predictions] == counts.max(axis=1)  # (K, N): the model's label is a winner
    return predictions[np.argmax(tied, axis=0), np.arange(n)]


def predictions_of(victims: dict, x: np.ndarray) -> dict:
    """target -> (N,) predicted labels of x, for each victim and their ensemble."""
    found = {name: model.predict(x) for name, model in victims.items()}
    found["ensemble"] = majority_vote(np.stack([found[name] for name in TECHNIQUES]))
    return found


def craft(r, technique: str, source, x, y) -> np.ndarray:
    """Adversarial examples of x made on ``source`` by its own white-box attack (see the claims' setup)."""
    if technique == "dt":
        return decision_tree_attack(source, x, y)
    if technique == "knn":
        source = models.SoftNearestNeighbors(source)
    return fgsm(source, x, y, EPS, clip=CLIP)


def clean_accuracy(r) -> list:
    """Every model's accuracy on the crafting images: the victims, their ensemble, and the sources."""
    x, y = r.craft

    def run():
        victims = {t: r.model(t, "victim") for t in TECHNIQUES}
        found = {t: float(np.mean(p == y)) for t, p in predictions_of(victims, x).items()}
        found |= {f"{t}_source": float(np.mean(r.model(t, "source").predict(x) == y)) for t in TECHNIQUES}
        return found

    return [measurement("transfer_clean_accuracy", "accuracy", r.folder.stage("clean accuracy", run), len(y))]


def transfer_between_techniques(r) -> list:
    """The matrix: each source's examples (attacker half) against each target (victim half); one stage per source."""
    x, y = r.craft
    matrix = {}
    for technique in TECHNIQUES:
        def run(technique=technique):
            x_adv = craft(r, technique, r.model(technique, "source"), x, y)
            victims = {t: r.model(t, "victim") for t in TECHNIQUES}
            return {t: float(np.mean(p != y)) for t, p in predictions_of(victims, x_adv).items()}

        matrix[technique] = r.folder.stage(f"transfer from {technique}", run)

    def agreement():
        knn = r.model("knn", "source")
        return float(np.mean(models.SoftNearestNeighbors(knn).predict(x) == knn.predict(x)))

    r.figure("transfer_matrix.png", figures.plot_transfer_matrix, matrix, TECHNIQUES, TARGETS, published=PUBLISHED_MATRIX,
             title=f"cross-technique transfer, n = {len(y)}: % of the source's examples the target misclassifies")
    return [measurement("transfer_matrix", "error_rate", matrix, len(y)),
            measurement("knn_standin_agreement", "agreement", r.folder.stage("knn stand-in agreement", agreement), len(y))]


def tree_attack(r) -> list:
    """Algorithm 2 on the attacker's tree, white box: how often it flips the prediction, and how much it changes."""
    x, y = r.craft

    def run():
        tree = r.model("dt", "source")
        x_adv = decision_tree_attack(tree, x)
        return {"success": float(np.mean(tree.predict(x_adv) != tree.predict(x))),
                "l0": float(np.mean(np.count_nonzero(x_adv != x, axis=1))),
                "linf": float(np.mean(np.abs(x_adv - x).max(axis=1)))}

    e = r.folder.stage("tree attack", run)
    return [measurement("dt_attack_success", "success_rate", e["success"], len(y)),
            measurement("dt_attack_l0", "features_changed", e["l0"], len(y)),
            measurement("dt_attack_linf", "linf", e["linf"], len(y))]


def black_box_attack(r, victim) -> dict:
    """The whole attack on ``victim`` behind a :class:`LabelOracle`, from the attacker's images: the substitute's
    accuracy and agreement after each round, the queries, and the victim's accuracy on the transferred examples."""
    b, (x_eval, y_eval) = r.budget, r.blackbox_eval
    oracle = LabelOracle(victim)
    victim_labels = victim.predict(x_eval)  # the evaluation's predictions: not queries of the attacker
    substitute = models.MLP((r.n_features, 200, 200, r.n_classes), seed=r.seed)
    by_round = {"substitute_accuracy": [], "oracle_agreement": []}

    def measure(rho, model, size):
        predicted = model.predict(x_eval)
        by_round["substitute_accuracy"].append(float(np.mean(predicted == y_eval)))
        by_round["oracle_agreement"].append(float(np.mean(predicted == victim_labels)))

    train_substitute(oracle, r.attacker, substitute, rounds=b.rounds, epochs=b.substitute_epochs, seed=r.seed,
                     after_round=measure)
    x_adv = fgsm(substitute, x_eval, None, EPS, clip=CLIP)  # from the substitute's predictions: no true labels
    return {"by_round": by_round, "queries": oracle.queries, "clean": float(np.mean(victim_labels == y_eval)),
            "transfer": float(np.mean(victim.predict(x_adv) == y_eval))}


def blackbox(r) -> list:
    """The black-box attack on the conv oracle, as in CleverHans' mnist_blackbox."""
    n = len(r.blackbox_eval[1])
    e = r.folder.stage("black box conv", lambda: black_box_attack(r, r.model("conv", "victim")))
    sizes = [r.budget.n_attacker * 2**rho for rho in range(r.budget.rounds)]
    r.figure("blackbox_by_round.png", figures.plot_substitute_rounds, e["by_round"], sizes,
             title=f"the substitute after each round of augmentation (n = {n})")
    return [measurement("blackbox_oracle_clean_accuracy", "accuracy", e["clean"], n),
            measurement("blackbox_substitute_accuracy", "accuracy", e["by_round"]["substitute_accuracy"][-1], n),
            measurement("blackbox_substitute_agreement", "agreement", e["by_round"]["oracle_agreement"][-1], n),
            measurement("blackbox_oracle_transfer_accuracy", "accuracy", e["transfer"], n),
            measurement("blackbox_queries", "queries", e["queries"], n),
            measurement("blackbox_by_round", "accuracy", e["by_round"], n)]


def blackbox_other_oracles(r) -> list:
    """The same attack, from the same images, against each victim of the matrix as the oracle, and against the
    conv net briefly trained as in CleverHans' test of its tutorial (``conv_weak``)."""
    n = len(r.blackbox_eval[1])
    found = {"conv": r.folder.stage("black box conv", lambda: black_box_attack(r, r.model("conv", "victim")))}
    for technique in ("conv_weak", "dnn", "lr", "svm", "dt", "knn"):
        found[technique] = r.folder.stage(f"black box {technique}",
                                          lambda t=technique: black_box_attack(r, r.model(t, "victim")))
    return [measurement("blackbox_by_oracle", "accuracy", {t: e["transfer"] for t, e in found.items()}, n),
            measurement("blackbox_clean_by_oracle", "accuracy", {t: e["clean"] for t, e in found.items()}, n)]
