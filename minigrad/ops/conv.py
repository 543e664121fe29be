"""Convolution and pooling over batches of images, and their vector-Jacobian products.

Every op here takes images as ``(N, C, H, W)`` (PyTorch's convention: batch, channels,
height, width). ``stride`` and ``padding`` are one int or a pair (rows, columns).
Zero padding of ``p`` adds p rows above and below and p columns left and right; a
window of size k with stride s then fits ``H_out = (H + 2 p - k) // s + 1`` times.

**conv2d** is a cross-correlation, as in every deep-learning library (the kernel is
not flipped):

    z[n, f, i, j] = b[f] + sum_{c, u, v} w[f, c, u, v] * x_pad[n, c, s_h i + u, s_w j + v]

*im2col* turns it into one matrix product. Every window of ``x_pad`` becomes one row
of ``cols``, of shape ``(N * H_out * W_out, kh * kw * C)``, and the kernels, flattened
in the same order to ``w_flat`` of shape ``(F, kh * kw * C)``, give every output at once:

    Z = cols @ w_flat^T + b,   of shape (N * H_out * W_out, F), one row per (n, i, j).

The VJPs follow from the product's, with ``G`` the upstream gradient laid out as Z:

    dL/dw_flat = G^T @ cols,   dL/db = sum of G over its rows,   dL/dcols = G @ w_flat

and dL/dx is *col2im*, im2col run backwards: each row of dL/dcols is added back onto
the pixels its window read. Pixels shared by overlapping windows collect one term per
window; the adding runs one strided slice-add per kernel offset (u, v), never a loop
over pixels.

One layout choice: Z's rows come in (n, i, j) order, so the output is an (N, F, H_out,
W_out) view of an (N, H_out, W_out, F) array, channels last. im2col lists each window's
pixels as (u, v, c), channels last too, so that a conv2d fed such maps copies whole
runs of channels into ``cols`` rather than one number at a time.

**max_pool2d** takes the maximum of each window, padding with -inf; its VJP sends g
to the window's maximum, the *first* one in row-major order when several tie (the
rule of ``maxout``). **avg_pool2d** averages each window; padding counts as zeros in
the average (PyTorch's default). Both loop over the kernel offsets only.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..engine import is_grad_enabled
from ..tensor import Tensor, as_float_tensor, as_tensors
from .linalg import add_bias
from .nn import first_maximum
from ..validation import is_integer


def conv2d(x, w, b=None, stride=1, padding=0) -> Tensor:
    """2-D cross-correlation of images ``x`` (N, C, H, W) with kernels ``w`` (F, C, kh, kw), plus ``b`` (F,).

    Returns (N, F, H_out, W_out): im2col, one matrix product, the bias (see the module
    docstring for the math and the VJPs).
    """
    x, w, stride, padding = conv_arguments(x, w, stride, padding)
    images, kernels = x.data, w.data
    kernel, out_hw = kernels.shape[2:], output_size("conv2d", images.shape, kernels.shape[2:], stride, padding)
    cols = im2col(images, kernel, stride, padding)
    w_flat = flatten_kernels(kernels)
    z = cols @ w_flat.T
    parents = (x, w)
    vjps = (lambda g: col2im(rows(g) @ w_flat, images.shape, kernel, stride, padding),
            lambda g: unflatten_kernels(rows(g).T @ cols, kernels.shape))
    if b is not None:
        z, b = add_bias(z, x, b, "conv2d", "b")
        parents += (b,)
        vjps += (lambda g: g.sum(axis=(0, 2, 3)),)
    return Tensor.from_op(as_maps(z, len(images), out_hw), parents, vjps, "conv2d")


def conv_arguments(x, w, stride, padding) -> tuple:
    """``(x, w, stride, padding)`` checked and converted: two float Tensors and two pairs of ints.

    Integers become floats here, and a plain array takes the other operand's dtype.
    A wrong shape or setting is a ValueError naming conv2d and the value given.
    """
    x, w = as_tensors(x, w, "conv2d")
    images, kernels = x.data, w.data
    if kernels.ndim != 4 or 0 in kernels.shape:
        raise ValueError(f"conv2d: w must have shape (F, C, kh, kw), each at least 1, got {kernels.shape}")
    stride, padding = _pair(stride, "stride", "conv2d", 1), _pair(padding, "padding", "conv2d", 0)
    output_size("conv2d", images.shape, kernels.shape[2:], stride, padding)
    if images.shape[1] != kernels.shape[1]:
        raise ValueError(f"conv2d: x has {images.shape[1]} channels but the kernels expect {kernels.shape[1]} "
                         f"(x {images.shape}, w {kernels.shape})")
    return x, w, stride, padding


def im2col(images: np.ndarray, kernel, stride, padding) -> np.ndarray:
    """Every window of the padded ``images`` (N, C, H, W) as one row: (N * H_out * W_out, kh * kw * C).

    Rows in (n, i, j) order, each listing its window's pixels as (u, v, c).
    """
    (kh, kw), (sh, sw) = kernel, stride
    padded = _pad(images.transpose(0, 2, 3, 1), (0, padding[0], padding[1], 0))  # (N, H_pad, W_pad, C)
    windows = sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # (N, H_out, W_out, C, kh, kw)
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kh * kw * images.shape[1])


def col2im(d_cols: np.ndarray, shape, kernel, stride, padding) -> np.ndarray:
    """The gradient of images of ``shape`` (N, C, H, W) from the gradient of their :func:`im2col` rows."""
    n, channels, height, width = shape
    (ph, pw), out_hw = padding, output_size("conv2d", shape, kernel, stride, padding)
    d_padded = np.zeros((n, height + 2 * ph, width + 2 * pw, channels), dtype=d_cols.dtype)
    add_windows(d_padded, d_cols, kernel, stride, out_hw)
    return d_padded[:, ph : ph + height, pw : pw + width, :].transpose(0, 3, 1, 2)


def add_windows(d_padded: np.ndarray, d_cols: np.ndarray, kernel, stride, out_hw) -> None:
    """Add each row of ``d_cols`` onto the pixels of ``d_padded`` (N, H_pad, W_pad, C) its window covers.

    Kernel offset (u, v) of every window is one strided slice of the image, so the
    adding is one slice-add per offset.
    """
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_hw
    d_windows = d_cols.reshape(len(d_padded), ho, wo, kh, kw, d_padded.shape[3])
    for u in range(kh):
        for v in range(kw):
            d_padded[:, u : u + sh * (ho - 1) + 1 : sh, v : v + sw * (wo - 1) + 1 : sw, :] += d_windows[:, :, :, u, v, :]


def flatten_kernels(kernels: np.ndarray) -> np.ndarray:
    """Kernels (F, C, kh, kw) as rows (F, kh * kw * C), in the (u, v, c) order of :func:`im2col`."""
    return kernels.transpose(0, 2, 3, 1).reshape(len(kernels), -1)


def unflatten_kernels(w_flat: np.ndarray, shape) -> np.ndarray:
    """The inverse of :func:`flatten_kernels`: rows (F, kh * kw * C) as kernels of ``shape`` (F, C, kh, kw)."""
    n_filters, channels, kh, kw = shape
    return w_flat.reshape(n_filters, kh, kw, channels).transpose(0, 3, 1, 2)


def rows(g: np.ndarray) -> np.ndarray:
    """The upstream gradient (N, F, H_out, W_out) laid out as the product Z: (N * H_out * W_out, F)."""
    return g.transpose(0, 2, 3, 1).reshape(-1, g.shape[1])


def as_maps(z: np.ndarray, n: int, out_hw) -> np.ndarray:
    """The product Z (N * H_out * W_out, F) as feature maps (N, F, H_out, W_out): a view."""
    return z.reshape(n, *out_hw, z.shape[1]).transpose(0, 3, 1, 2)


def output_size(op: str, shape, kernel, stride, padding) -> tuple:
    """Output height and width of windows ``kernel`` moved by ``stride`` over images of ``shape``
    (N, C, H, W) padded by ``padding``; a ValueError naming the op and the shapes if none fits."""
    if len(shape) != 4:
        raise ValueError(f"{op}: x must have shape (N, C, H, W), got {tuple(shape)}")
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    height, width = shape[2] + 2 * ph, shape[3] + 2 * pw
    if kh > height or kw > width:
        raise ValueError(f"{op}: the kernel {kh}x{kw} is larger than the padded image {height}x{width} "
                         f"(x of shape {tuple(shape)}, padding {padding})")
    return (height - kh) // sh + 1, (width - kw) // sw + 1


def _pair(value, name: str, op: str, low: int) -> tuple[int, int]:
    """``value`` (an int or a pair of ints) as a pair of ints >= ``low``, or a ValueError naming the op.

    Bools and floats are refused, even 2.0 (see :mod:`minigrad.validation`).
    """
    try:
        pair = (value, value) if is_integer(value) else tuple(value)
    except TypeError:  # not a sequence: 1.0, True, None
        pair = ()
    if len(pair) != 2 or any(not is_integer(v) or v < low for v in pair):
        raise ValueError(f"{op}: {name} must be an int >= {low} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _pad(x: np.ndarray, widths, value=0.0) -> np.ndarray:
    """``x`` with ``widths[axis]`` entries of ``value`` added before and after along each axis:
    a larger array filled with ``value``, and ``x`` copied into its middle."""
    if not any(widths):
        return x
    padded = np.full([n + 2 * p for n, p in zip(x.shape, widths)], value, dtype=x.dtype)
    padded[tuple(slice(p, p + n) for n, p in zip(x.shape, widths))] = x
    return padded


def _unpad(dx_pad: np.ndarray, padding) -> np.ndarray:
    ph, pw = padding
    return dx_pad[:, :, ph : dx_pad.shape[2] - ph, pw : dx_pad.shape[3] - pw]


def _offset(u: int, v: int, stride, out_hw) -> tuple:
    """The index of the pixels that kernel offset (u, v) reads, for every output position."""
    (sh, sw), (ho, wo) = stride, out_hw
    return (slice(None), slice(None), slice(u, u + sh * (ho - 1) + 1, sh), slice(v, v + sw * (wo - 1) + 1, sw))


def max_pool2d(x, kernel, stride=None, padding=0) -> Tensor:
    """The maximum of each ``kernel`` window of ``x`` (N, C, H, W); ``stride`` defaults to ``kernel``.

    VJP: g goes to each window's maximum, the first one in row-major order when several
    tie, as in ``maxout``. Offset (u, v) of every window is one strided view of the
    padded image, so :func:`~minigrad.ops.nn.first_maximum` over the kh * kw offsets
    gives the output and where each offset won (the same code as ``maxout``).
    """
    x = as_float_tensor(x)
    padded, offsets, padding = _pool_windows("max_pool2d", x.data, kernel, stride, padding, fill=-np.inf)
    z, wins = first_maximum([padded[index] for index in offsets], record=x.requires_grad and is_grad_enabled())

    def vjp(g):
        dx = np.zeros_like(padded, dtype=g.dtype)
        left = g  # what the offsets before k have still to share
        for k in range(len(offsets) - 1, 0, -1):  # the last offset that won holds the first maximum
            taken = left * wins[k]
            dx[offsets[k]] += taken
            left = left - taken
        dx[offsets[0]] += left
        return _unpad(dx, padding)

    return Tensor.from_op(z, (x,), (vjp,), "max_pool2d")


def avg_pool2d(x, kernel, stride=None, padding=0) -> Tensor:
    """The mean of each ``kernel`` window of ``x`` (N, C, H, W), padding counted as zeros.

    VJP: each window's g, divided by kh * kw, goes to every pixel of the window.
    """
    x = as_float_tensor(x)
    padded, offsets, padding = _pool_windows("avg_pool2d", x.data, kernel, stride, padding, fill=0.0)
    z = sum(padded[index] for index in offsets) / len(offsets)

    def vjp(g):
        dx = np.zeros_like(padded, dtype=g.dtype)
        share = g / len(offsets)
        for index in offsets:
            dx[index] += share
        return _unpad(dx, padding)

    return Tensor.from_op(z, (x,), (vjp,), "avg_pool2d")


def _pool_windows(op: str, images, kernel, stride, padding, fill):
    """The checked arguments of a pooling op as ``(padded images, one index per kernel offset, padding)``.

    Offsets are in row-major order (u, then v), which is the order ties are broken in.
    Padding of more than half the kernel would make windows of nothing but padding.
    """
    kernel = _pair(kernel, "kernel", op, 1)
    stride = kernel if stride is None else _pair(stride, "stride", op, 1)
    padding = _pair(padding, "padding", op, 0)
    if 2 * padding[0] > kernel[0] or 2 * padding[1] > kernel[1]:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel {kernel}")
    out_hw = output_size(op, images.shape, kernel, stride, padding)
    offsets = [_offset(u, v, stride, out_hw) for u in range(kernel[0]) for v in range(kernel[1])]
    return _pad(images, (0, 0, *padding), value=fill), offsets, padding
