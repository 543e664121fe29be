"""In-place updates through NumPy's own BLAS: ``scal`` (x <- a x), ``axpy`` (y <- a x + y)
and ``gemm`` (C <- a A B + b C).

What it replaces: nothing by itself; :mod:`minigrad.fast.blas_momentum` uses it in
place of the ufuncs of SGD's momentum step, and :mod:`minigrad.fast.folded_momentum`
to add a weight gradient into a velocity without writing the gradient out.

An optimizer's step is a few passes over every parameter-sized array, and NumPy's
ufuncs make each ``v = m * v - lr * g`` cost more passes than it needs: a ufunc
computes one operation per pass and runs on one core. BLAS level 1 has the two
operations an update needs, each one pass over memory, in place, threaded: SGD with
momentum becomes ``scal(m, v); axpy(-lr, g, v); axpy(1, v, w)``, three passes.

It must be the BLAS *NumPy itself* uses. SciPy's ``scipy.linalg.blas`` would do the
same arithmetic, but SciPy loads its own copy of OpenBLAS, and the two libraries'
thread pools, each with workers spinning after a call, fight for the cores whenever
calls alternate between them (``docs/measurements.md`` has the numbers).
So this module finds the OpenBLAS that the NumPy wheels bundle (``numpy.libs`` on
Linux, ``numpy/.dylibs`` on macOS; its symbols are prefixed ``scipy_`` and, with
64-bit integers, suffixed ``64_``) and binds its ``cblas_?scal``, ``cblas_?axpy`` and
``cblas_?gemm`` with :mod:`ctypes`. Where that library is not found (a NumPy built against another
BLAS, say), :func:`available` is False and callers keep their ufunc path: the result
is the same to float rounding, only slower.

``MINIGRAD_NUMPY_BLAS=0`` turns it off (every caller then takes its ufunc path).
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

__all__ = ["MIN_SIZE", "available", "axpy", "gemm", "gemm_suited", "scal", "suited"]

#: Below this many elements a ctypes call costs more than the ufuncs it saves.
MIN_SIZE = 1 << 14


def _numpy_openblas():
    """The OpenBLAS shared library bundled with NumPy, or None."""
    root = os.path.dirname(np.__file__)
    patterns = [os.path.join(root, os.pardir, "numpy.libs", "*openblas*"), os.path.join(root, ".dylibs", "*openblas*")]
    no_load = getattr(os, "RTLD_NOLOAD", None)
    if no_load is None:  # no dlopen (Windows): do not guess
        return None
    for path in sorted(p for pattern in patterns for p in glob.glob(pattern)):
        try:  # RTLD_NOLOAD: only a library this process has loaded already, that is NumPy's own
            library = ctypes.CDLL(path, mode=no_load)
        except OSError:  # a file NumPy did not load (a leftover of another version)
            continue
        if hasattr(library, "scipy_cblas_saxpy64_"):
            return library
    return None


def _bind(library):
    """{dtype: (scal, axpy, gemm)} of the library's 64-bit-integer CBLAS routines."""
    kernels = {}
    n, pointer, enum = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    for dtype, letter, real in ((np.float32, "s", ctypes.c_float), (np.float64, "d", ctypes.c_double)):
        scal = getattr(library, f"scipy_cblas_{letter}scal64_")
        scal.argtypes, scal.restype = [n, real, pointer, n], None
        axpy = getattr(library, f"scipy_cblas_{letter}axpy64_")
        axpy.argtypes, axpy.restype = [n, real, pointer, n, pointer, n], None
        gemm = getattr(library, f"scipy_cblas_{letter}gemm64_")  # order, trans A, trans B, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc
        gemm.argtypes, gemm.restype = [enum, enum, enum, n, n, n, real, pointer, n, pointer, n, real, pointer, n], None
        kernels[np.dtype(dtype)] = (scal, axpy, gemm)
    return kernels


_KERNELS = None  # found at the first call, not at import: importing minigrad loads no library


def _kernels() -> dict:
    global _KERNELS
    if _KERNELS is None:
        library = None if os.environ.get("MINIGRAD_NUMPY_BLAS", "1") == "0" else _numpy_openblas()
        _KERNELS = {} if library is None else _bind(library)
    return _KERNELS


def available() -> bool:
    """Whether NumPy's own BLAS was found (else :func:`suited` is always False)."""
    return bool(_kernels())


def suited(*arrays) -> bool:
    """Whether :func:`scal` and :func:`axpy` may work on these arrays in place: NumPy's
    BLAS was found, and they share one dtype (float32 or float64) and one shape, are
    C-contiguous, aligned and writeable, share no memory, and are large enough for the
    call to pay."""
    first = arrays[0]
    return (first.size >= MIN_SIZE and first.dtype in _kernels()
            and all(a.dtype == first.dtype and a.shape == first.shape and a.flags.c_contiguous and a.flags.aligned
                    and a.flags.writeable for a in arrays)
            and not any(np.may_share_memory(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1:]))


def scal(alpha: float, x: np.ndarray) -> None:
    """x <- alpha * x, in place (x must be :func:`suited`; alpha must not be 0, which
    OpenBLAS turns into a fill with zeros that would not keep a NaN)."""
    _KERNELS[x.dtype][0](x.size, alpha, x.ctypes.data, 1)


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """y <- alpha * x + y, in place (both must be :func:`suited`, and distinct arrays)."""
    _KERNELS[y.dtype][1](y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)


_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS's enums


def _as_row_major(a: np.ndarray):
    """(transpose flag, leading dimension) that let row-major gemm read ``a`` in place, or None.

    A C-contiguous matrix is read as it is; an F-contiguous one (``x.T`` of a C-contiguous
    ``x``) as the transpose of its C-contiguous transpose. Any other layout needs a copy.
    """
    if a.flags.c_contiguous:
        return _NO_TRANS, max(a.shape[1], 1)
    if a.flags.f_contiguous:
        return _TRANS, max(a.shape[0], 1)
    return None


def gemm_suited(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> bool:
    """Whether :func:`gemm` may compute ``c <- alpha a @ b + beta c`` in place: NumPy's BLAS
    was found, the three are matrices of one dtype (float32 or float64) whose shapes
    multiply, ``a`` and ``b`` are C- or F-contiguous, ``c`` is C-contiguous, aligned and
    writeable, and ``c`` shares no memory with either factor."""
    return (c.dtype in _kernels() and a.dtype == c.dtype and b.dtype == c.dtype
            and a.ndim == 2 and b.ndim == 2 and c.ndim == 2
            and a.shape[1] == b.shape[0] and c.shape == (a.shape[0], b.shape[1])
            and c.flags.c_contiguous and c.flags.aligned and c.flags.writeable
            and _as_row_major(a) is not None and _as_row_major(b) is not None
            and not np.may_share_memory(a, c) and not np.may_share_memory(b, c))


def gemm(alpha: float, a: np.ndarray, b: np.ndarray, beta: float, c: np.ndarray) -> None:
    """c <- alpha a @ b + beta c, in place (the three must be :func:`gemm_suited`). With
    beta = 0, BLAS does not read c first, so whatever it held (NaN included) is gone."""
    (trans_a, lda), (trans_b, ldb) = _as_row_major(a), _as_row_major(b)
    (m, k), n = a.shape, b.shape[1]
    _KERNELS[c.dtype][2](_ROW_MAJOR, trans_a, trans_b, m, n, k, alpha, a.ctypes.data, lda, b.ctypes.data, ldb,
                         beta, c.ctypes.data, max(n, 1))
