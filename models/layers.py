"""Layers: affine maps, activations, maxout, radial basis functions, dropout.

Weights are stored (in_features, out_features) so a layer computes ``x @ W + b`` on a
batch of row vectors. Every random initialisation takes a ``numpy.random.Generator``.

Initialisation schemes (``init=`` of :class:`Linear` and :class:`Maxout`):

* ``"glorot"``: uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010), keeps
  the variance of activations roughly constant through tanh/linear layers.
* ``"he"``: normal with std sqrt(2 / fan_in) (He et al. 2015), the same for ReLU layers,
  which zero half their inputs.
* ``"pytorch"``: uniform in +-1 / sqrt(fan_in), PyTorch's default for the weights of
  ``Linear`` and ``Conv2d`` (a smaller scale than He's; PyTorch draws the biases from the
  same range, here they start at zero like every bias).
* ``"zeros"``: all zero (fine for a single softmax/logistic layer, whose loss is convex).
* a number ``s``: uniform in +-s, e.g. the maxout paper's 0.005.
Biases start at zero.
"""

from __future__ import annotations

import contextlib

import numpy as np

import minigrad as mg
from minigrad.validation import integer_at_least, is_numeric

from .module import Module


def _generator(rng, what: str = "rng") -> np.random.Generator:
    """``rng`` if it is a Generator, else one seeded by it (an int, or None for fresh entropy).

    A ValueError naming ``what`` for anything NumPy cannot seed with, and for a bool,
    which it would take as the seed 1 or 0.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if not isinstance(rng, (bool, np.bool_)):
        try:
            return np.random.default_rng(rng)
        except (TypeError, ValueError):
            pass
    raise ValueError(f"{what} must be an int >= 0, a numpy Generator or None, got {rng!r}")


def positive_int(value, what: str) -> int:
    """``value`` as an int >= 1, or a ValueError naming ``what`` (4.7 units is not 4 units)."""
    return integer_at_least(value, 1, what)


def positive_ints(values, what: str) -> tuple:
    """``values`` (a list, a tuple or a 1-D integer array) as a tuple of ints >= 1, or a ValueError naming
    ``what`` or the entry. A string is refused, though it iterates as a sequence of its characters."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iu":
        values = values.tolist()
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{what} must be a list, a tuple or a 1-D array of integers >= 1, got {values!r}")
    return tuple(positive_int(value, f"{what}[{i}]") for i, value in enumerate(values))


def is_positive_number(value) -> bool:
    """Whether ``value`` is one real number (:func:`minigrad.validation.is_numeric`: never a bool), finite and > 0."""
    return is_numeric(value) and np.ndim(value) == 0 and bool(0 < value < np.inf)


def positive_number(value, what: str) -> float:
    """``value`` as a finite float > 0, or a ValueError naming ``what`` (True is not 1 here)."""
    if not is_positive_number(value):
        raise ValueError(f"{what} must be a finite number > 0, got {value!r}")
    return float(value)


def positive_or_none(value, what: str):
    """``value`` as a finite float > 0, or None; a ValueError naming ``what`` otherwise."""
    if value is not None and not is_positive_number(value):
        raise ValueError(f"{what} must be a finite number > 0 (or None), got {value!r}")
    return None if value is None else float(value)


def init_weights(shape, init, rng) -> np.ndarray:
    """A float32 weight array of ``shape`` = (fan_in, fan_out) drawn by scheme ``init``."""
    fan_in, fan_out = shape[0], shape[-1]
    rng = _generator(rng)
    if init == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=shape)
    elif init == "he":
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    elif init == "pytorch":
        limit = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-limit, limit, size=shape)
    elif init == "zeros":
        w = np.zeros(shape)
    elif is_positive_number(init):
        w = rng.uniform(-float(init), float(init), size=shape)
    else:
        raise ValueError(f"unknown init {init!r}: use 'glorot', 'he', 'pytorch', 'zeros' or a finite positive number "
                         "(uniform +-s)")
    return w.astype(np.float32)


class Linear(Module):
    """y = x @ W + b, with W of shape (in_features, out_features).

    ``max_norm``: if set, :meth:`apply_constraint` rescales every column of W (the
    weights into one output unit) whose L2 norm exceeds it back to that norm, as the
    maxout paper does after every update.
    """

    def __init__(self, in_features: int, out_features: int, *, init="glorot", max_norm=None, rng=None):
        in_features, out_features = positive_int(in_features, "Linear: in_features"), positive_int(out_features, "Linear: out_features")
        max_norm = positive_or_none(max_norm, "Linear: max_norm")
        self.in_features, self.out_features, self.max_norm = in_features, out_features, max_norm
        self.weight = mg.Tensor(init_weights((in_features, out_features), init, rng), requires_grad=True)
        self.bias = mg.Tensor(np.zeros(out_features, dtype=np.float32), requires_grad=True)

    def forward(self, x):
        return mg.linear(x, self.weight, self.bias)

    def apply_constraint(self) -> None:
        if self.max_norm is not None:
            clip_column_norms(self.weight.data, self.max_norm)


def clip_column_norms(w: np.ndarray, max_norm: float) -> None:
    """Rescale, in place, the columns of ``w`` whose L2 norm exceeds ``max_norm``."""
    norms = np.sqrt((w * w).sum(axis=0))
    too_long = norms > max_norm
    if too_long.any():
        w[:, too_long] *= (max_norm / norms[too_long]).astype(w.dtype)


class ReLU(Module):
    """y = max(x, 0) elementwise."""

    def forward(self, x):
        return mg.relu(x)


class Tanh(Module):
    """y = tanh(x) elementwise."""

    def forward(self, x):
        return mg.tanh(x)


class Quantise(Module):
    """Rounds its inputs to ``levels`` evenly spaced values (:func:`minigrad.quantise`): a defence that only masks.

    Its input gradient is zero almost everywhere, so gradient attacks see nothing to
    follow. ``straight_through`` (set by :func:`models.straight_through`, never saved)
    makes it pass gradients unchanged, as BPDA differentiates it.
    """

    def __init__(self, levels: int, *, what: str = "Quantise: levels"):
        self.levels = integer_at_least(levels, 2, what)  # what: the argument a classifier took levels as
        self.straight_through = False

    def forward(self, x):
        return mg.quantise(x, self.levels, straight_through=self.straight_through)


@contextlib.contextmanager
def straight_through(model):
    """Within the block, every :class:`Quantise` layer of ``model`` passes gradients unchanged (BPDA)."""
    layers = [(m, m.straight_through) for m in model.modules() if isinstance(m, Quantise)]
    if not layers:
        raise ValueError(f"straight_through: {type(model).__name__} has no Quantise layer to differentiate through")
    for layer, _ in layers:
        layer.straight_through = True
    try:
        yield model
    finally:
        for layer, before in layers:  # as each was, so that nested uses unwind correctly
            layer.straight_through = before


class Maxout(Module):
    """Maxout units (Goodfellow et al. 2013): y_u = max_k (x @ W + b)[k * units + u].

    One affine map to ``pieces * units`` columns; each unit outputs the largest of its
    ``pieces`` linear functions, so the layer is piecewise linear and learns its
    activation. The layer defines its columns *piece-major*: column ``k * units + u`` is
    piece k of unit u, so the first ``units`` columns are piece 0 of every unit, the
    next ``units`` piece 1, and so on. Piece k of every unit is then one contiguous
    block of columns, so the forward pass is a reshape and a maximum, with no gather:
    the affine map gives z of shape (N, pieces * units), reshaped to (N, pieces, units),
    and the maximum over axis 1 is the output (a tie goes to the lower piece). Model
    files of older versions grouped the columns by unit; :mod:`models.old_files`
    converts them as they load.
    """

    def __init__(self, in_features: int, units: int, pieces: int, *, init="glorot", max_norm=None, rng=None):
        self.units, self.pieces = positive_int(units, "Maxout: units"), positive_int(pieces, "Maxout: pieces")
        self.linear = Linear(in_features, pieces * units, init=init, max_norm=max_norm, rng=rng)
        for p in (self.linear.weight, self.linear.bias):  # drawn unit by unit, as earlier versions drew them,
            by_unit = p.data.reshape(*p.data.shape[:-1], units, pieces)  # so that a seed builds the same network
            p.data[...] = np.swapaxes(by_unit, -1, -2).reshape(p.data.shape)

    def forward(self, x):
        z = self.linear(x)  # (N, pieces * units)
        by_piece = mg.reshape(z, z.shape[0], self.pieces, self.units)  # [:, k, u]: piece k of unit u
        return mg.reshape(mg.maxout(by_piece, self.pieces, axis=1), z.shape[0], self.units)


class Dropout(Module):
    """Keeps each input with probability ``keep_prob`` and multiplies kept ones by ``scale``.

    ``scale=None`` means 1 / keep_prob (inverted dropout: the expected output equals
    the input, so nothing changes at test time); the maxout paper's inputs use
    keep_prob 0.8 with scale 1. Active only in training mode; in evaluation mode it is
    the identity. The mask is drawn from ``self.rng`` (a Generator), which
    :func:`training.fit` replaces with its own so that a seed fixes a whole run. Errors
    name ``what``: a classifier passes the argument it took the pair as.
    """

    def __init__(self, keep_prob: float, scale=None, *, rng=None, what: str = "Dropout"):
        if not is_positive_number(keep_prob) or keep_prob > 1:
            raise ValueError(f"{what}: keep_prob must be a number in (0, 1], got {keep_prob!r}")
        self.keep_prob = float(keep_prob)
        self.scale = 1.0 / self.keep_prob if scale is None else positive_number(scale, f"{what}: scale")
        self.rng = _generator(rng, f"{what}: rng")

    def set_rng(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def forward(self, x):
        if not self.training or (self.keep_prob == 1.0 and self.scale == 1.0):
            return x
        data = x.data if isinstance(x, mg.Tensor) else np.asarray(x)
        mask = self.rng.random(data.shape, dtype=np.float32) < self.keep_prob
        return x * (mask * np.float32(self.scale))


class RBF(Module):
    """Radial basis units: log p_c = -sum_i beta_ci (x_i - mu_ci)^2, one unit per class c.

    The layer outputs log p_c (what every classifier's ``logits`` method returns), which
    is not a logit in the log-odds sense: p_c = exp(log p_c), not sigmoid of it.

    ``centers`` mu (units, in_features) and precisions beta = exp(log_beta) (the exp keeps
    them positive without a constraint). Expanding the square turns the layer into
    three matrix products, so no (N, units, in_features) array of differences is made:

        sum_i beta_ci (x_i - mu_ci)^2 = (x*x) @ beta_c - 2 x @ (beta_c * mu_c) + sum_i beta_ci mu_ci^2

    The unit's p_c = exp(log p_c) is in (0, 1] and is 1 only at the center (in float32 the
    expanded square can round to a tiny negative distance there, so an output may
    exceed 1 by a few millionths): far from every
    center, every unit says "not my class", which is why RBF networks are not
    confidently fooled by a small linear step.

    ``max_beta``: if set, :meth:`apply_constraint` caps every precision at it (a floor
    on each unit's variance). Left free, the precision of a pixel that is almost
    constant within a class grows without bound (the variance shrinks towards 0), and
    the unit becomes hypersensitive to any change of that pixel, random noise included.
    """

    def __init__(self, in_features: int, units: int, *, centers=None, beta: float = 1.0, max_beta=None, rng=None):
        in_features, units = positive_int(in_features, "RBF: in_features"), positive_int(units, "RBF: units")
        beta, max_beta = positive_number(beta, "RBF: beta"), positive_or_none(max_beta, "RBF: max_beta")  # precisions
        rng = _generator(rng, "RBF: rng")
        if centers is None:
            centers = rng.uniform(0.0, 1.0, size=(units, in_features))
        centers = np.asarray(centers, dtype=np.float32)
        if centers.shape != (units, in_features):
            raise ValueError(f"RBF: centers must have shape {(units, in_features)}, got {centers.shape}")
        if not np.isfinite(centers).all():
            raise ValueError("RBF: centers hold NaN or inf")
        self.centers = mg.Tensor(centers.copy(), requires_grad=True)
        self.log_beta = mg.Tensor(np.full((units, in_features), np.log(beta), dtype=np.float32), requires_grad=True)
        self.max_beta = max_beta

    def apply_constraint(self) -> None:
        if self.max_beta is not None:
            np.minimum(self.log_beta.data, np.float32(np.log(self.max_beta)), out=self.log_beta.data)

    def forward(self, x):
        beta = mg.exp(self.log_beta)
        mu = self.centers
        return -((x * x) @ beta.T - 2.0 * (x @ (beta * mu).T) + (beta * mu * mu).sum(axis=1))


class Sequential(Module):
    """Applies its layers in order: ``Sequential(Linear(784, 10), ReLU())``."""

    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
