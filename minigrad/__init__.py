"""minigrad: a small reverse-mode automatic differentiation engine over NumPy arrays.

Read it in this order: :mod:`minigrad.tensor` (what a node holds),
:mod:`minigrad.engine` (how backward walks the graph), :mod:`minigrad.ops` (each op
with its vector-Jacobian product), :mod:`minigrad.transforms` (``grad``), and
:mod:`minigrad.gradcheck` (how we know the gradients are right).
"""

from . import functional
from .memory import keep_freed_memory
from .engine import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .functional import *  # noqa: F401,F403
from .gradcheck import gradcheck, numerical_gradient
from .tensor import Tensor
from .transforms import grad, value_and_grad

__version__ = "0.1.0"

keep_freed_memory()  # see minigrad/memory.py: large temporaries reuse mapped pages
