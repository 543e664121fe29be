"""Moved to :mod:`minigrad.fast.allocator`; this module is an alias kept for code that imports it."""
from minigrad.fast.allocator import *  # noqa: F401,F403
