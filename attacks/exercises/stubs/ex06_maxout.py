"""Exercise 6: maxout's forward pass, and its VJP with the first maximum winning a tie.

A maxout unit outputs the largest of its ``pieces`` inputs. A layer of U units reads a
row of U * pieces numbers in consecutive groups: unit u takes entries
u * pieces, ..., u * pieces + pieces - 1.

    z[n, u] = max_k x[n, u * pieces + k]

The derivative of a maximum is 1 for the entry that won and 0 for the others, so the
VJP routes each g[n, u] to the winning entry of its group. When several entries tie
for the maximum, exactly one of them must get g (else the gradient is counted twice):
by the convention used everywhere in this library, the *first* one.

Check your work:  advex exercises check 6
"""

import numpy as np


def maxout(x, pieces):
    """z of shape (N, U) for ``x`` of shape (N, U * pieces): the maximum of each group of ``pieces``.

    Hint: with U = x.shape[1] // pieces, ``x.reshape(N, U, pieces)`` puts each group in
    its own row of the last axis.
    """
    raise NotImplementedError


def maxout_vjp(g, x, pieces):
    """dL/dx (x's shape and dtype) for z = maxout(x, pieces), given g = dL/dz of shape (N, U).

    Hint: ``argmax`` returns the first maximum; ``np.put_along_axis`` writes values at
    the positions it gives, into ``np.zeros(..., dtype=x.dtype)`` (float32 stays float32).
    """
    raise NotImplementedError
