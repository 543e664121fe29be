"""Argument checks shared by every package: one rule for what counts as an integer.

``True`` is an ``int`` to Python and 2.0 equals 2, but neither is a batch size, a
stride or a number of pieces: ``is_integer`` accepts Python and NumPy integers only,
and ``integer_at_least`` turns a refusal into an error that names the argument.
"""

from __future__ import annotations

import numpy as np


def is_integer(value) -> bool:
    """True for a Python or NumPy integer, False for bools, floats (even 2.0) and anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def integer_at_least(value, low: int, what: str) -> int:
    """``value`` as an int if it is an integer >= ``low``, else a ValueError naming ``what``."""
    if not is_integer(value) or value < low:
        raise ValueError(f"{what} must be an integer >= {low}, got {value!r}")
    return int(value)
