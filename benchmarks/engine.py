"""minigrad beside hand-written NumPy and the installed peers, workload by workload: ``python -m benchmarks.engine``.

* ``overhead``: the cost per op, from a chain of 100 elementwise ops (``y * c`` and
  ``tanh`` alternating) on 10 float32 numbers, forward and backward; the same 100 raw
  NumPy ufunc calls (forward only) give the scale, in a process of their own and, for
  minigrad's ratio, also in minigrad's process, taking turns with its chain.
* ``mlp``, ``maxout``: one training epoch (600 steps of batch 100, SGD with momentum
  0.5 and lr 0.01, mean softmax cross-entropy, synthetic data) of a 784-1200-1200-10
  ReLU MLP and of a 784-(240x5 maxout)-(240x5 maxout)-10 network, in float32.
* ``input_grad``: the gradient of the maxout network's summed loss with respect to
  its input, for 10,000 images in batches of 1,000: what every attack step computes.
  The engine uses ``minigrad.grad``, which must skip the weight gradients.
* ``conv``, ``conv_input_grad``: the same two for ``SmallConvNet`` (two 4x4 stride-2
  convolutions, then two dense layers); the hand-derived version is the NHWC im2col one
  in :class:`benchmarks.handwritten_numpy.ConvNumpyNet`.

``engine`` is minigrad as a user of the library runs it: the network from ``models``
(``MLP``, ``MaxoutNetwork`` with dropout and max-norm off, ``SmallConvNet``), stepped by
``training.train_step`` with ``training.SGD``, and ``attacks.input_gradient``. Beside it
and the hand-derived NumPy version (``numpy``, the reference of every ratio) run
``training.fit`` on the same network (the loop's own cost), each installed peer (PyTorch eager, JAX with ``jit``, HIPS autograd:
:mod:`benchmarks.adapters.peer_libraries`; never a dependency), and ``matmul``: the step's
matrix products alone (:func:`benchmarks.workloads.products`), into preallocated
buffers, the machine's limit for this work. Every run is also reported in GFLOP/s of
those products, beside the machine's sgemm rate (a 2048x2048 float32 product, best of
5); the products of a small conv net, thin and many, reach only part of it.

The matrix products are the same BLAS calls in minigrad, NumPy and autograd, so their
ratios are decided by what happens around the products (fresh arrays for every result,
masks built as temporaries, the graph's bookkeeping); PyTorch and JAX bring their own
kernels. Every implementation starts from the same weights and data, and the report
checks that each one's first batch (its loss, or the size of its input gradient)
agrees with minigrad's.

Hygiene: each (implementation, task, repeat) runs in a process of its own
(:mod:`benchmarks.harness`; PyTorch's and OpenBLAS's thread pools slow each other down
in one process), every process calls ``training.fast_paths.enable()`` whatever it runs
(the allocator setting for every implementation alike; the library runs the path
``advex`` uses),
the runs are interleaved (engine, numpy, peers, ..., engine, ...), and each process
times its loop after one untimed warm-up batch (for JAX, mostly the compilation, which
is reported apart). The table shows ratios of the minima and of the medians; the
absolute numbers go to the JSON (``benchmarks/results/engine.json`` unless ``--out``).
:mod:`benchmarks.peers` adds the scaling sweep and the figures.

Below the table, the report judges the engine against its performance targets
(:data:`TARGETS`, issue 26's): on the path ``advex`` uses (the fast paths on), the MLP
and maxout epochs no slower than the hand-written version, the input gradient at most
1.05x it, SmallConvNet's epoch and input gradient at most 1.15x it, and an op's overhead
at most 1.5x that of the floor engine of :mod:`benchmarks.research.overhead_floor` (a
check-free walk of the same graph), timed in the same process. A target is met when
the ratio of the minima and the ratio of the medians both are.
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
from training import fast_paths

from .handwritten_numpy import ConvNumpyNet, NumpyNet, piece_major
from .harness import ROOT, environment, environment_lines, in_own_process, write_json
from .adapters.peer_libraries import PEERS, skip_lines
from .workloads import (
    BATCH, GRAD_BATCH, LR, MOMENTUM, PIECES, SEED, conv_params, flops, init_params, layer_shapes, products, synthetic_data,
)

TASKS = ("overhead", "mlp", "maxout", "input_grad", "conv", "conv_input_grad")
TITLES = {
    "overhead": "per-op overhead, 100 ops on 10 floats",
    "mlp": "MLP 784-1200-1200-10, one epoch",
    "maxout": "maxout 784-(240x5)-(240x5)-10, one epoch",
    "input_grad": "maxout input gradient, batches of 1,000",
    "conv": "SmallConvNet, one epoch",
    "conv_input_grad": "SmallConvNet input gradient, batches of 1,000",
}
NAMES = {"engine": "minigrad", "numpy": "hand-written NumPy", **{name: module.LABEL for name, module in PEERS.items()},
         "fit": "training.fit", "matmul": "matmul only"}
KIND = {"mlp": "mlp", "maxout": "maxout", "input_grad": "maxout", "conv": "conv", "conv_input_grad": "conv"}
GRADIENT_TASKS = ("input_grad", "conv_input_grad")
CHAIN = 100  # ops per chain in the overhead task
FULL = {"steps": 600, "images": 10_000, "chains": 500, "repeats": 3, "sgemm_size": 2048}
QUICK = {"steps": 20, "images": 1_000, "chains": 50, "repeats": 1, "sgemm_size": 256}


# What the engine aims for (the performance issue's section 2): (task, numerator, denominator, limit).
# A ratio of times, minigrad's over the denominator's, or for "overhead" minigrad's time per
# op over the bare NumPy ufunc call's, both timed in one process (``in_process``).
TARGETS = (
    ("mlp", "engine", "numpy", 1.00),
    ("maxout", "engine", "numpy", 1.00),
    ("input_grad", "engine", "numpy", 1.05),
    ("conv", "engine", "numpy", 1.15),
    ("conv_input_grad", "engine", "numpy", 1.15),
    ("overhead", "engine", "floor", 1.5),
)


# --- the library ----------------------------------------------------------------------
def library_model(kind: str, params):
    """The network as the library builds it, holding the shared initial weights:
    ``models.MLP``, ``models.MaxoutNetwork`` (dropout and max-norm off, to match the
    hand-derived step) or ``models.SmallConvNet``."""
    import models

    weights = [W for W, _ in params]
    if kind == "mlp":
        model = models.MLP((weights[0].shape[0], *(W.shape[1] for W in weights)))
    elif kind == "conv":
        model = models.SmallConvNet()
    else:
        hidden = tuple(W.shape[1] // PIECES for W in weights[:-1])
        model = models.MaxoutNetwork(weights[0].shape[0], hidden, PIECES, weights[-1].shape[1], dropout=None, max_norm=None)
        # the shared weights group each unit's pieces together, models.Maxout lays its columns out piece-major
        params = [(W[:, piece_major(W.shape[1])], b[piece_major(len(b))]) for W, b in params[:-1]] + params[-1:]
    names = list(model.state_dict())  # the parameters, in order, as files name them
    model.load_state_dict(dict(zip(names, [a for layer in params for a in layer], strict=True)))
    return model


def library_training(kind: str, params):
    """``(model, optimizer)``: :func:`library_model` and its ``training.SGD`` (the workloads' lr, momentum 0.5)."""
    import training

    model = library_model(kind, params)
    return model, training.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)


def library_functions(kind: str, params):
    """(training step, input gradient) as a user of the library runs them: ``training.train_step``
    with :func:`library_training`'s optimizer and the model's own loss, and ``attacks.input_gradient``."""
    import attacks
    import training

    model, optimizer = library_training(kind, params)

    def step(xb, yb):
        return training.train_step(model, optimizer, training.loop.default_loss, xb, yb)

    return step, lambda xb, yb: attacks.input_gradient(model, xb, yb)


# --- workers: one implementation, one task, one process ------------------------------------
def chain_inputs():
    """The overhead chain's input x and constant c: 10 float32 numbers each."""
    return np.linspace(-1, 1, 10, dtype=np.float32), np.full(10, 0.9, np.float32)


def overhead_chain(impl: str):
    """A function running CHAIN alternating ``* c`` and tanh ops on 10 floats, forward and
    backward (``numpy``: the same ufunc calls, forward only: the scale). The engine's
    returns the gradient of the chain's sum with respect to x."""
    x, c = chain_inputs()
    if impl in PEERS:
        return PEERS[impl].overhead_chain(x, c, CHAIN)
    if impl == "engine":
        x, c = minigrad.Tensor(x, requires_grad=True), minigrad.Tensor(c)
    tanh = minigrad.tanh if impl == "engine" else np.tanh

    def chain():
        y = x
        for _ in range(CHAIN // 2):
            y = tanh(y * c)
        if impl == "engine":
            y.sum().backward()
            gradient, x.grad = x.grad, None
            return gradient
        return None

    return chain


def us_per_op(chain, chains: int) -> float:
    """Microseconds per op of ``chains`` calls of an :func:`overhead_chain`."""
    start = time.perf_counter()
    for _ in range(chains):
        chain()
    return (time.perf_counter() - start) / (chains * CHAIN) * 1e6


def interleaved_us_per_op(chains: dict, count: int, blocks: int = 10) -> tuple[dict, int]:
    """``({name: [us per op, block by block]}, chains timed each)`` for several chain functions
    timed in one process, after one untimed call of each.

    The ``count`` calls of each are split into ``blocks`` blocks, and the functions take
    turns block by block, the first of each round moving one place along every round, so
    that each compares like with like (the same interpreter, allocator state and clock
    speed) and none always follows the same neighbour.
    """
    names = list(chains)
    for chain in chains.values():
        chain()
    per_block = max(1, count // blocks)
    times = {name: [] for name in names}
    for round_ in range(blocks):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            times[name].append(us_per_op(chains[name], per_block))
    return times, per_block * blocks


def overhead_us_per_op(impl: str, chains: int) -> dict:
    """``{"value": us per op}`` of ``impl``'s chain, after one untimed chain.

    For the engine, also ``numpy_in_process`` and ``floor_in_process``: the bare ufunc
    calls' and the floor engine's us per op (:mod:`benchmarks.research.overhead_floor`),
    timed in the same process, taking turns with the engine's
    (:func:`interleaved_us_per_op`), so that the ratios compare like with like. The
    performance target is stated in the ratio to the floor engine (:data:`TARGETS`).
    All are means over the blocks.
    """
    if impl != "engine":
        chain = overhead_chain(impl)
        chain()
        return {"value": us_per_op(chain, chains)}
    from .research.overhead_floor import floor_chain

    chains_timed = {"engine": overhead_chain("engine"), "numpy": overhead_chain("numpy"), "floor": floor_chain("floor")}
    times, _ = interleaved_us_per_op(chains_timed, chains)
    return {"value": statistics.fmean(times["engine"]), "numpy_in_process": statistics.fmean(times["numpy"]),
            "floor_in_process": statistics.fmean(times["floor"])}


def batch_function(impl: str, task: str, params, batch: int | None = None):
    """What one batch costs: a training step (mlp, maxout, conv) or an input gradient.

    ``batch`` sizes the hand-derived version's buffers (default: the task's batch size).
    """
    kind, gradient = KIND[task], task in GRADIENT_TASKS
    if impl == "engine":
        step, input_grad = library_functions(kind, params)
        return input_grad if gradient else step
    if impl == "numpy":
        batch = batch or (GRAD_BATCH if gradient else BATCH)
        hand = ConvNumpyNet(params, batch) if kind == "conv" else NumpyNet(kind, params, batch)
        return hand.input_grad if gradient else hand.step
    step, input_grad = PEERS[impl].functions(kind, params)
    return input_grad if gradient else step


def timed_fit(kind: str, params, X, y) -> float:
    """Seconds for one epoch of ``training.fit`` on the library's network.

    Validation, the training-error monitor and checkpoints are off, so this is the
    library's step plus what the loop itself adds (shuffling, batch gathering): the
    loop should cost almost nothing, fit / engine close to 1.
    """
    import training

    model, optimizer = library_training(kind, params)
    start = time.perf_counter()
    training.fit(model, X, y, epochs=1, batch_size=BATCH, optimizer=optimizer, progress=False, monitor_size=0)
    return time.perf_counter() - start


def matmul_only(task: str):
    """The task's matrix products and nothing else, into preallocated float32 buffers: the
    machine's limit for this work (what BLAS alone needs), per batch."""
    rng = np.random.default_rng(SEED)
    gradient = task in GRADIENT_TASKS
    buffers = [(rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32), np.empty((m, n), np.float32))
               for m, k, n in products(KIND[task], GRAD_BATCH if gradient else BATCH, gradient)]

    def run(xb, yb):
        for a, b, out in buffers:
            np.matmul(a, b, out=out)

    return run


def checksum(result) -> float:
    """One number from what a batch returned (a loss, or an input gradient), to compare implementations."""
    if result is None:  # the matrix products alone compute nothing to compare
        return float("nan")
    return float(result) if np.ndim(result) == 0 else float(np.abs(np.asarray(result, dtype=np.float64)).sum())


def timed_loop(fn, X, y, batch: int) -> dict:
    """Seconds for fn over all batches of (X, y), after one untimed warm-up call.

    Also returns the warm-up call's own seconds (``first_call``: for JAX, mostly the
    compilation) and two :func:`checksum` values that every implementation computes
    alike from the same weights: of the warm-up call on the first batch (the loss, or
    the input gradient) and of the first timed call, on the same batch after one
    update (so a wrong gradient or momentum shows too).
    """
    start = time.perf_counter()
    first = checksum(fn(X[:batch], y[:batch]))
    first_call = time.perf_counter() - start
    start = time.perf_counter()
    after_update = checksum(fn(X[:batch], y[:batch]))
    for i in range(batch, len(X), batch):
        fn(X[i : i + batch], y[i : i + batch])
    return {"value": time.perf_counter() - start, "first_call": first_call, "checksum": (first, after_update)}


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


def run_worker(impl: str, task: str, steps: int, images: int, chains: int, sgemm_size: int = 2048) -> dict:
    """One measurement, as ``{"value": ...}`` (seconds, us per op or GFLOP/s), plus what :func:`timed_loop` adds."""
    if impl == "sgemm":
        return {"value": sgemm_gflops(sgemm_size)}
    if task == "overhead":
        return overhead_us_per_op(impl, chains)
    gradient, kind = task in GRADIENT_TASKS, KIND[task]
    X, y = synthetic_data(images if gradient else steps * BATCH)
    params = conv_params() if kind == "conv" else init_params(layer_shapes(kind))
    if impl == "fit":
        return {"value": timed_fit(kind, params, X, y)}
    fn = matmul_only(task) if impl == "matmul" else batch_function(impl, task, params)
    measured = timed_loop(fn, X, y, GRAD_BATCH if gradient else BATCH)
    return {"value": measured["value"]} if impl == "matmul" else measured


# --- the driver -------------------------------------------------------------------------
def spawn(impl: str, task: str, sizes: dict) -> dict:
    """One measurement of ``impl`` on ``task``, in a process of its own."""
    arguments = ["--worker", impl, task]
    for key in ("steps", "images", "chains", "sgemm_size"):
        arguments += [f"--{key.replace('_', '-')}", str(sizes[key])]
    return in_own_process("benchmarks.engine", arguments)


def implementations(task: str, peers: list) -> list:
    """Who runs ``task``: the engine, the hand-derived NumPy, each installed peer that has
    the network, ``training.fit`` (training tasks) and the matrix products alone."""
    if task == "overhead":
        return ["engine", "numpy", *peers]
    found = ["engine", "numpy", *(name for name in peers if KIND[task] in PEERS[name].KINDS)]
    return found + (["fit"] if task not in GRADIENT_TASKS else []) + ["matmul"]


def summarize(task: str, measurements: dict, sizes: dict) -> dict:
    """Min, median and ratios to the hand-derived NumPy of each implementation's runs;
    GFLOP/s of the matrix products (from the shapes and the min time); JAX's compile time;
    and whether each implementation's first batch agrees with the engine's."""
    runs = {impl: [m["value"] for m in ms] for impl, ms in measurements.items()}
    mins = {impl: min(v) for impl, v in runs.items()}
    medians = {impl: statistics.median(v) for impl, v in runs.items()}
    pairs = [(impl, "numpy") for impl in runs if impl not in ("numpy", "fit")]
    pairs += [("fit", "engine")] if "fit" in runs else []
    ratios = {f"{a}/{b}": {"min": mins[a] / mins[b], "median": medians[a] / medians[b]} for a, b in pairs}
    result = {"unit": "us_per_op" if task == "overhead" else "seconds", "runs": runs, "min": mins, "median": medians,
              "ratios": ratios}
    if task == "overhead":
        if "engine" in measurements and all("numpy_in_process" in m for m in measurements["engine"]):
            in_process = [m["value"] / m["numpy_in_process"] for m in measurements["engine"]]
            result["in_process"] = {"runs": in_process, "min": min(in_process), "median": statistics.median(in_process)}
        if "engine" in measurements and all("floor_in_process" in m for m in measurements["engine"]):
            floor = [m["value"] / m["floor_in_process"] for m in measurements["engine"]]
            result["floor"] = {"runs": floor, "min": min(floor), "median": statistics.median(floor)}
        return result
    gradient = task in GRADIENT_TASKS
    batch = GRAD_BATCH if gradient else BATCH
    images = sizes["images"] if gradient else sizes["steps"] * BATCH
    total = flops(products(KIND[task], batch, gradient)) * (images // batch)
    result["gflops"] = {impl: total / t / 1e9 for impl, t in mins.items() if impl != "fit"}
    result["first_call"] = {impl: min(m["first_call"] for m in ms) for impl, ms in measurements.items() if ms[0].get("first_call")}
    sums = {impl: ms[0]["checksum"] for impl, ms in measurements.items() if "checksum" in ms[0] and impl != "matmul"}
    result["agrees_with_engine"] = {
        impl: bool(all(abs(mine - theirs) <= 1e-3 * abs(theirs) for mine, theirs in zip(v, sums["engine"], strict=True)))
        for impl, v in sums.items()}
    return result


def target_rows(results: dict) -> list:
    """Each of :data:`TARGETS` whose task ran: ``{"task", "against", "limit", "min", "median", "met"}``.

    ``min`` and ``median`` are the ratio of the minima and of the medians over the
    repeats (for the overhead, of the per-process ratios). ``met`` is "yes" when both are
    within the limit, "no" when neither is, "by the minimum" or "by the median" when
    only one is: on a shared machine a target that only one of them meets is noise's to
    decide, and the report says so rather than pick the flattering one.
    """
    rows = []
    for task, mine, against, limit in TARGETS:
        r = results.get(task, {})
        if against in ("in_process", "floor"):  # ratios taken within each process
            if against not in r:
                continue
            low, middle = r[against]["min"], r[against]["median"]
        else:
            if mine not in r.get("min", {}) or against not in r["min"]:
                continue
            low, middle = r["min"][mine] / r["min"][against], r["median"][mine] / r["median"][against]
        within = (low <= limit, middle <= limit)
        met = {(True, True): "yes", (False, False): "no", (True, False): "by the minimum", (False, True): "by the median"}[within]
        rows.append({"task": task, "against": against, "limit": limit, "min": low, "median": middle, "met": met})
    return rows


TARGET_NAMES = {"numpy": "hand-written NumPy", "matmul": "the matrix products alone",
                "in_process": "a bare NumPy ufunc call, in the same process",
                "floor": "the floor engine (benchmarks.research.overhead_floor), in the same process"}


def targets_report(rows: list) -> list:
    """:func:`target_rows` as Markdown lines (none when no target's task ran)."""
    if not rows:
        return []
    lines = ["", "The engine's performance targets: minigrad's time over the reference's, as the ratio of the minima "
             "and of the medians; met when both are within the limit.", "",
             "| task | against | limit | min | median | met |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {TITLES[row['task']]} | {TARGET_NAMES[row['against']]} | {row['limit']:.2f} | "
                     f"{row['min']:.2f} | {row['median']:.2f} | {row['met']} |")
    return lines


def say(line: str) -> None:
    """A progress line, on stderr so that stdout keeps only the report."""
    print(line, file=sys.stderr, flush=True)


def measure(tasks, peers: list, sizes: dict, progress=say) -> dict:
    """Every implementation on every task, ``repeats`` times, interleaved: engine, numpy, peers, ..., engine, ..."""
    results = {}
    for task in tasks:
        impls = implementations(task, peers)
        measurements = {impl: [] for impl in impls}
        for repeat in range(sizes["repeats"]):
            for impl in impls:
                measurements[impl].append(spawn(impl, task, sizes))
                unit = "us per op" if task == "overhead" else "s"
                progress(f"{task}, run {repeat + 1} of {sizes['repeats']}: {NAMES[impl]} {measurements[impl][-1]['value']:.3g} {unit}")
        results[task] = summarize(task, measurements, sizes)
    return results



def report(result: dict) -> str:
    """The result as Markdown: times as ratios to the hand-derived NumPy, then GFLOP/s against the machine's limit."""
    env, results = result["environment"], result["results"]
    lines = [f"## minigrad, hand-written NumPy and the peers: {json.dumps(result['config'])}\n", *environment_lines(env)]
    lines += skip_lines(env["peers"])
    impls = [impl for impl in NAMES if any(impl in r["min"] for r in results.values())]
    lines += ["", "Time as a ratio to the hand-written NumPy version (min over repeats; median in brackets); "
              "the overhead row is microseconds per op, forward and backward (NumPy: the bare ufunc call, forward "
              "only; JAX: eager, as jit would fuse the chain away), and its ratio to NumPy's (minigrad's also to "
              "the ufunc call timed in its own process, taking turns).", "",
              "| task | " + " | ".join(NAMES[impl] for impl in impls) + " |", "|---" * (len(impls) + 1) + "|"]
    for task, r in results.items():
        cells = []
        for impl in impls:
            if impl not in r["min"]:
                cells.append("")
            elif task == "overhead":
                cell = f"{r['min'][impl]:.2f} us ({r['min'][impl] / r['min']['numpy']:.1f}x"
                if impl == "engine" and "in_process" in r:
                    cell += f"; {r['in_process']['min']:.1f}x in one process"
                if impl == "engine" and "floor" in r:
                    cell += f"; {r['floor']['min']:.2f}x the floor engine"
                cells.append(cell + ")")
            elif impl == "numpy":
                cells.append("1")
            else:
                ratio = r["ratios"]["fit/engine" if impl == "fit" else f"{impl}/numpy"]
                cell = f"{ratio['min']:.2f} [{ratio['median']:.2f}]" + (" of minigrad" if impl == "fit" else "")
                cells.append(cell + ("" if r.get("agrees_with_engine", {}).get(impl, True) else " DISAGREES"))
        lines.append(f"| {TITLES[task]} | " + " | ".join(cells) + " |")
    lines += targets_report(target_rows(results))
    gflop_tasks = [task for task in results if "gflops" in results[task]]
    if gflop_tasks:
        rated = [impl for impl in impls if impl != "fit"]
        lines += ["", "GFLOP/s of each step's matrix products (counted from the shapes, min time); 'matmul only' runs "
                  "those products alone, the machine's limit for this work; in parentheses, each as a fraction of it.",
                  "", "| task | " + " | ".join(NAMES[impl] for impl in rated) + " |", "|---" * (len(rated) + 1) + "|"]
        for task in gflop_tasks:
            g = results[task]["gflops"]
            cells = [f"{g[impl]:.1f} ({g[impl] / g['matmul']:.0%})" if impl in g else "" for impl in rated]
            lines.append(f"| {TITLES[task]} | " + " | ".join(cells) + " |")
    if result.get("sgemm_gflops"):
        side = result["config"]["sgemm_size"]
        lines.append(f"\nThe machine's sgemm rate ({side}x{side} float32, best of 5): {result['sgemm_gflops']:.1f} GFLOP/s.")
    compiled = {task: r["first_call"]["jax"] for task, r in results.items() if "jax" in r.get("first_call", {})}
    if compiled:
        lines.append("\nJAX's first call (compilation, not in the times above): "
                     + ", ".join(f"{task} {seconds:.2f} s" for task, seconds in compiled.items()) + ".")
    checked = {impl: ok for r in results.values() for impl, ok in r.get("agrees_with_engine", {}).items()}
    disagree = sorted(impl for impl, ok in checked.items() if not ok)
    if checked:
        lines.append("\nEvery implementation agrees with minigrad on the first batch, before and after one update "
                     "(the loss, or the summed |input gradient|, to 1e-3)." if not disagree else
                     f"\nWARNING: {', '.join(disagree)} disagree with minigrad on the first batch, before or after one update.")
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
    parser.add_argument("--no-peers", action="store_true", help="only minigrad and the hand-written NumPy, even when peers are installed")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "engine.json")
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "TASK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    sizes = {key: default if getattr(args, key) is None else getattr(args, key) for key, default in defaults.items()}
    if min(sizes.values()) < 1:
        parser.error(f"sizes and repeats must be at least 1, got {sizes}")
    if sizes["images"] % GRAD_BATCH:
        parser.error(f"--images must be a multiple of {GRAD_BATCH}")
    return args, sizes


def run(args, sizes) -> dict:
    """The whole comparison, as the JSON it writes: config, environment, results, the sgemm rate."""
    env = environment()
    peers = [] if args.no_peers else [name for name, found in env["peers"].items() if found]
    results = measure([args.only] if args.only else TASKS, peers, sizes)
    sgemm = spawn("sgemm", "rate", sizes)["value"]
    return {"config": {"quick": args.quick, "peers": peers, **sizes}, "environment": env, "results": results,
            "sgemm_gflops": sgemm, "targets": target_rows(results)}


def main(argv=None) -> int:
    args, sizes = parse_args(argv)
    fast_paths.enable()  # in every worker, whatever it runs: the same allocator for all, and advex's path for the library
    if args.worker:
        impl, task = args.worker
        print(json.dumps(run_worker(impl, task, sizes["steps"], sizes["images"], sizes["chains"], sizes["sgemm_size"])))
        return 0
    result = run(args, sizes)
    write_json(args.out, result)
    print(report(result))
    print(f"\nJSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
