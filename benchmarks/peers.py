"""This engine beside PyTorch, JAX and HIPS autograd, against the machine's limit: ``python -m benchmarks.peers``.

One command for docs/performance.md. It runs

1. the side-by-side table of :mod:`benchmarks.engine` with every peer that is installed
   (``pip install -e ".[peers]"`` installs all three; a missing one is skipped with a
   line saying so): each workload's time as a ratio to the hand-derived NumPy version,
   the per-op overhead, the GFLOP/s each reaches beside the same step's matrix products
   alone (the machine's limit for that work) and the sgemm rate, JAX's compile time;
2. the scaling sweep of :mod:`benchmarks.scaling` (time per example against batch size
   and width, for minigrad, hand-derived NumPy and PyTorch);

and writes ``peers.json`` and ``peers.md`` under ``benchmarks/results/`` (or ``--out``),
with the figures ``peers.png`` (a bar chart of the ratios) and ``scaling.png`` when
matplotlib is installed. ``--quick`` runs the same in about a minute, at sizes too small
to quote. Run it alone on an otherwise idle machine: a second BLAS-heavy job on two
cores distorts every number.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.io import atomic_write_text
from training import fast_paths

from . import engine, scaling
from .harness import ROOT, write_json

SHORT = {"mlp": "MLP\nepoch", "maxout": "maxout\nepoch", "input_grad": "maxout\ninput gradient",
         "conv": "SmallConvNet\nepoch", "conv_input_grad": "SmallConvNet\ninput gradient"}
OVERHEAD_NAMES = {"numpy": "NumPy ufunc (fwd only)", "jax": "JAX (eager, no jit)"}


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_ratios(result: dict, path: Path) -> None:
    """Bars of each implementation's time over the hand-derived NumPy version's, per workload,
    and the per-op overhead in microseconds (log scale) beside them."""
    plt = pyplot()

    results = result["results"]
    tasks = [task for task in results if task != "overhead"]
    impls = [impl for impl in engine.NAMES if impl != "fit" and any(impl in results[t]["min"] for t in tasks)]
    fig, (bars, overhead) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [3, 1]})
    if not tasks:  # a run of the overhead chain alone (--only overhead)
        bars.axis("off")
        bars.text(0.5, 0.5, "no timed workload in this run", ha="center", transform=bars.transAxes)
    width = 0.8 / max(len(impls), 1)
    for k, impl in enumerate(impls):
        heights = [results[t]["min"][impl] / results[t]["min"]["numpy"] if impl in results[t]["min"] else 0 for t in tasks]
        bars.bar([i + (k - (len(impls) - 1) / 2) * width for i in range(len(tasks))], heights, width,
                 label=engine.NAMES[impl], color=f"C{list(engine.NAMES).index(impl)}")
    if tasks:
        bars.axhline(1.0, color="black", linewidth=0.8)
        bars.set_xticks(range(len(tasks)), [SHORT[t] for t in tasks], fontsize=8)
        bars.set_ylabel("time / hand-written NumPy's (lower is faster)")
        bars.legend(fontsize=7, ncol=2)
    if "overhead" in results:
        us = results["overhead"]["min"]
        names = list(us)
        overhead.barh(range(len(names)), [us[n] for n in names], color=[f"C{list(engine.NAMES).index(n)}" for n in names])
        overhead.set_yticks(range(len(names)), [OVERHEAD_NAMES.get(n, engine.NAMES[n]) for n in names], fontsize=7)
        overhead.set_xscale("log")
        overhead.set_xlabel("microseconds per op (fwd + bwd)")
        overhead.set_title("per-op overhead", fontsize=9)
    fig.suptitle(f"{'quick run, sizes too small to quote: ' if result['config']['quick'] else ''}"
                 f"CPU, float32, {result['environment']['cpus']} cores", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_scaling(found: dict, path: Path) -> None:
    """Microseconds per example against batch size and against width, log-log."""
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, axis, fixed in ((axes[0], "batch", f"width {scaling.WIDTH}"), (axes[1], "width", f"batch {scaling.BATCH}")):
        for impl, points in found[axis].items():
            xs, ys = zip(*points)
            ax.plot(xs, [y * 1e6 for y in ys], marker="o", label=engine.NAMES.get(impl, impl))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"{'batch size' if axis == 'batch' else 'hidden width W'} ({fixed})")
        ax.set_ylabel("microseconds per example")
        ax.legend(fontsize=8)
    fig.suptitle("MLP 784-W-W-10 training step: per-step costs against BLAS", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat, a short sweep (about a minute)")
    parser.add_argument("--no-peers", action="store_true", help="leave the peers out even when they are installed")
    parser.add_argument("--only", choices=engine.TASKS, help="one workload of the table (the sweep still runs)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="folder for peers.json, peers.md and the figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)  # before minutes of timing, so a bad --out fails at once
    fast_paths.enable()
    passed = ["--quick"] * args.quick + ["--no-peers"] * args.no_peers + (["--only", args.only] if args.only else [])
    table_args, sizes = engine.parse_args(passed)
    result = engine.run(table_args, sizes)
    implementations = [impl for impl in scaling.IMPLEMENTATIONS if impl != "torch" or "torch" in result["config"]["peers"]]
    result["scaling"] = scaling.sweep(implementations, scaling.QUICK if args.quick else scaling.FULL)
    markdown = engine.report(result) + "\n" + scaling.table(result["scaling"]) + "\n"
    write_json(args.out / "peers.json", result)
    atomic_write_text(args.out / "peers.md", markdown)
    print(markdown)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed: no figures (pip install -e \".[plot]\")")
    else:
        plot_ratios(result, args.out / "peers.png")
        plot_scaling(result["scaling"], args.out / "scaling.png")
        print(f"Figures: {args.out / 'peers.png'}, {args.out / 'scaling.png'}")
    print(f"Written: {args.out / 'peers.json'}, {args.out / 'peers.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
