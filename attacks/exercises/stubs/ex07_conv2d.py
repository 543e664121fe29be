"""Exercise 7: conv2d by im2col, and its input VJP.

Images are (N, C, H, W) (batch, channels, height, width) and kernels (F, C, kh, kw).
A convolution layer (as every deep-learning library computes it: the kernel is not
flipped, a cross-correlation) with stride s and zero padding p is

    z[n, f, i, j] = sum_{c, u, v} w[f, c, u, v] * x_pad[n, c, s i + u, s j + v]

where x_pad is x with p zeros added on every side, and the output is
H_out = (H + 2p - kh) // s + 1 by W_out = (W + 2p - kw) // s + 1.

im2col makes it one matrix product: copy every window x_pad[n, :, s i : s i + kh,
s j : s j + kw] into one row of a matrix ``cols``, flattened in (c, u, v) order, the
order of ``w[f].reshape(-1)``. Then every output at once is

    cols @ w.reshape(F, -1).T      (N * H_out * W_out rows, F columns)

The input VJP runs it backwards (col2im): the product's VJP gives dL/dcols = G @ w_flat
(exercise 3), and each row of dL/dcols is *added* onto the pixels its window read.
Windows overlap, so a pixel collects one term from each window that saw it.

Check your work:  advex exercises check 7
"""

import numpy as np


def im2col(x, kh, kw, stride=1, padding=0):
    """Every kh x kw window of the zero-padded ``x`` (N, C, H, W) as one row: (N * H_out * W_out, C * kh * kw).

    Rows in (n, i, j) order (image, then output row, then output column); each row lists
    its window as ``window.reshape(-1)`` for a window of shape (C, kh, kw). In x's dtype:
    float32 in, float32 out (``np.zeros(shape)`` alone would make float64).
    Hint: ``np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))``, then loops over n, i, j are
    fine here (the library's own im2col has none; see minigrad/ops/conv.py).
    """
    raise NotImplementedError


def conv2d(x, w, stride=1, padding=0):
    """z (N, F, H_out, W_out) for images ``x`` (N, C, H, W) and kernels ``w`` (F, C, kh, kw), by im2col.

    Hint: the product has one row per (n, i, j); reshape it to (N, H_out, W_out, F),
    then ``transpose(0, 3, 1, 2)``.
    """
    raise NotImplementedError


def conv2d_vjp_x(g, x, w, stride=1, padding=0):
    """dL/dx (x's shape and dtype) for z = conv2d(x, w, stride, padding), given g = dL/dz (N, F, H_out, W_out).

    Hint: lay g out as the product was, (N * H_out * W_out, F); multiply by w_flat to
    get dL/dcols; add each row, reshaped to (C, kh, kw), onto its window of a zero
    array of the *padded* shape (in x's dtype); finally cut the padding off.
    """
    raise NotImplementedError
