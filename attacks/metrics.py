"""Measuring attacks: error and confidence versus eps, transfer between models, linearity.

Every number here comes with ``n``, the number of examples it was measured on, and
records whether the adversarial examples were clipped to the valid range.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.validation import is_integer
from models.classifiers import check_batch_size

from .checks import attack_name, check_inputs, checked_attack, eps_list, examples_of, labels_for, real_number
from .gradients import attack_direction
from .methods import fgsm

DEFAULT_EPS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def evaluate(model, x, y, attack=fgsm, eps=DEFAULT_EPS, *, clip=(0.0, 1.0), batch_size: int = 1000,
             zero_grad: bool = True) -> list:
    """One row per eps: how the model does on ``attack(model, x, y, eps, clip=clip)``.

    Keys of each row:

    * ``error_rate``: fraction of adversarial examples misclassified;
    * ``confidence_wrong``: mean top probability on the misclassified ones (the paper's
      "average confidence"; NaN if none is wrong);
    * ``p_true``: mean probability of the true class;
    * ``linf``, ``l2``: mean L-infinity and L2 size of the perturbation actually applied
      (after clipping);
    * ``zero_grad_fraction``: fraction of input-gradient components that are exactly 0
      at the clean inputs (the plain float32 gradient: where it is 0, a plain FGSM
      does nothing); it costs one extra gradient pass per batch, so ``zero_grad=False``
      skips it (the key is then None), as a gradient-free baseline such as noise wants;
    * ``eps``, ``n``, ``clip``, and ``units``: the unit of eps, the model's ``input_units``
      ("pixels", or "preprocessed" for :meth:`models.ImageClassifier.on_preprocessed`).

    ``attack`` is any callable ``(model, x, y, eps, clip=...) -> x_adv`` (use
    ``functools.partial`` for more arguments; :func:`attacks.noise_attack` adapts the
    random baseline); what it returns is checked to be x's shape and dtype, within eps
    of x in L-infinity (to float32 rounding) and inside ``clip``
    (:func:`attacks.checks.check_adversarial`), else a ValueError names it; it gets x and
    y read-only, and one that writes into them is a ValueError naming it too
    (:func:`attacks.checks.checked_attack`). Works in batches of ``batch_size``, so memory
    stays bounded.
    """
    batch_size = check_batch_size(batch_size, "evaluate")
    x = check_inputs(model, examples_of(x, "evaluate"), clip, "evaluate")
    y = labels_for(model, y, len(x), required=True, what="y (the true labels)")
    eps_values, name = eps_list(eps, "evaluate"), attack_name(attack)
    totals = [dict(wrong=0, confidence_wrong=0.0, p_true=0.0, linf=0.0, l2=0.0) for _ in eps_values]
    zeros = 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        if zero_grad:
            zeros += int(np.count_nonzero(attack_direction(model, xb, yb, exact=False) == 0))
        for t, e in zip(totals, eps_values):
            x_adv = xb if e == 0 else checked_attack(attack, model, xb, yb, e, clip, name, "evaluate")
            predicted, proba = model.predict_with_proba(x_adv)
            wrong = predicted != yb
            each = np.arange(len(yb))
            delta = (x_adv - xb).reshape(len(xb), -1)
            t["wrong"] += int(wrong.sum())
            t["confidence_wrong"] += float(proba[each, predicted][wrong].sum())
            t["p_true"] += float(proba[each, yb].sum())
            t["linf"] += float(np.abs(delta).max(axis=1).sum()) if delta.size else 0.0
            t["l2"] += float(np.sqrt(np.einsum("ij,ij->i", delta, delta)).sum())
    n = len(x)
    rows = []
    for t, e in zip(totals, eps_values):
        rows.append({
            "eps": e,
            "error_rate": t["wrong"] / n,
            "confidence_wrong": t["confidence_wrong"] / t["wrong"] if t["wrong"] else float("nan"),
            "p_true": t["p_true"] / n,
            "linf": t["linf"] / n,
            "l2": t["l2"] / n,
            "zero_grad_fraction": zeros / x.size if zero_grad else None,
            "n": n,
            "clip": None if clip is None else [float(clip[0]), float(clip[1])],
            "units": getattr(model, "input_units", "pixels"),
        })
    return rows


def fgsm_preprocessed(model, x, y, eps, *, batch_size: int = 1000) -> list:
    """FGSM with eps in the units of the model's preprocessed inputs, measured in both units.

    The maxout paper's CIFAR-10 eps (0.1) perturbs the GCN + ZCA preprocessed images,
    not the pixels. For a model with a preprocessing layer (``model.preprocess``) and
    pixel rows ``x``, each eps gives one row with the keys of :func:`evaluate` (here on
    the preprocessed images, unclipped: they have no valid range; ``units`` is
    "preprocessed"), plus what the same perturbation means in pixels:

    * ``mean_linf_pixels``: the mean L-infinity norm of the pixel change that makes it,
      to first order (:meth:`models.ContrastWhitening.pixel_change`);
    * ``error_rate_in_pixels``: the model's error on ``x`` plus that change (unclipped).

    Like :func:`evaluate`, it refuses an empty ``x`` with a ValueError: a rate over no
    examples has no value.
    """
    batch_size = check_batch_size(batch_size, "fgsm_preprocessed")
    x = check_inputs(model, examples_of(x, "fgsm_preprocessed", np.float32), None, "fgsm_preprocessed")
    y = labels_for(model, y, len(x), required=True, what="y (the true labels)")
    if getattr(model, "preprocess", None) is None:
        raise ValueError(f"fgsm_preprocessed: {type(model).__name__} has no preprocessing layer (model.preprocess)")
    view, values = model.on_preprocessed(), eps_list(eps, "fgsm_preprocessed")
    totals = [dict(wrong=0, confidence_wrong=0.0, p_true=0.0, linf=0.0, l2=0.0, linf_pixels=0.0, wrong_pixels=0)
              for _ in values]
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        with model.evaluating(), mg.no_grad():
            z = model.preprocess(xb).data  # once per batch, for every eps
        for t, e in zip(totals, values):
            z_adv = fgsm(view, z, yb, e, clip=None)
            predicted, proba = view.predict_with_proba(z_adv)
            wrong, each = predicted != yb, np.arange(len(yb))
            pixels = model.preprocess.pixel_change(xb, z_adv - z)
            t["wrong"] += int(wrong.sum())
            t["confidence_wrong"] += float(proba[each, predicted][wrong].sum())
            t["p_true"] += float(proba[each, yb].sum())
            t["linf"] += float(np.abs(z_adv - z).max(axis=1).sum())
            t["l2"] += float(np.linalg.norm(z_adv - z, axis=1).sum())
            t["linf_pixels"] += float(np.abs(pixels).max(axis=1).sum())
            t["wrong_pixels"] += int((model.predict(xb + pixels) != yb).sum())
    n, rows = len(x), []
    for t, e in zip(totals, values):
        rows.append({"eps": e, "error_rate": t["wrong"] / n,
                     "confidence_wrong": t["confidence_wrong"] / t["wrong"] if t["wrong"] else float("nan"),
                     "p_true": t["p_true"] / n, "linf": t["linf"] / n, "l2": t["l2"] / n, "zero_grad_fraction": None,
                     "n": n, "clip": None, "units": "preprocessed", "mean_linf_pixels": t["linf_pixels"] / n,
                     "error_rate_in_pixels": t["wrong_pixels"] / n})
    return rows


def transfer_matrix(models, x, y, eps, *, attack=fgsm, clip=(0.0, 1.0), batch_size: int = 1000) -> dict:
    """How examples crafted on one model fool the others.

    Returns ``{"error": E, "agree_wrong": A, "n": n}`` with E[i, j] the error rate of
    model j on the examples crafted (with ``attack`` at ``eps``) on model i, and
    A[i, j] the fraction of examples that both models misclassify *as the same class*
    (the paper: adversarial examples transfer, and often with the same wrong label).
    """
    models = list(models)
    batch_size = check_batch_size(batch_size, "transfer_matrix")
    if not models:
        raise ValueError("transfer_matrix: needs at least one model, got none")
    x = check_inputs(models[0], examples_of(x, "transfer_matrix"), clip, "transfer_matrix")
    y = labels_for(models[0], y, len(x), required=True, what="y (the true labels)")
    eps, name = eps_list(eps, "transfer_matrix"), attack_name(attack)
    if len(eps) != 1:
        raise ValueError(f"transfer_matrix: eps must be one number, got {eps}")
    eps = eps[0]
    k = len(models)
    wrong = np.zeros((k, k))
    agree = np.zeros((k, k))
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        for i, source in enumerate(models):
            x_adv = checked_attack(attack, source, xb, yb, eps, clip, name, "transfer_matrix")
            predictions = [m.predict(x_adv) for m in models]
            for j in range(k):
                wrong_i, wrong_j = predictions[i] != yb, predictions[j] != yb
                wrong[i, j] += np.count_nonzero(wrong_j)
                agree[i, j] += np.count_nonzero(wrong_i & wrong_j & (predictions[i] == predictions[j]))
    n = len(x)
    return {"error": wrong / n, "agree_wrong": agree / n, "n": n, "eps": float(eps),
            "clip": None if clip is None else [float(clip[0]), float(clip[1])]}


def linearity(model, x, y=None, *, eps_max: float = 1.0, num: int = 101) -> dict:
    """The logits along the FGSM direction (the paper's Figure 4): how linear is the model?

    For each example x_i (a batch of shape (N, D)), d_i = sign(grad_x L(x_i, y_i)) and the
    logits of x_i + eps * d_i for ``num`` values of eps from -eps_max to +eps_max, with no
    clipping. Returns ``{"eps": (num,), "logits": (num, N, n_classes), "labels": (N,), "output":
    what the logits are (the model's ``output_name``: "logit", or the RBF's "log p_c")}``.
    A model that is linear in this direction draws straight lines.
    """
    if not 0 < real_number(eps_max, "linearity: eps_max") < np.inf or not is_integer(num) or num < 2:
        raise ValueError(f"linearity: need a finite eps_max > 0 and an integer num >= 2, got {eps_max} and {num!r}")
    x = check_inputs(model, examples_of(x, "linearity", np.float32), None, "linearity")
    y = model.predict(x) if y is None else labels_for(model, y, len(x), required=True, what="y (the true labels)")
    direction = np.sign(attack_direction(model, x, y))
    eps = np.linspace(-eps_max, eps_max, num, dtype=np.float32)
    walked = (x[None, :, :] + eps[:, None, None] * direction[None, :, :]).reshape(-1, x.shape[1])
    logits = model.logits_of(walked, 2000, "linearity")
    return {"eps": eps, "logits": logits.reshape(num, len(x), -1), "labels": y,
            "output": getattr(model, "output_name", "logit")}
