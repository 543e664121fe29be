"""Every differentiable op, grouped by family; each op's forward and VJP sit together."""

from .elementwise import (
    abs,
    add,
    clip,
    divide,
    exp,
    log,
    log1mexp,
    maximum,
    minimum,
    multiply,
    negative,
    power,
    relu,
    sigmoid,
    sqrt,
    subtract,
    tanh,
    where,
)
from .linalg import linear, matmul
from .nn import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
    logistic_direction_loss,
    maxout,
    softmax,
    softmax_direction_loss,
)
from .reduce import logsumexp, max, mean, sum
from .shape import concatenate, getitem, reshape, stack, transpose

__all__ = [
    "abs", "add", "binary_cross_entropy_with_logits", "clip", "concatenate", "cross_entropy",
    "divide", "exp", "getitem", "linear", "log", "log1mexp", "log_softmax", "logistic_direction_loss", "logsumexp",
    "matmul", "max", "maximum",
    "maxout", "mean", "minimum", "multiply", "negative", "power", "relu", "reshape", "sigmoid",
    "softmax", "softmax_direction_loss", "sqrt", "stack", "subtract", "sum", "tanh", "transpose", "where",
]
