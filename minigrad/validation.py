"""Argument checks shared by every package: one rule for what counts as an integer, and one for a number.

``True`` is an ``int`` to Python and 2.0 equals 2, but neither is a batch size, a
stride or a number of pieces: ``is_integer`` accepts Python and NumPy integers only,
and ``integer_at_least`` turns a refusal into an error that names the argument.
``is_numeric`` says whether a value (a number or an array) holds real numbers.
"""

from __future__ import annotations

import numpy as np


REAL_KINDS = "iuf"  # the dtype kinds of real numbers: signed and unsigned integers, floats


def is_integer(value) -> bool:
    """True for a Python or NumPy integer, False for bools, floats (even 2.0) and anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def integer_at_least(value, low: int, what: str) -> int:
    """``value`` as an int if it is an integer >= ``low``, else a ValueError naming ``what``."""
    if not is_integer(value) or value < low:
        raise ValueError(f"{what} must be an integer >= {low}, got {value!r}")
    return int(value)


def is_numeric(value, bools: bool = False) -> bool:
    """True for real numbers: a Python or NumPy int or float, or an ndarray of them.

    Strings, None, objects and complex numbers are not; neither are bools unless ``bools``
    is true: ``True`` is an int to Python but no gradient, while a boolean array is a
    fine tensor value or data. Lists are not looked into: pass ``np.asarray(value)``.

    >>> is_numeric(np.float32(0.5)), is_numeric(np.arange(3)), is_numeric(2)
    (True, True, True)
    >>> is_numeric(np.str_("a")), is_numeric(np.bool_(True)), is_numeric(np.array([True]), bools=True)
    (False, False, True)
    """
    if isinstance(value, (np.ndarray, np.generic)):
        kind = value.dtype.kind
    elif isinstance(value, (int, float)):
        kind = "b" if isinstance(value, bool) else "f"
    else:
        return False
    return kind in REAL_KINDS or (bools and kind == "b")
