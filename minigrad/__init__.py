"""minigrad: a small reverse-mode automatic differentiation engine over NumPy arrays.

Read it in this order: :mod:`minigrad.tensor` (what a node holds),
:mod:`minigrad.engine` (how backward walks the graph), :mod:`minigrad.ops` (each op
with its vector-Jacobian product), :mod:`minigrad.transforms` (``grad``), and
:mod:`minigrad.gradcheck` (how we know the gradients are right);
:mod:`minigrad.validation` holds the argument rules every package shares.

Importing it changes nothing outside it: the speed tricks of :mod:`minigrad.fast`
(:func:`keep_freed_memory`, which tunes glibc's malloc for the whole process, among
them) are opt-in, switched on by ``training.fast_paths.enable()``, which the ``advex``
command and the benchmarks call.
"""

from .engine import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .gradcheck import gradcheck, numerical_gradient
from .fast.allocator import keep_freed_memory
from .ops import *  # noqa: F401,F403  (every op, as a function of Tensors)
from .tensor import Tensor, as_tensor, values_of
from .transforms import grad, value_and_grad

__version__ = "0.1.0"
