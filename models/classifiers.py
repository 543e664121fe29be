"""The classifiers: the paper's, and the conv nets that came after it; each a :class:`Module`.

Every classifier maps a batch of inputs (N, n_features) to logits (an image classifier
reshapes the rows to its ``input_shape`` first), and offers:

* ``model(x)``: logits as a Tensor (x a Tensor or an ndarray, float32).
* ``model.loss(logits, y, reduction="mean"|"sum"|"none")``: its own training loss,
  which the training loop uses by default.
* ``model.direction_loss(logits, y)``: the summed loss an attack differentiates. Its
  gradient points the way the loss's does, but does not vanish when the model is
  confident. Each classifier says explicitly which one it uses; a subclass that
  overrides ``loss`` keeps the softmax one until it overrides this too.
* ``model.predict_proba(x)`` / ``model.predict(x)`` / ``model.predict_with_proba(x)``:
  batched, in evaluation mode, without recording a graph, from ``model.logits_of(x)``
  (which refuses NaN inputs and outputs). ``predict`` takes the argmax of
  ``class_scores(logits)``, which are the logits unless a model says otherwise, never
  of probabilities that may all underflow. A model's *confidence* in a prediction is
  the probability of the predicted class (for the RBF network those entries are not
  normalised).
* ``model.config``: the constructor arguments, which :func:`models.save` stores.

A classifier of your own: subclass :class:`Classifier`, set ``n_features``,
``n_classes`` and ``config`` in ``__init__``, write ``logits``, and decorate the class
with :func:`register` so that :func:`models.load` can rebuild it by name. Override
``class_scores`` only if your logits do not order the classes (as LogisticRegression's
single logit does not). A file's config reaches the constructor as JSON data, so the
constructor is where it is checked: refuse a value of the wrong type (a bool for a
number, a string for a flag) with a ValueError naming the argument, rather than coerce
it; :func:`models.load` adds the file's name. The built-in classifiers do, through the
checks of :mod:`models.layers` (``positive_int``, ``positive_number`` and the like).
"""

from __future__ import annotations

import math

import numpy as np

import minigrad as mg

from minigrad.labels import check_labels
from minigrad.ops.nn import check_reduction, reduce_losses
from minigrad.validation import integer_at_least

from .conv import Conv2d, ConvMaxout, Flatten, output_size
from .layers import RBF, Dropout, Linear, Maxout, Quantise, ReLU, Sequential, Tanh, _generator, positive_int, positive_ints
from .module import Module
from .preprocessing import ContrastWhitening

CLASSIFIERS = {}


def n_classes_of(n_classes, what: str) -> int:
    """``n_classes`` as an int >= 2 (one class would be a constant), or a ValueError naming ``what``'s n_classes."""
    return integer_at_least(n_classes, 2, f"{what}: n_classes")


def check_batch_size(batch_size, what: str) -> int:
    """``batch_size`` as an int >= 1, or a ValueError naming ``what`` (0 or -1 would evaluate nothing)."""
    return positive_int(batch_size, f"{what}: batch_size")


def nonfinite_rows(x: np.ndarray) -> str | None:
    """The first rows of ``x`` that hold NaN or inf, as text ("[3, 7]"), or None if every entry is finite."""
    if np.isfinite(x).all():
        return None
    rows = np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))
    return f"{rows[:5].tolist()}{' ...' if len(rows) > 5 else ''}"


def register(cls):
    """Make a :class:`Classifier` subclass loadable by name; returns it (a class decorator).

    ``@models.register`` above the class, or ``models.register(MyModel)``. A model file
    stores the class *name* and ``config``, never code: :func:`models.load` rebuilds the
    model from the registry, so the module that defines the class must be imported
    (and so register it) before loading. Registering a class again under the same name
    replaces it (a notebook cell run twice); a different class under a built-in's name
    is refused.
    """
    if not (isinstance(cls, type) and issubclass(cls, Classifier)):
        raise TypeError(f"models.register takes a subclass of models.Classifier, got {cls!r}")
    name = cls.__name__
    known = CLASSIFIERS.get(name)
    if known is not None and known.__module__ == __name__ and cls is not known:
        raise ValueError(f"models.register: {name!r} is a built-in classifier; give your class another name")
    CLASSIFIERS[name] = cls
    return cls


class Classifier(Module):
    """Shared behaviour: input checks, softmax cross-entropy loss, batched predictions."""

    n_features: int
    n_classes: int
    #: What the model's inputs are, so that an eps can say its unit: pixels in [0, 1] for every
    #: classifier here; "preprocessed" for :class:`PreprocessedInputs`.
    input_units: str = "pixels"
    #: What ``logits`` returns, for axis labels: a softmax's logits; the RBF's log p_c.
    output_name: str = "logit"
    #: Whether the outputs have a gradient with respect to the inputs. Gradient attacks
    #: refuse a model without one (k-nearest neighbours), which is attacked by transfer.
    differentiable: bool = True
    #: For a model without a gradient that has an attack of its own, the attack's name (for error messages).
    own_attack: str | None = None

    def forward(self, x):
        x = x if isinstance(x, mg.Tensor) else mg.Tensor(x)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"{type(self).__name__} expects inputs of shape (N, {self.n_features}), got {x.shape}")
        return self.logits(x)

    def logits(self, x: mg.Tensor) -> mg.Tensor:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def loss(self, logits, y, reduction: str = "mean"):
        """Softmax cross-entropy of the logits against integer labels y."""
        return mg.cross_entropy(logits, y, reduction=reduction)

    def direction_loss(self, logits, y, reduction: str = "sum"):
        """The summed loss an attack differentiates: softmax cross-entropy, never-vanishing gradient.

        Its value is the summed cross-entropy; its gradient is a positive multiple of the
        true one per example, exact where a saturated float32 softmax loses it
        (:mod:`minigrad.ops.nn` derives it). It does not follow an overridden ``loss``:
        a subclass whose logits are still softmax logits keeps this never-vanishing
        direction, and one whose ``loss`` is something else overrides this as well
        (``RBFNetwork`` does).
        """
        return mg.softmax_direction_loss(logits, y, reduction)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Class probabilities from logits (ndarray): the softmax."""
        return mg.softmax(mg.Tensor(logits)).data

    def class_scores(self, logits: np.ndarray) -> np.ndarray:
        """(N, n_classes) numbers that order each row's classes as their probabilities do.

        The logits themselves, for a softmax. Predictions take their argmax, never that
        of ``predict_proba``, whose entries can all underflow to 0 (an RBF network far
        from every center) and then say "class 0" for every row.
        """
        return logits

    def logits_of(self, x, batch_size: int = 1000, what: str = "predict") -> np.ndarray:
        """The logits of ``x`` as an ndarray, in batches, in evaluation mode, without a graph.

        Refuses inputs with NaN or inf, and logits that are not finite (NaN or inf in
        the weights, or an overflow): an argmax over NaN would say "class 0" for every row.
        """
        what = f"{type(self).__name__}.{what}"
        batch_size = check_batch_size(batch_size, what)
        x = np.asarray(x, dtype=np.float32)
        bad = nonfinite_rows(x)
        if bad:
            raise ValueError(f"{what}: input rows {bad} hold NaN or inf")
        with self.evaluating(), mg.no_grad():
            parts = [self(x[i : i + batch_size]).data for i in range(0, len(x), batch_size)]
        logits = np.concatenate(parts) if parts else self(np.zeros((0, self.n_features), np.float32)).data
        bad = nonfinite_rows(logits)
        if bad:
            raise ValueError(f"{what}: the outputs for rows {bad} are NaN or inf, from finite inputs: "
                             "NaN or inf in the model's weights, or an overflow")
        return logits

    def predict_proba(self, x, batch_size: int = 1000) -> np.ndarray:
        """(N, n_classes) float32 probabilities (see :meth:`logits_of` for the checks)."""
        return self.probabilities(self.logits_of(x, batch_size, "predict_proba"))

    def predict(self, x, batch_size: int = 1000) -> np.ndarray:
        """(N,) int64 predicted classes: the argmax of :meth:`class_scores`."""
        return self.class_scores(self.logits_of(x, batch_size)).argmax(axis=1).astype(np.int64)

    def predict_with_proba(self, x, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """``(predict(x), predict_proba(x))`` from one forward pass, for measurements that need both."""
        logits = self.logits_of(x, batch_size)
        return self.class_scores(logits).argmax(axis=1).astype(np.int64), self.probabilities(logits)


@register
class LogisticRegression(Classifier):
    """p(y = 1 | x) = sigmoid(w . x + b), for labels in {0, 1}.

    ``model(x)`` returns the logits w . x + b of shape (N,); ``predict_proba`` returns
    (N, 2) = [1 - sigma, sigma]. With y in {-1, +1} (y = 2 * label - 1) the loss is
    softplus(-y (w . x + b)), which is the binary cross-entropy used here.
    """

    def __init__(self, n_features: int, *, init="zeros", seed=None):
        n_features = positive_int(n_features, "LogisticRegression: n_features")
        rng = _generator(seed, "LogisticRegression: seed")
        self.config = dict(n_features=n_features, init=init, seed=seed)
        self.n_features, self.n_classes = n_features, 2
        self.linear = Linear(n_features, 1, init=init, rng=rng)

    def logits(self, x):
        return self.linear(x).reshape(-1)

    def loss(self, logits, y, reduction: str = "mean"):
        y = check_labels(y, logits.shape[0], 2, what="labels for LogisticRegression")
        return mg.binary_cross_entropy_with_logits(logits, y, reduction=reduction)

    def direction_loss(self, logits, y, reduction: str = "sum"):
        """Binary cross-entropy whose gradient is its sign, 1 - 2t per example (never 0)."""
        y = check_labels(y, logits.shape[0], 2, what="labels for LogisticRegression")
        return mg.logistic_direction_loss(logits, y, reduction)

    def probabilities(self, logits):
        p = mg.sigmoid(mg.Tensor(logits)).data
        return np.stack([1 - p, p], axis=1)

    def class_scores(self, logits):
        """[0, w.x + b]: class 1 wins where the logit is positive, as where sigma > 0.5."""
        return np.stack([np.zeros_like(logits), logits], axis=1)


@register
class SoftmaxRegression(Classifier):
    """Shallow softmax classifier: p(y | x) = softmax(x W + b)."""

    def __init__(self, n_features: int = 784, n_classes: int = 10, *, init="zeros", seed=None):
        name = type(self).__name__  # a subclass (models.LinearSVM) names itself in errors
        n_features, n_classes = positive_int(n_features, f"{name}: n_features"), n_classes_of(n_classes, name)
        rng = _generator(seed, f"{name}: seed")
        self.config = dict(n_features=n_features, n_classes=n_classes, init=init, seed=seed)
        self.n_features, self.n_classes = n_features, n_classes
        self.linear = Linear(n_features, n_classes, init=init, rng=rng)

    def logits(self, x):
        return self.linear(x)


@register
class MLP(Classifier):
    """A fully connected network, ``sizes = (n_features, hidden..., n_classes)``.

    Hidden layers use ``activation`` ("relu" or "tanh"); the last layer is linear.
    """

    ACTIVATIONS = {"relu": ReLU, "tanh": Tanh}

    def __init__(self, sizes=(784, 1200, 1200, 10), activation: str = "relu", *, init="he", seed=None):
        sizes = positive_ints(sizes, "MLP: sizes")
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least (n_features, n_classes), got sizes={sizes}")
        if not isinstance(activation, str) or activation not in self.ACTIVATIONS:
            raise ValueError(f"MLP activation must be one of {sorted(self.ACTIVATIONS)}, got {activation!r}")
        rng = _generator(seed, "MLP: seed")
        self.config = dict(sizes=list(sizes), activation=activation, init=init, seed=seed)
        self.n_features, self.n_classes = sizes[0], sizes[-1]
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(sizes) - 2
            layers.append(Linear(fan_in, fan_out, init="glorot" if last else init, rng=rng))
            if not last:
                layers.append(self.ACTIVATIONS[activation]())
        self.net = Sequential(*layers)

    def logits(self, x):
        return self.net(x)


@register
class MaxoutNetwork(Classifier):
    """The paper's maxout network: two maxout layers and a softmax, with dropout and max-norm.

    Defaults follow the maxout paper's permutation-invariant MNIST recipe: 784 ->
    maxout(240 units x 5 pieces) -> maxout(240 x 5) -> softmax(10); weights uniform in
    +-0.005; every weight column's L2 norm kept <= 1.9365 (``constrain()``, called by
    the training loop after each update); dropout given as (keep_prob, scale) for the
    inputs of each of the three layers: the pixels kept with probability 0.8 and not
    rescaled (as pylearn2 does: in training the first layer sees 0.8 times the input on
    average, at test time all of it), the hidden inputs kept with 0.5 and scaled by 2. ``dropout=None`` turns
    it off.
    """

    def __init__(
        self,
        n_features: int = 784,
        hidden=(240, 240),
        pieces: int = 5,
        n_classes: int = 10,
        dropout=((0.8, 1.0), (0.5, None), (0.5, None)),
        *,
        init=0.005,
        max_norm=1.9365,
        seed=None,
    ):
        hidden = positive_ints(hidden, "MaxoutNetwork: hidden")
        n_classes = n_classes_of(n_classes, "MaxoutNetwork")
        dropout = self._dropout_pairs(dropout, len(hidden) + 1)
        rng = _generator(seed, "MaxoutNetwork: seed")
        self.config = dict(
            n_features=n_features, hidden=list(hidden), pieces=pieces, n_classes=n_classes,
            dropout=dropout, init=init, max_norm=max_norm, seed=seed,
        )
        self.n_features, self.n_classes = n_features, n_classes
        layers = []
        fan_in = n_features
        for i, units in enumerate(hidden + (None,)):
            if dropout is not None:
                keep_prob, scale = dropout[i]
                layers.append(Dropout(keep_prob, scale, rng=rng, what=f"MaxoutNetwork: dropout[{i}]"))
            if units is None:
                layers.append(Linear(fan_in, n_classes, init=init, max_norm=max_norm, rng=rng))
            else:
                layers.append(Maxout(fan_in, units, pieces, init=init, max_norm=max_norm, rng=rng))
                fan_in = units
        self.net = Sequential(*layers)

    @staticmethod
    def _dropout_pairs(dropout, n_layers: int) -> list | None:
        """``dropout`` as ``n_layers`` lists [keep_prob, scale] (the Dropout layers check the numbers), or None."""
        if dropout is None:
            return None
        pairs = isinstance(dropout, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in dropout)
        if not pairs or len(dropout) != n_layers:
            raise ValueError(f"MaxoutNetwork: dropout needs one (keep_prob, scale) pair per layer ({n_layers}), "
                             f"got {dropout!r}")
        return [list(pair) for pair in dropout]

    def logits(self, x):
        return self.net(x)


@register
class RBFNetwork(Classifier):
    """A shallow RBF network: p_c(x) = exp(-sum_i beta_ci (x_i - mu_ci)^2), one unit per class.

    Its ``logits`` are log p_c (``output_name``), not log-odds.

    The p_c are *not* normalised across classes: each unit answers "is this my class?"
    on its own, trained with one-vs-rest binary cross-entropy on p_c, and ``predict``
    is the argmax of p_c. ``predict_proba`` returns the p_c themselves, so the
    confidence (the top p_c) can be far below 1 / n_classes: far from all centers,
    the model says it does not know.

    Initialisation: centers uniform in [0, 1] unless given; :meth:`from_data` puts
    them at the class means, which trains far more easily (the gradient of a unit
    vanishes for inputs far from its center, so a badly placed center never moves).
    Precisions start at ``beta`` and are capped at ``max_beta`` after every update
    (see :class:`models.RBF`). Without a cap, the precisions of near-constant pixels
    grow without bound and the network becomes hypersensitive to small noise; the
    default cap trades a little clean error for calm under noise (the sweep that chose
    it is in ``docs/measurements.md``; ``advex reproduce`` measures both, as rbf_clean
    and rbf_noise).
    """

    output_name = "log p_c"

    def __init__(self, n_features: int = 784, n_classes: int = 10, *, beta: float = 0.05, max_beta=0.2,
                 centers=None, seed=None):
        n_classes = n_classes_of(n_classes, "RBFNetwork")
        rng = _generator(seed, "RBFNetwork: seed")
        self.config = dict(n_features=n_features, n_classes=n_classes, beta=beta, max_beta=max_beta, seed=seed)
        self.n_features, self.n_classes = n_features, n_classes
        self.rbf = RBF(n_features, n_classes, centers=centers, beta=beta, max_beta=max_beta, rng=rng)

    @classmethod
    def from_data(cls, X, y, *, beta: float = 0.05, max_beta=0.2, seed=None) -> "RBFNetwork":
        """An RBF network whose centers start at the mean input of each class."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or not len(X):
            raise ValueError(f"RBFNetwork.from_data: X must have shape (N, features) with N >= 1, got {X.shape}")
        y = check_labels(y, len(X), None, what="RBFNetwork.from_data: y")
        n_classes = int(y.max()) + 1
        counts = np.bincount(y, minlength=n_classes)
        if (counts == 0).any():
            raise ValueError(f"RBFNetwork.from_data: classes {np.flatnonzero(counts == 0).tolist()} have no examples")
        means = np.stack([X[y == c].sum(axis=0, dtype=np.float64) for c in range(n_classes)]) / counts[:, None]
        return cls(X.shape[1], n_classes, beta=beta, max_beta=max_beta, centers=means, seed=seed)

    def logits(self, x):
        return self.rbf(x)

    def loss(self, logits, y, reduction: str = "mean"):
        """One-vs-rest binary cross-entropy on p_c = exp(out_c), summed over classes.

        Here ``logits`` are the RBF's outputs out_c = log p_c (not log-odds):
        -log p_y - sum_{c != y} log(1 - p_c), with log(1 - p_c) = log1mexp(out_c),
        exact even when p_c is tiny. For the wrong
        classes p_c is capped at 1 - 1e-6 (the logit at -1e-6), so an input sitting on
        a wrong class's center costs log(1e6) instead of infinity.
        """
        check_reduction(reduction)
        y = check_labels(y, logits.shape[0], self.n_classes, what="labels for RBFNetwork")
        is_target = np.zeros(logits.shape, dtype=bool)
        is_target[np.arange(len(y)), y] = True
        log_not_c = mg.log1mexp(mg.minimum(logits, -1e-6))
        return reduce_losses(-mg.where(is_target, logits, log_not_c).sum(axis=1), reduction, "RBFNetwork.loss")

    def direction_loss(self, logits, y, reduction: str = "sum"):
        """The RBF's own loss, summed: it does not saturate the way a softmax does.

        The true class's term, -logit_y, has derivative -1 at any distance from its
        center, and d logit_y / dx = -2 beta_y (x - mu_y): the gradient vanishes only on
        the center itself (the wrong classes' terms, p_c / (1 - p_c), may underflow).
        """
        return self.loss(logits, y, reduction=reduction)

    def probabilities(self, logits):
        return np.exp(logits)


class ImageClassifier(Classifier):
    """A classifier of images that still takes rows ``(N, C * H * W)``, like every classifier.

    It knows its ``input_shape`` (C, H, W) and reshapes the rows itself, so ``fit``, the
    attacks and the figures need nothing new; a subclass builds ``self.net`` on maps.
    With ``preprocessing="gcn_zca"`` the rows first pass through a
    :class:`models.ContrastWhitening` layer (``self.preprocess``, fitted with
    ``model.preprocess.fit(X_train)``): the model still takes pixels, and
    :meth:`on_preprocessed` is the same network fed preprocessed rows, for an eps in
    the preprocessed units of the maxout paper's CIFAR-10 results.
    """

    PREPROCESSING = {None: None, "gcn_zca": ContrastWhitening}
    preprocess = None  # the preprocessing layer, if any

    def _set_shapes(self, input_shape, n_classes, what: str) -> tuple:
        """Check and keep ``input_shape`` and ``n_classes``; return the checked pair."""
        input_shape = positive_ints(input_shape, f"{what}: input_shape")
        if len(input_shape) != 3:
            raise ValueError(f"{what}: input_shape must be (C, H, W), got {input_shape}")
        self.input_shape, self.n_classes = input_shape, n_classes_of(n_classes, what)
        self.n_features = math.prod(input_shape)  # Python ints: np.prod would wrap around for a huge shape
        return self.input_shape, self.n_classes

    def _set_preprocessing(self, kind, what: str) -> None:
        """``self.preprocess``: the layer ``kind`` names (None: no preprocessing)."""
        if not (kind is None or isinstance(kind, str)) or kind not in self.PREPROCESSING:
            raise ValueError(f"{what}: preprocessing must be one of {list(self.PREPROCESSING)}, got {kind!r}")
        layer = self.PREPROCESSING[kind]
        self.preprocess = None if layer is None else layer(self.n_features)

    def logits(self, x):
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.logits_from_preprocessed(x)

    def logits_from_preprocessed(self, z):
        """The logits of rows that have been preprocessed already (all rows, without preprocessing)."""
        return self.net(z.reshape(z.shape[0], *self.input_shape))

    def on_preprocessed(self) -> "PreprocessedInputs":
        """This network as a classifier of preprocessed rows (same weights): attack it for an eps in their units."""
        if self.preprocess is None:
            raise ValueError(f"{type(self).__name__}.on_preprocessed: this model has no preprocessing layer")
        return PreprocessedInputs(self)


class PreprocessedInputs(Classifier):
    """An image classifier with preprocessing, fed rows that are preprocessed already.

    It shares the model's layers (and so its weights and mode): an attack on it perturbs
    by eps in the preprocessed units, as the maxout paper's CIFAR-10 eps is. Preprocessed
    rows are not pixels, so nothing clips them to [0, 1]: pass ``clip=None``. It has no
    file of its own: save the model.

    >>> import numpy as np, attacks, models
    >>> model = models.ConvMaxoutNetwork("tiny", input_shape=(3, 8, 8), n_classes=3, preprocessing="gcn_zca", seed=0)
    >>> x = np.random.default_rng(0).random((20, 3 * 8 * 8), dtype=np.float32)
    >>> z = model.preprocess.fit(x)(x).data                  # the rows in the paper's units
    >>> z_adv = attacks.fgsm(model.on_preprocessed(), z, np.arange(20) % 3, 0.1, clip=None)
    >>> float(np.abs(z_adv - z).max().round(6))             # eps = 0.1 in those units
    0.1
    """

    input_units = "preprocessed"

    def __init__(self, model: ImageClassifier):
        self.model = model
        self.n_features, self.n_classes, self.input_shape = model.n_features, model.n_classes, model.input_shape

    def logits(self, z):
        return self.model.logits_from_preprocessed(z)

    def loss(self, logits, y, reduction: str = "mean"):
        return self.model.loss(logits, y, reduction)

    def direction_loss(self, logits, y, reduction: str = "sum"):
        return self.model.direction_loss(logits, y, reduction)

    def probabilities(self, logits):
        return self.model.probabilities(logits)

    def class_scores(self, logits):
        return self.model.class_scores(logits)


@register
class SmallConvNet(ImageClassifier):
    """The MNIST convolutional network of Wong, Rice & Kolter (2020, "Fast is better than free").

    conv 1->16 (4x4, stride 2, padding 1), ReLU, conv 16->32 (4x4, stride 2, padding 1),
    ReLU, linear 32*7*7 = 1568 -> 100, ReLU, linear 100 -> 10: 28x28 images become
    14x14 then 7x7 maps. Like every classifier it takes rows ``(N, n_features)``; it
    reshapes them to ``input_shape`` ``(C, H, W)`` itself, so the attacks and ``fit``
    need nothing new. Other input shapes size the first dense layer to fit.

    ``quantise=L`` puts a :class:`models.Quantise` layer of L levels in front: the
    robustness lab's deliberately masked model (zero input gradients, no robustness).
    ``init``: He's scheme (the last layer Glorot's) by default; ``"pytorch"`` is PyTorch's
    scheme for the weights, which Wong et al.'s network was trained with and fast
    adversarial training needs (``docs/measurements.md``); biases start at zero.
    """

    def __init__(self, input_shape=(1, 28, 28), n_classes: int = 10, *, quantise=None, init="he", seed=None):
        input_shape, n_classes = self._set_shapes(input_shape, n_classes, "SmallConvNet")
        masking = [] if quantise is None else [Quantise(quantise, what="SmallConvNet: quantise")]
        rng = _generator(seed, "SmallConvNet: seed")
        self.config = dict(input_shape=list(input_shape), n_classes=n_classes, seed=seed)
        # A setting at its default stays out of the config, so a model built as before the setting existed has
        # the config of older files and checkpoints (a checkpoint resumes only into a model of its config).
        for key, value, default in (("quantise", quantise, None), ("init", init, "he")):
            if value != default:
                self.config[key] = value
        channels, height, width = input_shape
        for _ in range(2):
            height, width = output_size(height, 4, 2, 1), output_size(width, 4, 2, 1)
        if height < 1 or width < 1:
            raise ValueError(f"SmallConvNet: images of {input_shape[1:]} are too small for two 4x4 stride-2 convolutions")
        self.net = Sequential(
            *masking,
            Conv2d(channels, 16, 4, stride=2, padding=1, init=init, rng=rng), ReLU(),
            Conv2d(16, 32, 4, stride=2, padding=1, init=init, rng=rng), ReLU(),
            Flatten(), Linear(32 * height * width, 100, init=init, rng=rng), ReLU(),
            Linear(100, n_classes, init="glorot" if init == "he" else init, rng=rng),
        )


#: The conv maxout networks: each conv layer is (channels, kernel, padding, pool, pool stride),
#: all with ``conv_pieces`` pieces, then a dense maxout layer of ``units`` x ``unit_pieces``.
CONV_MAXOUT_PRESETS = {
    # The maxout paper's CIFAR-10 network (pylearn2 scripts/papers/maxout/cifar10.yaml).
    "paper": dict(conv=((96, 8, 4, 4, 2), (192, 8, 3, 4, 2), (192, 5, 3, 2, 2)), conv_pieces=2,
                  kernel_norms=(0.9, 1.9365, 1.9365), units=500, unit_pieces=5),
    # The same shape of network with a third of the channels and 200 dense units, to train on a CPU.
    "cpu": dict(conv=((32, 8, 4, 4, 2), (64, 8, 3, 4, 2), (64, 5, 3, 2, 2)), conv_pieces=2,
                kernel_norms=(0.9, 1.9365, 1.9365), units=200, unit_pieces=5),
    # A tiny one for tests and --quick runs.
    "tiny": dict(conv=((8, 5, 2, 2, 2), (8, 3, 1, 2, 2)), conv_pieces=2, kernel_norms=(0.9, 1.9365), units=16, unit_pieces=2),
}


@register
class ConvMaxoutNetwork(ImageClassifier):
    """The maxout paper's convolutional maxout network, as presets (:data:`CONV_MAXOUT_PRESETS`).

    Each conv maxout layer convolves to ``channels * pieces`` maps, takes the maximum
    over each group of pieces, then max-pools (:class:`models.ConvMaxout`); a dense
    maxout layer and a softmax follow. As in the paper's recipe: weights uniform in
    +-0.005, max-norm on every kernel and column (``kernel_norms`` for the conv layers,
    1.9365 for the dense ones), and with ``dropout`` the inputs kept with probability
    0.8 (unscaled, as pylearn2) and every hidden layer's inputs with 0.5 (scaled by 2).
    ``"paper"`` is the CIFAR-10 network. One departure: pylearn2's cuda-convnet pooling
    rounds the number of windows up (maps of 16, 7 and 5 pixels, 4,800 inputs to the
    dense layer), ours rounds down as PyTorch does (15, 6 and 4 pixels, 3,072 inputs).
    ``"cpu"`` keeps its shape with a third of the channels and 200 dense units, to train
    on a CPU (``docs/measurements.md`` has the costs of both); ``"tiny"`` is for tests.
    Like every classifier it takes rows ``(N, C * H * W)``; ``preprocessing="gcn_zca"``
    puts the paper's GCN and ZCA whitening in front (see :class:`ImageClassifier`).
    """

    def __init__(self, preset: str = "cpu", input_shape=(3, 32, 32), n_classes: int = 10, *, dropout: bool = True,
                 preprocessing=None, seed=None):
        if not isinstance(preset, str) or preset not in CONV_MAXOUT_PRESETS:
            raise ValueError(f"ConvMaxoutNetwork: preset must be one of {sorted(CONV_MAXOUT_PRESETS)}, got {preset!r}")
        if not isinstance(dropout, (bool, np.bool_)):  # "no" would be true
            raise ValueError(f"ConvMaxoutNetwork: dropout must be True or False, got {dropout!r}")
        input_shape, n_classes = self._set_shapes(input_shape, n_classes, "ConvMaxoutNetwork")
        self._set_preprocessing(preprocessing, "ConvMaxoutNetwork")
        rng = _generator(seed, "ConvMaxoutNetwork: seed")
        self.config = dict(preset=preset, input_shape=list(input_shape), n_classes=n_classes, dropout=bool(dropout),
                           seed=seed)
        if preprocessing is not None:  # left out when absent, as SmallConvNet leaves out its defaults
            self.config["preprocessing"] = preprocessing
        settings = CONV_MAXOUT_PRESETS[preset]
        channels, height, width = input_shape
        layers = [Dropout(0.8, 1.0, rng=rng)] if dropout else []
        for i, ((out, kernel, padding, pool, stride), norm) in enumerate(zip(settings["conv"], settings["kernel_norms"])):
            if i and dropout:
                layers.append(Dropout(0.5, rng=rng))
            layers.append(ConvMaxout(channels, out, settings["conv_pieces"], kernel, pool=pool, pool_stride=stride,
                                     padding=padding, max_norm=norm, rng=rng))
            height = output_size(output_size(height, kernel, 1, padding), pool, stride, 0)
            width = output_size(output_size(width, kernel, 1, padding), pool, stride, 0)
            if height < 1 or width < 1:
                raise ValueError(f"ConvMaxoutNetwork: images of {input_shape[1:]} are too small for the {preset!r} preset")
            channels = out
        layers += [Flatten()] + ([Dropout(0.5, rng=rng)] if dropout else [])
        layers.append(Maxout(channels * height * width, settings["units"], settings["unit_pieces"], init=0.005,
                             max_norm=1.9365, rng=rng))
        layers += [Dropout(0.5, rng=rng)] if dropout else []
        layers.append(Linear(settings["units"], n_classes, init=0.005, max_norm=1.9365, rng=rng))
        self.net = Sequential(*layers)
