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

import json
import math
import os
import re

from models.io import atomic_write_text, foreign_files

from . import report
from .cache import inputs_differ, read_stages
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
    ours = [e for e in os.listdir(out) if SEED_FOLDER.fullmatch(e)] if os.path.isdir(out) else []
    foreign = foreign_files(out, (*ours, *SUMMARY_FILES))
    if foreign:
        raise ValueError(f"{out} holds {', '.join(foreign[:5])}{' and more' if len(foreign) > 5 else ''}, which advex "
                         "reproduce --seeds did not write (it writes seed-N folders and the summary); nothing was "
                         "changed: pass an empty or new --out")


def read_seed(out, seed: int):
    """``(results, config, None)`` for the finished run of ``seed`` in ``out`` (its results.json and the settings
    its stages.json records), or ``(None, None, why it is left out)``."""
    folder = seed_folder(out, seed)
    if not os.path.exists(os.path.join(folder, "stages.json")):
        return None, None, "missing (never run)"
    if not os.path.exists(os.path.join(folder, "results.json")):
        return None, None, "unfinished (no results.json yet: run the seeds again to resume it)"
    try:
        config = read_stages(os.path.join(folder, "stages.json"))["config"]
        with open(os.path.join(folder, "results.json"), encoding="utf-8") as f:
            results = json.load(f)
    except (OSError, ValueError) as error:
        return None, None, f"unreadable ({' '.join(str(error).split())})"
    if not isinstance(results, dict) or not isinstance(results.get("rows"), list):
        return None, None, "its results.json holds no rows"
    if results.get("seed") != seed or config.get("seed") != seed:
        return None, None, (f"made with other settings (its results.json says seed {results.get('seed')}, its "
                            f"stages.json seed {config.get('seed')})")
    return results, config, None


def differences(config: dict, reference: dict) -> list:
    """The settings in which a run's record ``config`` differs from ``reference``, each as ``key: value there,
    value here`` (the files' contents only counted: their digests say nothing to a reader)."""
    keys = sorted(k for k in config.keys() | reference.keys() if config.get(k) != reference.get(k))
    return [inputs_differ(config, reference) if k == "inputs" else f"{k}: {config.get(k)} there, {reference.get(k)} here"
            for k in keys]


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


def summarize(out, seeds, *, budget, data=None, cifar=None) -> dict:
    """The summary of the seeds' runs in ``out``: ``{"seeds", "included", "excluded", "budget", "mnist", "rows",
    "training"}``, each row ``id, metric, clip, kind, mean, sd, min, max, values, seeds, paper, tolerance, ok,
    within, judged`` (``ok`` judged on the mean; ``within`` of ``judged`` seeds inside the target, each seed's value
    judged by today's claims, whatever its results.json recorded).

    ``budget``, ``data``, ``cifar``: what this command asks of every run, the last two as the runs' stages.json
    record them (:func:`~attacks.reproduction.run.recorded_sources`). A seed whose run is missing, unfinished or was made with other settings is
    left out and named; so is one whose record differs from the first seed included (other contents of the data
    files, say). A ValueError when no seed is left: there is nothing to summarise.
    """
    settings = {"budget": budget.record(), "data": data, "cifar": cifar}
    runs, reference, excluded = {}, None, {}
    for seed in seeds:
        results, config, why = read_seed(out, seed)
        if results is not None:
            wanted = {**settings, "seed": seed}
            differ = differences({key: config.get(key) for key in wanted}, wanted)  # what this command asks for
            if not differ and reference is not None:  # and what the first seed included was made from
                differ = differences({**config, "seed": None}, {**reference, "seed": None})
            why = f"made with other settings ({'; '.join(differ)})" if differ else None
        if why is None:
            runs[seed], reference = results, reference or config
        else:
            excluded[seed] = why
    if not runs:
        raise ValueError(f"{out}: no finished seed run to summarise (" + "; ".join(f"seed {s}: {w}" for s, w in excluded.items())
                         + "); nothing was written")
    mnist = reference["mnist"]
    cifar10 = any(r["id"].startswith("cifar") and r["paper"] is not None for r in next(iter(runs.values()))["rows"])
    keys, per_seed, verdicts = [], {}, {}
    for seed, results in runs.items():
        measured = [{"id": r["id"], "metric": r["metric"], "ours": r["ours"], "n": r["n"]} for r in results["rows"]]
        verdicts[seed] = {(r["id"], r["metric"]): r["ok"] for r in report.rows(CLAIMS, measured, mnist=mnist,
                                                                                budget=budget, cifar10=cifar10)}
        for row in results["rows"]:
            key = (row["id"], row["metric"], None if row["clip"] is None else tuple(row["clip"]))
            if key not in per_seed:
                keys.append(key)
                per_seed[key] = {}
            per_seed[key][seed] = row
    series = {k for k in keys if any(isinstance(r["ours"], (list, dict)) for r in per_seed[k].values())}
    means = [{"id": k[0], "metric": k[1], "ours": statistics(vs)["mean"], "n": None}
             for k in keys if (vs := _values(per_seed[k]))]
    judged_on_mean = {(r["id"], r["metric"]): r for r in report.rows(CLAIMS, means, mnist=mnist, budget=budget,
                                                                         cifar10=cifar10)}
    rows = []
    for key in keys:
        if key in series:
            continue
        values = _values(per_seed[key])
        on_mean = judged_on_mean.get(key[:2], {})
        judged = [verdicts[seed].get(key[:2]) for seed in per_seed[key]]
        judged = [ok for ok in judged if ok is not None]
        spread = statistics(values) if values else {"mean": None, "sd": None, "min": None, "max": None}
        rows.append({"id": key[0], "metric": key[1], "clip": None if key[2] is None else list(key[2]),
                     "kind": next(iter(per_seed[key].values()))["kind"], **spread,
                     "values": {str(seed): number(row["ours"]) for seed, row in per_seed[key].items()},
                     "seeds": len(values), "paper": on_mean.get("paper"), "tolerance": on_mean.get("tolerance"),
                     "ok": on_mean.get("ok"), "within": sum(judged), "judged": len(judged)})
    training = {str(seed): results.get("training", {}) for seed, results in runs.items()}
    return {"seeds": list(seeds), "included": list(runs), "excluded": {str(s): why for s, why in excluded.items()},
            "budget": settings["budget"], "mnist": mnist, "rows": rows, "training": training}


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
             f"Seeds {', '.join(map(str, included))} ({len(included)} of {len(summary['seeds'])} asked for). "
             f"Budget: {summary['budget']}. Each row: the mean over the seeds that measured it (how many: the seeds "
             "column), its sample standard deviation, its range; the verdict is judged on the mean (a yes/no row's "
             "mean is the fraction of seeds where it held, and its target asks for all of them); the last column "
             "counts the seeds whose own run met the target.", ""]
    for seed, why in summary["excluded"].items():
        lines.append(f"- seed {seed} left out: {why}")
    if summary["excluded"]:
        lines.append("")
    lines += ["| id | metric | clip | mean | sd | min | max | seeds | paper | target | mean within? | seeds within |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["rows"]:
        kind = r["kind"]
        verdict = "" if r["ok"] is None else "yes" if r["ok"] else "**NO**"
        within = f"{r['within']} of {r['judged']}" if r["judged"] else ""
        if r["mean"] is None:  # NaN in every seed: a confidence on mistakes where there were none
            numbers = "no value in any seed | | | "
        elif kind == "claim":
            numbers = f"held in {100 * r['mean']:.0f}% | | | "
        else:
            numbers = f"{pct(r['mean'], kind)} | {sd(r['sd'], kind)} | {pct(r['min'], kind)} | {pct(r['max'], kind)}"
        lines.append(f"| {r['id']} | {r['metric']} | {r['clip']} | {numbers} | {r['seeds']} | "
                     f"{'' if kind == 'claim' else pct(r['paper'], kind)} | {report.target(r['tolerance'], kind)} "
                     f"| {verdict} | {within} |")
    lines += ["", "| seed | model | epochs run | best epoch |", "|---|---|---|---|"]
    for seed, trained in summary["training"].items():
        for name, t in trained.items():
            if t.get("best_epoch") is not None:
                lines.append(f"| {seed} | {name} | {t['epochs']} | {t['best_epoch']} |")
    return "\n".join(lines) + "\n"
