"""Several seeds of the reproduction in one command, and each row's spread over them.

One full run is one draw: small networks trained for hundreds of epochs are chaotic,
and the BLAS kernel's rounding alone moves the rows of a run from one machine to the
next. ``advex reproduce --seeds 0 1 2 --out OUT`` runs the reproduction once per seed,
each in its own resumable folder ``OUT/seed-N`` (a folder exactly as one ``advex
reproduce --seed N --out OUT/seed-N`` writes it), then summarises them:
``OUT/summary.json`` and ``OUT/summary.md`` give, for every row, the mean, standard
deviation, minimum and maximum over the seeds beside the paper's number, the verdict
judged on the mean, and how many seeds fell inside the target.

A seed folder holding a run of other settings is refused before any work. In a
summary (``--summary-only`` summarises what is there without training anything), a
seed whose run is missing or unfinished, or whose results were made with other
settings, is named and never averaged in.

For each row, with x_s its value at seed s over the n seeds that measured it:

    mean = (1/n) sum_s x_s,    sd = sqrt( sum_s (x_s - mean)^2 / (n - 1) )   (none for n = 1)

A yes/no row (``holds: ...``) counts 1 for yes: its mean is the fraction of seeds where
it held. Rows whose value is a series (a curve per epoch) or NaN (a confidence on
mistakes when there were none) are left out of the statistics.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re

from models.io import atomic_write_text

from . import report
from .claims import CLAIMS

SEED_FOLDER = re.compile(r"seed-(\d+)")
SUMMARY_FILES = ("summary.json", "summary.md")


def seed_folder(out, seed: int) -> str:
    return os.path.join(os.fspath(out), f"seed-{seed}")


def check_seeds(seeds) -> list:
    """``seeds`` as a list of distinct integers >= 0, in the order given, or a ValueError saying what is wrong."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("--seeds needs at least one seed")
    if any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"--seeds must be integers >= 0, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds names a seed twice: {seeds}")
    return seeds


def check_seeds_folder(out) -> None:
    """A ValueError unless ``out`` is missing or holds only seed folders and the summary."""
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file, not a folder")
    if not os.path.isdir(out):
        return
    foreign = sorted(e for e in os.listdir(out) if not (SEED_FOLDER.fullmatch(e) or e in SUMMARY_FILES or e.startswith(".tmp-")))
    if foreign:
        raise ValueError(f"{out} holds {', '.join(foreign[:5])}, which advex reproduce --seeds did not write (it writes "
                         "seed-N folders and the summary); nothing was changed: pass an empty or new --out")


def read_seed(out, seed: int, expected: dict):
    """``(results, None)`` for the finished run of ``seed`` in ``out``, or ``(None, why it is left out)``.

    ``expected``: the settings every seed must share (``budget`` and ``mnist``, as
    results.json records them); the run's own ``seed`` must be ``seed``.
    """
    path = os.path.join(seed_folder(out, seed), "results.json")
    if not os.path.exists(path):
        return None, "missing (no results.json: not run, or not finished)"
    try:
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
    except (OSError, ValueError) as error:
        return None, f"unreadable results.json ({error})"
    if not isinstance(results, dict) or not isinstance(results.get("rows"), list):
        return None, "its results.json holds no rows"
    differing = [key for key in expected if results.get(key) != expected[key]]
    if results.get("seed") != seed:
        differing.append(f"seed {results.get('seed')}")
    if differing:
        return None, f"made with other settings ({', '.join(differing)})"
    return results, None


def statistics(values: list) -> dict:
    """mean, sd (sample, n - 1; None for one value), min and max of ``values`` (numbers)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {"mean": mean, "sd": sd, "min": min(values), "max": max(values)}


def number(value):
    """A row's value as a float for the statistics, or None (a series, a dict, NaN, missing)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value == value:
        return float(value)
    return None


def summarize(out, seeds, *, budget, mnist: bool, cifar10: bool = False) -> dict:
    """The summary of the seeds' runs in ``out``: ``{"seeds", "included", "excluded", "budget", "mnist", "rows",
    "training"}``, each row ``id, metric, clip, kind, mean, sd, min, max, values, paper, tolerance, ok, within,
    judged`` (``ok`` judged on the mean; ``within`` of ``judged`` seeds inside their own target)."""
    expected = {"budget": dataclasses.asdict(budget), "mnist": mnist}
    expected["budget"]["maxout_hidden"] = list(budget.maxout_hidden)  # as JSON gives it back
    runs, excluded = {}, {}
    for seed in seeds:
        results, why = read_seed(out, seed, expected)
        if results is None:
            excluded[seed] = why
        else:
            runs[seed] = results
    keys, per_seed = [], {}
    for seed, results in runs.items():
        for row in results["rows"]:
            key = (row["id"], row["metric"], None if row["clip"] is None else tuple(row["clip"]))
            if key not in per_seed:
                keys.append(key)
                per_seed[key] = {}
            per_seed[key][seed] = row
    means = [{"id": k[0], "metric": k[1], "ours": statistics(vs)["mean"], "n": None}
             for k in keys if (vs := _values(per_seed[k]))]
    judged_on_mean = {(r["id"], r["metric"]): r for r in report.rows(CLAIMS, means, mnist=mnist, budget=budget,
                                                                         cifar10=cifar10)}
    rows = []
    for key in keys:
        values = _values(per_seed[key])
        if not values:
            continue
        on_mean = judged_on_mean.get(key[:2], {})
        verdicts = [row["ok"] for row in per_seed[key].values() if row["ok"] is not None]
        rows.append({"id": key[0], "metric": key[1], "clip": None if key[2] is None else list(key[2]),
                     "kind": next(iter(per_seed[key].values()))["kind"], **statistics(values),
                     "values": {str(seed): number(row["ours"]) for seed, row in per_seed[key].items()},
                     "paper": on_mean.get("paper"), "tolerance": on_mean.get("tolerance"), "ok": on_mean.get("ok"),
                     "within": sum(verdicts), "judged": len(verdicts)})
    training = {str(seed): results.get("training", {}) for seed, results in runs.items()}
    return {"seeds": list(seeds), "included": list(runs), "excluded": {str(s): why for s, why in excluded.items()},
            "budget": expected["budget"], "mnist": mnist, "rows": rows, "training": training}


def _values(rows_by_seed: dict) -> list:
    return [v for v in (number(row["ours"]) for row in rows_by_seed.values()) if v is not None]


def write_summary(out, summary: dict) -> None:
    """OUT/summary.json and OUT/summary.md."""
    atomic_write_text(os.path.join(out, "summary.json"), json.dumps(summary, indent=2))
    atomic_write_text(os.path.join(out, "summary.md"), markdown(summary))


def markdown(summary: dict) -> str:
    """The summary as a table: each row's mean, sd, min and max, the paper's number, the verdict on the mean,
    and how many seeds fell inside the target; then the seeds left out, and each seed's training."""
    def pct(v, kind):
        if v is None:
            return ""
        return f"{v:.4f}" if kind == "value" else f"{100 * v:.2f}%"

    def sd(v, kind):
        return "" if v is None else f"{v:.4f}" if kind == "value" else f"{100 * v:.2f} pts"

    included = summary["included"]
    lines = ["# The reproduction over seeds", "",
             f"Seeds {', '.join(map(str, included)) or 'none'} ({len(included)} of {len(summary['seeds'])} asked for). "
             f"Budget: {summary['budget']}. Each row: the mean over the seeds that measured it, its sample standard "
             "deviation, its range; the verdict is judged on the mean; the last column counts the seeds whose own "
             "run met the target.", ""]
    for seed, why in summary["excluded"].items():
        lines.append(f"- seed {seed} left out: {why}")
    if summary["excluded"]:
        lines.append("")
    lines += ["| id | metric | clip | mean | sd | min | max | paper | target | mean within? | seeds within |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["rows"]:
        kind = r["kind"]
        if r["tolerance"] is None:
            target = ""
        elif kind == "claim":
            target = "must hold"
        else:
            (how, value), = r["tolerance"].items()
            target = f"within {100 * value:.1f} pts" if how == "within" else f"{how.replace('_', ' ')} {pct(value, kind)}"
        verdict = "" if r["ok"] is None else "yes" if r["ok"] else "**NO**"
        within = f"{r['within']} of {r['judged']}" if r["judged"] else ""
        if kind == "claim":  # a yes/no row: the fraction of seeds where it held
            lines.append(f"| {r['id']} | {r['metric']} | {r['clip']} | held in {100 * r['mean']:.0f}% | | | | | {target} "
                         f"| {verdict} | {within} |")
            continue
        lines.append(f"| {r['id']} | {r['metric']} | {r['clip']} | {pct(r['mean'], kind)} | {sd(r['sd'], kind)} "
                     f"| {pct(r['min'], kind)} | {pct(r['max'], kind)} | {pct(r['paper'], kind)} | {target} | {verdict} "
                     f"| {within} |")
    lines += ["", "| seed | model | epochs run | best epoch |", "|---|---|---|---|"]
    for seed, trained in summary["training"].items():
        for name, t in trained.items():
            if t.get("best_epoch") is not None:
                lines.append(f"| {seed} | {name} | {t['epochs']} | {t['best_epoch']} |")
    return "\n".join(lines) + "\n"
