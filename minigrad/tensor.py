"""The :class:`Tensor`: an ndarray plus what reverse-mode autodiff needs to know about it.

A tensor holds its value in ``.data`` (a NumPy array) and, after a backward pass,
its gradient in ``.grad``. A tensor made by an op also remembers the op's inputs
(``_parents``) and one vector-Jacobian product per input (``_vjps``); that is the
graph :mod:`minigrad.engine` walks backwards. The ops themselves live in
:mod:`minigrad.ops`; the Python operators below only forward to them.

dtype policy (float32 unless you ask otherwise, so nothing silently runs in float64):

* ``Tensor(data)`` with ``dtype=None``: Python scalars, lists and float64 arrays become
  float32; float32 (and float16) arrays keep their dtype; integer and boolean arrays
  stay as they are and cannot require gradients.
* A Python scalar or an ndarray operand of an op takes the tensor's dtype, so
  ``x * 0.5`` or ``x + np.ones(3)`` never upcasts a float32 graph. It is converted
  as ``Tensor(data)`` converts: a float rounds to the dtype, as ever, but an integer
  the dtype cannot hold exactly (2^25 + 1 in float32; 2^25 and 2^30 it holds) and a
  value beyond its range (1e39 in float32) are errors, not rounded.
* float64 appears only where you create a float64 tensor (``Tensor(a, dtype=np.float64)``,
  as :func:`minigrad.gradcheck` does); two tensors of different float dtypes follow
  NumPy's promotion, and each input's gradient comes back in the input's own dtype.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import engine
from .engine import _grad_mode
from .validation import REAL_KINDS, is_numeric

# A tensor made by an op or by constant() skips __init__ (its dtype policy is for user data): every op makes
# one, so the allocation is a module-level name rather than an attribute looked up on each call.
_new = object.__new__
_CREATION = itertools.count()  # numbers the tensors in the order they are made


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Parameters
    ----------
    data : array_like
        The value. An ndarray that needs no conversion is used without a copy.
    requires_grad : bool
        Whether gradients should flow to this tensor (only floating dtypes).
    dtype : numpy dtype, optional
        Forces the dtype; by default see the module's dtype policy.

    >>> import numpy as np, minigrad
    >>> x = minigrad.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()          # y = sum_i x_i^2
    >>> y.backward()               # dy/dx = 2x
    >>> x.grad
    array([ 2., -4.,  6.], dtype=float32)

    The graph keeps the forward pass's arrays themselves, not copies (copying every
    activation would double the memory of training). So do not change ``.data`` in
    place between a forward pass and its ``backward()``: the gradient would be computed
    from the new values, silently wrong. An optimizer's update comes after
    ``backward()``, which is safe; no check catches the other order.
    """

    # The fields, set in one place (_fill, below the class); _seq is the tensor's creation number
    __slots__ = ("data", "grad", "requires_grad", "_parents", "_vjps", "_op", "_pending", "_seq", "__weakref__")
    # Makes ``ndarray + Tensor`` call ``Tensor.__radd__`` instead of NumPy broadcasting
    # over the tensor as if it were a Python object.
    __array_priority__ = 1000.0

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None:
            array = np.asarray(data, dtype=dtype)
        elif isinstance(data, (np.ndarray, np.generic)):
            array = np.asarray(data)
            if array.dtype == np.float64:
                array = _to_float(array, _FLOAT32, "Tensor")
        else:
            array = np.asarray(data)
            if array.dtype.kind in "iuf":
                array = _to_float(array, _FLOAT32, "Tensor")
        if not is_numeric(array, bools=True):
            raise TypeError(f"Tensor data must be numeric, got an array of dtype {array.dtype}")
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {array.dtype} "
                "(integer tensors hold labels or indices)"
            )
        _fill(self, array, bool(requires_grad), (), (), "leaf")

    @staticmethod
    def from_op(value, parents: tuple, vjps: tuple, name: str) -> "Tensor":
        """The output of an op: how every op in :mod:`minigrad.ops` is made, and how you write one.

        ``value`` is the op's result (an ndarray computed with NumPy from the parents'
        ``.data``); ``parents`` the op's input Tensors, in order (``as_tensor`` turns a
        number or an array into one); ``vjps`` one vector-Jacobian product per parent, each
        a function ``g -> dL/dparent`` of the upstream gradient ``g = dL/dvalue``; ``name``
        the op's name, used in every error message about it. Positional or keyword.

        A VJP must return an array of the parent's shape, or of the output's shape when
        the op broadcast that parent, or the output's with some of the broadcast axes
        summed with ``keepdims=True`` (the engine sums the rest), in the parent's dtype,
        computed from ``g``: a new array or a view of ``g``, never an array kept
        elsewhere (the engine makes each ``g`` read-only while the VJPs run, so
        ``g *= 2`` raises, with a note naming the op). It must not write into the
        parents' data. The engine takes a result of the output's shape to mean "this
        parent was broadcast" and sums it back to the parent's shape, whenever the
        shapes allow: a VJP that returns an output-shaped array for a parent the op did
        not broadcast is a bug the engine cannot see.
        Gradients are first order only: a VJP works on ndarrays, not Tensors, so
        nothing records it.

        The graph is recorded only when gradients are enabled and some parent
        requires grad; otherwise the result is a constant and the VJPs are dropped.
        A recorded value must be floating point: an integer or boolean one (a mask)
        would reach the next op as a constant, and the gradient would stop there.
        A parent that is not a Tensor, ``vjps`` that are not one function per parent,
        a value that is not a real numeric array (strings, objects, complex numbers), and
        a VJP that returns anything but an array (None, a Tensor) are errors naming the op.

        >>> import numpy as np, minigrad as mg
        >>> def cube(x):
        ...     x = mg.as_tensor(x)
        ...     return mg.Tensor.from_op(x.data ** 3, (x,), (lambda g: g * 3 * x.data ** 2,), "cube")
        >>> mg.grad(lambda t: cube(t).sum())(np.array([1.0, 2.0], dtype=np.float32))
        array([ 3., 12.], dtype=float32)
        """
        # Every op passes here: the usual value, a numeric ndarray, is recognised without a call.
        if type(value) is not np.ndarray or value.dtype.kind not in _VALUE_KINDS:
            value = _op_value(value, name)
        if _grad_mode.detect_anomaly:
            engine.check_finite(value, f"the output of op {name!r}")
        if _grad_mode.enabled:
            parents = _recorded_parents(parents, vjps, name)
            if parents:
                if value.dtype.kind != "f":  # the next op would take it as a constant: the gradient stops here
                    raise _not_differentiable(value, name)
                return _fill(_new(Tensor), value, True, parents, vjps, name)
        return _fill(_new(Tensor), value, False, (), (), name)

    # --- array-like attributes ---------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> "Tensor":
        return _ops.transpose(self)

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        """The truth of a one-element tensor, as NumPy's; more elements are ambiguous and raise."""
        if self.data.size != 1:
            raise ValueError(f"the truth value of a Tensor of shape {self.shape} is ambiguous: use .data.any() or .data.all()")
        return bool(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, prefix="Tensor(", separator=", ")
        extra = f", dtype={self.data.dtype}" if self.data.dtype != np.float32 else ""
        if self.requires_grad:
            extra += ", requires_grad=True" if self.is_leaf else f", op={self._op!r}"
        return f"Tensor({body}{extra})"

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (inputs, parameters, constants)."""
        return not self._parents and self._vjps is not None

    # --- autodiff ----------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate ``d self / d leaf`` into the ``.grad`` of every leaf that requires grad.

        ``grad`` is the upstream gradient ``dL/dself`` and is required unless this
        tensor holds a single element (a loss). Gradients *add* into existing
        ``.grad`` arrays: call :meth:`zero_grad` (or an optimizer's) between steps.
        Intermediate buffers are freed unless ``retain_graph=True``. The walk itself is
        :func:`minigrad.engine.backprop`.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of its "
                "computation has requires_grad=True, or it was computed under no_grad()"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without grad needs a single-element output, got shape {self.shape}; "
                    "pass grad=dL/dself of the same shape (or reduce with .sum() first)"
                )
            seed = np.ones_like(self.data)
        else:
            seed = np.array(_operand_array(values_of(grad), self.data.dtype, "backward(grad=...)"))
            if seed.shape != self.shape:
                raise ValueError(f"backward(grad=...): grad has shape {seed.shape}, the tensor has {self.shape}")
        engine.accumulate_grads(engine.backprop(self, seed, retain_graph=retain_graph))

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (sets ``.grad`` to None)."""
        self.grad = None

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, cut from the graph (no gradient flows)."""
        return constant(self.data)

    def numpy(self) -> np.ndarray:
        """The value as an ndarray (shared, not copied)."""
        return self.data

    def item(self):
        """The value of a single-element tensor as a Python number."""
        return self.data.item()

    # --- operators: thin forwards to minigrad.ops ------------------------------------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.subtract(self, other)

    def __rsub__(self, other):
        return _ops.subtract(other, self)

    def __mul__(self, other):
        return _ops.multiply(self, other)

    def __rmul__(self, other):
        return _ops.multiply(other, self)

    def __truediv__(self, other):
        return _ops.divide(self, other)

    def __rtruediv__(self, other):
        return _ops.divide(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __pow__(self, other):
        return _ops.power(self, other)

    def __rpow__(self, other):
        return _ops.power(other, self)

    def __neg__(self):
        return _ops.negative(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    # Comparisons return plain boolean arrays: they have no gradient.
    def __lt__(self, other):
        return self.data < values_of(other)

    def __le__(self, other):
        return self.data <= values_of(other)

    def __gt__(self, other):
        return self.data > values_of(other)

    def __ge__(self, other):
        return self.data >= values_of(other)

    def __eq__(self, other):
        return self.data == values_of(other)

    def __ne__(self, other):
        return self.data != values_of(other)

    __hash__ = object.__hash__  # identity, so tensors can be dict keys despite __eq__

    # --- methods mirroring ndarray -------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    def transpose(self, *axes):
        return _ops.transpose(self, *axes)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)


_VALUE_KINDS = REAL_KINDS + "b"  # what is_numeric(value, bools=True) accepts: the dtype kinds of an op's value


def _fill(tensor: Tensor, data: np.ndarray, requires_grad: bool, parents: tuple, vjps: tuple, op: str) -> Tensor:
    """Set every slot of a new ``tensor`` and return it: the one place a Tensor's fields are initialised.

    ``Tensor(...)``, :meth:`Tensor.from_op` and :func:`constant` all come through here.
    A leaf has no parents, no VJPs and the op name "leaf"; a recorded op's output has
    its parents, one VJP per parent and the op's name. Every tensor is numbered as it
    is made (``_seq``): an op's output always comes after its inputs, which is the order
    :func:`~minigrad.engine.backprop` walks by. ``grad`` and ``_pending`` (the sum of
    the gradients that reached the node during a backward walk) start empty.
    """
    tensor.data = data
    tensor.grad = None
    tensor.requires_grad = requires_grad
    tensor._parents = parents
    tensor._vjps = vjps
    tensor._op = op
    tensor._pending = None
    tensor._seq = next(_CREATION)
    return tensor


def _op_value(value, name: str) -> np.ndarray:
    """An op's result given as something other than a numeric ndarray (a NumPy scalar, a number), as an array.

    A string, None, a Tensor or an array of strings, objects or complex numbers (whose
    imaginary part the next op would drop) is refused, naming the op.
    """
    if isinstance(value, Tensor):
        raise TypeError(f"op {name!r}: the value must be an ndarray computed from the parents' .data, got a Tensor")
    array = np.asarray(value)
    if not is_numeric(array, bools=True):
        got = f"an array of dtype {array.dtype}" if isinstance(value, np.ndarray) else f"{value!r:.80}"
        raise TypeError(f"op {name!r}: the value must be a numeric array, got {got}")
    return array


def _recorded_parents(parents, vjps, name: str) -> tuple:
    """The parents ``from_op`` records its op with, as a tuple, or () when none requires grad.

    It checks the arguments on the way, naming the op: ``parents`` must be a tuple or a
    list, every parent a Tensor, and ``vjps`` one function per parent.
    """
    if type(parents) is not tuple:  # (x) for (x,) would iterate over x's rows
        parents = _as_parents(parents, name)
    recorded = False
    try:
        for parent in parents:  # all of them: each must be a Tensor
            if parent.requires_grad:
                recorded = True
        if recorded and len(vjps) != len(parents):
            raise _misused(parents, vjps, name)
    except (AttributeError, TypeError):  # a parent that is no Tensor, vjps that have no len
        raise _misused(parents, vjps, name) from None
    return parents if recorded else ()


def _as_parents(parents, name: str) -> tuple:
    """``parents`` given as a list or a tuple subclass (a namedtuple), as a tuple; anything else is a TypeError
    (a Tensor: ``(x)`` meant ``(x,)``)."""
    if not isinstance(parents, (list, tuple)):
        raise TypeError(f"op {name!r}: parents must be a tuple of Tensors, one per input of the op, "
                        f"got {type(parents).__name__}")
    return tuple(parents)


def _not_differentiable(value: np.ndarray, name: str) -> TypeError:
    """The error for a recorded op whose value is not floating point (a mask, a count).

    Such a value cannot carry a gradient: the next op takes an integer or boolean
    tensor as a constant (``as_float_tensor`` casts it), so the graph would end there
    and the inputs' gradients come out zero, or backward() find nothing to walk.
    """
    return TypeError(f"op {name!r}: the value is {value.dtype}, but an input requires grad and a gradient flows "
                     "only through floating-point values: cast it, e.g. (t.data > 0).astype(t.data.dtype), "
                     "or compute it under no_grad() if it is a constant")


def _misused(parents: tuple, vjps, name: str) -> Exception:
    """The error for ``from_op`` arguments that failed its checks, naming the one that is wrong."""
    for index, parent in enumerate(parents):
        if not isinstance(parent, Tensor):
            return TypeError(f"op {name!r}: parent {index} must be a Tensor, got {type(parent).__name__} "
                             "(minigrad.as_tensor turns a number or an array into one)")
    if not isinstance(vjps, (tuple, list)):
        return TypeError(f"op {name!r}: vjps must be a tuple of functions, one per parent, got {type(vjps).__name__}")
    return ValueError(f"op {name!r}: {len(parents)} parents but {len(vjps)} VJPs (one per parent)")


def _to_float(array: np.ndarray, dtype: np.dtype, what: str) -> np.ndarray:
    """``array`` (real numbers or booleans) as the float ``dtype``, refusing what the cast would change without a word.

    Integers ``dtype`` cannot hold exactly are refused by :func:`_exact_float`, floats
    beyond its range (they would become inf) here; ``what`` names the array in the
    error. The one conversion of the Tensor constructor's data and of an operand
    beside a tensor (:func:`as_tensor` with ``like``).
    """
    if array.dtype.kind != "f":
        return _exact_float(array, dtype, what)
    try:
        with np.errstate(over="raise"):  # the cast flags overflow itself: no extra pass over the data
            return array.astype(dtype)
    except FloatingPointError:
        raise _beyond_range(what, np.abs(array[np.isfinite(array)]).max(), dtype) from None


def _beyond_range(what: str, largest, dtype) -> OverflowError:
    """The error for values up to ``largest`` that ``dtype`` would make inf."""
    return OverflowError(f"{what}: values up to {largest:.3g} are beyond {np.dtype(dtype)}'s range "
                         f"({np.finfo(dtype).max:.2g}); use float64 (dtype=np.float64) to keep them")


def values_of(x):
    """``x``'s values: a Tensor's ``.data`` (shared, not copied), anything else as it is.

    The one way from a Tensor to its array, for code that works on arrays outside any
    graph (a check, a fit, a comparison): NumPy would take a Tensor for a Python object
    (``np.asarray(t)`` is a 0-d array of dtype object).

    >>> import numpy as np, minigrad as mg
    >>> mg.values_of(mg.Tensor([1.0, 2.0])), mg.values_of([3])
    (array([1., 2.], dtype=float32), [3])
    """
    return x.data if isinstance(x, Tensor) else x


def constant(array: np.ndarray) -> Tensor:
    """A leaf that needs no gradient, wrapping ``array`` as it is (no dtype policy)."""
    return _fill(_new(Tensor), array, False, (), (), "leaf")


def as_tensor(x, like: Tensor | None = None, op: str | None = None) -> Tensor:
    """``x`` if it is a Tensor; otherwise a constant: in ``like``'s float dtype, or by the dtype policy.

    This is how ``x * 0.5`` or ``x + ndarray`` keep a float32 graph in float32, and how
    an op of your own accepts numbers and arrays as well as Tensors. A value ``like``'s
    dtype would change (an integer it would round, a float beyond its range) is an error
    naming the op ``op``.
    """
    if isinstance(x, Tensor):
        return x
    if like is not None and like.data.dtype.kind == "f":
        return constant(_operand_array(x, like.data.dtype, op))
    return Tensor(x)


_FLOAT32 = np.dtype(np.float32)

# For each float dtype: up to which magnitude it holds every integer exactly (2^p for p significand bits), and
# its largest finite value. Beyond 2^p it still holds some integers (the multiples of its spacing there).
_HOLDS = {np.dtype(t): (2 ** (np.finfo(t).nmant + 1), float(np.finfo(t).max))
          for t in (np.float16, np.float32, np.float64)}


def _operand_array(x, dtype: np.dtype, op: str | None = None) -> np.ndarray:
    """``x``, a number or an array beside a tensor of the float ``dtype``, as an array of ``dtype``.

    Converted as ``Tensor(x)`` converts its data (:func:`_to_float`): a value the cast
    would change without a word is refused, not rounded (``x + np.array([2**25 + 1])``
    gave 2^25, ``x + 1e39`` inf, ``x + None`` NaN, a complex operand lost its imaginary
    part); the error names ``op``. A Python number (``x * 0.5``, ``x + 1``) is checked
    against ``dtype``'s limits directly: an int up to 2^p or a float within range is
    converted as it is, and a larger int only if ``dtype`` holds it exactly. Every op
    with a number operand comes through here, so the number skips the general array
    conversion below, whose overflow check (a floating-point trap) costs far more than
    the comparison with the limits.
    """
    holds = _HOLDS.get(dtype)
    if holds is not None:
        number = type(x)
        if number is int:
            whole = holds[0]
            return np.asarray(x, dtype) if -whole <= x <= whole else _large_integer(x, dtype, op)
        if (number is float or number is np.float64) and -holds[1] <= x <= holds[1]:
            return np.asarray(x, dtype)
    array = np.asarray(x)
    if array.dtype == dtype:
        return array
    if not is_numeric(array, bools=True):
        got = f"an array of dtype {array.dtype}" if isinstance(x, (np.ndarray, list, tuple)) else f"{x!r:.80}"
        raise TypeError(f"{_operand(op, dtype)} must be a real number or an array of them, got {got}")
    return _to_float(array, dtype, _operand(op, dtype))


def _operand(op: str | None, dtype: np.dtype) -> str:
    """How an error names an operand beside a tensor of ``dtype`` in the op ``op``."""
    return f"{op + ': ' if op else ''}an operand beside a {dtype} tensor"


def _large_integer(n: int, dtype: np.dtype, op: str | None) -> np.ndarray:
    """A Python int beyond 2^p as ``dtype`` if it holds it exactly (2^30 in float32), else the error saying why."""
    if abs(n) > _HOLDS[dtype][1]:
        raise _beyond_range(_operand(op, dtype), abs(n), dtype)
    value = dtype.type(n)
    if float(value) != n:  # Python compares a float and an int exactly (NumPy would round the int first)
        raise _rounded_integer(_operand(op, dtype), n, value, dtype)
    return np.asarray(value)


def as_float_tensor(x) -> Tensor:
    """``as_tensor(x)``, with an integer or boolean tensor cast to float32 first.

    The ops that compute in floating point use it: NumPy would wrap int8 arithmetic
    around (127 + 1 = -128) or promote int64 to float64 behind the dtype policy's back.
    Such a tensor never requires grad, so the cast loses no gradient.
    """
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if x.data.dtype.kind == "f":
        return x
    return constant(_exact_float(x.data, _FLOAT32, "an integer tensor"))


def as_tensors(a, b, op: str | None = None) -> tuple[Tensor, Tensor]:
    """Both operands of the binary op ``op`` as Tensors; a non-Tensor takes the other's dtype.

    An integer or boolean operand becomes the other's float dtype (float32 when neither
    is floating), so integers never wrap around or drag a float32 graph into float64.
    Two float dtypes follow NumPy's promotion, as the module docstring says. A value
    that dtype would change is an error naming ``op``.
    """
    if not isinstance(a, Tensor):
        a = as_tensor(a, b if isinstance(b, Tensor) else None, op)
    if not isinstance(b, Tensor):
        b = as_tensor(b, a, op)
    if a.data.dtype.kind != "f":
        dtype = b.data.dtype if b.data.dtype.kind == "f" else _FLOAT32
        a = constant(_exact_float(a.data, dtype, _integer_operand(op)))
    if b.data.dtype.kind != "f":
        b = constant(_exact_float(b.data, a.data.dtype, _integer_operand(op)))
    return a, b


def _integer_operand(op: str | None) -> str:
    """How an error names an integer operand of the op ``op``."""
    return f"{op + ': ' if op else ''}an integer operand"


def _exact_float(integers: np.ndarray, dtype, what: str) -> np.ndarray:
    """Integers (or booleans) as the float ``dtype``, refusing any it would change; ``what`` names them in the error.

    A float with p significand bits holds every integer up to 2^p (2^24 in float32),
    and beyond it only the multiples of its spacing there (2^25, not 2^25 + 1). So only
    an integer type that reaches beyond 2^p, holding values that do, is looked at
    further: each value must come back unchanged from the float and be finite.
    """
    dtype = np.dtype(dtype)
    whole = 2 ** (np.finfo(dtype).nmant + 1)
    info = np.iinfo(integers.dtype) if integers.dtype.kind in "iu" else None
    if info is None or max(-info.min, info.max) <= whole or not integers.size or \
            max(-int(integers.min()), int(integers.max())) <= whole:
        return integers.astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # what overflows is found below
        floats = integers.astype(dtype)
        back = floats.astype(integers.dtype)  # a float of 2^63 or more comes back as garbage, or saturated to 2^63 - 1
        held = (back == integers) & np.isfinite(floats) & (floats < float(info.max))
    if held.all():
        return floats
    first = np.flatnonzero(~held.reshape(-1))[0]
    n, value = integers.reshape(-1)[first], floats.reshape(-1)[first]
    if not np.isfinite(value):
        raise _beyond_range(what, np.abs(integers.astype(np.float64)).max(), dtype)
    raise _rounded_integer(what, int(n), value, dtype)


def _rounded_integer(what: str, n: int, value, dtype) -> ValueError:
    """The error for an integer ``n`` that ``dtype`` would round to ``value``."""
    whole = 2 ** (np.finfo(dtype).nmant + 1)
    return ValueError(f"{what}: {n} would become {int(value)} (integer values beyond {whole:,} would lose precision "
                      f"in {np.dtype(dtype)} unless multiples of its spacing there); convert them yourself first "
                      "(to float64, say)")


from . import ops as _ops  # noqa: E402  (the ops import Tensor from this module)
