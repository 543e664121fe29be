"""Did a change move the reproduction's numbers? ``python -m benchmarks.research.compare_rows``.

A speed-up that changes only how float32 rounds (a reordered sum, a fused BLAS call, a
new parameter layout) should leave ``advex reproduce``'s rows where they were. At
``--quick`` scale one seed cannot show it: small networks trained for a few epochs
are chaotic, and a last-bit difference in one update grows into a different run, so
the same code under two BLAS kernels moves some rows by several points
(``docs/measurements.md``). What rounding should not move is a row's *average
over seeds*. So this compares runs of the code before and after a change, seed by seed:

    MINIGRAD_DATA=../shared/data/mnist python -m benchmarks.research.compare_rows --against REV

makes the runs and compares them: ``REV``'s code (extracted with ``git archive`` under
``benchmarks/results/rows/``; the repository is not touched) and the committed HEAD
each run ``advex reproduce --quick --seed S`` for the ``--seeds`` (default 0 to 3),
one run at a time, about 3 minutes each on 2 cores. A finished run is kept under the
commit's name and reused the next time, so uncommitted changes are refused: commit
first. The reuse knows nothing of the machine: on another machine, or under another
``OPENBLAS_CORETYPE``, delete ``benchmarks/results/rows/`` first. Runs made some other
way are compared with ``--before DIR... --after DIR...`` (``advex reproduce --out``
folders).

For every rate row (error rates and confidences, in percent) it prints the values by
seed, the largest same-seed move, the spread of the "before" runs over the seeds (how
far the row wanders by chance alone), the move of the mean over seeds with its
standard error, and on how many seeds the row went up or down (a row that moves the
same way on every seed is shown even when it moves little: a small shift may be
real). The mean must stay within ``--tolerance`` points (default 2), and every row the
"before" runs report must still be a number after the change; otherwise the exit
status is 1. The tolerance is in points whatever the row's size: a rate near 2% can
double within it, so read the table, not only the exit status.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
from pathlib import Path

from ..harness import ROOT

WORK = ROOT / "benchmarks" / "results" / "rows"  # the extracted code and the runs, in an ignored folder


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


# --- making the runs ---------------------------------------------------------------------------
def git(*args) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed in {ROOT}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def code_of(sha: str, work: Path) -> Path:
    """The tree of commit ``sha``, extracted once into ``work/code-SHA`` (through a partial
    folder renamed when complete, so an interrupted extraction is never mistaken for code)."""
    dest = work / f"code-{sha[:12]}"
    if not dest.is_dir():
        partial = work / f".code-{sha[:12]}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        archive = partial / "tree.tar"
        git("archive", "--format=tar", f"--output={archive}", sha)
        with tarfile.open(archive) as tar:
            tar.extractall(partial, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        archive.unlink()
        partial.rename(dest)
    return dest


def run_reproduce(code: Path, seed: int, out: Path) -> None:
    """``advex reproduce --quick --seed SEED --out OUT`` with the code in ``code``; what it
    prints goes to ``OUT.log`` beside the folder."""
    command = [sys.executable, "-m", "attacks.cli", "reproduce", "--quick", "--quiet", "--seed", str(seed), "--out", str(out)]
    environment = {**os.environ, "PYTHONPATH": str(code)}  # that folder's packages, not the installed ones
    if "MINIGRAD_DATA" in environment:  # the run's working folder is the code's: a relative path would move
        environment["MINIGRAD_DATA"] = os.path.abspath(environment["MINIGRAD_DATA"])
    log = out.with_name(out.name + ".log")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as printed:
        done = subprocess.run(command, cwd=code, env=environment, stdout=printed, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} (in {code}) failed with status {done.returncode}; "
                         f"its output is in {log}")


def make_runs(rev: str, seeds, work: Path | None = None) -> tuple[list, list]:
    """(before, after) run folders for ``seeds``: commit ``rev``'s code and the committed HEAD's,
    under ``work`` (default :data:`WORK`)."""
    work = WORK if work is None else work
    if git("status", "--porcelain", "--untracked-files=no"):
        raise SystemExit("uncommitted changes to tracked files: commit them first (the runs after the change "
                         "are kept under HEAD's name and reused, so they must be HEAD's code)")
    before_sha, after_sha = git("rev-parse", "--verify", f"{rev}^{{commit}}"), git("rev-parse", "HEAD")
    if before_sha == after_sha:
        raise SystemExit(f"{rev} is HEAD: name the commit before the change")
    sides = {"before": (before_sha, code_of(before_sha, work)), "after": (after_sha, ROOT)}
    folders = {"before": [], "after": []}
    for seed in seeds:
        for side, (sha, code) in sides.items():
            out = work / f"{sha[:12]}-seed{seed}"
            if not (out / "results.json").exists():  # written last, atomically: the run finished
                print(f"seed {seed}, {side} ({sha[:12]}): advex reproduce --quick, about 3 minutes...",
                      file=sys.stderr, flush=True)
                run_reproduce(code, seed, out)
            folders[side].append(str(out))
    return folders["before"], folders["after"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.research.compare_rows", description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="make the runs: this commit's code before, the committed HEAD after")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3], help="with --against (default 0 1 2 3)")
    parser.add_argument("--before", nargs="+", metavar="DIR", help="or: advex reproduce --out folders of the code before")
    parser.add_argument("--after", nargs="+", metavar="DIR", help="and the same seeds, run with the code after")
    parser.add_argument("--tolerance", type=float, default=2.0, help="points a row's mean over seeds may move (default 2)")
    parser.add_argument("--all", action="store_true", help="show every row, not only those that moved")
    args = parser.parse_args(argv)
    if not args.tolerance > 0:
        parser.error(f"--tolerance must be positive, got {args.tolerance}")
    given_folders = args.before is not None or args.after is not None
    if (args.against is not None) == given_folders or (given_folders and not (args.before and args.after)):
        parser.error("give --against REV, or both --before DIR... and --after DIR...")
    if args.against is not None:
        if len(set(args.seeds)) < 2:
            parser.error("--seeds: at least two different seeds (one seed cannot tell rounding from a change)")
        args.before, args.after = make_runs(args.against, sorted(set(args.seeds)))
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
