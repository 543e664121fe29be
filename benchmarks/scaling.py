"""Where fixed costs per step dominate and where BLAS does: time per example against batch size and width.

One training step of the ReLU MLP 784-W-W-10 (SGD with momentum, as in
:mod:`benchmarks.engine`) is timed for minigrad, the hand-derived NumPy version and
PyTorch (when installed), at batch sizes from 1 to 1,000 (W = 1,200) and at widths from
16 to 2,048 (batch 100). Some costs are paid once per *step*, whatever the batch: the
Python and dispatch around each op (microseconds), and passes over every weight (the
weight gradients and the momentum update read and write all 2.4 million parameters of
the 1,200-wide MLP at every step: 9.6 MB for each of the weights, their gradients and
their velocities). At batch 1 they are the whole
cost and time per example is highest; it falls as the batch grows, until the matrix
products are large enough for BLAS to run at its rate. At small widths the per-op
overhead is what is left; the products grow as W squared, the overhead does not.

Each point runs in a process of its own, the implementations interleaved at each point;
a point repeats the step on one batch for a fixed time after one warm-up step, and
reports seconds per example.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from training import fast_paths

from .engine import NAMES, batch_function, say
from .harness import in_own_process
from .workloads import init_params, layer_shapes, synthetic_data

IMPLEMENTATIONS = ("engine", "numpy", "torch")
FULL = {"batches": (1, 3, 10, 30, 100, 300, 1000), "widths": (16, 64, 256, 1024, 2048), "seconds": 0.4}
QUICK = {"batches": (1, 10, 100), "widths": (128, 1024), "seconds": 0.05}
WIDTH, BATCH = 1200, 100  # the fixed side of each sweep


def seconds_per_example(impl: str, batch: int, width: int, seconds: float) -> float:
    """Time one MLP step on one batch, repeated for about ``seconds``, per example."""
    step = batch_function(impl, "mlp", init_params(layer_shapes("mlp", width=width)), batch=batch)
    X, y = synthetic_data(batch)
    step(X, y)  # warm-up
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        step(X, y)
        calls += 1
    return (time.perf_counter() - start) / (calls * batch)


def sweep(implementations, sizes: dict, progress=say) -> dict:
    """``{"batch": {impl: [(batch, s/example), ...]}, "width": {...}}``, one process per point."""
    points = [("batch", b, WIDTH) for b in sizes["batches"]] + [("width", BATCH, w) for w in sizes["widths"]]
    found = {"batch": {impl: [] for impl in implementations}, "width": {impl: [] for impl in implementations}}
    for axis, batch, width in points:
        for impl in implementations:
            value = in_own_process("benchmarks.scaling", ["--worker", impl, str(batch), str(width), str(sizes["seconds"])])["value"]
            found[axis][impl].append((batch if axis == "batch" else width, value))
        progress(f"scaling: {axis} {batch if axis == 'batch' else width} done")
    return found


def table(found: dict) -> str:
    """Microseconds per example at each point, as Markdown."""
    lines = []
    for axis, fixed in (("batch", f"width {WIDTH}"), ("width", f"batch {BATCH}")):
        impls = list(found[axis])
        lines += ["", f"MLP step, microseconds per example, against {'batch size' if axis == 'batch' else 'hidden width'} ({fixed}):", "",
                  f"| {axis} | " + " | ".join(NAMES[impl] for impl in impls) + " |", "|---" * (len(impls) + 1) + "|"]
        for i, (x, _) in enumerate(found[axis][impls[0]]):
            lines.append(f"| {x} | " + " | ".join(f"{found[axis][impl][i][1] * 1e6:.1f}" for impl in impls) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three batch sizes, two widths, short timings")
    parser.add_argument("--worker", nargs=4, metavar=("IMPL", "BATCH", "WIDTH", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    fast_paths.enable()
    if args.worker:
        impl, batch, width, seconds = args.worker
        print(json.dumps({"value": seconds_per_example(impl, int(batch), int(width), float(seconds))}))
        return 0
    from .adapters.peer_libraries import probe

    implementations = [impl for impl in IMPLEMENTATIONS if impl != "torch" or probe("torch")]
    print(table(sweep(implementations, QUICK if args.quick else FULL)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
