"""The benchmark's workloads in HIPS autograd, the NumPy-tracing autodiff library: an optional peer.

autograd wraps NumPy: the matrix products are NumPy's (the same BLAS as the engine's),
and every op is traced into a graph and differentiated by a VJP written in Python, as in
this engine. It has no convolution op with a VJP suited to a conv net, so the conv
workloads are skipped for it.
"""

from __future__ import annotations

import numpy as np

from .workloads import LR, PIECES, momentum_update

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

    def forward(ws, x):
        for i in range(0, len(ws), 2):
            x = anp.dot(x, ws[i]) + ws[i + 1]
            if i + 2 < len(ws):
                x = anp.max(anp.reshape(x, (x.shape[0], -1, PIECES)), axis=2) if kind == "maxout" else anp.maximum(x, 0.0)
        return x

    def summed_loss(ws, x, y):
        logits = forward(ws, x)
        return anp.sum(logsumexp(logits, axis=1) - logits[np.arange(len(y)), y])

    value_and_grad = autograd.value_and_grad(lambda ws, x, y: summed_loss(ws, x, y) / len(y))
    gradient = autograd.grad(lambda x, ws, y: summed_loss(ws, x, y))

    def step(xb, yb):
        loss, grads = value_and_grad(ws, xb, yb)
        for w, g, v in zip(ws, grads, vs):
            momentum_update(w, np.multiply(g, LR, out=g), v)
        return float(loss)

    def input_grad(xb, yb):
        return gradient(xb, ws, yb)

    return step, input_grad


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
