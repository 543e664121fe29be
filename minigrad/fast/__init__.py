"""Speed tricks, kept off the reading path.

Each module here does one job of the textbook code faster, with the same results to
float rounding, and its docstring says what it replaces:

* :mod:`minigrad.fast.allocator`: glibc's malloc keeps freed memory mapped for reuse.
* :mod:`minigrad.fast.numpy_blas`: NumPy's own BLAS (``scal``, ``axpy``, ``gemm``) bound with ctypes.
* :mod:`minigrad.fast.blas_momentum`: SGD's classical momentum step through that BLAS.
* :mod:`minigrad.fast.folded_momentum`: that step folded into the backward walk, one gemm per dense layer.
* :mod:`minigrad.fast.chunked_im2col`: ``conv2d`` with im2col in chunks.
* :mod:`minigrad.fast.conv_bias_gemv`: that ``conv2d`` with its bias gradient as one matrix-vector product.
* :mod:`minigrad.fast.layout_reshape`: ``reshape`` whose gradient keeps its input's memory layout.

Nothing here is used unless it is switched on: ``training.fast_paths.enable()`` is the
one place that does it (``advex`` and the benchmarks call it). What each trick is
worth is measured in ``docs/measurements.md``.
"""
