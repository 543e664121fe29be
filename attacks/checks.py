"""Argument checks shared by the attacks, so every attack fails the same clear way.

The functions that take a ``function`` argument put its name first in their messages
(``"fgsm: eps must be ..."``), so that an error raised deep in a measurement still
says which call it came from.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.labels import check_labels
from minigrad.validation import is_numeric


def _prefix(function) -> str:
    return "" if function is None else f"{function}: "


def array_of(x, dtype=None) -> np.ndarray:
    """``x`` as an array: a Tensor's values (an attack works on arrays, outside any graph), else ``np.asarray(x)``.

    NumPy makes a Tensor a 0-d array of dtype object, which every later check would misname.
    """
    return np.asarray(mg.values_of(x), dtype=dtype)


def check_inputs(model, x, clip, function: str | None = None) -> np.ndarray:
    """x as a float array of shape (N, model.n_features) with no NaN or inf, inside ``clip`` if given.

    ``x`` may be a Tensor: its values are checked. ``model=None`` checks a batch of any
    shape (the noise baseline has no model). float16 is refused: its rounding of
    ``x + eps`` (up to 2**-11 near 1) would break the L-infinity bound every attack
    promises, which holds to float32 rounding.
    """
    where = _prefix(function)
    x = array_of(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{where}x must be a floating-point array, got dtype {x.dtype}")
    if x.dtype.itemsize < 4:
        raise TypeError(f"{where}x has dtype {x.dtype}, too coarse for an attack's L-inf bound (float32 rounding): "
                        "pass x.astype(np.float32)")
    if model is not None and (x.ndim != 2 or x.shape[1] != model.n_features):
        raise ValueError(f"{where}x must have shape (N, {model.n_features}) for this model, got {x.shape}")
    if x.size and not np.isfinite(x).all():
        raise ValueError(f"{where}x contains NaN or inf")
    clip = check_clip(clip, function)
    if clip is not None:
        low, high = (np.asarray(c, dtype=x.dtype) for c in clip)
        if x.size and (x.min() < low or x.max() > high):
            hint = ("; x is in the model's preprocessed units, which have no valid range: pass clip=None"
                    if getattr(model, "input_units", "pixels") == "preprocessed" else "")
            raise ValueError(f"{where}x has values in [{x.min():g}, {x.max():g}], outside clip=({clip[0]:g}, {clip[1]:g})"
                             + hint)
    return x


def check_clip(clip, function: str | None = None):
    """``clip`` as None or a pair of floats (low, high) with low < high, or an error naming ``function`` and clip."""
    if clip is None:
        return None
    where = _prefix(function)
    if not isinstance(clip, (tuple, list, np.ndarray)) or len(clip) != 2 or not all(is_numeric(c) and np.ndim(c) == 0
                                                                                   for c in clip):
        raise TypeError(f"{where}clip must be None or a pair of numbers (low, high), got {clip!r}")
    low, high = float(clip[0]), float(clip[1])
    if not low < high:
        raise ValueError(f"{where}clip must be (low, high) with low < high, got {clip!r}")
    return low, high


def real_number(value, what: str) -> float:
    """``value`` as a float if it is a real number (a bool or a string is not), else a TypeError naming ``what``.

    Only the type is checked here: each caller checks its own range, naming it.
    """
    if not (is_numeric(value) and np.ndim(value) == 0):
        raise TypeError(f"{what} must be a number, got {value!r}")
    return float(value)


def _numbers(values, what: str) -> np.ndarray:
    """``values`` (a number, or a sequence or array of them) as a float64 array, or a TypeError naming ``what``.

    A bool, a string, None or a complex number is no number here (``True`` would run as 1.0,
    ``"0.1"`` as 0.1), nor is a ragged or nested list of them.
    """
    if isinstance(values, (list, tuple)):
        items = np.empty(len(values), dtype=object)
        items[:] = list(values)  # one level: a nested list is an item that is no number
        numeric = all(is_numeric(v) and np.ndim(v) == 0 for v in items)
    else:
        numeric = is_numeric(values)
    if not numeric:
        raise TypeError(f"{what} must be a number or a list of numbers, got {values!r}")
    return np.asarray(values, dtype=np.float64)


def examples_of(x, function: str, dtype=None) -> np.ndarray:
    """``x`` as an array of at least one example (a batch: its first axis counts them), or a
    ValueError naming ``function``.

    For what reports a rate over the examples: a rate over none has no value. A Tensor
    gives its values (:func:`array_of`).
    """
    x = array_of(x, dtype)
    if x.ndim == 0:
        raise ValueError(f"{function}: x must be a batch of examples (N, ...), got a scalar")
    if not len(x):
        raise ValueError(f"{function}: x holds no examples")
    return x


def check_model_fits(model, X, y, what: str) -> None:
    """A ValueError naming ``what`` (the model's file or flag) unless ``model`` takes the rows
    of ``X`` and has a class for every label in ``y``."""
    n_features, highest = X.shape[1], int(y.max()) if len(y) else None
    if n_features != model.n_features or (highest is not None and highest >= model.n_classes):
        labels = "no labels" if highest is None else f"labels up to {highest}"  # not a class count: some may be absent
        raise ValueError(f"{what} is a {type(model).__name__} for {model.n_features} features and {model.n_classes} "
                         f"classes; the data have {n_features} features and {labels}")


def check_eps(eps, n: int, dtype, function: str | None = None) -> np.ndarray:
    """eps as a float array broadcastable over the rows of x: a scalar or one value per example.

    Each value must be finite and >= 0 as given and in x's ``dtype`` (1e39 is no float32).
    """
    where = _prefix(function)
    values = _numbers(eps, f"{where}eps")
    if values.ndim > 1 or (values.ndim == 1 and values.shape != (n,)):
        raise ValueError(f"{where}eps must be a scalar or have shape ({n},), got shape {values.shape}")
    with np.errstate(over="ignore"):
        cast = values.astype(dtype)
    bad = ~np.isfinite(values) | (values < 0) | ~np.isfinite(cast)
    if bad.any():
        shown = eps if values.ndim == 0 else values[bad][:3]
        raise ValueError(f"{where}eps must be finite and >= 0 (in x's dtype {np.dtype(dtype)}), got {shown!r}")
    return cast.reshape(-1, 1) if cast.ndim == 1 else cast


def eps_list(eps, what: str) -> list:
    """A number or a sequence of them as a list of finite floats >= 0, or an error naming ``what``."""
    values = np.atleast_1d(_numbers(eps, f"{what}: eps"))
    if not values.size:
        raise ValueError(f"{what}: eps is empty: give at least one value")
    if values.ndim != 1 or not np.all(np.isfinite(values)) or (values < 0).any():
        raise ValueError(f"{what}: eps must be finite numbers >= 0, got {eps!r}")
    return [float(e) for e in values]


def labels_for(model, y, n: int, *, required: bool, what: str = "y"):
    """``y`` checked as n class labels of the model (:func:`minigrad.labels.check_labels`), or None when allowed.

    ``required``: the caller cannot do without labels; ``what`` names them in errors
    (the targets of a targeted attack, the true labels of an evaluation).
    """
    if y is None:
        if required:
            raise ValueError(f"{what} is required here, got None")
        return None
    return check_labels(y, n, model.n_classes, what=what)


#: How far an attack's result may be from x beyond eps, relative to |x| + eps: a few float32
#: roundings of x + eps and of the eps-ball's edges (the attacks compute in x's dtype, float32 at coarsest).
ROUNDING = 4 * float(np.finfo(np.float32).eps)


def attack_name(attack) -> str:
    """What to call an attack callable in a message: its name (a partial's function's), else its type."""
    inner = getattr(attack, "func", attack)
    return getattr(inner, "__name__", type(attack).__name__)


def read_only(values):
    """A read-only view of the array ``values`` (no copy), or ``values`` itself if it is no array."""
    if not isinstance(values, np.ndarray):
        return values
    view = values.view()
    view.flags.writeable = False
    return view


def checked_attack(attack, model, x, y, eps, clip, name: str, function: str, radius=None) -> np.ndarray:
    """``attack(model, x, y, eps, clip=clip)``, the attack named ``name``, checked to be an answer to the
    batch x (:func:`check_adversarial`, within ``radius``: eps checked, if the caller has it), or an error
    naming ``function`` and ``name``.

    The attack gets read-only views of x, y and eps (no copies). One that moved x in place
    would change the caller's x, pass the bound check (measured from the moved x) and hand
    its moves on to the next attack and eps; writing into its inputs is an error instead.
    """
    try:
        x_adv = attack(model, read_only(x), read_only(y), read_only(eps), clip=clip)
    except ValueError as error:
        if not str(error).endswith("is read-only"):  # NumPy's words for a write into a read-only array
            raise
        raise ValueError(f"{function}: the attack {name!r} wrote into a read-only array: an attack gets x, y and "
                         "eps read-only, and must return a new array and leave them unchanged") from error
    return check_adversarial(x_adv, x, eps if radius is None else radius, clip, name, function)


def check_adversarial(x_adv, x, eps, clip, attack: str, function: str) -> np.ndarray:
    """``x_adv``, what the attack named ``attack`` returned for the batch ``x``, if it is an answer to it;
    else an error naming ``function`` and ``attack``.

    An answer is a float array of x's shape, each row within eps of x's (L-infinity, to
    float32 rounding: ``ROUNDING``) and inside ``clip``. A measurement counts whatever the
    model gets wrong on ``x_adv``; one that left the eps-ball or the valid range (or lost a
    row, which would broadcast) would be counted as an error at eps it is not. An answer in
    another float dtype (float64 from NumPy arithmetic on float32 x) is checked against the
    bound as given, then returned in x's dtype; integers, bools and complex numbers are no answer.
    ``eps``: a number, or one per example.
    """
    where = f"{function}: the attack {attack!r}"
    if not isinstance(x_adv, np.ndarray):
        raise TypeError(f"{where} returned {type(x_adv).__name__}, not an array of x's shape {x.shape}")
    if x_adv.shape != x.shape or x_adv.dtype.kind != "f":
        raise ValueError(f"{where} returned an array of shape {x_adv.shape} and dtype {x_adv.dtype} for x of shape "
                         f"{x.shape} and dtype {x.dtype}: an attack returns floats of x's shape")
    if not x.size:
        return x_adv.astype(x.dtype, copy=False)
    if not np.isfinite(x_adv).all():
        raise ValueError(f"{where} returned NaN or inf")
    rows = len(x)
    delta = np.abs(x_adv.astype(np.float64) - x).reshape(rows, -1)
    radius = np.broadcast_to(np.asarray(eps, dtype=np.float64).reshape(-1, 1), (rows, 1))
    allowed = radius + ROUNDING * (np.abs(x).reshape(rows, -1) + radius)
    outside = delta > allowed
    if outside.any():
        row = int(np.flatnonzero(outside.any(axis=1))[0])
        moved = delta[row].max()
        raise ValueError(f"{where} moved example {row} by {moved:g} (L-inf), more than its eps {radius[row, 0]:g}: "
                         "an attack must stay within eps of x")
    x_adv = x_adv.astype(x.dtype, copy=False)
    if clip is not None:
        low, high = (np.asarray(c, dtype=x.dtype) for c in clip)
        if x_adv.min() < low or x_adv.max() > high:
            raise ValueError(f"{where} returned values in [{x_adv.min():g}, {x_adv.max():g}], outside "
                             f"clip=({clip[0]:g}, {clip[1]:g})")
    return x_adv
