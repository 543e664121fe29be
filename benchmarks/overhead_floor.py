"""How low can the per-op overhead go in Python? ``python -m benchmarks.overhead_floor``.

:mod:`benchmarks.engine` times minigrad's *per-op overhead* on a chain of 100 small
ops (``y * c`` and ``tanh`` alternating, on 10 float32 numbers, forward and backward)
against the bare NumPy ufunc calls of the same chain. This module times the same
chain in the smallest reverse-mode engine that still computes the same gradient,
written here (:class:`FloorNode`) to be nothing more than that:

* a node holds its value, its parents, one VJP closure per parent and its creation
  number, in ``__slots__``;
* ``mul`` and ``tanh`` are the only ops, with no conversion of their inputs;
* ``backward`` takes nodes from a heap, largest creation number first (the order
  :func:`minigrad.engine.backprop` walks), calls the VJPs and sums what arrives.

A second floor records ops the other common way (:class:`SavedNode`): instead of a
closure per input, a node keeps one module-level backward function and the arrays it
saved, as PyTorch's ``ctx.save_for_backward`` does. Comparing the two answers whether
the shape of the op record matters for the overhead.

What the floors leave out is everything minigrad does on every op besides that: the dtype
policy (``x * 0.5`` stays float32, integers never wrap), broadcasting (and summing a
gradient back to its input's shape), the shape and dtype check of every VJP's result,
read-only incoming gradients (a VJP that writes into ``g`` raises instead of
corrupting a sibling's gradient), ``no_grad`` and ``detect_anomaly``, freed-graph
errors, targets (an input gradient that skips the weights' VJPs) and consumers (the
optimizer's folded update). A floor is therefore not a design to copy; it is the
cost of the Python a graph needs at all, and the difference between it and minigrad
is what those guarantees cost per op. It also shows how much room a target stated as
a ratio to the bare ufunc call leaves for everything beyond the graph itself.

The four chains are timed in one process, in blocks taking turns (bare, floor, saved,
minigrad, bare, ...), and reported as microseconds per op and as ratios to the bare
ufunc call. Each floor's gradient is checked against minigrad's before anything is
timed, so all compute the same thing.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from heapq import heappop, heappush
from pathlib import Path

import numpy as np

from .engine import CHAIN, overhead_chain, us_per_op
from .harness import ROOT, environment, environment_lines, write_json

_CREATED = itertools.count()
_ONE = np.ones((), np.float32)  # a 0-d array: NumPy converts a Python 1 on every call, which costs


class FloorNode:
    """A value in a recorded graph, and nothing else (see the module docstring)."""

    __slots__ = ("data", "parents", "vjps", "seq", "pending", "requires_grad")

    def __init__(self, data: np.ndarray, parents=(), vjps=(), requires_grad: bool = False):
        self.data, self.parents, self.vjps = data, parents, vjps
        self.seq, self.pending, self.requires_grad = next(_CREATED), None, requires_grad


def mul(a: FloorNode, b: FloorNode) -> FloorNode:
    """z = a * b; VJPs g * b and g * a."""
    x, y = a.data, b.data
    return FloorNode(x * y, (a, b), (lambda g: g * y, lambda g: g * x), True)


def tanh(a: FloorNode) -> FloorNode:
    """z = tanh(a); VJP g * (1 - z^2)."""
    z = np.tanh(a.data)
    return FloorNode(z, (a,), (lambda g: g * (_ONE - z * z),), True)


def backward(root: FloorNode) -> dict:
    """``{id(leaf): d root / d leaf}`` for the leaves that require grad, with d root / d root = 1.

    Every consumer of a node was created after it, so taking nodes largest creation
    number first hands each one its complete gradient before it passes it on.
    """
    root.pending = np.ones_like(root.data)
    queue, leaves = [(-root.seq, id(root), root)], {}
    while queue:
        node = heappop(queue)[2]
        g, node.pending = node.pending, None
        for parent, vjp in zip(node.parents, node.vjps):
            if parent.requires_grad:
                contribution = vjp(g)
                if parent.pending is None:
                    if parent.parents:
                        heappush(queue, (-parent.seq, id(parent), parent))
                    else:
                        leaves[id(parent)] = parent
                    parent.pending = contribution
                else:
                    parent.pending = parent.pending + contribution
        node.parents, node.vjps = (), None  # free the graph as it is walked, as minigrad does
    gradients = {key: leaf.pending for key, leaf in leaves.items()}
    for leaf in leaves.values():
        leaf.pending = None
    return gradients


class SavedNode:
    """A value in a recorded graph whose op saved arrays for one backward function."""

    __slots__ = ("data", "parents", "backward", "saved", "seq", "pending", "requires_grad")

    def __init__(self, data: np.ndarray, parents=(), backward=None, saved=None, requires_grad: bool = False):
        self.data, self.parents, self.backward, self.saved = data, parents, backward, saved
        self.seq, self.pending, self.requires_grad = next(_CREATED), None, requires_grad


def _mul_backward(g, saved, parents):
    x, y = saved
    return (g * y if parents[0].requires_grad else None, g * x if parents[1].requires_grad else None)


def _tanh_backward(g, z, parents):
    return (g * (_ONE - z * z),)


def saved_mul(a: SavedNode, b: SavedNode) -> SavedNode:
    """z = a * b, saving (a, b) for ``_mul_backward``."""
    return SavedNode(a.data * b.data, (a, b), _mul_backward, (a.data, b.data), True)


def saved_tanh(a: SavedNode) -> SavedNode:
    """z = tanh(a), saving z for ``_tanh_backward``."""
    z = np.tanh(a.data)
    return SavedNode(z, (a,), _tanh_backward, z, True)


def saved_backward(root: SavedNode) -> dict:
    """:func:`backward` for :class:`SavedNode` graphs: one call per node returns every input's part.

    Its delivery of each part repeats :func:`backward`'s on purpose: a helper shared by
    the two would add a Python call per edge to both floors, and they are measured.
    """
    root.pending = np.ones_like(root.data)
    queue, leaves = [(-root.seq, id(root), root)], {}
    while queue:
        node = heappop(queue)[2]
        g, node.pending = node.pending, None
        for parent, contribution in zip(node.parents, node.backward(g, node.saved, node.parents)):
            if contribution is not None:
                if parent.pending is None:
                    if parent.parents:
                        heappush(queue, (-parent.seq, id(parent), parent))
                    else:
                        leaves[id(parent)] = parent
                    parent.pending = contribution
                else:
                    parent.pending = parent.pending + contribution
        node.parents, node.saved = (), None
    gradients = {key: leaf.pending for key, leaf in leaves.items()}
    for leaf in leaves.values():
        leaf.pending = None
    return gradients


def chain_inputs():
    """The chain's input x and constant c, as in :func:`benchmarks.engine.overhead_chain`."""
    return np.linspace(-1, 1, 10, dtype=np.float32), np.full(10, 0.9, np.float32)


FLOORS = {"floor": (FloorNode, mul, tanh, backward), "saved": (SavedNode, saved_mul, saved_tanh, saved_backward)}


def floor_chain(kind: str = "floor"):
    """A function running the overhead chain in a floor engine (``floor``: closures,
    ``saved``: saved arrays), forward and backward; it returns the gradient of the
    chain's sum with respect to x."""
    node, multiply, tanh_op, walk = FLOORS[kind]
    x_value, c_value = chain_inputs()
    x, c = node(x_value, requires_grad=True), node(c_value)

    def chain():
        y = x
        for _ in range(CHAIN // 2):
            y = tanh_op(multiply(y, c))
        return walk(y)[id(x)]  # the sum's gradient: d sum(y) / dy is all ones

    return chain


def minigrad_gradient() -> np.ndarray:
    """The same chain's gradient from minigrad, for :func:`check_agreement`."""
    import minigrad

    x_value, c_value = chain_inputs()
    x, c = minigrad.Tensor(x_value, requires_grad=True), minigrad.Tensor(c_value)
    y = x
    for _ in range(CHAIN // 2):
        y = minigrad.tanh(y * c)
    y.sum().backward()
    return x.grad


def check_agreement() -> float:
    """The largest difference between a floor's gradient and minigrad's; raises if they differ."""
    engine, largest = minigrad_gradient(), 0.0
    for kind in FLOORS:
        floor = floor_chain(kind)()
        if floor.dtype != engine.dtype or not np.allclose(floor, engine, rtol=1e-6, atol=1e-7):
            raise AssertionError(f"the {kind} floor engine's gradient {floor} differs from minigrad's {engine}")
        largest = max(largest, float(np.abs(floor - engine).max()))
    return largest


IMPLEMENTATIONS = {"numpy": "bare NumPy ufunc calls", "floor": "floor engine, a closure per VJP",
                   "saved": "floor engine, saved arrays", "engine": "minigrad"}


def measure(chains: int, blocks: int = 10) -> dict:
    """Microseconds per op of each implementation's chain, ``blocks`` blocks of ``chains // blocks``
    chains each, taking turns; after one untimed chain of each. Returns the mean and the
    minimum over blocks, per implementation."""
    functions = {"numpy": overhead_chain("numpy"), "floor": floor_chain("floor"), "saved": floor_chain("saved"),
                 "engine": overhead_chain("engine")}
    for chain in functions.values():
        chain()
    per_block = max(1, chains // blocks)
    times = {impl: [] for impl in functions}
    for _ in range(blocks):
        for impl, chain in functions.items():
            times[impl].append(us_per_op(chain, per_block))
    return {impl: {"mean": sum(t) / len(t), "min": min(t)} for impl, t in times.items()}


def report(measured: dict) -> list:
    """The table's lines: us per op and the ratio to the bare ufunc call, by the mean and by the minimum."""
    bare = measured["numpy"]
    lines = ["| implementation | us per op, mean [min] | ratio to the bare ufunc call, mean [min] |", "|---|---|---|"]
    for impl, label in IMPLEMENTATIONS.items():
        m = measured[impl]
        lines.append(f"| {label} | {m['mean']:.3f} [{m['min']:.3f}] | "
                     f"{m['mean'] / bare['mean']:.2f}x [{m['min'] / bare['min']:.2f}x] |")
    above = measured["engine"]["mean"] - measured["floor"]["mean"]
    lines += ["", f"minigrad spends {above:.2f} us per op ({above / measured['engine']['mean']:.0%} of its time) "
                  "above the floor with closures: what its checks, dtype policy, broadcasting and grad modes cost."]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead_floor", description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=5000, help="chains timed per implementation (default 5000)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "overhead_floor.json")
    args = parser.parse_args(argv)
    if args.chains < 1:
        parser.error(f"--chains must be at least 1, got {args.chains}")
    difference = check_agreement()
    measured = measure(args.chains)
    env = environment(peers=False)
    lines = [f"## The per-op overhead against a check-free floor ({CHAIN} ops on 10 float32, forward and backward; "
             f"{args.chains} chains each)", "", *environment_lines(env), "", *report(measured), "",
             f"Both floors' gradients agree with minigrad's (largest difference {difference:.1e})."]
    print("\n".join(lines))
    write_json(args.out, {"chains": args.chains, "environment": env, "us_per_op": measured,
                          "max_gradient_difference": difference})
    print(f"\nJSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
