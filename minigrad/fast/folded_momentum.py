"""SGD's momentum step folded into the backward pass: a dense layer's weight gradient goes straight into the velocity.

What it replaces: for SGD with classical momentum, the pair ``loss.backward();
optimizer.step()`` of ``training.train_step``, as far as it concerns the weights of
dense layers (:func:`minigrad.linear`). The textbook pair has the weight's VJP write its
gradient ``G_W = x^T G`` into a new array the size of W, keeps it in ``.grad``, and
the step then reads it again:

    v <- m v - lr G_W;   w <- w + v

Here one BLAS call, gemm, computes the first line as ``v <- (-lr) x^T G + m v``,
reading v as it writes it: ``G_W`` is never written to memory, and the step's passes
over it are saved. What is left is ``w <- w + v``. The price: each dense layer's
input x and output gradient G are kept until the walk has finished, where the
textbook walk frees them as it goes (and keeps W-sized gradients instead).

How, with the engine's walk unchanged: :func:`linear` is :func:`minigrad.linear` whose
weight VJP is a :class:`WeightGradient`, which, called, returns ``x.T @ g`` as the
textbook VJP does. While :func:`backward` runs the engine's ``backprop``, a weight that
has a :class:`Fold` hands the pair (x, G) to it instead, and its VJP returns a zero of
the weight's shape that takes no memory (a broadcast 0, which the walk accepts like any
gradient). Only after the walk does any Fold compute: a walk that fails half-way leaves
every velocity as it was. A gradient that reaches a weight by other ops too (a tied
weight) arrives summed as usual, and its Fold adds it after the gemm.

Every parameter the optimizer folds keeps ``.grad`` None: its gradient exists only
inside v. ``training.fast_paths.enable()`` switches this on for ``training.SGD``; what
it is worth is in ``docs/measurements.md``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..engine import backprop
from ..ops.linalg import linear as textbook_linear
from . import numpy_blas
from .blas_momentum import velocity_step

_folds: dict = {}  # id(weight) -> its Fold, only while backward() walks (one walk at a time, as grad modes are)


class WeightGradient:
    """The VJP of ``linear``'s weight, ``dL/dW = x^T G``, which a :class:`Fold` may take unevaluated."""

    __slots__ = ("x", "weight")

    def __init__(self, x: np.ndarray, weight):
        self.x, self.weight = x, weight

    def __call__(self, g: np.ndarray) -> np.ndarray:
        fold = _folds.get(id(self.weight))
        if fold is not None and fold.take(self.x, g):
            return fold.placeholder
        return self.x.T @ g


def linear(x, weight, bias=None):
    """:func:`minigrad.linear`, the same values and gradients, with its weight VJP a :class:`WeightGradient`."""
    out = textbook_linear(x, weight, bias)
    if out._vjps:  # recorded: (x's VJP, the weight's, the bias's)
        x, weight = out._parents[:2]
        out._vjps = (out._vjps[0], WeightGradient(x.data, weight), *out._vjps[2:])
    return out


class Fold:
    """One parameter's classical momentum step, ``v <- m v - lr g; w <- w + v``, with g
    delivered in parts: products ``x^T G`` for a gemm each, and the rest, summed.

    A Fold does the first half, :meth:`update_velocity`; the caller adds v to w
    (``blas_momentum.add_velocity``) once every parameter's velocity is computed, since
    a product's ``x`` may be (a view of) another parameter, which must still hold its
    value from before the step.
    """

    __slots__ = ("v", "momentum", "lr", "products", "placeholder")

    def __init__(self, v: np.ndarray, momentum: float, lr: float):
        self.v, self.momentum, self.lr = v, momentum, lr
        self.products = []
        self.placeholder = zeros_taking_no_memory(v.shape, v.dtype)

    def take(self, x: np.ndarray, g: np.ndarray) -> bool:
        """Keep ``x^T g`` for a gemm into v; False if BLAS cannot read the three in place."""
        if not numpy_blas.gemm_suited(x.T, g, self.v):
            return False
        self.products.append((x, g))
        return True

    def update_velocity(self, rest) -> bool:
        """v <- m v - lr g, g being the products taken plus ``rest`` (what the walk delivered
        to the parameter: None if nothing reached it, the placeholder if only products
        did, else the sum of the other parts). Returns whether anything reached it: a
        parameter the walk did not reach is left alone, as ``step()`` leaves one without
        ``.grad``."""
        if rest is self.placeholder:
            rest = None
        if rest is None and not self.products:
            return False
        beta = self.momentum
        for x, g in self.products:  # v <- beta v - lr x^T g: beta = m for the first, then 1
            numpy_blas.gemm(-self.lr, x.T, g, beta, self.v)
            beta = 1.0
        if rest is not None:
            velocity_step(self.v, rest, self.momentum, self.lr, scaled=bool(self.products))
        return True


@functools.lru_cache(maxsize=64)
def zeros_taking_no_memory(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A read-only zero array of ``shape``: one 0 broadcast (every stride 0). Made once per
    shape and dtype; nothing writes into it (the walk adds gradients into new arrays)."""
    return np.broadcast_to(np.zeros((), dtype), shape)


def backward(loss, folds: dict) -> list:
    """The engine's ``backprop`` from the scalar ``loss``, each weight with a Fold in
    ``folds`` (``id(weight) -> Fold``) handing its products to it; returns backprop's
    ``[(leaf, gradient), ...]``."""
    global _folds
    _folds = folds
    try:
        return backprop(loss, np.ones_like(loss.data))
    finally:
        _folds = {}
