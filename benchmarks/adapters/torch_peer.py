"""The benchmark's workloads in PyTorch (CPU, eager): an optional peer, never a dependency.

Nothing here imports PyTorch until a worker calls it: the benchmark asks
:func:`benchmarks.adapters.peer_libraries.installed` which peers import, and builds a peer's
workloads only in the worker process that times them.
"""

from __future__ import annotations

from ..workloads import CONV_LAYERS, LR, MOMENTUM, PIECES

MODULE = "torch"
LABEL = "PyTorch (eager)"
KINDS = ("mlp", "maxout", "conv")


def functions(kind: str, params):
    """(SGD-momentum step, input gradient) in PyTorch, float32, default thread count."""
    import torch

    F = torch.nn.functional
    tensors = [torch.tensor(a, requires_grad=True) for layer in params for a in layer]
    velocity = [torch.zeros_like(t) for t in tensors]

    def forward(x):
        first_dense = 0
        if kind == "conv":  # SmallConvNet: the conv layers on (N, 1, 28, 28), then the dense ones
            x = x.view(len(x), 1, 28, 28)
            for i, (_, _, _, stride, padding) in enumerate(CONV_LAYERS):
                x = torch.relu(F.conv2d(x, tensors[2 * i], tensors[2 * i + 1], stride=stride, padding=padding))
            x, first_dense = x.flatten(1), 2 * len(CONV_LAYERS)  # NCHW order, as the engine's Flatten
        for i in range(first_dense, len(tensors), 2):
            x = torch.addmm(tensors[i + 1], x, tensors[i])
            if i + 2 < len(tensors):
                x = x.view(len(x), -1, PIECES).max(dim=2).values if kind == "maxout" else torch.relu(x)
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


def overhead_chain(x, c, length: int):
    """A function that runs ``length`` alternating ``* c`` and tanh ops on ``x``, then backward."""
    import torch

    x, c = torch.tensor(x, requires_grad=True), torch.tensor(c)

    def chain():
        y = x
        for _ in range(length // 2):
            y = torch.tanh(y * c)
        y.sum().backward()
        x.grad = None

    return chain


def describe() -> str:
    """What runs PyTorch's arithmetic here: its BLAS, oneDNN, and its thread count."""
    import torch

    settings = dict(item.split("=", 1) for item in torch.__config__.show().replace(",", "\n").split() if "=" in item)
    return (f"BLAS {settings.get('BLAS_INFO', 'unknown')}, oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}, "
            f"{torch.get_num_threads()} threads")
