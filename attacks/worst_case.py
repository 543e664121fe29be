"""Worst-case evaluation over an attack suite, and the flags that say an evaluation is unreliable.

A robustness number is only as good as the strongest attack behind it. AutoAttack's
rule (Croce & Hein 2020) is to run several different attacks and count an example as
broken if *any* of them breaks it: the per-example worst case, never the average over
attacks. AutoAttack also flags the signs that even that number may be too kind, and so
does :func:`worst_case`:

* ``zero_gradients``: examples whose plain float32 input gradient is exactly zero. A
  gradient attack cannot move them, whatever their true robustness.
* ``black_box_beats_white_box``: a gradient-free or transfer attack breaks more
  examples than every white-box one, although it knows less. The white-box gradients
  are then misleading: gradient masking (Athalye, Carlini & Wagner 2018).
* ``outputs_are_probabilities``: the model's outputs are probabilities (each row in
  [0, 1], summing to 1), not logits. A loss built on them saturates, and so do its
  gradients.
* ``random_outputs``: two identical calls give different outputs (randomness at test
  time), so one attack run measures one draw, not the model.

:func:`worst_case` runs the suite, returns each attack's error, the worst case, and the
flags (each with its value and whether it fired).
"""

from __future__ import annotations

import numpy as np

from models.classifiers import check_batch_size

from .checks import check_eps, check_inputs, checked_attack, examples_of, labels_for
from .gradients import attack_direction


def worst_case(model, x, y, eps, *, white_box: dict, black_box: dict | None = None, clip=(0.0, 1.0),
               batch_size: int = 1000) -> dict:
    """Each attack's error on ``x`` and the per-example worst case over all of them, with the flags.

    ``eps``: a number, or one per example. ``white_box`` and ``black_box`` map names to attacks ``(model, x, y, eps, clip=...)
    -> x_adv`` (the same callables :func:`attacks.evaluate` takes); black-box ones are
    gradient-free or transfer attacks. Returns ``{"n", "eps", "clip", "clean_error",
    "attacks": {name: {"error_rate", "kind", "only_broken_by_it"}}, "worst_case":
    {"error_rate"}, "flags": {name: {"value", "fired"}}}``; an example wrong on the clean
    input counts as broken by every attack. What each attack returns is checked to be x's
    shape and dtype, within eps of x (L-infinity, to float32 rounding) and inside ``clip``
    (:func:`attacks.checks.check_adversarial`), else a ValueError names the attack: an
    example it moved further would be counted as broken at eps. Each attack gets x, y and
    eps read-only: one that wrote into them would hand its moves on to the next attack
    (:func:`attacks.checks.checked_attack`).
    """
    black_box = dict(black_box or {})
    batch_size = check_batch_size(batch_size, "worst_case")
    clashing = sorted(set(white_box) & set(black_box))
    if not white_box or clashing:
        raise ValueError("worst_case: needs at least one white-box attack, and distinct names "
                         f"(both lists have {clashing})" if clashing else "worst_case: needs at least one white-box attack")
    x = check_inputs(model, examples_of(x, "worst_case"), clip, "worst_case")
    y = labels_for(model, y, len(x), required=True, what="y (the true labels)")
    radius = check_eps(eps, len(x), x.dtype, "worst_case")  # the attacks see eps batch by batch: its length is x's
    per_example = radius.ndim > 0
    suite = {**{name: ("white-box", a) for name, a in white_box.items()}, **{name: ("black-box", a) for name, a in black_box.items()}}
    clean_wrong = model.predict(x) != y
    wrong = {name: clean_wrong.copy() for name in suite}
    zero = np.zeros(len(x), dtype=bool)
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        zero[start : start + len(xb)] = ~attack_direction(model, xb, yb, exact=False).reshape(len(xb), -1).any(axis=1)
        eps_b = np.asarray(eps)[start : start + len(xb)] if per_example else eps
        radius_b = radius[start : start + len(xb)] if per_example else radius
        for name, (_, attack) in suite.items():
            x_adv = checked_attack(attack, model, xb, yb, eps_b, clip, name, "worst_case", radius_b)
            wrong[name][start : start + len(xb)] |= model.predict(x_adv) != yb
    broken = np.logical_or.reduce(list(wrong.values()))
    attacks = {}
    for name, (kind, _) in suite.items():
        others = [w for other, w in wrong.items() if other != name]
        alone = wrong[name] & ~np.logical_or.reduce(others) if others else wrong[name] & ~clean_wrong
        attacks[name] = {"error_rate": float(wrong[name].mean()), "kind": kind, "only_broken_by_it": int(alone.sum())}
    best_white = max(attacks[name]["error_rate"] for name in white_box)
    best_black = max((attacks[name]["error_rate"] for name in black_box), default=None)
    first = model.logits_of(x[:batch_size])
    again = model.logits_of(x[:batch_size])
    probabilities = bool(first.ndim == 2 and ((first >= 0) & (first <= 1)).all() and np.allclose(first.sum(axis=1), 1, atol=1e-4))
    flags = {
        "zero_gradients": {"value": float(zero.mean()), "fired": bool(zero.any())},
        "black_box_beats_white_box": {"value": None if best_black is None else best_black - best_white,
                                      "fired": best_black is not None and best_black > best_white},
        "outputs_are_probabilities": {"value": probabilities, "fired": probabilities},
        "random_outputs": {"value": float(np.abs(first - again).max()), "fired": not np.array_equal(first, again)},
    }
    return {"n": len(x), "eps": np.asarray(eps, dtype=float).tolist(), "clip": None if clip is None else [float(c) for c in clip],
            "clean_error": float(clean_wrong.mean()), "attacks": attacks,
            "worst_case": {"error_rate": float(broken.mean())}, "flags": flags}
