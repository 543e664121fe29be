"""Hypothesis strategies for the gradient tests: shapes, and values kept off kinks and poles.

Finite differences fail where a derivative does not exist (relu at 0, ties in max)
or explodes (log near 0), so each op draws its inputs from a domain that avoids
those points. Kink-prone ops draw from a grid of multiples of 1/8 with distinct
values: no two entries are within 2 * eps of each other, so a central difference
never crosses a kink.
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Tolerances for comparing the engine's float64 gradients with central differences.
GRAD_ATOL = 1e-5
GRAD_RTOL = 1e-3

SMALL_SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
BROADCAST_PAIRS = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3)
MATMUL_PAIRS = hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, min_side=1, max_side=4)


def floats(low: float, high: float):
    """Finite float64 values in [low, high]."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)


def away_from_zero(low: float, high: float):
    """Floats with low <= |x| <= high, either sign."""
    return st.one_of(floats(low, high), floats(-high, -low))


def grid(halves: bool = False):
    """Multiples of 1/8 in [-4, 4]; with ``halves``, shifted by 1/16 so they never equal those.

    The plain grid includes 0: filter it out where 0 is a kink (relu, abs).
    """
    offset = 1 / 16 if halves else 0.0
    return st.integers(-32, 32).map(lambda k: k / 8 + offset)


def arrays(shape, elements, unique: bool = False):
    return hnp.arrays(np.float64, shape, elements=elements, unique=unique)


def distinct_nonzero_arrays(shape):
    """Values of the 1/8 grid, pairwise distinct and never 0 (for relu, abs, max, maxout, clip)."""
    return hnp.arrays(np.float64, shape, elements=grid().filter(lambda v: v != 0), unique=True)


def reduction_axes(ndim: int):
    """None, one axis (maybe negative), or a tuple of distinct axes of an ndim array."""
    if ndim == 0:
        return st.just(None)
    return st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple),
    )
