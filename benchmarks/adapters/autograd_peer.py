"""The benchmark's workloads in HIPS autograd, the NumPy-tracing autodiff library: an optional peer.

autograd wraps NumPy: the matrix products are NumPy's (the same BLAS as the engine's),
and every op is traced into a graph and differentiated by a VJP written in Python, as in
this engine. Its relu is written as ``x * (x > 0)`` and its maxout as a primitive of our
own, because autograd's ``maximum`` and ``max`` VJPs divide by integer counts and would
run the backward pass in float64; ``step`` refuses a gradient that is not float32. It has no convolution op with a VJP suited to a conv net, so the conv
workloads are skipped for it.
"""

from __future__ import annotations

import numpy as np

from ..workloads import LR, PIECES, momentum_update

MODULE = "autograd"
LABEL = "HIPS autograd"
KINDS = ("mlp", "maxout")


def functions(kind: str, params):
    """(SGD-momentum step, input gradient) in autograd, float32 like the engine."""
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    ws = [a.copy() for layer in params for a in layer]
    vs = [np.zeros_like(w) for w in ws]

    maxout = _float32_maxout()

    def forward(ws, x):
        for i in range(0, len(ws), 2):
            x = anp.dot(x, ws[i]) + ws[i + 1]
            if i + 2 < len(ws):
                x = maxout(x) if kind == "maxout" else x * (x > 0)  # relu through a constant mask: float32 gradients
        return x

    def summed_loss(ws, x, y):
        logits = forward(ws, x)
        return anp.sum(logsumexp(logits, axis=1) - logits[np.arange(len(y)), y])

    value_and_grad = autograd.value_and_grad(lambda ws, x, y: summed_loss(ws, x, y) / len(y))
    gradient = autograd.grad(lambda x, ws, y: summed_loss(ws, x, y))

    def step(xb, yb):
        loss, grads = value_and_grad(ws, xb, yb)
        for w, g, v in zip(ws, grads, vs):
            if g.dtype != np.float32:  # a float64 backward would time other arithmetic than the engine's
                raise TypeError(f"autograd peer: a gradient came out {g.dtype}, not float32")
            momentum_update(w, np.multiply(g, LR, out=g), v)
        return float(loss)

    def input_grad(xb, yb):
        return gradient(xb, ws, yb)

    return step, input_grad


def _float32_maxout():
    """Maxout over unit-grouped columns as an autograd primitive with a float32 VJP.

    autograd's own ``max`` (and ``maximum``) split the gradient between tied entries by
    dividing by a count, an integer array, which turns the whole backward pass into
    float64; this VJP sends g to the first maximal piece, as the engine's does.
    """
    from autograd.extend import defvjp, primitive

    @primitive
    def maxout(z):
        return z.reshape(len(z), -1, PIECES).max(axis=2)

    def maxout_vjp(out, z):
        def vjp(g):
            grouped = z.reshape(len(z), -1, PIECES)
            first = (grouped == out[:, :, None]).argmax(axis=2)[:, :, None]
            dz = np.zeros_like(grouped)
            np.put_along_axis(dz, first, g[:, :, None], axis=2)
            return dz.reshape(z.shape)
        return vjp

    defvjp(maxout, maxout_vjp)
    return maxout


def overhead_chain(x, c, length: int):
    """``length`` alternating ``* c`` and tanh ops on ``x`` and their gradient."""
    import autograd
    import autograd.numpy as anp

    def total(x):
        y = x
        for _ in range(length // 2):
            y = anp.tanh(y * c)
        return anp.sum(y)

    gradient = autograd.grad(total)
    return lambda: gradient(x)


def describe() -> str:
    """autograd runs NumPy's own kernels: the same BLAS as minigrad's."""
    return "NumPy's BLAS, as minigrad"
