"""Convolutional layers: ``Conv2d``, ``MaxPool2d``, ``Flatten`` and the maxout paper's ``ConvMaxout``.

They work on feature maps ``(N, C, H, W)``, as :func:`minigrad.conv2d` does. A
classifier still takes rows ``(N, n_features)`` (the one input convention of the
attacks and the training loop) and reshapes them to its ``input_shape`` first.

Initialisation treats a kernel like a dense layer from its receptive field to the
output channels (fan_in = C * kh * kw, fan_out = F), with the schemes of
:mod:`models.layers`.
``max_norm`` bounds the L2 norm of each kernel (all the weights into one output
channel), as pylearn2's ``max_kernel_norm`` does.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.validation import integer_at_least, is_integer

from .layers import clip_column_norms, init_weights, positive_int, positive_or_none
from .module import Module


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """How many positions a window of ``kernel`` takes over ``size`` pixels padded by ``padding``."""
    return (size + 2 * padding - kernel) // stride + 1


class Conv2d(Module):
    """z = conv2d(x, W, b): ``out_channels`` kernels of ``kernel`` x ``kernel`` over ``in_channels``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, stride: int = 1, padding: int = 0,
                 init="he", max_norm=None, rng=None):
        c, f = positive_int(in_channels, "Conv2d: in_channels"), positive_int(out_channels, "Conv2d: out_channels")
        k = positive_int(kernel, "Conv2d: kernel")
        self.stride, self.padding = positive_int(stride, "Conv2d: stride"), integer_at_least(padding, 0, "Conv2d: padding")
        self.max_norm = positive_or_none(max_norm, "Conv2d: max_norm")
        w = init_weights((c * k * k, f), init, rng)  # a kernel is a dense map from its receptive field
        self.weight = mg.Tensor(np.ascontiguousarray(w.T).reshape(f, c, k, k), requires_grad=True)
        self.bias = mg.Tensor(np.zeros(f, dtype=np.float32), requires_grad=True)

    def forward(self, x):
        return mg.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def apply_constraint(self) -> None:
        if self.max_norm is not None:  # columns of the (C kh kw, F) view are the kernels
            clip_column_norms(self.weight.data.reshape(len(self.weight.data), -1).T, self.max_norm)


class MaxPool2d(Module):
    """The maximum of each ``kernel`` x ``kernel`` window, moved by ``stride`` (default: ``kernel``)."""

    def __init__(self, kernel: int, stride=None, padding: int = 0):
        self.kernel = positive_int(kernel, "MaxPool2d: kernel")
        self.stride = self.kernel if stride is None else positive_int(stride, "MaxPool2d: stride")
        if not is_integer(padding) or not 0 <= 2 * padding <= self.kernel:
            raise ValueError(f"MaxPool2d: padding must be an integer from 0 to half the kernel, got {padding!r}")
        self.padding = int(padding)

    def forward(self, x):
        return mg.max_pool2d(x, self.kernel, self.stride, self.padding)


class Flatten(Module):
    """(N, C, H, W) -> (N, C * H * W), for the dense layers after the convolutions.

    The width is spelled out rather than left to ``-1``, which NumPy cannot infer for an
    empty batch (N = 0).
    """

    def forward(self, x):
        return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))


class ConvMaxout(Module):
    """The maxout paper's conv layer: conv to ``channels * pieces`` maps, maxout over each
    group of ``pieces`` channels, then max pooling (``pool`` windows moved by ``pool_stride``)."""

    def __init__(self, in_channels: int, channels: int, pieces: int, kernel: int, *, pool: int, pool_stride: int,
                 padding: int = 0, init=0.005, max_norm=None, rng=None):
        self.pieces = positive_int(pieces, "ConvMaxout: pieces")
        self.conv = Conv2d(in_channels, positive_int(channels, "ConvMaxout: channels") * pieces, kernel, padding=padding, init=init, max_norm=max_norm, rng=rng)
        self.pool = MaxPool2d(pool, pool_stride)

    def forward(self, x):
        return self.pool(mg.maxout(self.conv(x), self.pieces, axis=1))
