"""Random composite expressions: the engine's gradients against float64 central differences.

Each op is gradchecked on its own in ``test_op_gradients.py``, but no single op makes
three contributions to one input, so a bug in how the engine *adds* contributions
(or in how it treats 0-d arrays, where NumPy arithmetic returns scalars) passes
every one of those tests. Here hypothesis writes small programs instead: a few inputs
of mutually broadcastable shapes (0-d and size-1 included), then a sequence of ops
whose operands are drawn from everything computed so far, so inputs and intermediate
results are reused by several ops. The loss is a weighted sum over *every* node,
which adds one more consumer to each. ``gradcheck`` compares every element of every
input's gradient with central differences in float64.

Only smooth ops appear (kinks such as relu or max would let a central difference
step across a corner; those ops have their own tests on kink-free grids), and
denominators, logs and square roots act on ``x * x + 1``, which is never near 0.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from strategies import GRAD_ATOL, GRAD_RTOL, floats


def _positive(t):
    return t * t + 1.0


def _broadcasts(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


# Each op: (how many operands, which operand shapes it accepts, how to apply it).
# ``param`` is a number drawn once per use, so that axis choices and the like are
# part of the program rather than of the evaluation.
def _binary(apply):
    return 2, lambda a, b: _broadcasts(a, b), apply


def _unary(apply, accepts=lambda s: True):
    return 1, accepts, apply


OPS = {
    "add": _binary(lambda a, b, p: a + b),
    "subtract": _binary(lambda a, b, p: a - b),
    "multiply": _binary(lambda a, b, p: a * b),
    "divide": _binary(lambda a, b, p: a / _positive(b)),
    "power": _binary(lambda a, b, p: _positive(a) ** mg.tanh(b)),
    "where": _binary(lambda a, b, p: mg.where(_mask(np.broadcast_shapes(a.shape, b.shape), p), a, b)),
    "matmul": (2, lambda a, b: len(a) >= 1 and len(b) >= 1 and len(a) <= 2 and len(b) <= 2
               and a[-1] == (b[0] if len(b) == 1 else b[-2]), lambda a, b, p: a @ b),
    "square": _unary(lambda a, p: a**2),
    "negative": _unary(lambda a, p: -a),
    "tanh": _unary(lambda a, p: mg.tanh(a)),
    "sigmoid": _unary(lambda a, p: mg.sigmoid(a)),
    "exp": _unary(lambda a, p: mg.exp(mg.tanh(a))),
    "log": _unary(lambda a, p: mg.log(_positive(a))),
    "sqrt": _unary(lambda a, p: mg.sqrt(_positive(a))),
    "sum": _unary(lambda a, p: a.sum(axis=_axis(a, p), keepdims=p % 2 == 0)),
    "mean": _unary(lambda a, p: a.mean(axis=_axis(a, p), keepdims=p % 2 == 0)),
    "logsumexp": _unary(lambda a, p: mg.logsumexp(a, axis=_axis(a, p), keepdims=p % 2 == 0)),
    "softmax": _unary(lambda a, p: mg.softmax(a, axis=-1), accepts=lambda s: len(s) >= 1),
    "log_softmax": _unary(lambda a, p: mg.log_softmax(a, axis=-1), accepts=lambda s: len(s) >= 1),
    "reshape_flat": _unary(lambda a, p: a.reshape(-1)),
    "transpose": _unary(lambda a, p: a.T),
    "index_first": _unary(lambda a, p: a[0], accepts=lambda s: len(s) >= 1),
    "index_repeated": _unary(lambda a, p: a[np.array([0, 0, a.shape[0] - 1])], accepts=lambda s: len(s) >= 1),
    "stack": (2, lambda a, b: a == b, lambda a, b, p: mg.stack([a, b], axis=p % (len(a.shape) + 1))),
    "concatenate": (2, lambda a, b: len(a) == len(b) >= 1 and a[1:] == b[1:], lambda a, b, p: mg.concatenate([a, b], axis=0)),
}


def _axis(a, p):
    """No axis (reduce everything, giving 0-d) or one of a's axes, chosen by ``p``."""
    return None if a.ndim == 0 or p % (a.ndim + 1) == a.ndim else p % (a.ndim + 1)


def _mask(shape, p):
    return np.random.default_rng(p).random(shape) < 0.5


def _run(program, inputs):
    """All nodes of ``program`` applied to ``inputs`` (Tensors): the inputs, then one per step."""
    nodes = list(inputs)
    for name, operands, param in program:
        nodes.append(OPS[name][2](*[nodes[i] for i in operands], param))
    return nodes


def _loss(program, weights):
    def f(*inputs):
        nodes = _run(program, inputs)
        total = None
        for node, w in zip(nodes, weights):
            term = (node * w).sum()
            total = term if total is None else total + term
        return total

    return f


@st.composite
def expressions(draw):
    """Inputs, a program over them, and the loss's weights (one array per node)."""
    n_inputs = draw(st.integers(1, 3))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=n_inputs, min_dims=0, max_dims=2, max_side=3)).input_shapes
    inputs = [draw(hnp.arrays(np.float64, s, elements=floats(-2, 2))) for s in shapes]
    nodes = [mg.Tensor(x, dtype=np.float64) for x in inputs]
    program = []
    for _ in range(draw(st.integers(1, 7))):
        name = draw(st.sampled_from(sorted(OPS)))
        arity, accepts, apply = OPS[name]
        first = draw(st.integers(0, len(nodes) - 1))
        if arity == 1:
            operands = (first,) if accepts(nodes[first].shape) else None
        else:
            partners = [j for j in range(len(nodes)) if accepts(nodes[first].shape, nodes[j].shape)]
            operands = (first, draw(st.sampled_from(partners))) if partners else None
        if operands is None:
            continue
        param = draw(st.integers(0, 5))
        program.append((name, operands, param))
        with mg.no_grad():
            nodes.append(apply(*[nodes[i] for i in operands], param))
    # Keep values moderate, so that central differences stay accurate to rtol.
    assume(all(np.all(np.abs(n.data) < 1e3) for n in nodes))
    rng = np.random.default_rng(len(program))
    weights = [rng.uniform(-1.0, 1.0, size=n.shape) for n in nodes]
    return inputs, program, weights


# Many more examples than the profile's default (ci 25, dev 40, thorough 500): each is a
# whole program, and a bug such as the 0-d one needs the right combination of reuses.
@settings(max_examples=8 * settings.default.max_examples, deadline=None)
@given(expressions())
def test_random_expressions_match_central_differences(expression):
    inputs, program, weights = expression
    note(f"shapes {[x.shape for x in inputs]}, program {program}")
    assert mg.gradcheck(_loss(program, weights), inputs, atol=GRAD_ATOL, rtol=GRAD_RTOL)


@settings(max_examples=2 * settings.default.max_examples, deadline=None)
@given(expressions())
def test_every_gradient_is_an_ndarray_of_its_inputs_shape(expression):
    """Through ``grad`` and through ``backward``, 0-d inputs get 0-d arrays, never NumPy scalars."""
    inputs, program, weights = expression
    loss = _loss(program, weights)
    grads = mg.grad(loss, argnums=tuple(range(len(inputs))))(*inputs)
    leaves = [mg.Tensor(x, requires_grad=True, dtype=np.float64) for x in inputs]
    loss(*leaves).backward()
    for x, g, leaf in zip(inputs, grads, leaves):
        for got in (g, leaf.grad):
            assert type(got) is np.ndarray and got.shape == x.shape and got.dtype == np.float64
        np.testing.assert_allclose(leaf.grad, g, rtol=1e-12, atol=1e-12)
