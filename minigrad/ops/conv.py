"""Convolution and pooling over batches of images, and their vector-Jacobian products.

Every op here takes images as ``(N, C, H, W)`` (PyTorch's convention: batch, channels,
height, width). ``stride`` and ``padding`` are one int or a pair (rows, columns).
Zero padding of ``p`` adds p rows above and below and p columns left and right; a
window of size k with stride s then fits ``H_out = (H + 2 p - k) // s + 1`` times.

**conv2d** is a cross-correlation, as in every deep-learning library (the kernel is
not flipped):

    z[n, f, i, j] = b[f] + sum_{c, u, v} w[f, c, u, v] * x_pad[n, c, s_h i + u, s_w j + v]

It is lowered to one matrix product (*im2col*): every window of ``x_pad`` becomes one
row of ``cols``, of shape ``(N * H_out * W_out, C * kh * kw)``, and the product with the
kernels flattened to ``(F, C * kh * kw)`` gives all outputs at once, through BLAS.
Inside, the op works in NHWC: the input is viewed as (N, H, W, C), and each row of
``cols`` lists a window as (u, v, c), so the gather copies whole runs of channels (the
kernels are flattened in the same order, a small copy); the product's result is
``(N * H_out * W_out, F)``, rows in (n, i, j) order, and the NCHW output is a transposed
view of that NHWC memory. A conv2d fed such maps (directly, or through elementwise
ops, maxout or unpadded pooling, which keep the layout) views them as NHWC for free;
an input that really is NCHW-contiguous (the first layer's images, or a padded
pooling's output) pays for a strided gather instead, which for one channel costs
nothing. Building ``cols`` is the one copy the
lowering costs (plus the padded copy when there is padding). The VJPs, with ``G`` the upstream gradient in the same
(n, i, j) by f layout:

    dL/dw = G^T @ cols,   dL/db = sum of g over n, i, j,   dL/dcols = G @ w_flat

and dL/dx is *col2im*: each window's gradient is added back to the pixels it came
from, in NHWC again. That runs one strided slice-add per kernel offset (u, v), kh * kw
passes over the image in all, never a Python loop over pixels or ``np.add.at``.

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


def _geometry(op: str, shape, kernel, stride, padding) -> tuple:
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


def _pad(x: np.ndarray, padding, value=0.0) -> np.ndarray:
    ph, pw = padding
    if not ph and not pw:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _unpad(dx_pad: np.ndarray, padding) -> np.ndarray:
    ph, pw = padding
    return dx_pad[:, :, ph : dx_pad.shape[2] - ph, pw : dx_pad.shape[3] - pw]


def _offset(u: int, v: int, stride, out_hw) -> tuple:
    """The index of the pixels that kernel offset (u, v) reads, for every output position."""
    (sh, sw), (ho, wo) = stride, out_hw
    return (slice(None), slice(None), slice(u, u + sh * (ho - 1) + 1, sh), slice(v, v + sw * (wo - 1) + 1, sw))


def conv2d(x, w, b=None, stride=1, padding=0) -> Tensor:
    """2-D cross-correlation of images ``x`` (N, C, H, W) with kernels ``w`` (F, C, kh, kw), plus ``b`` (F,).

    Returns (N, F, H_out, W_out). See the module docstring for the math, the im2col
    lowering and the VJPs.
    """
    x, w = as_tensors(x, w, "conv2d")  # integers become floats here, and a plain array takes the other's dtype
    images, kernels = x.data, w.data
    if kernels.ndim != 4 or 0 in kernels.shape:
        raise ValueError(f"conv2d: w must have shape (F, C, kh, kw), each at least 1, got {kernels.shape}")
    stride, padding = _pair(stride, "stride", "conv2d", 1), _pair(padding, "padding", "conv2d", 0)
    n_filters, channels, kh, kw = kernels.shape
    out_hw = _geometry("conv2d", images.shape, (kh, kw), stride, padding)
    if images.shape[1] != channels:
        raise ValueError(f"conv2d: x has {images.shape[1]} channels but the kernels expect {channels} "
                         f"(x {images.shape}, w {kernels.shape})")
    n, (ho, wo) = images.shape[0], out_hw
    (ph, pw), nhwc = padding, images.transpose(0, 2, 3, 1)  # a view; contiguous when x came from a conv2d
    padded = _zero_padded(nhwc, ph, pw)
    windows = sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, :: stride[0], :: stride[1]]  # (N, Ho, Wo, C, kh, kw)
    w_flat = kernels.transpose(0, 2, 3, 1).reshape(n_filters, -1)  # the kernels in the (u, v, c) order of cols
    chunks = _chunks(n, ho * wo * kh * kw * channels * images.itemsize)
    z = np.empty((n * ho * wo, n_filters), dtype=np.result_type(images, kernels))  # rows in (n, i, j) order
    cols = []
    for c in chunks:  # im2col, (u, v, c) order, a few images at a time
        part = windows[c].transpose(0, 1, 2, 4, 5, 3).reshape(-1, kh * kw * channels)
        np.matmul(part, w_flat.T, out=z[c.start * ho * wo : c.stop * ho * wo])
        cols.append(part)
    parents = (x, w)
    vjps = (lambda g: _conv_vjp_x(g, w_flat, images.shape, (kh, kw), stride, padding, out_hw, chunks),
            lambda g: _conv_vjp_w(g, cols, chunks, out_hw).reshape(n_filters, kh, kw, channels).transpose(0, 3, 1, 2))
    if b is not None:
        z, b = add_bias(z, x, b, "conv2d", "b")
        parents += (b,)
        vjps += (lambda g: g.sum(axis=(0, 2, 3)),)
    return Tensor.from_op(z.reshape(n, ho, wo, n_filters).transpose(0, 3, 1, 2), parents, vjps, "conv2d")


#: The largest temporary conv2d makes: glibc serves larger requests with a fresh mmap, and
#: its pages cost a page fault each on first touch, every batch (see :mod:`minigrad.memory`).
CHUNK_BYTES = 16 * 2**20


def _zero_padded(nhwc: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """(N, H, W, C) images inside a border of zeros: ``ph`` rows and ``pw`` columns on each side.

    One zeroed array and one copy into its middle: ``np.pad`` does the same in Python,
    border by border, at several times the cost on small batches.
    """
    if not ph and not pw:
        return nhwc
    n, height, width, channels = nhwc.shape
    padded = np.zeros((n, height + 2 * ph, width + 2 * pw, channels), dtype=nhwc.dtype)
    padded[:, ph : ph + height, pw : pw + width, :] = nhwc
    return padded


def _chunks(n: int, bytes_per_image: int) -> list:
    """The batch as slices of images whose im2col rows stay under :data:`CHUNK_BYTES` (one slice, mostly)."""
    per = max(1, CHUNK_BYTES // max(bytes_per_image, 1))
    return [slice(i, min(i + per, n)) for i in range(0, n, per)] or [slice(0, 0)]


def _rows(g: np.ndarray) -> np.ndarray:
    """The upstream gradient (N, F, H_out, W_out) as (N * H_out * W_out, F), the layout of the product."""
    return g.transpose(0, 2, 3, 1).reshape(-1, g.shape[1])


def _conv_vjp_w(g, cols, chunks, out_hw) -> np.ndarray:
    """dL/dw_flat = G^T @ cols, summed over the chunks the forward pass built cols in."""
    rows, (ho, wo) = _rows(g), out_hw
    dw = None
    for c, part in zip(chunks, cols):
        term = rows[c.start * ho * wo : c.stop * ho * wo].T @ part
        dw = term if dw is None else np.add(dw, term, out=dw)
    return dw


def _conv_vjp_x(g, w_flat, shape, kernel, stride, padding, out_hw, chunks):
    """col2im: the gradient of every window, added back to the pixels it read, one kernel offset at a time.

    In NHWC, like the forward pass: each offset's slice-add then moves whole runs of
    channels. The result is an NCHW view of the NHWC array (no transposing copy). The
    windows' gradients dL/dcols = G @ w_flat are made a chunk of images at a time, as
    the forward pass made cols.
    """
    (kh, kw), (n, channels, height, width), (sh, sw), (ho, wo) = kernel, shape, stride, out_hw
    rows = _rows(g)
    dx = np.zeros((n, height + 2 * padding[0], width + 2 * padding[1], channels), dtype=g.dtype)
    for c in chunks:
        d_cols = (rows[c.start * ho * wo : c.stop * ho * wo] @ w_flat).reshape(-1, ho, wo, kh, kw, channels)
        target = dx[c]
        for u in range(kh):  # a loop over the kernel's offsets, each a strided pass over the images
            for v in range(kw):
                target[:, u : u + sh * (ho - 1) + 1 : sh, v : v + sw * (wo - 1) + 1 : sw, :] += d_cols[:, :, :, u, v, :]
    return dx[:, padding[0] : padding[0] + height, padding[1] : padding[1] + width, :].transpose(0, 3, 1, 2)


def max_pool2d(x, kernel, stride=None, padding=0) -> Tensor:
    """The maximum of each ``kernel`` window of ``x`` (N, C, H, W); ``stride`` defaults to ``kernel``.

    VJP: g goes to each window's maximum, the first one in row-major order when several
    tie, as in ``maxout``. Implementation: offset (u, v) of every window is one strided
    view of the padded image, so :func:`~minigrad.ops.nn.first_maximum` over the kh * kw
    offsets gives the output and where each offset won (the same code as ``maxout``).
    """
    x = as_float_tensor(x)
    padded, offsets, padding = _pool_windows("max_pool2d", x.data, kernel, stride, padding, fill=-np.inf)
    z, wins = first_maximum([padded[index] for index in offsets], record=x.requires_grad and is_grad_enabled())

    def vjp(g):
        dx = np.zeros_like(padded, dtype=g.dtype)
        left = g.copy(order="K")  # in g's memory layout, which is the maps': no mixed-layout arithmetic below
        taken = np.empty_like(left)  # one work area for every offset
        for k in range(len(offsets) - 1, 0, -1):  # the last offset that won holds the first maximum
            np.multiply(left, wins[k], out=taken)
            dx[offsets[k]] += taken
            left -= taken
        dx[offsets[0]] += left
        return _unpad(dx, padding)

    return Tensor.from_op(z, (x,), (vjp,), "max_pool2d")


def avg_pool2d(x, kernel, stride=None, padding=0) -> Tensor:
    """The mean of each ``kernel`` window of ``x`` (N, C, H, W), padding counted as zeros.

    VJP: each window's g, divided by kh * kw, goes to every pixel of the window.
    """
    x = as_float_tensor(x)
    padded, offsets, padding = _pool_windows("avg_pool2d", x.data, kernel, stride, padding, fill=0.0)
    area = np.asarray(len(offsets), dtype=padded.dtype)
    z = padded[offsets[0]].copy(order="K")  # the maps' memory layout, as max_pool2d keeps it
    for index in offsets[1:]:
        z += padded[index]
    z /= area

    def vjp(g):
        dx = np.zeros_like(padded, dtype=g.dtype)
        share = g / area
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
    out_hw = _geometry(op, images.shape, kernel, stride, padding)
    offsets = [_offset(u, v, stride, out_hw) for u in range(kernel[0]) for v in range(kernel[1])]
    return _pad(images, padding, value=fill), offsets, padding
