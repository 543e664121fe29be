"""The fast path of minigrad.fast.layout_reshape against the textbook reshape of minigrad.ops.shape.

Both give the same values and gradients, to the bit; only the fast one lays the gradient out in memory as
its input is laid out (a conv layer's maps: an (N, C, H, W) view of channels-last memory).
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.fast import layout_reshape
from minigrad.ops import shape as textbook


def channels_last_maps(dtype=np.float32):
    """(3, 4, 5, 5) maps that live channels-last in memory, as conv2d's output does."""
    return np.arange(3 * 5 * 5 * 4, dtype=dtype).reshape(3, 5, 5, 4).transpose(0, 3, 1, 2) / 50 - 1


def gradient(reshape, x, *shape):
    """d/dx of sum(w * relu(reshape(x) ...)) with fixed weights: every element's gradient differs."""
    weights = np.linspace(-1.0, 2.0, x.size).astype(x.dtype).reshape(x.shape[0], -1)
    return mg.value_and_grad(lambda t: (mg.relu(reshape(t, *shape)).reshape(x.shape[0], -1) * weights).sum())(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, -1), ((3, 100),), ([3, 4, 25],), (300,)])
def test_fast_reshape_gives_the_textbook_values_and_gradients(dtype, shape):
    x = channels_last_maps(dtype)
    fast, slow = (reshape(mg.Tensor(x, dtype=dtype), *shape) for reshape in (layout_reshape.reshape, textbook.reshape))
    assert fast.shape == slow.shape and fast.dtype == slow.dtype == dtype
    np.testing.assert_array_equal(fast.data, slow.data)
    (fast_value, fast_grad), (slow_value, slow_grad) = gradient(layout_reshape.reshape, x, *shape), \
        gradient(textbook.reshape, x, *shape)
    assert fast_value == slow_value and fast_grad.dtype == slow_grad.dtype == dtype
    np.testing.assert_array_equal(fast_grad, slow_grad)


def test_only_the_fast_reshape_keeps_the_gradient_in_the_inputs_layout():
    x = channels_last_maps()
    assert not x.flags.c_contiguous
    assert gradient(layout_reshape.reshape, x, 3, -1)[1].strides == x.strides
    assert gradient(textbook.reshape, x, 3, -1)[1].flags.c_contiguous


def test_a_c_ordered_input_gets_its_gradient_as_the_textbook_gives_it():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    grad = mg.grad(lambda t: (layout_reshape.reshape(t, 4, 3) * np.arange(12.0, dtype=np.float32).reshape(4, 3)).sum())(x)
    np.testing.assert_array_equal(grad, np.arange(12.0).reshape(3, 4))


def test_rebinding_minigrad_ops_reshape_reroutes_tensor_reshape(monkeypatch):
    """Tensor.reshape (models' Flatten calls it) looks minigrad.ops.reshape up at each call; minigrad.reshape
    (models.Maxout calls it) is a name of its own: a switch rebinds both."""
    x = channels_last_maps()
    monkeypatch.setattr(mg.ops, "reshape", layout_reshape.reshape)
    monkeypatch.setattr(mg, "reshape", layout_reshape.reshape)
    assert mg.grad(lambda t: t.reshape(3, -1).sum())(x).strides == x.strides
    assert mg.grad(lambda t: mg.reshape(t, 3, -1).sum())(x).strides == x.strides


def test_the_fast_reshape_refuses_what_the_textbook_refuses():
    for reshape in (layout_reshape.reshape, textbook.reshape):
        with pytest.raises(ValueError, match="cannot reshape array of size 12 into shape"):
            reshape(mg.Tensor(np.ones((3, 4))), 5, 3)
