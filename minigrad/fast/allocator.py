"""Keeping freed memory for reuse, so that a training step does not page-fault.

What it replaces: nothing in the code; it changes how the process's ``malloc`` serves
the arrays every op returns (the textbook code allocates a fresh array per result).

Every op returns a fresh array, where hand-written code would write into buffers it
allocated once. For large arrays that difference is not the copy, it is the kernel:
glibc's ``malloc`` serves a request above its *mmap threshold* (128 KiB at first,
adapting up to 32 MiB) with a fresh ``mmap``, whose pages the kernel zeroes and maps
one page fault at a time on first touch, and returns it with ``munmap`` when the array
is freed. A (1000, 1200) float32 activation is 1,200 page faults, every batch.

:func:`keep_freed_memory` asks glibc (``mallopt``) to serve such requests from its heap
and to keep up to ``trim_threshold`` bytes of freed memory there instead of handing
it back, so the next array of the same size reuses pages that are already mapped.
This is what caching allocators in larger frameworks do by other means; what it
gains on this project's benchmarks is measured in ``docs/measurements.md``.

It changes the allocator of the whole process, for the rest of the process, so it is
opt-in: ``import minigrad`` never calls it. ``training.fast_paths.enable()`` calls it
(``advex`` and the benchmarks call that at their entry); ``minigrad.keep_freed_memory()``
at the start of a script or a notebook does the same for this trick alone.
``MINIGRAD_KEEP_FREED_MEMORY=0`` makes every call a no-op. On platforms without glibc
it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["MMAP_THRESHOLD", "keep_freed_memory"]

_M_TRIM_THRESHOLD = -1  # from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # the largest value glibc accepts on 64-bit systems


def keep_freed_memory(trim_threshold: int = 512 * 1024 * 1024) -> bool:
    """Configure glibc malloc as above; returns True if it was applied."""
    if os.environ.get("MINIGRAD_KEEP_FREED_MEMORY", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
