"""Moved to :mod:`minigrad.fast.numpy_blas`; this module is an alias kept for code that imports it."""
from minigrad.fast.numpy_blas import *  # noqa: F401,F403
