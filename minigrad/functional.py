"""The functional interface: every op as a function of Tensors (re-exported by ``minigrad``).

>>> import numpy as np, minigrad
>>> logits = minigrad.Tensor(np.array([[2.0, 0.0, -2.0]]), requires_grad=True)
>>> loss = minigrad.cross_entropy(logits, np.array([0]))
>>> round(loss.item(), 4)
0.1429
"""

from .ops import *  # noqa: F401,F403
from .ops import __all__  # noqa: F401
