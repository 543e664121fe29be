"""The per-op overhead counted in instructions, not seconds: ``python -m benchmarks.research.instructions``.

On the shared 2-core machines this project is measured on, a timing wanders by 20%
from one minute to the next, so a change that saves 5% of the engine's bookkeeping
cannot be seen in seconds. The number of instructions a program executes does not
wander: Valgrind's callgrind counts them, and the same code on the same inputs gives
the same count, whatever else the machine is doing (the workers run with one BLAS
thread and a fixed ``PYTHONHASHSEED``; run twice, the counts agree to one instruction
per op).

This runs the overhead chain of :mod:`benchmarks.engine` (100 ops, ``y * c`` and
``tanh`` alternating, on 10 float32 numbers, forward and backward; NumPy's same ufunc
calls, forward only, for scale) under callgrind, twice for each implementation: with
``few`` chains and with ``many``. The difference of the two counts, divided by the
extra ops, is the count per op; Python's start-up and the imports cancel out.

Instructions are not time: a cache miss or a page fault costs many cycles and one
instruction. The count compares two versions of the same code (the engine before and
after a change, each run of this module on its own checkout); the seconds of
``python -m benchmarks.engine --only overhead`` remain the measure docs/performance.md reports.
Valgrind is not a dependency: without it this says so and stops.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

from ..engine import CHAIN, overhead_chain, us_per_op
from ..harness import ROOT

IMPLEMENTATIONS = ("engine", "numpy")
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def collected(valgrind_output: str) -> int:
    """The instruction count in callgrind's closing summary (``==PID== Collected : N``)."""
    match = _COLLECTED.search(valgrind_output)
    if match is None:
        raise RuntimeError(f"callgrind printed no instruction count; its output ended with:\n{valgrind_output[-800:]}")
    return int(match.group(1))


def count(impl: str, chains: int) -> int:
    """Instructions of a whole Python process that runs ``chains`` overhead chains of ``impl``."""
    with tempfile.TemporaryDirectory() as scratch:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={os.path.join(scratch, 'callgrind.out')}",
                   sys.executable, "-m", "benchmarks.research.instructions", "--worker", impl, str(chains)]
        # One BLAS thread: idle OpenBLAS workers spin for a stretch of wall-clock time, which
        # callgrind would count (the chain itself never calls BLAS). A fixed hash seed: string
        # hashing is salted per process, and dict and set layouts change the count by ~10%.
        quiet = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=quiet)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-800:]}")
    return collected(done.stderr)


def per_op(impl: str, few: int, many: int) -> float:
    """Instructions per op of ``impl``'s chain, from the difference of two runs."""
    return (count(impl, many) - count(impl, few)) / ((many - few) * CHAIN)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.research.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("--few", type=int, default=10, help="chains in the shorter run (default 10)")
    parser.add_argument("--many", type=int, default=60, help="chains in the longer run (default 60)")
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "CHAINS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # inside callgrind: run the chains and nothing else
        impl, chains = args.worker
        chain = overhead_chain(impl)
        chain()  # the warm-up that benchmarks.engine's worker makes too
        us_per_op(chain, int(chains))
        return 0
    if not 0 <= args.few < args.many:
        parser.error(f"--few ({args.few}) must be at least 0 and less than --many ({args.many})")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind): no instruction counts")
        return 0
    counts = {}
    for impl in IMPLEMENTATIONS:
        print(f"counting {impl} under callgrind ({args.few} and {args.many} chains)...", file=sys.stderr, flush=True)
        counts[impl] = per_op(impl, args.few, args.many)
    print("| implementation | instructions per op | ratio to NumPy's ufunc call |")
    print("|---|---|---|")
    for impl in IMPLEMENTATIONS:
        print(f"| {impl} | {counts[impl]:,.0f} | {counts[impl] / counts['numpy']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
