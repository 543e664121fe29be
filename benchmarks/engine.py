"""What does minigrad cost over hand-written NumPy?  Run ``python -m benchmarks.engine``.

* ``overhead``: Python overhead per op, from a chain of 100 elementwise ops (``y * c``
  and ``tanh`` alternating) on 10 float32 numbers, forward and backward; the same
  100 raw NumPy ufunc calls (forward only) give the scale.
* ``mlp``, ``maxout``: one training epoch (600 steps of batch 100, SGD with momentum
  0.5 and lr 0.01, mean softmax cross-entropy, synthetic data) of a 784-1200-1200-10
  ReLU MLP and of a 784-(240x5 maxout)-(240x5 maxout)-10 network, in float32.
* ``input_grad``: the gradient of the maxout network's summed loss with respect to
  its input, for 10,000 images in batches of 1,000: what every attack step computes.
  The engine uses ``minigrad.grad``, which must skip the weight gradients.
* ``conv``, ``conv_input_grad``: the same two for ``SmallConvNet`` (two 4x4 stride-2
  convolutions, then two dense layers), against the hand-derived NHWC im2col version
  in :class:`benchmarks.handwritten_numpy.ConvNumpyNet`, and against ``matmul``: the
  step's matrix products alone (:func:`benchmarks.workloads.conv_products`), the
  machine's limit for this work. Each is also reported in GFLOP/s of those products,
  beside the machine's sgemm rate (a 2048x2048 float32 product, best of 5, in a
  process of its own): the products of a small conv net, thin and many, reach only part
  of it, and ``matmul`` shows how much.

The matrix products are the same BLAS calls in every implementation, so the ratio is
decided by what the engine does around them (fresh arrays for every result, masks
built as temporaries, the graph's bookkeeping), not by the arithmetic; how much of
each task the matrix products take is measured in ``docs/measurements.md``. The
hand-derived baseline is :mod:`benchmarks.handwritten_numpy`; PyTorch, if importable,
is an extra column (:mod:`benchmarks.torch_peer`), never a dependency.

Hygiene: each (implementation, task, repeat) runs in a process of its own
(:mod:`benchmarks.harness`; PyTorch's and OpenBLAS's thread pools slow each other down
in one process), every process calls ``minigrad.keep_freed_memory()`` whatever it runs,
the runs are interleaved (engine, numpy, [torch], engine, ...), and each process
times its loop after one untimed warm-up batch. The table shows ratios of the minima
and of the medians; the absolute numbers go to the JSON
(``benchmarks/results/engine.json`` unless ``--out``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import minigrad

from .handwritten_numpy import ConvNumpyNet, NumpyNet
from .harness import ROOT, environment, environment_lines, in_own_process, write_json
from .torch_peer import torch_functions
from .workloads import (
    BATCH, CONV_LAYERS, GRAD_BATCH, LR, MOMENTUM, PIECES, SEED, conv_params, conv_products, flops, init_params, layer_shapes,
    momentum_update, synthetic_data,
)

TASKS = ("overhead", "mlp", "maxout", "input_grad", "conv", "conv_input_grad")
TITLES = {
    "overhead": "Python overhead, 100 ops on 10 floats (engine fwd+bwd / NumPy fwd)",
    "mlp": "MLP 784-1200-1200-10, one epoch",
    "maxout": "maxout 784-(240x5)-(240x5)-10, one epoch",
    "input_grad": "maxout input gradient, batches of 1,000",
    "conv": "SmallConvNet, one epoch",
    "conv_input_grad": "SmallConvNet input gradient, batches of 1,000",
}
KIND = {"mlp": "mlp", "maxout": "maxout", "input_grad": "maxout", "conv": "conv", "conv_input_grad": "conv"}
GRADIENT_TASKS = ("input_grad", "conv_input_grad")
CHAIN = 100  # ops per chain in the overhead task
FULL = {"steps": 600, "images": 10_000, "chains": 500, "repeats": 3, "sgemm_size": 2048}
QUICK = {"steps": 20, "images": 1_000, "chains": 50, "repeats": 1, "sgemm_size": 256}


# --- the engine ------------------------------------------------------------------------
class EngineNet:
    """The network written with minigrad ops: ``linear(x, W, b)``, then relu or maxout."""

    def __init__(self, kind: str, params):
        self.kind = kind
        self.layers = [
            (minigrad.Tensor(W.copy(), requires_grad=True), minigrad.Tensor(b.copy(), requires_grad=True))
            for W, b in params
        ]
        self.tensors = [t for layer in self.layers for t in layer]

    def __call__(self, x):
        for i, (W, b) in enumerate(self.layers):
            x = minigrad.linear(x, W, b)
            if i < len(self.layers) - 1:
                x = minigrad.relu(x) if self.kind == "mlp" else minigrad.maxout(x, PIECES)
        return x


class ConvEngineNet:
    """SmallConvNet written with minigrad ops: conv2d-relu twice, flatten, linear-relu-linear."""

    def __init__(self, params):
        self.layers = [(minigrad.Tensor(W.copy(), requires_grad=True), minigrad.Tensor(b.copy(), requires_grad=True))
                       for W, b in params]
        self.tensors = [t for layer in self.layers for t in layer]

    def __call__(self, x):
        h = minigrad.reshape(x, x.shape[0], 1, 28, 28)
        for (W, b), (_, _, _, stride, padding) in zip(self.layers[:2], CONV_LAYERS):
            h = minigrad.relu(minigrad.conv2d(h, W, b, stride=stride, padding=padding))
        (W3, b3), (W4, b4) = self.layers[2:]
        return minigrad.linear(minigrad.relu(minigrad.linear(minigrad.reshape(h, h.shape[0], -1), W3, b3)), W4, b4)


def engine_step(net: EngineNet, velocity, xb, yb) -> float:
    """One SGD-momentum step; returns the batch's mean loss."""
    for p in net.tensors:
        p.grad = None
    loss = minigrad.cross_entropy(net(minigrad.Tensor(xb)), yb)
    loss.backward()
    for p, v in zip(net.tensors, velocity):
        np.multiply(p.grad, LR, out=p.grad)
        momentum_update(p.data, p.grad, v)
    return loss.item()


def engine_input_grad(net: EngineNet, xb, yb):
    """d(summed loss)/d(xb) through minigrad.grad; the weights require grad but get none."""
    return minigrad.grad(lambda x: minigrad.cross_entropy(net(x), yb, reduction="sum"))(xb)


# --- workers: one implementation, one task, one process ------------------------------------
def overhead_us_per_op(impl: str, chains: int) -> float:
    """Microseconds per op of CHAIN alternating ``* c`` and tanh ops on 10 floats."""
    c = np.full(10, 0.9, np.float32)
    x = np.linspace(-1, 1, 10, dtype=np.float32)
    if impl == "engine":
        x, c = minigrad.Tensor(x, requires_grad=True), minigrad.Tensor(c)
    tanh = minigrad.tanh if impl == "engine" else np.tanh

    def chain():
        y = x
        for _ in range(CHAIN // 2):
            y = tanh(y * c)
        if impl == "engine":
            y.sum().backward()
            x.grad = None

    chain()
    start = time.perf_counter()
    for _ in range(chains):
        chain()
    return (time.perf_counter() - start) / (chains * CHAIN) * 1e6


def batch_function(impl: str, task: str, params):
    """What one batch costs: a training step (mlp, maxout, conv) or an input gradient."""
    kind, gradient = KIND[task], task in GRADIENT_TASKS
    if impl == "engine":
        net = ConvEngineNet(params) if kind == "conv" else EngineNet(kind, params)
        if gradient:
            return lambda xb, yb: engine_input_grad(net, xb, yb)
        velocity = [np.zeros_like(t.data) for t in net.tensors]
        return lambda xb, yb: engine_step(net, velocity, xb, yb)
    if impl == "numpy":
        batch = GRAD_BATCH if gradient else BATCH
        hand = ConvNumpyNet(params, batch) if kind == "conv" else NumpyNet(kind, params, batch)
        return hand.input_grad if gradient else hand.step
    step, input_grad = torch_functions(kind, params)
    return input_grad if gradient else step


def timed_fit(kind: str, params, X, y) -> float:
    """Seconds for one epoch of ``training.fit`` on the same network, built from ``models``.

    Dropout, max-norm, validation, the training-error monitor and checkpoints are off, so
    this is the engine step plus what the loop itself adds (shuffling, batch gathering,
    the optimizer object): the loop should cost almost nothing, fit / engine close to 1.
    """
    import models
    import training

    if kind == "mlp":
        model = models.MLP((784, 1200, 1200, 10))
    elif kind == "conv":
        model = models.SmallConvNet()
    else:
        model = models.MaxoutNetwork(hidden=(240, 240), pieces=PIECES, dropout=None, max_norm=None)
    for p, value in zip(model.parameters(), [a for layer in params for a in layer]):
        p.data[...] = value
    optimizer = training.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    start = time.perf_counter()
    training.fit(model, X, y, epochs=1, batch_size=BATCH, optimizer=optimizer, progress=False, monitor_size=0)
    return time.perf_counter() - start


def matmul_only(task: str):
    """The task's matrix products and nothing else, into preallocated float32 buffers: the
    machine's limit for this work (what BLAS alone needs), per batch."""
    rng = np.random.default_rng(SEED)
    batch = GRAD_BATCH if task in GRADIENT_TASKS else BATCH
    buffers = [(rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32), np.empty((m, n), np.float32))
               for m, k, n in conv_products(batch, task in GRADIENT_TASKS)]

    def run(xb, yb):
        for a, b, out in buffers:
            np.matmul(a, b, out=out)

    return run


def timed_loop(fn, X, y, batch: int) -> float:
    """Seconds for fn over all batches of (X, y), after one untimed warm-up call."""
    fn(X[:batch], y[:batch])
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        fn(X[i : i + batch], y[i : i + batch])
    return time.perf_counter() - start


def sgemm_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The machine's sgemm rate: GFLOP/s of the best of ``repeats`` float32 products of two size x size matrices."""
    rng = np.random.default_rng(SEED)
    a, b = rng.random((size, size), dtype=np.float32), rng.random((size, size), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def run_worker(impl: str, task: str, steps: int, images: int, chains: int, sgemm_size: int = 2048) -> float:
    if impl == "sgemm":
        return sgemm_gflops(sgemm_size)
    if task == "overhead":
        return overhead_us_per_op(impl, chains)
    gradient, kind = task in GRADIENT_TASKS, KIND[task]
    X, y = synthetic_data(images if gradient else steps * BATCH)
    params = conv_params() if kind == "conv" else init_params(layer_shapes(kind))
    if impl == "fit":
        return timed_fit(kind, params, X, y)
    fn = matmul_only(task) if impl == "matmul" else batch_function(impl, task, params)
    return timed_loop(fn, X, y, GRAD_BATCH if gradient else BATCH)


# --- the driver -------------------------------------------------------------------------
def spawn(impl: str, task: str, sizes: dict) -> float:
    """One measurement of ``impl`` on ``task``, in a process of its own."""
    arguments = ["--worker", impl, task]
    for key in ("steps", "images", "chains", "sgemm_size"):
        arguments += [f"--{key.replace('_', '-')}", str(sizes[key])]
    return in_own_process("benchmarks.engine", arguments)


def summarize(runs: dict, unit: str) -> dict:
    mins = {impl: min(v) for impl, v in runs.items()}
    medians = {impl: statistics.median(v) for impl, v in runs.items()}
    pairs = [(impl, "numpy") for impl in runs if impl not in ("numpy", "fit")]
    pairs += [("fit", "engine")] if "fit" in runs else []
    ratios = {
        f"{a}/{b}": {"min": mins[a] / mins[b], "median": medians[a] / medians[b]}
        for a, b in pairs
    }
    return {"unit": unit, "runs": runs, "min": mins, "median": medians, "ratios": ratios}


def report(result: dict) -> str:
    env, results = result["environment"], result["results"]
    lines = [f"## minigrad vs hand-written NumPy: {json.dumps(result['config'])}\n", *environment_lines(env)]
    ratios = sorted({name for r in results.values() for name in r["ratios"]})
    columns = [(name, stat) for name in ratios for stat in ("min", "median")]
    lines += ["", "| task | " + " | ".join(f"{name} {stat}" for name, stat in columns) + " |"]
    lines.append("|---" * (len(columns) + 1) + "|")
    for task, r in results.items():
        cells = [f"{r['ratios'][name][stat]:.2f}" if name in r["ratios"] else "" for name, stat in columns]
        lines.append(f"| {TITLES[task]} | " + " | ".join(cells) + " |")
    if result.get("sgemm_gflops"):
        side = result["config"]["sgemm_size"]
        lines.append(f"\nThe machine's sgemm rate ({side}x{side} float32, best of 5): {result['sgemm_gflops']:.1f} GFLOP/s.")
    for task, r in results.items():
        if "gflops" in r:
            rates = ", ".join(f"{impl} {rate:.1f}" for impl, rate in r["gflops"].items())
            lines.append(f"\n{TITLES[task]}: GFLOP/s of the matrix products (from the shapes, min time): {rates}; "
                         f"'matmul' runs those products alone, the machine's limit for this work.")
    if "overhead" in results:
        us = results["overhead"]["median"]
        lines.append(f"\nPer op (medians): engine {us['engine']:.2f} us forward + backward, "
                     f"raw NumPy {us['numpy']:.2f} us forward.")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 1 repeat (a smoke run)")
    parser.add_argument("--steps", type=int, help=f"training steps per epoch (default {FULL['steps']})")
    parser.add_argument("--images", type=int, help=f"images for input_grad (default {FULL['images']})")
    parser.add_argument("--chains", type=int, help=f"op chains timed for overhead (default {FULL['chains']})")
    parser.add_argument("--repeats", type=int, help=f"runs per implementation (default {FULL['repeats']})")
    parser.add_argument("--sgemm-size", type=int, help=f"side of the sgemm rate's matrices (default {FULL['sgemm_size']})")
    parser.add_argument("--only", choices=TASKS, help="run one task")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "engine.json")
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "TASK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    sizes = {key: getattr(args, key) or default for key, default in defaults.items()}
    if sizes["images"] % GRAD_BATCH:
        parser.error(f"--images must be a multiple of {GRAD_BATCH}")
    return args, sizes


def main(argv=None) -> int:
    args, sizes = parse_args(argv)
    minigrad.keep_freed_memory()  # in every worker, whatever it runs: the same allocator for all
    if args.worker:
        impl, task = args.worker
        value = run_worker(impl, task, sizes["steps"], sizes["images"], sizes["chains"], sizes["sgemm_size"])
        print(json.dumps({"value": value}))
        return 0
    env = environment()
    impls = ["engine", "numpy"] + (["torch"] if env["torch"] else [])
    results = {}
    for task in [args.only] if args.only else TASKS:
        peers = impls[:2] if task == "overhead" else impls  # the overhead chain has no PyTorch version
        task_impls = peers + (["fit"] if task in ("mlp", "maxout", "conv") else [])
        task_impls += ["matmul"] if KIND.get(task) == "conv" else []
        runs = {impl: [] for impl in task_impls}
        for _ in range(sizes["repeats"]):
            for impl in task_impls:
                runs[impl].append(spawn(impl, task, sizes))
        results[task] = summarize(runs, "us_per_op" if task == "overhead" else "seconds")
        if KIND.get(task) == "conv":
            images = sizes["images"] if task in GRADIENT_TASKS else sizes["steps"] * BATCH
            batch = GRAD_BATCH if task in GRADIENT_TASKS else BATCH
            total = flops(conv_products(batch, task in GRADIENT_TASKS)) * (images // batch)
            results[task]["gflops"] = {impl: total / t / 1e9 for impl, t in results[task]["min"].items() if impl != "fit"}
    sgemm = spawn("sgemm", "rate", sizes) if any(KIND.get(task) == "conv" for task in results) else None
    result = {"config": {"quick": args.quick, **sizes}, "environment": env, "results": results, "sgemm_gflops": sgemm}
    print(report(result))
    write_json(args.out, result)
    print(f"\nJSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
