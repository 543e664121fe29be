"""``conv2d`` with its im2col rows built a few images at a time.

What it replaces: :func:`minigrad.ops.conv.conv2d`, with the same signature, errors,
results and VJPs (``training.fast_paths.enable()`` puts it in ``minigrad.conv2d``).

Why: glibc's ``malloc`` serves a request it cannot fit in the memory it already holds,
and that is above its mmap threshold, with a fresh ``mmap``, whose pages the kernel
zeroes and maps one page fault at a time on first touch and takes back when the array
is freed. :func:`minigrad.fast.allocator.keep_freed_memory` raises that threshold, but
to 32 MiB at most, and the textbook conv2d's ``cols`` and dL/dcols for a large batch
(SmallConvNet's second layer on an attack's batch of 1,000 images) are larger: fresh
mappings, every batch. Here the batch is cut into chunks of images whose rows fit in
:data:`CHUNK_BYTES`, under that threshold, so each chunk's rows reuse memory the
allocator kept; and each chunk's rows are multiplied right after they are made (their
gradient added back right after it is made), while they are still in the processor's
cache, where the textbook op makes all rows before it reads the first. The math is the
textbook op's, chunk by chunk:

    Z[chunk] = cols[chunk] @ w_flat^T,   dL/dw_flat = sum over chunks of G[chunk]^T @ cols[chunk],
    dL/dcols[chunk] = G[chunk] @ w_flat, added back onto the chunk's images (col2im).

Which batches it pays on is measured in ``docs/measurements.md``.
"""

from __future__ import annotations

import numpy as np

from ..ops.conv import (add_windows, as_maps, conv_arguments, flatten_kernels, im2col, output_size, rows,
                        unflatten_kernels)
from ..ops.conv import conv2d as textbook_conv2d
from ..ops.linalg import add_bias
from ..tensor import Tensor

#: The largest im2col rows (and their gradient) made at once, in bytes: well under glibc's
#: largest mmap threshold, and a size at which the rows are still in cache when read
#: (chosen by measurement, docs/measurements.md). SmallConvNet's training batches of 100
#: fit in one chunk.
CHUNK_BYTES = 8 * 2**20


def conv2d(x, w, b=None, stride=1, padding=0) -> Tensor:
    """:func:`minigrad.ops.conv.conv2d`, lowered a chunk of images at a time (see the module docstring).

    A batch whose rows fit in one chunk goes to the textbook op itself.
    """
    x, w, stride, padding = conv_arguments(x, w, stride, padding)
    images, kernels = x.data, w.data
    kernel, out_hw = kernels.shape[2:], output_size("conv2d", images.shape, kernels.shape[2:], stride, padding)
    pixels = out_hw[0] * out_hw[1]
    chunks = image_chunks(len(images), pixels * kernels[0].size * images.itemsize)
    if len(chunks) == 1:
        return textbook_conv2d(x, w, b, stride, padding)
    w_flat = flatten_kernels(kernels)
    z = np.empty((len(images) * pixels, len(kernels)), dtype=np.result_type(images, kernels))
    cols = []
    for chunk in chunks:
        cols.append(im2col(images[chunk], kernel, stride, padding))
        np.matmul(cols[-1], w_flat.T, out=z[_rows_of(chunk, pixels)])

    def vjp_x(g):
        g_rows, (n, channels, height, width), (ph, pw) = rows(g), images.shape, padding
        d_padded = np.zeros((n, height + 2 * ph, width + 2 * pw, channels), dtype=g.dtype)
        for chunk in chunks:
            add_windows(d_padded[chunk], g_rows[_rows_of(chunk, pixels)] @ w_flat, kernel, stride, out_hw)
        return d_padded[:, ph : ph + height, pw : pw + width, :].transpose(0, 3, 1, 2)

    def vjp_w(g):
        g_rows = rows(g)
        dw_flat = sum(g_rows[_rows_of(chunk, pixels)].T @ part for chunk, part in zip(chunks, cols))
        return unflatten_kernels(dw_flat, kernels.shape)

    parents, vjps = (x, w), (vjp_x, vjp_w)
    if b is not None:
        z, b = add_bias(z, x, b, "conv2d", "b")
        parents += (b,)
        vjps += (lambda g: g.sum(axis=(0, 2, 3)),)
    return Tensor.from_op(as_maps(z, len(images), out_hw), parents, vjps, "conv2d")


def image_chunks(n: int, bytes_per_image: int) -> list:
    """The batch of ``n`` images as slices whose im2col rows stay under :data:`CHUNK_BYTES` (one slice, mostly)."""
    per_chunk = max(1, CHUNK_BYTES // max(bytes_per_image, 1))
    return [slice(i, min(i + per_chunk, n)) for i in range(0, n, per_chunk)] or [slice(0, 0)]


def _rows_of(chunk: slice, pixels: int) -> slice:
    """The rows of Z (or of cols) that hold the outputs of the images in ``chunk``."""
    return slice(chunk.start * pixels, chunk.stop * pixels)
