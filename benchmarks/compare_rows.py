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
at a time). For every rate row (error rates and confidences, in percent) it prints the values by seed, the largest
same-seed move, the spread of the "before" runs over the seeds (how far the row
wanders by chance alone), the move of the mean over seeds with its standard error,
and on how many seeds the row went up or down (a row that moves the same way on
every seed is shown even when it moves little: a small shift may be real). The mean
must stay within ``--tolerance`` points (default 2), and every row the "before"
runs report must still be a number after the change; otherwise the exit status is 1.
The tolerance is in points whatever the row's size: a rate near 2% can double within
it, so read the table, not only the exit status.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path


SETTINGS = ("mnist", "eps", "budget")  # what must agree between two runs for their rows to be comparable


def read_run(run_dir) -> dict:
    """An ``advex reproduce --out`` folder's ``results.json``: seed, settings and rate rows.

    ``rates`` maps (row id, metric) to the value in %. Only rows of kind "rate" with one
    finite number are taken (series, flags and NaN say nothing a mean could compare),
    so a row that is NaN or None in some runs is not compared, and is listed as such."""
    if not Path(run_dir).is_dir():
        raise SystemExit(f"{run_dir}: not a folder (give the --out folders of advex reproduce runs)")
    path = Path(run_dir) / "results.json"
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"{path}: no such file (is {run_dir} the --out folder of a finished advex reproduce?)") from None
    except json.JSONDecodeError as error:
        raise SystemExit(f"{path}: not valid JSON ({error}); was the run interrupted?") from None
    if not isinstance(results, dict) or "seed" not in results or not isinstance(results.get("rows"), list):
        raise SystemExit(f"{path}: not the results of advex reproduce (no 'seed' and 'rows')")
    rates = {}
    for row in results["rows"]:
        value = row.get("ours")
        if row.get("kind") == "rate" and isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            rates[(row["id"], row["metric"])] = 100.0 * value
    return {"dir": str(run_dir), "seed": results["seed"], "settings": {k: results.get(k) for k in SETTINGS},
            "rates": rates}


def by_seed(run_dirs, side: str) -> dict:
    """{seed: run} for one side, refusing two runs of the same seed."""
    runs = {}
    for run_dir in run_dirs:
        run = read_run(run_dir)
        if run["seed"] in runs:
            raise SystemExit(f"--{side}: two runs of seed {run['seed']} (each seed once on each side)")
        runs[run["seed"]] = run
    return runs


def check_same_settings(runs) -> None:
    """Refuse runs made with different data, eps or budget (a --quick run beside a full one, say).

    A budget entry that only one version knows (a setting added since) is not compared."""
    first = runs[0]
    for run in runs[1:]:
        for key in SETTINGS:
            a, b = first["settings"][key], run["settings"][key]
            if isinstance(a, dict) and isinstance(b, dict):
                differ = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
                if differ:
                    raise SystemExit(f"{first['dir']} and {run['dir']} were run with different budgets ({', '.join(differ)}): "
                                     "compare runs of the same command (--quick on both sides, or on neither)")
            elif a != b:
                raise SystemExit(f"{first['dir']} and {run['dir']} differ in {key} ({a!r} against {b!r})")


def compare(before: dict, after: dict) -> dict:
    """The rows of the seeds both sides ran: ``{"seeds", "table", "missing", "not_compared"}``.

    ``table`` has one entry per row that is a number in every run, largest mean move
    first. ``missing``: rows that every "before" run has and some "after" run lacks (a
    row the change lost or turned into NaN: a failure). ``not_compared``: rows that are
    numbers in some runs only (on both sides, or only after the change)."""
    seeds = sorted(set(before) & set(after))
    if not seeds:
        raise SystemExit(f"no seed was run on both sides (before: {sorted(before)}, after: {sorted(after)})")
    check_same_settings([side[s] for side in (before, after) for s in seeds])
    rates_before = [before[s]["rates"] for s in seeds]
    rates_after = [after[s]["rates"] for s in seeds]
    always_before = set.intersection(*map(set, rates_before))
    keys = always_before.intersection(*map(set, rates_after))
    seen = set.union(*map(set, rates_before + rates_after))
    table = []
    for key in keys:
        old = [rates[key] for rates in rates_before]
        new = [rates[key] for rates in rates_after]
        moves = [b - a for a, b in zip(old, new)]
        spread_of_moves = statistics.stdev(moves) if len(moves) > 1 else math.nan
        table.append({
            "row": f"{key[0]} {key[1]}", "before": old, "after": new,
            "same_seed_move": max(abs(m) for m in moves),
            "spread_before": max(old) - min(old),
            "mean_move": statistics.fmean(moves),
            "standard_error": spread_of_moves / math.sqrt(len(moves)),
            "higher": sum(m > 0 for m in moves), "lower": sum(m < 0 for m in moves),
        })
    if not table:
        raise SystemExit("no rate row is a number in every run: are these runs of the same command?")
    table.sort(key=lambda entry: (-abs(entry["mean_move"]), entry["row"]))
    return {"seeds": seeds, "table": table,
            "missing": sorted(f"{k[0]} {k[1]}" for k in always_before - keys),
            "not_compared": sorted(f"{k[0]} {k[1]}" for k in seen - always_before)}


def one_way(entry) -> bool:
    """True when the row moved the same way on every seed (three seeds at least)."""
    n = len(entry["before"])
    return n >= 3 and (entry["higher"] == n or entry["lower"] == n)


def markdown(result: dict, tolerance: float, show_all: bool) -> str:
    table, seeds = result["table"], result["seeds"]

    def values(vs):
        return " ".join(f"{v:.1f}" for v in vs)

    shown = table if show_all else [e for e in table if e["same_seed_move"] > tolerance
                                    or abs(e["mean_move"]) > tolerance / 2 or one_way(e)]
    lines = [f"Rate rows in %, seeds {', '.join(map(str, seeds))}; {len(shown)} of {len(table)} rows shown"
             + ("" if show_all else f" (those that moved by more than {tolerance:g} points on some seed, whose mean "
                                    f"moved by more than {tolerance / 2:g}, or that moved the same way on every seed)"),
             "",
             "| row | before, by seed | after, by seed | largest same-seed move | before's spread over seeds "
             "| mean move (standard error) | seeds higher / lower after |",
             "|---|---|---|---|---|---|---|"]
    for e in shown:
        lines.append(f"| {e['row']} | {values(e['before'])} | {values(e['after'])} | {e['same_seed_move']:.1f} | "
                     f"{e['spread_before']:.1f} | {e['mean_move']:+.1f} ({e['standard_error']:.1f}) | "
                     f"{e['higher']} / {e['lower']} |")
    within_each = sum(e["same_seed_move"] <= tolerance for e in table)
    too_far = [e["row"] for e in table if abs(e["mean_move"]) > tolerance]
    lines += ["", f"Within {tolerance:g} points on every seed: {within_each} of {len(table)} rows.",
              f"Mean over seeds within {tolerance:g} points: {len(table) - len(too_far)} of {len(table)} rows"
              + (f"; moved further: {', '.join(too_far)}." if too_far else "."),
              f"Moved the same way on every seed: {', '.join(e['row'] for e in table if one_way(e)) or 'none'}."]
    if result["missing"]:
        lines.append(f"Lost after the change (a number in every run before, not in some run after): "
                     f"{', '.join(result['missing'])}.")
    if result["not_compared"]:
        lines.append(f"Not compared (a number in some runs only): {', '.join(result['not_compared'])}.")
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
    before, after = by_seed(args.before, "before"), by_seed(args.after, "after")
    result = compare(before, after)
    unpaired = sorted(set(before) ^ set(after))
    if unpaired:
        print(f"seeds run on one side only, left out: {', '.join(map(str, unpaired))}", file=sys.stderr)
    print(markdown(result, args.tolerance, args.all))
    failed = result["missing"] or any(abs(e["mean_move"]) > args.tolerance for e in result["table"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
