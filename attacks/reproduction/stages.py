"""The stages of the reproduction: each measures something and returns measurements.

A stage is a function of the running :class:`~attacks.reproduction.run.Reproduction`
(its data, budget, seed, models and run folder). What it computes is kept in the run
folder under the stage's name, so a re-run reads it back instead of computing it
again; it returns measurements ``{"id", "metric", "ours", "n"}`` that the report joins
with the claims. Stages that only draw figures return none.
"""

from __future__ import annotations

import numpy as np

import models
import training

from .. import figures
from ..methods import fgsm, noise_attack
from ..metrics import evaluate, fgsm_preprocessed, linearity, transfer_matrix
from ..toy import toy_example
from .claims import CIFAR_EPS, CIFAR_LECTURE_EPS, CLIPPED, EPS

#: The id prefix of each model's rows (``maxout_adversarial`` reports as ``advmaxout_*``).
ROW_PREFIX = {"maxout_adversarial": "advmaxout"}


def measurement(id: str, metric: str, ours, n: int) -> dict:
    return {"id": id, "metric": metric, "ours": ours, "n": n}


def toy(r) -> list:
    """The lecture's 10-dimensional logistic example (no data)."""
    e = r.folder.stage("toy", lambda: {k: float(v) for k, v in toy_example().items() if np.ndim(v) == 0})
    return [measurement("toy_example", "sigmoid before", e["p_before"], 1),
            measurement("toy_example", "sigmoid after", e["p_after"], 1)]


def logreg37(r) -> list:
    """Logistic regression on 3 versus 7, clean and under FGSM (the paper's linear model)."""
    def run():
        keep = np.isin(r.train[1], (3, 7))
        X, y = r.train[0][keep], (r.train[1][keep] == 7).astype(np.int64)
        test = np.isin(r.y_test, (3, 7))
        X_test, y_test = r.X_test[test], (r.y_test[test] == 7).astype(np.int64)
        model = models.LogisticRegression(X.shape[1])
        training.fit(model, X, y, seed=r.seed, progress=False,
                     **training.linear_classifier_recipe(model, epochs=r.budget.logreg_epochs))
        clean, adv = evaluate(model, X_test, y_test, eps=[0.0, EPS], clip=None, zero_grad=False)
        return {"clean": clean["error_rate"], "fgsm": adv["error_rate"], "n": clean["n"]}

    e = r.folder.stage("logreg37", run)
    return [measurement("logreg37_clean", "error_rate", e["clean"], e["n"]),
            measurement("logreg37_fgsm", "error_rate", e["fgsm"], e["n"])]


def fgsm_of(name: str):
    """The stage for one model: clean error and confidence, FGSM at EPS unclipped and clipped."""
    def stage(r) -> list:
        model = r.model(name)

        def run():
            clean, adv = evaluate(model, r.X_test, r.y_test, eps=[0.0, EPS], clip=None, zero_grad=False)
            clipped = evaluate(model, r.X_test, r.y_test, eps=[EPS], clip=CLIPPED, zero_grad=False)[0]
            return {"clean": clean["error_rate"], "clean_confidence": float(model.predict_proba(r.X_test).max(1).mean()),
                    "error": adv["error_rate"], "confidence": adv["confidence_wrong"],
                    "error_clipped": clipped["error_rate"], "confidence_clipped": clipped["confidence_wrong"], "n": adv["n"]}

        e = r.folder.stage(f"fgsm {name}", run)
        prefix, n = ROW_PREFIX.get(name, name), e["n"]
        return [measurement(f"{prefix}_clean", "error_rate", e["clean"], n),
                measurement(f"{prefix}_clean", "mean_confidence", e["clean_confidence"], n),
                measurement(f"{prefix}_fgsm", "error_rate", e["error"], n),
                measurement(f"{prefix}_fgsm", "confidence_wrong", e["confidence"], n),
                measurement(f"{prefix}_fgsm_clipped", "error_rate", e["error_clipped"], n),
                measurement(f"{prefix}_fgsm_clipped", "confidence_wrong", e["confidence_clipped"], n)]

    stage.__name__ = f"fgsm {name}"
    return stage


def noise_of(name: str):
    """The random-sign-noise baseline of the same size as FGSM, for one model."""
    def stage(r) -> list:
        model = r.model(name)

        def run():
            clean, noisy = evaluate(model, r.X_test, r.y_test, attack=noise_attack(r.seed), eps=[0.0, EPS],
                                    clip=None, zero_grad=False)
            return {"clean": clean["error_rate"], "noise": noisy["error_rate"], "n": noisy["n"]}

        e = r.folder.stage(f"noise {name}", run)
        return [measurement(f"{name}_noise", "error_rate", e["noise"], e["n"])]

    stage.__name__ = f"noise {name}"
    return stage


def curves(names):
    """Error and confidence versus eps, FGSM against noise, for the models ``names`` (a figure)."""
    def stage(r) -> list:
        n = r.budget.n_curve
        result = {}
        for name in names:
            model = r.model(name)
            for label, attack in (("FGSM", fgsm), ("noise", noise_attack(r.seed))):
                key = f"{name}, {label}"
                result[key] = r.folder.stage(f"curve {key}", lambda: evaluate(
                    model, r.X_test[:n], r.y_test[:n], attack=attack, clip=None, zero_grad=False))
        r.figure("eps_curves.png", figures.plot_eps_curves, result, title=f"n = {min(n, len(r.y_test))} test examples")
        return []

    stage.__name__ = "curves"
    return stage


def transfer(r) -> list:
    """FGSM crafted on one maxout network, evaluated on the other, both ways."""
    def run():
        pair = [r.model("maxout"), r.model("maxout_adversarial")]
        t = transfer_matrix(pair, r.X_test, r.y_test, EPS, clip=None)
        return {"orig_to_adv": float(t["error"][0, 1]), "adv_to_orig": float(t["error"][1, 0]), "n": t["n"]}

    t = r.folder.stage("transfer", run)
    n = t["n"]
    return [measurement("transfer_orig_to_adv", "error_rate", t["orig_to_adv"], n),
            measurement("transfer_adv_to_orig", "error_rate", t["adv_to_orig"], n),
            measurement("transfer_asymmetry", "holds: orig_to_adv < adv_to_orig", float(t["orig_to_adv"] < t["adv_to_orig"]), n)]


def linearity_and_examples(r) -> list:
    """The logits along the FGSM direction, and clean versus adversarial digits (figures)."""
    model = r.model("maxout")
    r.figure("linearity.png", figures.plot_linearity, linearity(model, r.X_test[:1], r.y_test[:1], eps_max=1.0),
             attack_eps=EPS)
    x, y = r.X_test[:8], r.y_test[:8]
    if figures.image_shape_of(model, x.shape[1]) is not None:  # the digits figure needs images
        r.figure("examples.png", figures.plot_examples, model, x, fgsm(model, x, y, EPS, clip=None), y,
                 title="maxout network, FGSM eps = 0.25 (unclipped): prediction (confidence), red = wrong")
    return []


def rubbish(r) -> list:
    """The "rubbish class" test: how often N(0, I) noise is classified with confidence > 0.5."""
    names = ("maxout", "softmax", "rbf")

    def run():
        noise = np.random.default_rng(r.seed).standard_normal((r.budget.n_rubbish, r.X.shape[1])).astype(np.float32)
        result = {}
        for name in names:
            top = r.model(name).predict_proba(noise).max(axis=1)
            fooled = top > 0.5
            result[name] = {"fooled": float(fooled.mean()), "confidence": float(top[fooled].mean()) if fooled.any() else None}
        return result

    e = r.folder.stage("rubbish", run)
    n = r.budget.n_rubbish
    found = []
    for name in names:
        found += [measurement(f"rubbish_{name}", "fooled_fraction", e[name]["fooled"], n),
                  measurement(f"rubbish_{name}", "confidence_fooled", e[name]["confidence"], n)]
    order = e["rbf"]["fooled"] < e["softmax"]["fooled"] < e["maxout"]["fooled"]
    return found + [measurement("rubbish_order", "holds: rbf < softmax < maxout", float(order), n)]


def cifar(r) -> list:
    """CIFAR-10: the conv maxout network clean, then FGSM at the paper's and the lecture's eps.

    The eps are in the preprocessed units (GCN, then ZCA whitening) of the paper; each
    row also says what that perturbation costs in pixels, and how the model does on
    it applied in pixels (:func:`attacks.fgsm_preprocessed`). The figure shows clean
    test images, the perturbation in pixels and the perturbed images, in colour.
    """
    model = r.model("cifar_maxout")
    X, y = r.cifar["test"]

    def run():
        predicted, proba = model.predict_with_proba(X)  # the clean error and confidence from one pass
        paper, lecture = fgsm_preprocessed(model, X, y, [CIFAR_EPS, CIFAR_LECTURE_EPS])
        return {"clean": float(np.mean(predicted != y)), "clean_confidence": float(proba.max(1).mean()),
                "fgsm": paper, "fgsm_lecture": lecture, "n": len(y)}

    e = r.folder.stage("cifar maxout", run)
    x, labels = X[:8], y[:8]
    view = model.on_preprocessed()
    z = model.preprocess(x).data
    x_adv = x + model.preprocess.pixel_change(x, fgsm(view, z, labels, CIFAR_EPS, clip=None) - z)
    r.figure("cifar_examples.png", figures.plot_examples, model, x, x_adv, labels,
             title=f"conv maxout, FGSM eps = {CIFAR_EPS} (preprocessed units; {e['fgsm']['mean_linf_pixels']:.3f} in "
                   "pixels), drawn in pixels: prediction (confidence), red = wrong")
    n = e["n"]
    found = [measurement("cifar_maxout_clean", "error_rate", e["clean"], n),
             measurement("cifar_maxout_clean", "mean_confidence", e["clean_confidence"], n)]
    for id, row in (("cifar_maxout_fgsm", e["fgsm"]), ("cifar_maxout_fgsm_lecture", e["fgsm_lecture"])):
        found += [measurement(id, metric, row[metric], n)
                  for metric in ("error_rate", "confidence_wrong", "mean_linf_pixels", "error_rate_in_pixels")]
    return found
