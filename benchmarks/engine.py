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

The matrix products are the same BLAS calls in every implementation and most of the
hand-written time (about 5/6 of the MLP epoch and of the input gradient, 3/4 of the
maxout epoch, with NumPy 2.4 and OpenBLAS on 2 cores), so the ratio is decided by the
extra memory passes the engine makes around them (fresh arrays for every result,
masks built as temporaries), not by Python: a step is only a few dozen ops.

The baseline is meant to be fast, not a straw man: buffers are preallocated
(``np.matmul(a, b, out=buf)``, in-place ufuncs), the learning rate is folded into the
loss gradient (saving the update a pass), ReLU is taken against a zero array
(``np.maximum`` with a scalar operand is 2-3x slower), and the maxout layers keep
their columns piece-major (piece k of every unit in column block k), so the max over
pieces is four contiguous ``np.maximum`` calls. That is a fixed permutation of the
same weights, undone by :meth:`NumpyNet.weights`; ``tests/test_benchmarks_smoke.py``
checks that both implementations make the same step and the same input gradient.

Hygiene: each (implementation, task, repeat) runs in a process of its own (PyTorch's
and OpenBLAS's thread pools slow each other down in one process), the runs are
interleaved (engine, numpy, [torch], engine, ...), and each process times its loop
after one untimed warm-up batch. PyTorch, if importable, is an extra column; it is
never a dependency. The table shows ratios of the minima and of the medians; the
absolute numbers go to the JSON (``benchmarks/results/engine.json`` unless ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import minigrad
from models.io import atomic_write_text

TASKS = ("overhead", "mlp", "maxout", "input_grad")
TITLES = {
    "overhead": "Python overhead, 100 ops on 10 floats (engine fwd+bwd / NumPy fwd)",
    "mlp": "MLP 784-1200-1200-10, one epoch",
    "maxout": "maxout 784-(240x5)-(240x5)-10, one epoch",
    "input_grad": "maxout input gradient, batches of 1,000",
}
LR, MOMENTUM, BATCH, GRAD_BATCH, PIECES, SEED = 0.01, 0.5, 100, 1000, 5, 0
CHAIN = 100  # ops per chain in the overhead task
FULL = {"steps": 600, "images": 10_000, "chains": 500, "repeats": 3}
QUICK = {"steps": 20, "images": 1_000, "chains": 50, "repeats": 1}
ROOT = Path(__file__).resolve().parent.parent


# --- data and initial weights, shared by every implementation -------------------------
def synthetic_data(n: int, d_in: int = 784, classes: int = 10, seed: int = SEED):
    """X uniform in [0, 1) of shape (n, d_in) float32, y int64 labels in 0..classes-1."""
    rng = np.random.default_rng(seed)
    return rng.random((n, d_in), dtype=np.float32), rng.integers(0, classes, n)


def layer_shapes(kind: str, d_in: int = 784, width: int = 1200, classes: int = 10) -> list:
    """(in, out) of each Linear; a maxout layer of ``width`` columns has width/PIECES units."""
    hidden = width if kind == "mlp" else width // PIECES
    return [(d_in, width), (hidden, width), (hidden, classes)]


def init_params(shapes, seed: int = SEED + 1) -> list:
    """[(W, b), ...] float32, W of shape (in, out) Glorot-uniform, b small and uniform."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in shapes:
        bound = np.sqrt(6.0 / (n_in + n_out))
        W = rng.uniform(-bound, bound, (n_in, n_out)).astype(np.float32)
        params.append((W, rng.uniform(-0.05, 0.05, n_out).astype(np.float32)))
    return params


def momentum_update(param, scaled_grad, velocity) -> None:
    """v = momentum * v - scaled_grad; param += v, in place (lr is already in scaled_grad)."""
    np.multiply(velocity, MOMENTUM, out=velocity)
    np.subtract(velocity, scaled_grad, out=velocity)
    np.add(param, velocity, out=param)


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


# --- hand-written NumPy ------------------------------------------------------------------
class Relu:
    """relu in place on the pre-activation buffer; backward masks dL/dh in place."""

    def __init__(self, batch: int, width: int):
        self.floor = np.zeros((batch, width), np.float32)
        self.mask = np.empty((batch, width), bool)

    def forward(self, z):
        self.out = np.maximum(z, self.floor, out=z)
        return self.out

    def backward(self, dh):
        np.greater(self.out, 0, out=self.mask)
        return np.multiply(dh, self.mask, out=dh)


class Maxout:
    """Maxout over piece-major columns: piece k of unit u is column k * units + u."""

    def __init__(self, batch: int, width: int):
        units = width // PIECES
        self.h = np.empty((batch, units), np.float32)
        self.wins = np.empty((PIECES, batch, units), bool)  # wins[k]: piece k beats pieces < k
        self.dz = np.empty((batch, width), np.float32)

    @staticmethod
    def pieces(a):
        units = a.shape[1] // PIECES
        return [a[:, k * units : (k + 1) * units] for k in range(PIECES)]

    def forward(self, z):
        best, *rest = self.pieces(z)
        for k, piece in enumerate(rest, start=1):
            np.greater(piece, best, out=self.wins[k])  # strict: the first maximum keeps a tie
            best = np.maximum(best, piece, out=self.h)
        return self.h

    def backward(self, dh):
        """Route dh to the winning piece: the last k whose wins[k] holds, else piece 0."""
        dz = self.pieces(self.dz)
        for k in range(PIECES - 1, 0, -1):
            np.multiply(dh, self.wins[k], out=dz[k])
            np.subtract(dh, dz[k], out=dz[0] if k == 1 else dh)  # what is left for pieces < k
        return self.dz


def piece_major(width: int) -> np.ndarray:
    """Column order of a piece-major layer: new column k * units + u is old u * PIECES + k."""
    return np.arange(width).reshape(-1, PIECES).T.ravel()


def softmax_xent_grad(logits, y, scale: float) -> float:
    """Overwrite logits with scale * (softmax - onehot(y)); return the summed loss."""
    rows = np.arange(len(y))
    logits -= logits.max(axis=1, keepdims=True)
    picked = logits[rows, y]
    np.exp(logits, out=logits)
    total = logits.sum(axis=1)
    loss = float(np.log(total).sum() - picked.sum())
    logits *= (scale / total)[:, None]
    logits[rows, y] -= scale
    return loss


class NumpyNet:
    """Forward and manually derived backward into buffers preallocated for one batch size."""

    def __init__(self, kind: str, params, batch: int):
        last = len(params) - 1
        self.orders = [
            piece_major(W.shape[1]) if kind == "maxout" and i < last else np.arange(W.shape[1])
            for i, (W, _) in enumerate(params)
        ]
        self.params = [(np.ascontiguousarray(W[:, o]), b[o]) for (W, b), o in zip(params, self.orders)]
        self.grads = [(np.empty_like(W), np.empty_like(b)) for W, b in self.params]
        self.velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in self.params]
        activation = Relu if kind == "mlp" else Maxout
        self.acts = [activation(batch, W.shape[1]) for W, _ in self.params[:-1]]
        self.z = [np.empty((batch, W.shape[1]), np.float32) for W, _ in self.params]
        self.dh = [np.empty((batch, W.shape[0]), np.float32) for W, _ in self.params]
        self.inputs = [None] * len(self.params)

    def forward(self, x):
        for i, (W, b) in enumerate(self.params):
            self.inputs[i] = x
            x = np.matmul(x, W, out=self.z[i])
            x += b
            if i < len(self.acts):
                x = self.acts[i].forward(x)
        return x

    def backward(self, g, weights: bool):
        """From g = dL/dlogits: the weight gradients into self.grads (then dL/dx is
        skipped and None returned), or else only dL/dx (a reused buffer)."""
        for i in reversed(range(len(self.params))):
            if weights:
                dW, db = self.grads[i]
                np.matmul(self.inputs[i].T, g, out=dW)
                np.sum(g, axis=0, out=db)
                if i == 0:
                    return None
            g = np.matmul(g, self.params[i][0].T, out=self.dh[i])
            if i > 0:
                g = self.acts[i - 1].backward(g)
        return g

    def step(self, x, y) -> float:
        """One SGD-momentum step; the gradients come out already multiplied by lr."""
        loss = softmax_xent_grad(self.forward(x), y, scale=LR / len(x))
        self.backward(self.z[-1], weights=True)
        for param, grad, velocity in zip(self.params, self.grads, self.velocity):
            for p, g, v in zip(param, grad, velocity):
                momentum_update(p, g, v)
        return loss / len(x)

    def input_grad(self, x, y):
        softmax_xent_grad(self.forward(x), y, scale=1.0)
        return self.backward(self.z[-1], weights=False)

    def weights(self) -> list:
        """The parameters in the standard (unit-major) column order, as copies."""
        return [(W[:, np.argsort(o)], b[np.argsort(o)]) for (W, b), o in zip(self.params, self.orders)]


# --- PyTorch (optional; never installed by this project) -------------------------------------
def torch_functions(kind: str, params):
    """(SGD-momentum step, input gradient) in PyTorch, float32, default thread count."""
    import torch

    F = torch.nn.functional
    tensors = [torch.tensor(a, requires_grad=True) for layer in params for a in layer]
    velocity = [torch.zeros_like(t) for t in tensors]

    def forward(x):
        for i in range(0, len(tensors), 2):
            x = torch.addmm(tensors[i + 1], x, tensors[i])
            if i + 2 < len(tensors):
                x = torch.relu(x) if kind == "mlp" else x.view(len(x), -1, PIECES).max(dim=2).values
        return x

    def step(xb, yb):
        for t in tensors:
            t.grad = None
        loss = F.cross_entropy(forward(torch.from_numpy(xb)), torch.from_numpy(yb))
        loss.backward()
        with torch.no_grad():
            for t, v in zip(tensors, velocity):
                v.mul_(MOMENTUM).sub_(t.grad, alpha=LR)
                t.add_(v)
        return loss.item()

    def input_grad(xb, yb):
        x = torch.from_numpy(xb).requires_grad_()
        loss = F.cross_entropy(forward(x), torch.from_numpy(yb), reduction="sum")
        return torch.autograd.grad(loss, x)[0].numpy()

    return step, input_grad


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
    """What one batch costs: a training step (mlp, maxout) or an input gradient."""
    kind = "maxout" if task == "input_grad" else task
    if impl == "engine":
        net = EngineNet(kind, params)
        if task == "input_grad":
            return lambda xb, yb: engine_input_grad(net, xb, yb)
        velocity = [np.zeros_like(t.data) for t in net.tensors]
        return lambda xb, yb: engine_step(net, velocity, xb, yb)
    if impl == "numpy":
        if task == "input_grad":
            return NumpyNet(kind, params, GRAD_BATCH).input_grad
        return NumpyNet(kind, params, BATCH).step
    step, input_grad = torch_functions(kind, params)
    return input_grad if task == "input_grad" else step


def timed_fit(kind: str, params, X, y) -> float:
    """Seconds for one epoch of ``training.fit`` on the same network, built from ``models``.

    Dropout, max-norm, validation, the training-error monitor and checkpoints are off, so
    this is the engine step plus what the loop itself adds (shuffling, batch gathering,
    the optimizer object): the issue asks for fit / engine <= 1.05.
    """
    import models
    import training

    if kind == "mlp":
        model = models.MLP((784, 1200, 1200, 10))
    else:
        model = models.MaxoutNetwork(hidden=(240, 240), pieces=PIECES, dropout=None, max_norm=None)
    for p, value in zip(model.parameters(), [a for layer in params for a in layer]):
        p.data[...] = value
    optimizer = training.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    start = time.perf_counter()
    training.fit(model, X, y, epochs=1, batch_size=BATCH, optimizer=optimizer, progress=False, monitor_size=0)
    return time.perf_counter() - start


def timed_loop(fn, X, y, batch: int) -> float:
    """Seconds for fn over all batches of (X, y), after one untimed warm-up call."""
    fn(X[:batch], y[:batch])
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        fn(X[i : i + batch], y[i : i + batch])
    return time.perf_counter() - start


def run_worker(impl: str, task: str, steps: int, images: int, chains: int) -> float:
    if task == "overhead":
        return overhead_us_per_op(impl, chains)
    grad = task == "input_grad"
    kind, batch = ("maxout", GRAD_BATCH) if grad else (task, BATCH)
    X, y = synthetic_data(images if grad else steps * BATCH)
    if impl == "fit":
        return timed_fit(kind, init_params(layer_shapes(kind)), X, y)
    return timed_loop(batch_function(impl, task, init_params(layer_shapes(kind))), X, y, batch)


# --- the driver -------------------------------------------------------------------------
def torch_version():
    """PyTorch's version if it imports here (it is never installed for this), else None."""
    try:
        import torch
    except Exception:  # not installed, or an installation that fails to load
        return None
    return torch.__version__


def spawn(impl: str, task: str, sizes: dict) -> float:
    command = [sys.executable, "-m", "benchmarks.engine", "--worker", impl, task]
    for key in ("steps", "images", "chains"):
        command += [f"--{key}", str(sizes[key])]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"worker {impl} {task} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])["value"]


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


def environment() -> dict:
    env = {"python": sys.version.split()[0], "numpy": np.__version__, "torch": torch_version()}
    env["cpus"] = os.cpu_count()
    env.update({name: os.environ.get(name) for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")})
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # NumPy's build information: the library, but not the kernel in use
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        keys = ("name", "version", "openblas configuration")
        env["blas"] = [{"source": "numpy.show_config (pip install threadpoolctl for the kernel in use)",
                        **{k: blas[k] for k in keys if k in blas}}]
        return env
    keys = ("internal_api", "version", "architecture", "corrupt", "num_threads")
    env["blas"] = [  # NumPy's own BLAS, and the copy scipy (imported by minigrad) loads
        {"library": "/".join(Path(pool["filepath"]).parts[-2:]), **{k: pool[k] for k in keys if k in pool}}
        for pool in threadpool_info()
        if pool["user_api"] == "blas"
    ]
    return env


def environment_lines(env: dict) -> list:
    """The environment as report lines: versions, CPUs, the OpenBLAS variables and each BLAS in use."""
    lines = [f"Python {env['python']}, NumPy {env['numpy']}, PyTorch {env['torch'] or 'not importable'}, "
             f"{env['cpus']} CPUs, OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}, "
             f"OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']}"]
    return lines + ["BLAS: " + ", ".join(f"{k}={v}" for k, v in pool.items()) for pool in env["blas"]]


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
    if "overhead" in results:
        us = results["overhead"]["median"]
        lines.append(f"\nPer op (medians): engine {us['engine']:.2f} us forward + backward, "
                     f"raw NumPy {us['numpy']:.2f} us forward.")
    return "\n".join(lines)


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 1 repeat (a smoke run)")
    parser.add_argument("--steps", type=int, help=f"training steps per epoch (default {FULL['steps']})")
    parser.add_argument("--images", type=int, help=f"images for input_grad (default {FULL['images']})")
    parser.add_argument("--chains", type=int, help=f"op chains timed for overhead (default {FULL['chains']})")
    parser.add_argument("--repeats", type=int, help=f"runs per implementation (default {FULL['repeats']})")
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
        value = run_worker(impl, task, sizes["steps"], sizes["images"], sizes["chains"])
        print(json.dumps({"value": value}))
        return 0
    env = environment()
    impls = ["engine", "numpy"] + (["torch"] if env["torch"] else [])
    results = {}
    for task in [args.only] if args.only else TASKS:
        task_impls = impls[:2] if task == "overhead" else impls + (["fit"] if task in ("mlp", "maxout") else [])
        runs = {impl: [] for impl in task_impls}
        for _ in range(sizes["repeats"]):
            for impl in task_impls:
                runs[impl].append(spawn(impl, task, sizes))
        results[task] = summarize(runs, "us_per_op" if task == "overhead" else "seconds")
    result = {"config": {"quick": args.quick, **sizes}, "environment": env, "results": results}
    print(report(result))
    write_json(args.out, result)
    print(f"\nJSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
