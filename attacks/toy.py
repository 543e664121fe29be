"""The lecture's 10-dimensional logistic-regression example, computed through the library.

A logistic model p(y = 1 | x) = sigma(w . x + b) with

    w = [-5, 3, -2, 2, -2, -5, -4, 3, 4, -4],   x = [-1, -1, 1, -1, 1, 1, -1, 1, -1, -1],   b = 0

puts w . x = -2, so p(y = 1) = sigma(-2) = 0.12: class 0. FGSM with eps = 0.1 (label 0,
no clipping) moves every coordinate by 0.1 in the direction of sign(w); w . x grows by
eps * ||w||_1 = 0.1 * 34 = 3.4, to 1.4, and p(y = 1) = sigma(1.4) = 0.80: class 1. No
coordinate moved by more than 0.1, yet the decision flipped, because 10 small changes,
each aligned with its weight, add up. In 784 dimensions they add up to far more.
"""

from __future__ import annotations

import numpy as np

from models import LogisticRegression

from .methods import fgsm

W = np.array([-5, 3, -2, 2, -2, -5, -4, 3, 4, -4], dtype=np.float32)
X = np.array([-1, -1, 1, -1, 1, 1, -1, 1, -1, -1], dtype=np.float32)
EPS = 0.1


def toy_model(w=W, b: float = 0.0) -> LogisticRegression:
    """The example's logistic regression: weights w, bias 0 (or any other ``w`` and ``b``)."""
    model = LogisticRegression(len(w), init="zeros")
    model.linear.weight.data[:, 0] = w
    model.linear.bias.data[:] = b
    return model


def toy_example(eps: float = EPS) -> dict:
    """The numbers of the example, computed by running FGSM on the model (no clipping)."""
    model = toy_model()
    x = X[None, :]
    x_adv = fgsm(model, x, np.array([0]), eps=eps, clip=None)
    p_before, p_after = model.predict_proba(x)[0, 1], model.predict_proba(x_adv)[0, 1]
    return {
        "w": W, "x": X, "x_adv": x_adv[0], "eps": eps,
        "wx": float(W @ X), "wx_adv": float(W @ x_adv[0]), "l1_norm_w": float(np.abs(W).sum()),
        "p_before": float(p_before), "p_after": float(p_after),
    }


def describe(example: dict) -> str:
    """The walkthrough as text, every number from ``example``."""
    e = example
    return "\n".join([
        "The lecture's logistic-regression example: p(y=1|x) = sigmoid(w.x + b), b = 0",
        f"  w     = {e['w'].astype(int).tolist()}",
        f"  x     = {e['x'].astype(int).tolist()}",
        f"  w.x   = {e['wx']:+.2f}   p(y=1) = sigmoid({e['wx']:+.1f}) = {e['p_before']:.2f}  -> class {int(e['wx'] > 0)}",
        f"FGSM, eps = {e['eps']} (label 0, no clipping): x_adv = x + eps * sign(w)",
        f"  x_adv = {[round(float(v), 2) for v in e['x_adv']]}",
        f"  w.x_adv = {e['wx_adv']:+.2f}   p(y=1) = {e['p_after']:.2f}  -> class {int(e['wx_adv'] > 0)}",
        f"  change in w.x = eps * ||w||_1 = {e['eps']} * {e['l1_norm_w']:.0f} = {e['wx_adv'] - e['wx']:.2f};"
        f" no coordinate moved by more than {e['eps']}",
    ])
