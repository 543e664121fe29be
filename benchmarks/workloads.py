"""The workloads every implementation in the engine benchmark runs: same data, same weights, same step.

One SGD-with-momentum step of a ReLU MLP, a maxout network or SmallConvNet on
synthetic MNIST-shaped data (float32), from the same Glorot-uniform initial weights,
so that every implementation computes the same numbers and only the time differs;
``products`` lists the matrix products of a step, for the matmul-only run and the FLOP count.
"""

from __future__ import annotations

import numpy as np

LR, MOMENTUM, BATCH, GRAD_BATCH, PIECES, SEED = 0.01, 0.5, 100, 1000, 5, 0


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


#: SmallConvNet (models.SmallConvNet): (out channels, in channels, kernel, stride, padding) of its two convolutions.
CONV_LAYERS = ((16, 1, 4, 2, 1), (32, 16, 4, 2, 1))
CONV_DENSE = ((32 * 7 * 7, 100), (100, 10))


def conv_params(seed: int = SEED + 1) -> list:
    """[(W, b), ...] of SmallConvNet in the engine's layout: kernels (F, C, k, k), then dense (in, out).

    Glorot-uniform from each layer's fan (a kernel's fan-in is C * k * k); float32. The
    first dense layer reads the flattened (C, H, W) feature maps in NCHW order.
    """
    rng = np.random.default_rng(seed)
    params = []
    for f, c, k, _, _ in CONV_LAYERS:
        bound = np.sqrt(6.0 / (c * k * k + f))
        params.append((rng.uniform(-bound, bound, (f, c, k, k)).astype(np.float32),
                       rng.uniform(-0.05, 0.05, f).astype(np.float32)))
    return params + init_params(CONV_DENSE, seed=seed + 1)


def forward_products(kind: str, batch: int) -> list:
    """(M, K, N) of each layer's forward product on ``batch`` inputs: a conv layer as the
    product of its im2col rows (M = batch * H_out * W_out, K = C * k * k) with its F
    kernels, a dense layer as (batch, in, out)."""
    if kind != "conv":
        return [(batch, n_in, n_out) for n_in, n_out in layer_shapes(kind)]
    layers, size = [], 28
    for f, c, k, s, p in CONV_LAYERS:
        size = (size + 2 * p - k) // s + 1
        layers.append((batch * size * size, c * k * k, f))
    return layers + [(batch, n_in, n_out) for n_in, n_out in CONV_DENSE]


def products(kind: str, batch: int, gradient: bool) -> list:
    """Every matrix product (M, K, N) of one step of the ``kind`` network on ``batch`` inputs.

    A training step (``gradient=False``) runs each layer's forward product and its weight
    gradient, and the input gradient of every layer but the first; an input gradient
    (``gradient=True``) runs the forward products and every layer's input gradient, no
    weight gradient.
    """
    layers = forward_products(kind, batch)
    backward_input = [(m, n, k) for m, k, n in (layers if gradient else layers[1:])]
    backward_weights = [] if gradient else [(k, m, n) for m, k, n in layers]
    return layers + backward_input + backward_weights


def flops(products) -> int:
    """Floating-point operations of the products: 2 M K N each (a multiply and an add)."""
    return sum(2 * m * k * n for m, k, n in products)
