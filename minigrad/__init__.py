"""minigrad: a small reverse-mode automatic differentiation engine over NumPy arrays.

Read it in the order of the README's reading path: :mod:`minigrad.tensor` (what a
node holds), :mod:`minigrad.engine` (how backward walks the graph),
:mod:`minigrad.broadcast` (how a gradient is summed back to its input's shape),
:mod:`minigrad.ops` (each op with its vector-Jacobian product),
:mod:`minigrad.transforms` (``grad``) and :mod:`minigrad.gradcheck` (how we know the
gradients are right).

That path is the textbook form; the speed tricks live off it in :mod:`minigrad.fast`,
and importing minigrad switches none of them on: ``training.fast_paths.enable()`` does.
"""

from .engine import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .gradcheck import gradcheck, numerical_gradient
from . import blas, memory  # noqa: F401  (old homes of the fast paths, kept as aliases)
from .fast.allocator import keep_freed_memory
from .ops import *  # noqa: F401,F403  (every op, as a function of Tensors)
from .tensor import Tensor, as_tensor, values_of
from .transforms import grad, value_and_grad

__version__ = "0.1.0"
