"""The benchmark's workloads in JAX on the CPU, compiled with ``jax.jit``: an optional peer.

The whole training step (forward, backward and the momentum update) is one compiled
function, so JAX runs no Python between the ops of a step; its first call compiles it,
which the benchmark reports apart from the timed loop. The per-op overhead chain runs
op by op *without* ``jit`` (under ``jit`` the 100 ops would fuse into one kernel and no
per-op cost would be left to measure): that is what JAX costs as an eager library.
"""

from __future__ import annotations

import numpy as np

from ..workloads import CONV_LAYERS, LR, MOMENTUM, PIECES

MODULE = "jax"
LABEL = "JAX (jit)"
KINDS = ("mlp", "maxout", "conv")


def _forward(kind: str, ws, x):
    import jax
    import jax.numpy as jnp

    first_dense = 0
    if kind == "conv":
        x = x.reshape(x.shape[0], 1, 28, 28)
        for i, (_, _, _, stride, padding) in enumerate(CONV_LAYERS):
            x = jax.lax.conv_general_dilated(x, ws[2 * i], (stride, stride), [(padding, padding)] * 2,
                                             dimension_numbers=("NCHW", "OIHW", "NCHW"))
            x = jax.nn.relu(x + ws[2 * i + 1][None, :, None, None])
        x, first_dense = x.reshape(x.shape[0], -1), 2 * len(CONV_LAYERS)
    for i in range(first_dense, len(ws), 2):
        x = jnp.matmul(x, ws[i]) + ws[i + 1]
        if i + 2 < len(ws):
            x = x.reshape(x.shape[0], -1, PIECES).max(axis=2) if kind == "maxout" else jax.nn.relu(x)
    return x


def _cross_entropy(logits, y):
    """Summed softmax cross-entropy."""
    import jax
    import jax.numpy as jnp

    return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1).sum()


def functions(kind: str, params):
    """(SGD-momentum step, input gradient), each one jitted function, float32."""
    import jax
    import jax.numpy as jnp

    def mean_loss(ws, x, y):
        return _cross_entropy(_forward(kind, ws, x), y) / x.shape[0]

    def update(ws, vs, x, y):
        loss, grads = jax.value_and_grad(mean_loss)(ws, x, y)
        vs = [MOMENTUM * v - LR * g for v, g in zip(vs, grads)]
        return [w + v for w, v in zip(ws, vs)], vs, loss

    update = jax.jit(update, donate_argnums=(0, 1))  # the old weights' buffers are reused
    gradient = jax.jit(jax.grad(lambda x, ws, y: _cross_entropy(_forward(kind, ws, x), y)))
    ws = [jnp.array(a) for layer in params for a in layer]  # copies: buffers JAX owns, so it can donate them
    state = {"ws": ws, "vs": [jnp.zeros_like(w) for w in ws]}

    def step(xb, yb):
        state["ws"], state["vs"], loss = update(state["ws"], state["vs"], xb, yb)
        return float(loss)  # waits for the step, as the engine's loss.item()

    def input_grad(xb, yb):
        return np.asarray(gradient(xb, state["ws"], yb))

    return step, input_grad


def overhead_chain(x, c, length: int):
    """``length`` alternating ``* c`` and tanh ops on ``x`` and their gradient, eager (no jit)."""
    import jax
    import jax.numpy as jnp

    x, c = jnp.asarray(x), jnp.asarray(c)

    def total(x):
        y = x
        for _ in range(length // 2):
            y = jnp.tanh(y * c)
        return y.sum()

    gradient = jax.grad(total)
    return lambda: gradient(x).block_until_ready()


def describe() -> str:
    """What runs JAX's arithmetic here: XLA's backend and its devices."""
    import jax

    return f"XLA {jax.default_backend()}, {len(jax.devices())} device(s)"
