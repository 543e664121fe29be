"""Functional gradients, in the style of HIPS autograd and JAX.

``grad(f)(x)`` is the gradient of the scalar ``f(x)`` with respect to the array
``x``: exactly what an attack needs (``grad(lambda x: loss(model(x), y))(images)``).
It never reads or writes any tensor's ``.grad``, so crafting an adversarial example
inside a training step cannot pollute the weights' gradients, and it evaluates only
the VJPs on paths from the output to the requested inputs, so an input gradient
does not pay for the weight gradients.
"""

from __future__ import annotations

import numpy as np

from . import engine
from .tensor import Tensor
from .validation import is_integer


def value_and_grad(f, argnums=0):
    """``f``'s value and its gradient with respect to the arguments named by ``argnums``.

    ``value_and_grad(f, argnums)(*args)`` wraps each float array named by ``argnums``
    in a fresh ``Tensor(a, requires_grad=True, dtype=a.dtype)`` (a float64 array stays
    float64), passes the other arguments through unchanged, and calls ``f``, which must
    return a single-element Tensor. Returns ``(value, gradient)``: the value as a 0-d
    ndarray, and the gradient as an ndarray of the argument's shape and dtype (a tuple
    of them when ``argnums`` is a tuple). An argument that does not influence the
    value gets a zero gradient.
    """
    single = is_integer(argnums)
    positions = (int(argnums),) if single else _positions(argnums)

    def wrapped(*args):
        args = list(args)
        for i in positions:
            if not -len(args) <= i < len(args):
                raise IndexError(f"argnums names argument {i}, but only {len(args)} were given")
        resolved = [i % len(args) for i in positions]
        if len(set(resolved)) != len(resolved):
            raise ValueError(f"argnums names an argument twice: {argnums} (each would get only part of its gradient)")
        inputs = []
        for i in resolved:
            array = args[i].data if isinstance(args[i], Tensor) else np.asarray(args[i])
            if array.dtype.kind != "f":
                raise TypeError(f"argument {i} must be a floating-point array to differentiate, got dtype {array.dtype}")
            args[i] = Tensor(array, requires_grad=True, dtype=array.dtype)
            inputs.append(args[i])
        with engine.enable_grad():
            out = f(*args)
        if not isinstance(out, Tensor) or out.data.size != 1:
            got = f"shape {out.shape}" if isinstance(out, Tensor) else type(out).__name__
            raise TypeError(f"the function must return a single-element Tensor, got {got}")
        grads = {}
        if out.requires_grad:
            grads = {id(t): g for t, g in engine.backprop(out, np.ones_like(out.data), targets=inputs)}
        raw = [grads[id(t)] if id(t) in grads else np.zeros_like(t.data) for t in inputs]
        results = list(engine.private_arrays(raw))
        return out.data.reshape(()), results[0] if single else tuple(results)

    return wrapped


def _positions(argnums) -> tuple:
    """A tuple or list of argument positions as a tuple of ints; anything else (True, 1.0, ()) a TypeError naming argnums."""
    if not isinstance(argnums, (tuple, list)) or not argnums or not all(is_integer(i) for i in argnums):
        raise TypeError(f"argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    return tuple(int(i) for i in argnums)


def grad(f, argnums=0):
    """The gradient of the scalar-valued ``f`` with respect to ``argnums`` (see :func:`value_and_grad`).

    >>> import numpy as np, minigrad
    >>> w = np.array([1.0, -2.0], dtype=np.float32)
    >>> minigrad.grad(lambda x: (x * w).sum())(np.zeros(2, dtype=np.float32))
    array([ 1., -2.], dtype=float32)
    """
    value_and_gradient = value_and_grad(f, argnums)
    return lambda *args: value_and_gradient(*args)[1]
