"""The contract every op's VJPs keep: they write into nothing they were given.

A VJP receives the upstream gradient ``g`` and closes over the op's inputs. Both are
shared: ``add`` hands one ``g`` to both of its inputs, and an input's data may feed
other ops, or be the user's own array. A VJP that wrote into either would corrupt a
gradient or a value elsewhere without a word, so each VJP of every op is called here
directly, with a read-only ``g`` (writing into it raises) and with snapshots of every
input, which must come back unchanged; its result must be an ndarray of floats that
reduces to the input's shape. Every name in ``minigrad.ops.__all__`` must have a case below,
so a new op cannot skip the check.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.broadcast import unbroadcast

RNG = np.random.default_rng(0)


def leaf(*shape, low=-2.0, high=2.0):
    return mg.Tensor(RNG.uniform(low, high, size=shape), requires_grad=True, dtype=np.float64)


LABELS = np.array([0, 2, 1])
CASES = {
    # name: a function of no arguments returning (output, inputs)
    "abs": lambda a=leaf(3, 2): (mg.abs(a), [a]),
    "add": lambda a=leaf(3, 2), b=leaf(2): (mg.add(a, b), [a, b]),
    "avg_pool2d": lambda a=leaf(2, 2, 5, 5): (mg.avg_pool2d(a, 3, stride=2, padding=1), [a]),
    "conv2d": lambda x=leaf(2, 3, 5, 6), w=leaf(4, 3, 3, 2), b=leaf(4): (mg.conv2d(x, w, b, stride=(2, 1), padding=1), [x, w, b]),
    "binary_cross_entropy_with_logits": lambda a=leaf(4): (mg.binary_cross_entropy_with_logits(a, np.array([0, 1, 1, 0])), [a]),
    "clip": lambda a=leaf(3, 2): (mg.clip(a, -1.0, 1.0), [a]),
    "concatenate": lambda a=leaf(2, 3), b=leaf(1, 3): (mg.concatenate([a, b, a]), [a, b]),
    "cross_entropy": lambda a=leaf(3, 4): (mg.cross_entropy(a, LABELS), [a]),
    "divide": lambda a=leaf(3, 2), b=leaf(3, 2, low=0.5): (mg.divide(a, b), [a, b]),
    "exp": lambda a=leaf(3, 2): (mg.exp(a), [a]),
    "getitem": lambda a=leaf(4, 2): (mg.getitem(a, np.array([0, 0, 3])), [a]),
    "linear": lambda x=leaf(3, 4), w=leaf(4, 2), b=leaf(2): (mg.linear(x, w, b), [x, w, b]),
    "log": lambda a=leaf(3, 2, low=0.5): (mg.log(a), [a]),
    "log1mexp": lambda a=leaf(3, 2, low=-3.0, high=-0.1): (mg.log1mexp(a), [a]),
    "log_softmax": lambda a=leaf(3, 4): (mg.log_softmax(a), [a]),
    "logistic_direction_loss": lambda a=leaf(4): (mg.logistic_direction_loss(a, np.array([0, 1, 1, 0])), [a]),
    "logsumexp": lambda a=leaf(3, 4): (mg.logsumexp(a, axis=1), [a]),
    "matmul": lambda a=leaf(2, 3, 4), b=leaf(4, 2): (mg.matmul(a, b), [a, b]),
    "max": lambda a=leaf(3, 4): (mg.max(a, axis=0), [a]),
    "max_pool2d": lambda a=leaf(2, 2, 5, 5): (mg.max_pool2d(a, 3, stride=2, padding=1), [a]),
    "maximum": lambda a=leaf(3, 2), b=leaf(2): (mg.maximum(a, b), [a, b]),
    "maxout": lambda a=leaf(3, 6): (mg.maxout(a, 3), [a]),
    "mean": lambda a=leaf(3, 4): (mg.mean(a, axis=1, keepdims=True), [a]),
    "minimum": lambda a=leaf(3, 2), b=leaf(2): (mg.minimum(a, b), [a, b]),
    "multiply": lambda a=leaf(3, 2), b=leaf(2): (mg.multiply(a, b), [a, b]),
    "negative": lambda a=leaf(3, 2): (mg.negative(a), [a]),
    "power": lambda a=leaf(3, 2, low=0.5), b=leaf(3, 2): (mg.power(a, b), [a, b]),
    "relu": lambda a=leaf(3, 2): (mg.relu(a), [a]),
    "quantise": lambda a=leaf(3, 2): (mg.quantise(a, 5), [a]),
    "reshape": lambda a=leaf(3, 2): (mg.reshape(a, 2, 3), [a]),
    "sigmoid": lambda a=leaf(3, 2): (mg.sigmoid(a), [a]),
    "softmax": lambda a=leaf(3, 4): (mg.softmax(a), [a]),
    "softmax_direction_loss": lambda a=leaf(3, 4): (mg.softmax_direction_loss(a, LABELS), [a]),
    "sqrt": lambda a=leaf(3, 2, low=0.5): (mg.sqrt(a), [a]),
    "stack": lambda a=leaf(3, 2), b=leaf(3, 2): (mg.stack([a, b, a], axis=1), [a, b]),
    "subtract": lambda a=leaf(3, 2), b=leaf(2): (mg.subtract(a, b), [a, b]),
    "sum": lambda a=leaf(3, 4): (mg.sum(a, axis=0), [a]),
    "tanh": lambda a=leaf(3, 2): (mg.tanh(a), [a]),
    "transpose": lambda a=leaf(2, 3, 4): (mg.transpose(a, 1, 2, 0), [a]),
    "where": lambda a=leaf(3, 2), b=leaf(2): (mg.where(RNG.random((3, 2)) < 0.5, a, b), [a, b]),
}


def test_every_op_has_a_case():
    assert sorted(CASES) == sorted(mg.ops.__all__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_vjps_write_into_neither_g_nor_the_inputs(name):
    out, inputs = CASES[name]()
    snapshots = [t.data.copy() for t in inputs]
    g = RNG.uniform(-1.0, 1.0, size=out.shape)
    g_before = g.copy()
    g.setflags(write=False)
    for parent, vjp in zip(out._parents, out._vjps):
        result = vjp(g)
        assert type(result) is np.ndarray  # an array, not a scalar, a Tensor or a deferred product
        assert result.dtype == np.float64
        assert unbroadcast(result, parent.shape).shape == parent.shape
        assert not any(np.shares_memory(result, t.data) for t in inputs)  # the engine may freeze it
    np.testing.assert_array_equal(g, g_before)
    for t, before in zip(inputs, snapshots):
        np.testing.assert_array_equal(t.data, before)
