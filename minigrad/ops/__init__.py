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
    quantise,
    relu,
    sigmoid,
    sqrt,
    subtract,
    tanh,
    where,
)
from .conv import avg_pool2d, conv2d, max_pool2d
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
    "abs", "add", "avg_pool2d", "binary_cross_entropy_with_logits", "clip", "concatenate", "conv2d", "cross_entropy",
    "divide", "exp", "getitem", "linear", "log", "log1mexp", "log_softmax", "logistic_direction_loss", "logsumexp",
    "matmul", "max", "max_pool2d", "maximum",
    "maxout", "mean", "minimum", "multiply", "negative", "power", "quantise", "relu", "reshape", "sigmoid",
    "softmax", "softmax_direction_loss", "sqrt", "stack", "subtract", "sum", "tanh", "transpose", "where",
]
