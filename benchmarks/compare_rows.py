"""Did a change move the reproduction's numbers? ``python -m benchmarks.compare_rows``.

A speed-up that changes only how float32 rounds (a reordered sum, a fused BLAS call, a
new parameter layout) should leave ``advex reproduce``'s rows where they were. At
``--quick`` scale one seed cannot show it: small networks trained for a few epochs
are chaotic, and a last-bit difference in one update grows into a different run, so
the same code under two BLAS kernels moves some rows by several points
(``docs/measurements.md``). What rounding should not move is a row's *average
over seeds*. So this compares runs of the code before and after a change, seed by seed:

    git worktree add /tmp/before REV            # the code before the change
    for s in 0 1 2 3; do
      (cd /tmp/before && python -m attacks.cli reproduce --quick --seed $s --out /tmp/rows/before-$s)
      python -m attacks.cli reproduce --quick --seed $s --out /tmp/rows/after-$s
    done
    python -m benchmarks.compare_rows --before /tmp/rows/before-* --after /tmp/rows/after-*

from the project's folder, with ``MINIGRAD_DATA`` naming the MNIST folder (``python -m``
imports the code of the folder it runs in; about 3 minutes a run on 2 cores, one run
at a time). For every rate row (error
rates and confidences, in percent) it prints the values by seed, the largest
same-seed move, the spread of the "before" runs over the seeds (how far the row
wanders by chance alone) and the move of the mean over seeds, which must stay within
``--tolerance`` points (default 2). The exit status is 1 when some mean moved further.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def rate_rows(run_dir) -> tuple[int, dict]:
    """``(seed, {(row id, metric): value in %})`` from an ``advex reproduce --out`` folder.

    Only rows of kind "rate" with one finite number are taken (series, flags and
    NaN say nothing a mean could compare)."""
    if not Path(run_dir).is_dir():
        raise SystemExit(f"{run_dir}: not a folder (give the --out folders of advex reproduce runs)")
    path = Path(run_dir) / "results.json"
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"{path}: no such file (is {run_dir} the --out folder of a finished advex reproduce?)") from None
    except json.JSONDecodeError as error:
        raise SystemExit(f"{path}: not valid JSON ({error}); was the run interrupted?") from None
    rates = {}
    for row in results["rows"]:
        value = row.get("ours")
        if row.get("kind") == "rate" and isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            rates[(row["id"], row["metric"])] = 100.0 * value
    return results["seed"], rates


def by_seed(run_dirs, side: str) -> dict:
    """{seed: rates} for one side, refusing two runs of the same seed."""
    runs = {}
    for run_dir in run_dirs:
        seed, rates = rate_rows(run_dir)
        if seed in runs:
            raise SystemExit(f"--{side}: two runs of seed {seed} (each seed once on each side)")
        runs[seed] = rates
    return runs


def compare(before: dict, after: dict) -> list[dict]:
    """One entry per row present in every run, over the seeds both sides ran, largest mean move first."""
    seeds = sorted(set(before) & set(after))
    if not seeds:
        raise SystemExit(f"no seed was run on both sides (before: {sorted(before)}, after: {sorted(after)})")
    keys = set.intersection(*(set(runs[s]) for runs in (before, after) for s in seeds))
    table = []
    for key in keys:
        old = [before[s][key] for s in seeds]
        new = [after[s][key] for s in seeds]
        table.append({
            "row": f"{key[0]} {key[1]}", "seeds": seeds, "before": old, "after": new,
            "same_seed_move": max(abs(a - b) for a, b in zip(old, new)),
            "spread_before": max(old) - min(old),
            "mean_move": sum(new) / len(new) - sum(old) / len(old),
        })
    if not table:
        raise SystemExit("no rate row is common to every run: are these runs of the same command (--quick on both sides)?")
    table.sort(key=lambda entry: (-abs(entry["mean_move"]), entry["row"]))
    return table


def markdown(table: list[dict], tolerance: float, show_all: bool) -> str:
    def values(vs):
        return " ".join(f"{v:.1f}" for v in vs)

    shown = table if show_all else [e for e in table if e["same_seed_move"] > tolerance or abs(e["mean_move"]) > tolerance / 2]
    lines = [f"Rate rows in %, seeds {', '.join(map(str, table[0]['seeds']))}; "
             f"{len(shown)} of {len(table)} rows shown" + ("" if show_all else
             f" (those that moved by more than {tolerance:g} points on some seed, or whose mean moved by more than {tolerance / 2:g})"),
             "",
             "| row | before, by seed | after, by seed | largest same-seed move | before's spread over seeds | mean move |",
             "|---|---|---|---|---|---|"]
    for e in shown:
        lines.append(f"| {e['row']} | {values(e['before'])} | {values(e['after'])} | {e['same_seed_move']:.1f} | "
                     f"{e['spread_before']:.1f} | {e['mean_move']:+.1f} |")
    within_each = sum(e["same_seed_move"] <= tolerance for e in table)
    too_far = [e["row"] for e in table if abs(e["mean_move"]) > tolerance]
    lines += ["", f"Within {tolerance:g} points on every seed: {within_each} of {len(table)} rows.",
              f"Mean over seeds within {tolerance:g} points: {len(table) - len(too_far)} of {len(table)} rows"
              + (f"; moved further: {', '.join(too_far)}." if too_far else ".")]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare_rows", description=__doc__.splitlines()[0])
    parser.add_argument("--before", nargs="+", required=True, metavar="DIR", help="advex reproduce --out folders of the code before")
    parser.add_argument("--after", nargs="+", required=True, metavar="DIR", help="the same seeds, run with the code after")
    parser.add_argument("--tolerance", type=float, default=2.0, help="points a row's mean over seeds may move (default 2)")
    parser.add_argument("--all", action="store_true", help="show every row, not only those that moved")
    args = parser.parse_args(argv)
    if not args.tolerance > 0:
        parser.error(f"--tolerance must be positive, got {args.tolerance}")
    table = compare(by_seed(args.before, "before"), by_seed(args.after, "after"))
    print(markdown(table, args.tolerance, args.all))
    return 1 if any(abs(e["mean_move"]) > args.tolerance for e in table) else 0


if __name__ == "__main__":
    sys.exit(main())
