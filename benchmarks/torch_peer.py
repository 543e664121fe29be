"""The same workloads in PyTorch (CPU, eager), an optional peer: never a dependency of this project.

Nothing here imports PyTorch until it is called: ``torch_version`` asks whether it is
importable (for the report's header), ``torch_functions`` builds the workloads in a
worker that runs them.
"""

from __future__ import annotations

from .workloads import LR, MOMENTUM, PIECES


def torch_version():
    """PyTorch's version if it imports here (it is never installed for this), else None."""
    try:
        import torch
    except Exception:  # not installed, or an installation that fails to load
        return None
    return torch.__version__


def torch_functions(kind: str, params):
    """(SGD-momentum step, input gradient) in PyTorch, float32, default thread count."""
    import torch

    F = torch.nn.functional
    tensors = [torch.tensor(a, requires_grad=True) for layer in params for a in layer]
    velocity = [torch.zeros_like(t) for t in tensors]

    def forward(x):
        for i in range(0, len(tensors), 2):
            x = torch.addmm(tensors[i + 1], x, tensors[i])
            if i + 2 < len(tensors):
                x = torch.relu(x) if kind == "mlp" else x.view(len(x), -1, PIECES).max(dim=2).values
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
