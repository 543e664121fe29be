"""Networks trained with hand-derived gradients in plain NumPy: the baselines the engine is timed against.

This is what reverse-mode autodiff saves you from writing, and it is good reading for
that reason: every backward pass below is derived by hand for its one architecture
(the dense MLP and maxout networks in :class:`NumpyNet`, SmallConvNet in
:class:`ConvNumpyNet`).
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

from numpy.lib.stride_tricks import sliding_window_view

from .workloads import CONV_LAYERS, LR, PIECES, momentum_update


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


class HandTrained:
    """What both hand-derived networks share: a step of SGD with momentum, and the input gradient.

    A subclass has ``forward(x)`` writing the logits into ``self.logits``, ``backward(g,
    weights)`` filling ``self.grads`` (or returning dL/dx), and ``params``, ``grads``,
    ``velocity`` as lists of (W, b) pairs.
    """

    def step(self, x, y) -> float:
        """One SGD-momentum step; the gradients come out already multiplied by lr."""
        loss = softmax_xent_grad(self.forward(x), y, scale=LR / len(x))
        self.backward(self.logits, weights=True)
        for param, grad, velocity in zip(self.params, self.grads, self.velocity):
            for p, g, v in zip(param, grad, velocity):
                momentum_update(p, g, v)
        return loss / len(x)

    def input_grad(self, x, y):
        softmax_xent_grad(self.forward(x), y, scale=1.0)
        return self.backward(self.logits, weights=False).reshape(x.shape)


class NumpyNet(HandTrained):
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
        self.logits = self.z[-1]
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

    def weights(self) -> list:
        """The parameters in the standard (unit-major) column order, as copies."""
        return [(W[:, np.argsort(o)], b[np.argsort(o)]) for (W, b), o in zip(self.params, self.orders)]


class Conv:
    """A convolution in NHWC layout, im2col into a preallocated buffer, one matmul each way.

    Forward: every k x k window of the padded input (N, Hp, Wp, C) becomes one row of
    ``cols`` (N * Ho * Wo, k * k * C), in (u, v, c) order so that the gather copies whole
    runs of channels, and ``cols @ W^T`` (W kept as (F, k, k, C)) gives the output rows
    (N * Ho * Wo, F): already NHWC for the next layer, no transpose. Backward: dW = g^T cols, db = sum of g, and d(cols) = g W,
    added back onto the padded input one kernel offset at a time (col2im).
    """

    def __init__(self, batch: int, height: int, width: int, f: int, c: int, k: int, stride: int, padding: int):
        self.k, self.s, self.p, self.c = k, stride, padding, c
        self.ho, self.wo = (height + 2 * padding - k) // stride + 1, (width + 2 * padding - k) // stride + 1
        self.padded = np.zeros((batch, height + 2 * padding, width + 2 * padding, c), np.float32)
        self.cols = np.empty((batch * self.ho * self.wo, c * k * k), np.float32)
        self.out = np.empty((batch * self.ho * self.wo, f), np.float32)
        self.floor = np.zeros_like(self.out)  # relu against an array: maximum with a scalar is slower
        self.d_padded = np.empty_like(self.padded)
        self.d_cols = np.empty_like(self.cols)

    def forward(self, x, W, b):
        """x: (N, H, W, C); returns (N * Ho * Wo, F) rows."""
        p = self.p
        self.padded[:, p : p + x.shape[1], p : p + x.shape[2], :] = x
        windows = sliding_window_view(self.padded, (self.k, self.k), axis=(1, 2))[:, :: self.s, :: self.s]
        np.copyto(self.cols.reshape(windows.shape[:3] + (self.k, self.k, self.c)), windows.transpose(0, 1, 2, 4, 5, 3))
        np.matmul(self.cols, W.reshape(len(W), -1).T, out=self.out)
        self.out += b
        return self.out

    def backward_weights(self, g, dW, db):
        np.matmul(g.T, self.cols, out=dW.reshape(len(dW), -1))
        np.sum(g, axis=0, out=db)

    def backward_input(self, g, W):
        """dL/dx (N, H, W, C) from g (N * Ho * Wo, F): col2im over the kernel offsets."""
        np.matmul(g, W.reshape(len(W), -1), out=self.d_cols)
        d_cols = self.d_cols.reshape(-1, self.ho, self.wo, self.k, self.k, self.c)
        self.d_padded.fill(0.0)
        s, ho, wo = self.s, self.ho, self.wo
        for u in range(self.k):
            for v in range(self.k):
                self.d_padded[:, u : u + s * (ho - 1) + 1 : s, v : v + s * (wo - 1) + 1 : s, :] += d_cols[:, :, :, u, v, :]
        p, height, width = self.p, self.padded.shape[1] - 2 * self.p, self.padded.shape[2] - 2 * self.p
        return self.d_padded[:, p : p + height, p : p + width, :]


def nhwc_order(c: int, h: int, w: int) -> np.ndarray:
    """For each feature of an NHWC-flattened map, its index in the NCHW flattening."""
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()


class ConvNumpyNet(HandTrained):
    """SmallConvNet by hand: conv-relu-conv-relu in NHWC, then two dense layers, SGD with momentum.

    The first dense layer's rows are permuted once to read NHWC-flattened maps (the
    engine flattens NCHW); :meth:`weights` undoes it.
    """

    def __init__(self, params, batch: int, height: int = 28, width: int = 28):
        self.convs = []
        for f, c, k, s, p in CONV_LAYERS:
            conv = Conv(batch, height, width, f, c, k, s, p)
            self.convs.append(conv)
            height, width = conv.ho, conv.wo
        self.order = nhwc_order(CONV_LAYERS[-1][0], height, width)
        (w1, b1), (w2, b2), (W3, b3), (W4, b4) = params
        kernels = [w.transpose(0, 2, 3, 1).copy() for w in (w1, w2)]  # (F, k, k, C): cols' order; always a copy
        self.params = [(kernels[0], b1.copy()), (kernels[1], b2.copy()), (np.ascontiguousarray(W3[self.order]), b3.copy()),
                       (W4.copy(), b4.copy())]
        self.grads = [(np.empty_like(W), np.empty_like(b)) for W, b in self.params]
        self.velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in self.params]
        self.hidden = np.empty((batch, W3.shape[1]), np.float32)
        self.logits = np.empty((batch, W4.shape[1]), np.float32)
        self.d_hidden = np.empty_like(self.hidden)
        self.d_flat = np.empty((batch, W3.shape[0]), np.float32)
        self.hidden_floor = np.zeros_like(self.hidden)

    def forward(self, x):
        n = len(x)
        h = x.reshape(n, 28, 28, 1)
        self.maps = []
        for conv, (W, b) in zip(self.convs, self.params[:2]):
            z = np.maximum(conv.forward(h, W, b), conv.floor, out=conv.out)
            self.maps.append(z)
            h = z.reshape(n, conv.ho, conv.wo, -1)
        self.flat = h.reshape(n, -1)
        (W3, b3), (W4, b4) = self.params[2:]
        np.maximum(np.add(np.matmul(self.flat, W3, out=self.hidden), b3, out=self.hidden), self.hidden_floor, out=self.hidden)
        return np.add(np.matmul(self.hidden, W4, out=self.logits), b4, out=self.logits)

    def backward(self, g, weights: bool):
        (W3, _), (W4, _) = self.params[2:]
        if weights:
            np.matmul(self.hidden.T, g, out=self.grads[3][0])
            np.sum(g, axis=0, out=self.grads[3][1])
        dh = np.matmul(g, W4.T, out=self.d_hidden)
        dh *= self.hidden > 0
        if weights:
            np.matmul(self.flat.T, dh, out=self.grads[2][0])
            np.sum(dh, axis=0, out=self.grads[2][1])
        d = np.matmul(dh, W3.T, out=self.d_flat)
        for i in (1, 0):
            conv, z = self.convs[i], self.maps[i]
            d = d.reshape(z.shape)
            d *= z > 0
            if weights:
                conv.backward_weights(d, *self.grads[i])
                if i == 0:
                    return None
            d = conv.backward_input(d, self.params[i][0]).reshape(len(g), -1)
        return d

    def weights(self) -> list:
        """The parameters in the engine's layout (the dense rows back in NCHW order), as copies."""
        (w1, b1), (w2, b2), (W3, b3), (W4, b4) = self.params
        return [(w1.transpose(0, 3, 1, 2).copy(), b1.copy()), (w2.transpose(0, 3, 1, 2).copy(), b2.copy()),
                (W3[np.argsort(self.order)], b3.copy()), (W4.copy(), b4.copy())]

