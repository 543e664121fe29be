"""A network trained with hand-derived gradients in plain NumPy: the baseline the engine is timed against.

This is what reverse-mode autodiff saves you from writing, and it is good reading for
that reason: every backward pass below is derived by hand for this one architecture.
For ``z = x W + b`` the gradients are ``dW = x^T g``, ``db = sum of g over the batch``
and ``dx = g W^T``; relu passes g where its input was positive; maxout routes g to the
winning piece; softmax cross-entropy gives ``g = (softmax(z) - onehot(y)) / N``.

The baseline is meant to be fast, not a straw man: buffers are preallocated
(``np.matmul(a, b, out=buf)``, in-place ufuncs), the learning rate is folded into the
loss gradient (saving the update a pass), ReLU is taken against a zero array
(``np.maximum`` with a scalar operand skips its SIMD loop), and the maxout layers keep
their columns piece-major (piece k of every unit in column block k), so the max over
pieces is four contiguous ``np.maximum`` calls. That is a fixed permutation of the
same weights, undone by :meth:`NumpyNet.weights`; ``tests/test_benchmarks_smoke.py``
checks that it and the engine make the same step and the same input gradient.
"""

from __future__ import annotations

import numpy as np

from .workloads import LR, PIECES, momentum_update


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
