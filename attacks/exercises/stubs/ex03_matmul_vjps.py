"""Exercise 3: the two VJPs of a matrix product, and the bias of a dense layer.

For Z = A @ B with A of shape (n, k), B of shape (k, m) and G = dL/dZ of shape (n, m):

    Z[i, j] = sum_p A[i, p] B[p, j]

Differentiate one entry of Z with respect to A[i, p] and to B[p, j], then sum over
every entry of Z that they touch (the chain rule). Each result is itself a matrix
product. The shapes are the check: dL/dA has A's shape, dL/dB has B's.

A dense layer adds a bias: Z = A @ B + bias, with bias of shape (m,) broadcast over the
n rows (exercise 2 says what that does to its gradient).

Check your work:  advex exercises check 3
"""

import numpy as np


def matmul_vjp_a(g, a, b):
    """dL/dA for Z = A @ B, given g = dL/dZ.

    Hint: an (n, m) array times something must give (n, k).
    """
    raise NotImplementedError


def matmul_vjp_b(g, a, b):
    """dL/dB for Z = A @ B, given g = dL/dZ.

    Hint: something times an (n, m) array must give (k, m). In a dense layer this is
    the weight gradient: the inputs, transposed, times the upstream gradient.
    """
    raise NotImplementedError


def bias_vjp(g):
    """dL/dbias for Z = A @ B + bias, given g = dL/dZ of shape (n, m); the bias has shape (m,).

    Hint: the bias was used once in every row.
    """
    raise NotImplementedError
