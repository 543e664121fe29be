"""Exercise 2: summing a gradient back over broadcast axes.

NumPy broadcasts: ``a + b`` with ``a`` of shape (3,) and ``b`` of shape (2, 3) uses each
a[j] twice, once in z[0, j] and once in z[1, j]. By the chain rule a[j]'s gradient is
the sum of the gradients of every output it touched:

    dL/da[j] = sum_i dL/dz[i, j]

In general an input of ``shape`` broadcast up to the output's shape was (1) given extra
leading axes, and (2) stretched along its axes of size 1. Its gradient is the output's
gradient summed over exactly those axes, and it has exactly ``shape``.

Check your work:  advex exercises check 2
"""

import numpy as np


def unbroadcast(g, shape):
    """``g`` (the gradient of the broadcast output) summed back to ``shape`` (the input's shape).

    ``shape`` broadcasts to ``g.shape``. Return an array of exactly ``shape`` and of g's dtype.
    Examples: g of shape (2, 3) to (3,) sums axis 0; to (2, 1) sums axis 1 and keeps it
    as size 1; to () sums everything.
    Hint: first sum away the leading axes that ``shape`` does not have, then sum with
    ``keepdims=True`` over each axis where ``shape`` has 1 and g does not.
    """
    raise NotImplementedError
