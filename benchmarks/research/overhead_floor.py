"""What the per-op overhead is made of: arithmetic, graph, and minigrad's own work. ``python -m benchmarks.research.overhead_floor``.

:mod:`benchmarks.engine` times minigrad's *per-op overhead* on a chain of 100 small
ops (``y * c`` and ``tanh`` alternating, on 10 float32 numbers, then a sum, forward and
backward) against the bare NumPy ufunc calls of the chain's forward pass. This module
splits minigrad's time into three parts by timing, in the same process, the same
chain in three more ways:

* ``arithmetic``: exactly the ufunc calls minigrad makes, forward and backward, written
  out by hand with no graph at all (:func:`arithmetic_chain`). What is left when
  nothing is recorded.
* ``floor``: a *floor engine* of minigrad's shape (:class:`FloorNode`): a node per op
  holding its value, its parents, one VJP closure per parent and its creation number,
  in ``__slots__``; ``mul``, ``tanh`` and ``total`` (the sum) as the only ops, each
  recording a node only when an input requires grad; a backward walk that takes nodes
  from a heap, largest creation number first (the order :func:`minigrad.engine.backprop`
  walks), calls the VJPs and sums what arrives.
* ``saved``: the same floor recording ops the other common way (:class:`SavedNode`):
  one module-level backward function per op and the arrays it saved, as PyTorch's
  ``ctx.save_for_backward`` does. It answers whether the shape of the op record matters.

The floors make the same ufunc calls as minigrad, in the same order: their gradients
must equal minigrad's bit for bit, which :func:`check_agreement` checks before timing.
What they leave out is everything else minigrad does on every op: the dtype policy
(``x * 0.5`` stays float32, integers never wrap), broadcasting (and summing a gradient
back to its input's shape), operators that forward to the ops, the shape and dtype check
of every VJP's result, read-only incoming gradients (a VJP that writes into ``g``
raises instead of corrupting a sibling's gradient), ``no_grad`` and ``detect_anomaly``,
freed-graph errors, targets (an input gradient that skips the weights' VJPs) and
``Tensor.backward``'s checks and ``.grad``. A floor
is a measuring instrument, not a design to copy: it has none of minigrad's guarantees,
and it is the floor of *this* design (a node object per op, a heap-ordered walk); an
engine of another design, a tape for instance, has a floor of its own.

So minigrad's time per op is the arithmetic, plus the graph (floor minus arithmetic),
plus minigrad's own work beyond the floor; a target stated as a ratio to the bare
ufunc call can be read against those three parts. All are timed by
:func:`benchmarks.engine.interleaved_us_per_op`, the helper the engine benchmark's
overhead row uses, and reported as the mean over its blocks (the minimum in brackets).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from heapq import heappop, heappush
from pathlib import Path

import numpy as np

from ..engine import CHAIN, chain_inputs, interleaved_us_per_op, overhead_chain
from ..harness import ROOT, environment, environment_lines, write_json

_CREATED = itertools.count()


# --- the arithmetic alone ------------------------------------------------------------------
def arithmetic_chain():
    """The chain's ufunc calls, forward and backward, with no graph: minigrad's, one by one.

    Forward: ``u = y * c`` and ``y = tanh(u)``, then the sum. Backward from the sum's
    ones (broadcast to x's shape), through each op from the last: tanh's
    ``g * (1 - z * z)`` and the product's ``g * c``. Returns the gradient with respect to x.
    """
    x, c = chain_inputs()

    def chain():
        y, outputs = x, []
        for _ in range(CHAIN // 2):
            y = np.tanh(y * c)
            outputs.append(y)
        np.asarray(y.sum())  # the loss: computed, as every engine does, and not needed below
        g = np.broadcast_to(np.ones((), np.float32), x.shape)
        for z in reversed(outputs):
            g = g * (1 - z * z)
            g = g * c
        return g

    return chain


# --- the floor engine: a closure per VJP --------------------------------------------------
class FloorNode:
    """A value in a recorded graph, and nothing else (see the module docstring)."""

    __slots__ = ("data", "parents", "vjps", "seq", "pending", "requires_grad")

    def __init__(self, data: np.ndarray, parents=(), vjps=(), requires_grad: bool = False):
        self.data, self.parents, self.vjps = data, parents, vjps
        self.seq, self.pending, self.requires_grad = next(_CREATED), None, requires_grad


def mul(a: FloorNode, b: FloorNode) -> FloorNode:
    """z = a * b; VJPs g * b and g * a."""
    x, y = a.data, b.data
    if a.requires_grad or b.requires_grad:
        return FloorNode(x * y, (a, b), (lambda g: g * y, lambda g: g * x), True)
    return FloorNode(x * y)


def tanh(a: FloorNode) -> FloorNode:
    """z = tanh(a); VJP g * (1 - z^2)."""
    z = np.tanh(a.data)
    if a.requires_grad:
        return FloorNode(z, (a,), (lambda g: g * (1 - z * z),), True)
    return FloorNode(z)


def total(a: FloorNode) -> FloorNode:
    """z = sum of a (0-d); VJP g broadcast to a's shape."""
    x = a.data
    if a.requires_grad:
        return FloorNode(np.asarray(x.sum()), (a,), (lambda g: np.broadcast_to(g, x.shape),), True)
    return FloorNode(np.asarray(x.sum()))


def backward(root: FloorNode) -> dict:
    """``{id(leaf): d root / d leaf}`` for the leaves that require grad; ``root`` must be an
    op's output that requires grad.

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
    return _collect(leaves)


def _collect(leaves: dict) -> dict:
    """The leaves' gradients, their pending slots emptied."""
    gradients = {key: leaf.pending for key, leaf in leaves.items()}
    for leaf in leaves.values():
        leaf.pending = None
    return gradients


# --- the floor engine: saved arrays, one backward function per op ---------------------------
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
    return (g * (1 - z * z),)


def _total_backward(g, shape, parents):
    return (np.broadcast_to(g, shape),)


def saved_mul(a: SavedNode, b: SavedNode) -> SavedNode:
    """z = a * b, saving (a, b) for ``_mul_backward``."""
    x, y = a.data, b.data
    if a.requires_grad or b.requires_grad:
        return SavedNode(x * y, (a, b), _mul_backward, (x, y), True)
    return SavedNode(x * y)


def saved_tanh(a: SavedNode) -> SavedNode:
    """z = tanh(a), saving z for ``_tanh_backward``."""
    z = np.tanh(a.data)
    if a.requires_grad:
        return SavedNode(z, (a,), _tanh_backward, z, True)
    return SavedNode(z)


def saved_total(a: SavedNode) -> SavedNode:
    """z = sum of a (0-d), saving a's shape for ``_total_backward``."""
    x = a.data
    if a.requires_grad:
        return SavedNode(np.asarray(x.sum()), (a,), _total_backward, x.shape, True)
    return SavedNode(np.asarray(x.sum()))


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
    return _collect(leaves)


# --- the chains, checked and timed ----------------------------------------------------------
FLOORS = {"floor": (FloorNode, mul, tanh, total, backward),
          "saved": (SavedNode, saved_mul, saved_tanh, saved_total, saved_backward)}


def floor_chain(kind: str = "floor"):
    """A function running the overhead chain in a floor engine (``floor``: closures,
    ``saved``: saved arrays), forward and backward; it returns the gradient of the
    chain's sum with respect to x."""
    node, multiply, tanh_op, total_op, walk = FLOORS[kind]
    x_value, c_value = chain_inputs()
    x, c = node(x_value, requires_grad=True), node(c_value)

    def chain():
        y = x
        for _ in range(CHAIN // 2):
            y = tanh_op(multiply(y, c))
        return walk(total_op(y))[id(x)]

    return chain


def check_agreement() -> None:
    """Raise unless the arithmetic and both floors give exactly the gradient of minigrad's
    timed chain: the same ufunc calls in the same order round the same way."""
    engine = overhead_chain("engine")()
    others = {"arithmetic": arithmetic_chain()(), **{kind: floor_chain(kind)() for kind in FLOORS}}
    for name, gradient in others.items():
        if gradient.dtype != engine.dtype or not np.array_equal(gradient, engine):
            raise AssertionError(f"the {name} chain's gradient {gradient} is not minigrad's {engine}: "
                                 "it no longer makes the same ufunc calls")


IMPLEMENTATIONS = {"numpy": "bare NumPy ufunc calls, forward only", "arithmetic": "the same, forward and backward",
                   "floor": "floor engine, a closure per VJP", "saved": "floor engine, saved arrays",
                   "engine": "minigrad"}


def measure(chains: int) -> tuple[dict, int]:
    """``({implementation: {"mean", "min"}}, chains timed each)``: us per op, taking turns."""
    functions = {"numpy": overhead_chain("numpy"), "arithmetic": arithmetic_chain(), "floor": floor_chain("floor"),
                 "saved": floor_chain("saved"), "engine": overhead_chain("engine")}
    times, timed = interleaved_us_per_op(functions, chains)
    return {name: {"mean": statistics.fmean(t), "min": min(t)} for name, t in times.items()}, timed


def report(measured: dict) -> list:
    """The table's lines (us per op and the ratio to the bare ufunc call, mean [min]) and the split."""
    bare = measured["numpy"]
    lines = ["| implementation | us per op, mean [min] | ratio to the bare ufunc call, mean [min] |", "|---|---|---|"]
    for name, label in IMPLEMENTATIONS.items():
        m = measured[name]
        lines.append(f"| {label} | {m['mean']:.3f} [{m['min']:.3f}] | "
                     f"{m['mean'] / bare['mean']:.2f}x [{m['min'] / bare['min']:.2f}x] |")
    mean = {name: m["mean"] / bare["mean"] for name, m in measured.items()}
    lines += ["", f"minigrad's {mean['engine']:.2f}x (means): the arithmetic {mean['arithmetic']:.2f}x, the graph "
                  f"{mean['floor'] - mean['arithmetic']:.2f}x more (the closure floor), and minigrad's work beyond "
                  f"the floor {mean['engine'] - mean['floor']:.2f}x "
                  f"({measured['engine']['mean'] - measured['floor']['mean']:.2f} us per op)."]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.research.overhead_floor", description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=5000, help="chains timed per implementation (default 5000)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "overhead_floor.json")
    args = parser.parse_args(argv)
    if args.chains < 1:
        parser.error(f"--chains must be at least 1, got {args.chains}")
    check_agreement()
    measured, timed = measure(args.chains)
    env = environment(peers=False)
    lines = [f"## The per-op overhead, split ({CHAIN} ops on 10 float32, forward and backward; {timed} chains each)",
             "", *environment_lines(env), "", *report(measured), "",
             "The arithmetic and both floors give exactly minigrad's gradient (checked before timing)."]
    print("\n".join(lines))
    write_json(args.out, {"chains": timed, "environment": env, "us_per_op": measured})
    print(f"\nJSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
