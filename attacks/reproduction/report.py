"""The report: the claims joined with this run's measurements, as results.json and results.md.

A measurement is ``{"id", "metric", "ours", "n"}``. Each claim that has a measurement
becomes one row, in the claims' order: ``id, metric, kind, ours, paper, tolerance, ok,
n, clip, setup``, where ``ok`` says whether ours is within the tolerance. On data other
than the claim's (MNIST, or the official CIFAR-10) the paper's numbers and our targets
do not apply: those rows keep only ``ours`` (the toy example, which needs no data,
keeps its target).
"""

from __future__ import annotations

import dataclasses
import json
import os

from models.io import atomic_write_text

from .claims import EPS, Relative


def judge(ours, paper, tolerance) -> bool | None:
    """Whether ``ours`` meets ``tolerance`` (None when there is nothing to judge)."""
    if tolerance is None or ours is None or ours != ours:  # nothing to judge, or NaN (no mistakes to be confident on)
        return None
    (kind, value), = tolerance.items()
    if kind == "within":
        return paper is not None and abs(ours - paper) <= value
    return ours >= value if kind == "at_least" else ours <= value


def rows(claims, measurements: list, *, mnist: bool, budget, cifar10: bool = False, setup_fields=None) -> list:
    """The report's rows: each claim with a measurement, the tolerance resolved and judged.

    ``mnist``, ``cifar10``: whether the run's data are the official MNIST and CIFAR-10.
    A claim's setup is formatted with the budget's fields and ``setup_fields`` (what the
    run used beyond its budget, such as the width of models it was given).
    """
    official = {None: True, "mnist": mnist, "cifar10": cifar10}
    measured = {(m["id"], m["metric"]): m for m in measurements}
    fields = {**dataclasses.asdict(budget), **(setup_fields or {})}
    result = []
    for claim in claims:
        m = measured.get((claim.id, claim.metric))
        if m is None:
            continue
        applies = official[claim.data]
        paper = claim.paper if applies else None
        tolerance = _resolve(claim.tolerance, measured) if applies else None
        result.append({"id": claim.id, "metric": claim.metric, "kind": claim.kind, "ours": m["ours"], "paper": paper,
                       "tolerance": tolerance, "ok": judge(m["ours"], paper, tolerance), "n": m["n"],
                       "clip": None if claim.clip is None else list(claim.clip), "setup": claim.setup.format(**fields)})
    return result


def _resolve(tolerance, measured):
    """A tolerance with any :class:`Relative` bound replaced by its number (None if unmeasured)."""
    if tolerance is None:
        return None
    (kind, value), = tolerance.items()
    if isinstance(value, Relative):
        other = measured.get((value.id, value.metric))
        return None if other is None else {kind: other["ours"] + value.margin}
    return dict(tolerance)


def target(tolerance, kind: str) -> str:
    """A row's target in words: "within 10.0 pts", "at most 1.25%", "must hold" (a yes/no row), or "" for none."""
    if tolerance is None:
        return ""
    if kind == "claim":
        return "must hold"
    (how, value), = tolerance.items()
    return f"within {100 * value:.1f} pts" if how == "within" else f"{how.replace('_', ' ')} {100 * value:.2f}%"


TITLE = "Explaining and Harnessing Adversarial Examples: our numbers beside the paper's"


def write(out, result_rows, *, budget, seed, mnist, seconds, trained, title: str = TITLE, intro=None) -> None:
    """OUT/results.json and OUT/results.md."""
    results = {"budget": dataclasses.asdict(budget), "seed": seed, "mnist": mnist, "eps": EPS, "rows": result_rows,
               "seconds": seconds, "training": trained}
    atomic_write_text(os.path.join(out, "results.json"), json.dumps(results, indent=2))
    atomic_write_text(os.path.join(out, "results.md"), markdown(result_rows, budget, seconds, trained, title, intro))


def markdown(result_rows, budget, seconds: dict, trained: dict, title: str = TITLE, intro=None) -> str:
    """The rows as a table (ours, the paper's, the difference, the target, the verdict), then training."""
    def fmt(v, kind="rate"):
        if v is None:
            return ""
        if isinstance(v, dict):  # a row of several series or flags: "name: value; ..."
            return "; ".join(f"{name}: {'none' if value is None else fmt(value, kind)}" for name, value in v.items())
        if isinstance(v, list):  # a value per epoch, as percentages
            def percent(x):
                if isinstance(x, bool) or not isinstance(x, (int, float)):
                    return str(x)
                return "none" if x != x else f"{100 * x:.1f}"
            return " ".join(percent(x) for x in v) + (" (%)" if v else "")
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float) and v != v:  # NaN: a confidence on mistakes when there were none
            return "none"
        if kind == "value":
            return str(v) if isinstance(v, int) else f"{v:.4f}"
        return f"{100 * v:.2f}%" if isinstance(v, float) else str(v)

    lines = [f"# {title}", "",
             intro or f"FGSM eps = {EPS}; clip None is the paper's unclipped FGSM. Budget: {dataclasses.asdict(budget)}.", "",
             "| id | metric | clip | ours | paper | difference | target | within? | n |", "|---|---|---|---|---|---|---|---|---|"]
    for r in result_rows:
        numbers = isinstance(r["ours"], (int, float)) and r["ours"] == r["ours"]  # not a series, a dict or NaN
        difference = "" if r["paper"] is None or not numbers or r["kind"] == "value" else \
            f"{100 * (r['ours'] - r['paper']):+.2f} pts"
        claim = r["kind"] == "claim"  # a yes/no row, such as the transfer asymmetry
        verdict = "" if r["ok"] is None else "yes" if r["ok"] else "**NO: outside the target**"
        ours = ("yes" if r["ours"] else "no") if claim else fmt(r["ours"], r["kind"])
        lines.append(f"| {r['id']} | {r['metric']} | {r['clip']} | {ours} | {'' if claim else fmt(r['paper'])} "
                     f"| {'' if claim else difference} | {target(r['tolerance'], r['kind'])} | {verdict} | {r['n']} |")
    lines += ["", "| model | epochs run | best epoch | seconds per epoch |", "|---|---|---|---|"]
    for name, t in trained.items():
        per_epoch = "" if t["seconds_per_epoch"] is None else f"{t['seconds_per_epoch']:.2f}"
        lines.append(f"| {name} | {t['epochs']} | {t['best_epoch'] or ''} | {per_epoch} |")
    clean, adversarial = trained.get("maxout"), trained.get("maxout_adversarial")
    if clean and adversarial and clean["seconds_per_epoch"] and adversarial["seconds_per_epoch"]:
        ratio = adversarial["seconds_per_epoch"] / clean["seconds_per_epoch"]
        lines += ["", f"In this run an adversarial-training epoch (validation included) took {ratio:.2f}x a clean one; the two "
                  "trained at different times on a machine whose speed may change, so `python -m benchmarks.research.adversarial_cost` "
                  "gives the controlled ratio."]
    total = sum(seconds.values())
    lines += ["", f"Time per stage (seconds; {total / 60:.1f} minutes summed over stages): "
              + ", ".join(f"{k} {v}" for k, v in seconds.items())]
    return "\n".join(lines) + "\n"
