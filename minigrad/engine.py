"""Reverse-mode automatic differentiation: the graph walk.

A computation builds a directed acyclic graph of :class:`~minigrad.Tensor` nodes.
Every node made by an op remembers its ``_parents`` (the op's inputs, in order) and
one vector-Jacobian product (VJP) per parent in ``_vjps``. A VJP maps the gradient
of the final scalar with respect to the node, ``g = dL/dz``, to the contribution of
that node to one parent's gradient, ``dL/dx_i = g @ dz/dx_i``.

Backpropagation (:func:`backprop`) visits nodes in *reverse topological order*, so a
node's gradient is complete (every op that used the node has contributed) before it
is passed on to its parents. The order is needed, not an optimisation: with reuse
such as ``b = a + a; c = b + b`` a naive depth-first walk would push ``b``'s gradient
on before both contributions had arrived. Tensors are numbered as they are created,
and the output of an op is always created after its inputs, so "largest number
first" is such an order; the walk keeps the nodes waiting for it in a heap.

The engine, not the ops, takes care of the bookkeeping every op would otherwise
repeat: it skips parents that need no gradient, sums gradients back to a parent's
shape after broadcasting, checks shapes and dtypes, and sums the contributions to a
node that is used several times.
"""

from __future__ import annotations

import contextlib
from heapq import heappop, heappush

import numpy as np

from .broadcast import unbroadcast
from .validation import is_numeric


class _Modes:
    """Whether ops record the graph, and whether to hunt for NaN/inf. Read on every op."""

    def __init__(self):
        self.enabled = True
        self.detect_anomaly = False


_grad_mode = _Modes()  # the one instance: no_grad, enable_grad and detect_anomaly switch its fields


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default), False inside :func:`no_grad`."""
    return _grad_mode.enabled


def is_anomaly_detection_enabled() -> bool:
    """Whether :func:`detect_anomaly` is on (every gradient checked for NaN and inf)."""
    return _grad_mode.detect_anomaly


@contextlib.contextmanager
def _set_grad_enabled(enabled: bool):
    previous = _grad_mode.enabled
    _grad_mode.enabled = enabled
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def no_grad():
    """Context manager in which no graph is recorded (evaluation, optimizer updates).

    >>> import minigrad
    >>> w = minigrad.Tensor([1.0, 2.0], requires_grad=True)
    >>> with minigrad.no_grad():
    ...     y = (w * 3.0).sum()
    >>> y.requires_grad
    False
    """
    return _set_grad_enabled(False)


def enable_grad():
    """Context manager that records the graph even inside :func:`no_grad`."""
    return _set_grad_enabled(True)


@contextlib.contextmanager
def detect_anomaly():
    """Debug mode: raise ``FloatingPointError`` at the first op whose output or gradient has NaN/inf.

    Every op's value and every VJP's result is scanned (a full pass over each array,
    so it is off by default). The error names the op and, for a gradient, the input,
    which is where a NaN is born rather than where it finally shows up in a loss.

    >>> import numpy as np, minigrad
    >>> x = minigrad.Tensor([-1.0, 4.0], requires_grad=True)
    >>> with minigrad.detect_anomaly():
    ...     minigrad.sqrt(x)
    Traceback (most recent call last):
    FloatingPointError: the output of op 'sqrt' has NaN or inf (shape (2,))
    """
    previous = _grad_mode.detect_anomaly
    _grad_mode.detect_anomaly = True
    try:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            yield
    finally:
        _grad_mode.detect_anomaly = previous


def check_finite(array: np.ndarray, what: str) -> None:
    """The check :func:`detect_anomaly` runs; ``what`` names the array in the error."""
    if not np.isfinite(array).all():
        raise FloatingPointError(f"{what} has NaN or inf (shape {array.shape})")


class FreedGraphError(RuntimeError):
    """Raised when backward walks a graph whose buffers an earlier backward freed."""


def topological_order(root) -> list:
    """All nodes that require grad and lead to ``root``, every node after its parents.

    An op's output is made after its inputs, so the order in which the tensors were
    created is already topological: each tensor is numbered as it is made (``_seq``,
    see :mod:`minigrad.tensor`'s ``_fill``). The walk only collects the nodes reachable from ``root`` (an explicit stack, so a chain of
    10,000 ops does not hit Python's recursion limit) and sorts them by that number.
    :func:`backprop` needs it only to prune a walk toward ``targets``.
    """
    found = {id(root): root}
    stack = [root]
    while stack:
        node = stack.pop()
        if node._vjps is None:
            raise _freed(node)
        for parent in node._parents:
            if parent.requires_grad and id(parent) not in found:
                found[id(parent)] = parent
                stack.append(parent)
    return sorted(found.values(), key=lambda node: node._seq)


def _check_not_freed(node) -> None:
    """Refuse ``node`` if an earlier backward freed it: its parents are gone, so its gradient would stop there."""
    if node._vjps is None:
        raise _freed(node)


def _freed(node) -> FreedGraphError:
    return FreedGraphError(
        f"backward through a graph that was already freed (at op {node._op!r}); "
        "pass retain_graph=True to the first backward() to walk it twice"
    )


def _nodes_leading_to(order, targets) -> set:
    """ids of the nodes in ``order`` from which some target can be reached backwards.

    A node needs its gradient only if it is a target or one of its parents needs one;
    ``order`` has parents first, so one forward pass decides it.
    """
    needed = {id(t) for t in targets}
    for node in order:
        if id(node) not in needed:
            for parent in node._parents:
                if id(parent) in needed:
                    needed.add(id(node))
                    break
    return needed


def backprop(root, seed: np.ndarray, *, targets=None, retain_graph=False) -> list:
    """Propagate ``seed = dL/droot`` back through the graph below ``root``.

    Returns ``[(leaf, dL/dleaf), ...]`` for the leaves reached (nodes without parents
    that require grad). With ``targets`` (a sequence of nodes) only the VJPs on paths
    to those nodes are evaluated, so an input gradient does not pay for weight
    gradients, and ``(target, dL/dtarget)`` pairs are returned instead.

    The order: every op that used a node made its output after the node, so that
    output has a larger creation number (``_seq``, see :func:`topological_order`). The
    walk keeps a queue of the nodes that have received some gradient, largest number
    first (a heap); the node it takes out has had every node that used it processed
    already, so its gradient is complete. A node joins the queue when its first
    contribution arrives, which is also how the walk finds the graph: no separate pass
    sorts it beforehand. A leaf taken out holds its finished gradient.

    Each node's ``_pending`` slot holds the sum of the contributions that have reached
    it so far: the first as the VJP returned it, each later one added into a new array
    (:func:`add_arrays`), so no array a VJP handed out is ever written into. Unless
    ``retain_graph``, every node's parents and VJPs (and with them the intermediate
    arrays the VJPs close over) are released as soon as the node has been processed.
    The checks live in helpers: :func:`_conform` (shape, dtype, NaN under
    :func:`detect_anomaly`), :func:`_explain` (an error raised in a VJP) and
    :func:`_check_not_freed`.
    """
    needed = None if targets is None else _nodes_leading_to(topological_order(root), targets)
    wanted = None if targets is None else {id(t) for t in targets}
    results = []
    root._pending = seed
    # The id breaks a tie between two tensors of one number: copy.copy(t) or copy.deepcopy(t) copies t's number too.
    queue = [(-root._seq, id(root), root)]
    try:
        while queue:
            node = heappop(queue)[2]
            g, node._pending = node._pending, None
            if wanted is not None and id(node) in wanted:
                results.append((node, g))
            if not node._parents:  # a leaf, or a node an earlier walk freed
                _check_not_freed(node)
                if wanted is None:
                    results.append((node, g))
                continue
            g.setflags(False)  # write=False: add hands one g to both inputs, and no VJP may write into it
            for index, parent in enumerate(node._parents):
                if not parent.requires_grad or (needed is not None and id(parent) not in needed):
                    continue
                vjp = node._vjps[index]
                try:
                    g_parent = vjp(g)
                except Exception as error:
                    _explain(error, vjp, node, index)
                    raise
                g_parent = _conform(g_parent, parent, node, index)
                if parent._pending is None:  # its first contribution: the parent joins the queue
                    parent._pending = g_parent
                    heappush(queue, (-parent._seq, id(parent), parent))
                else:
                    parent._pending = add_arrays(parent._pending, g_parent)
            if not retain_graph:
                node._parents, node._vjps = (), None
    finally:  # after an error, leave no stale partial gradient behind
        for _, _, node in queue:
            node._pending = None
    return results


def _explain(error: Exception, vjp, node, index: int) -> None:
    """Name the op and the input in ``error``, raised by calling the VJP for input ``index`` of ``node``.

    A VJP that is no function (``None`` given in ``vjps``) is the op's mistake, which
    Python words as "'NoneType' object is not callable": a TypeError saying so replaces
    it. Any other error is the VJP's own and keeps its words; a note names the op and
    the input. A ValueError's note also says that ``g`` is read-only, since writing into
    it (``g *= 2``) is the usual way a VJP gets NumPy's ValueError.
    """
    if not callable(vjp):
        given = "None" if vjp is None else f"a {type(vjp).__name__}"
        raise TypeError(f"op {node._op!r}: the VJP for input {index} is {given}, not a function "
                        "g -> dL/dinput (from_op takes one function per parent)") from error
    note = f"raised by the VJP of op {node._op!r} for input {index}"
    if isinstance(error, ValueError):
        note += ("; if it wrote into a read-only array: its incoming gradient g is read-only (other inputs "
                 "and ops may share it), so return a new array (g * 2, not g *= 2)")
    error.add_note(note)


def add_arrays(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` as a new ndarray, 0-d arrays included.

    NumPy arithmetic on two 0-d arrays returns a NumPy *scalar*, not an array. A
    scalar is immutable, so a later ``total += g`` would rebind a local name instead
    of adding into the buffer, and every contribution after the second would be lost
    (``d/db (b*b + b)`` came out as 2b instead of 2b + 1). Every sum of gradients the
    engine keeps goes through here.
    """
    total = a + b
    return total if type(total) is np.ndarray else np.asarray(total)


def accumulate_grads(pairs: list) -> None:
    """Add each ``(leaf, gradient)`` pair of :func:`backprop` into ``leaf.grad``, as :meth:`Tensor.backward` does:
    a leaf without ``.grad`` gets the gradient itself (made private by :func:`private_arrays`)."""
    for (leaf, _), g in zip(pairs, private_arrays(g for _, g in pairs)):
        leaf.grad = g if leaf.grad is None else add_arrays(leaf.grad, g)


def private_arrays(arrays):
    """Each gradient array as one its receiver may keep and write into: a guard against aliasing.

    ``backprop`` hands out arrays as the VJPs made them, and some of those share memory
    with another array: ``add``'s VJP gives one array to both inputs, a VJP may return a
    view of ``g`` (``reshape``'s, ``transpose``'s), and a broadcast VJP returns a read-only view.
    Whatever stores gradients for the user (``Tensor.backward``, :func:`minigrad.grad`)
    passes them through here, so that no two ``.grad`` arrays share memory and none is
    read-only: it copies exactly those arrays, one handed out already, a view (its
    memory belongs to another array), or a read-only array, and keeps the rest as they are.
    """
    handed_out = set()
    for g in arrays:
        if id(g) in handed_out or g.base is not None or not g.flags.writeable:
            g = g.copy()
        handed_out.add(id(g))
        yield g


def _conform(g, parent, node, index) -> np.ndarray:
    """One VJP's result as an ndarray of the parent's shape and dtype, or an error saying which op is wrong.

    A VJP may return a NumPy scalar (``g * y`` on 0-d arrays gives one): it becomes a
    0-d array here, so no scalar enters the walk (a Python float becomes a float64 array,
    which in a float32 graph is reported as a dtype leak). Broadcasting in the forward
    pass means the VJP may return the output's shape; it is summed back to the parent's
    shape here, so no op has to. A dtype that differs from the parent's is legitimate
    only when the op itself promoted (for example a float32 and a float64 input);
    otherwise the VJP leaked a dtype, which is a bug. Under :func:`detect_anomaly` a
    gradient with NaN or inf is refused here, naming the op and the input.
    """
    data = parent.data
    if type(g) is not np.ndarray:
        g = _as_gradient_array(g, node, index)
    if g.shape != data.shape:
        g = _reduce_to_input_shape(g, data.shape, node, index)
    if g.dtype != data.dtype:
        g = _to_input_dtype(g, data.dtype, node, index)
    if _grad_mode.detect_anomaly:
        check_finite(g, f"the gradient op {node._op!r} passes to input {index}")
    return g


def _to_input_dtype(g: np.ndarray, dtype: np.dtype, node, index) -> np.ndarray:
    """``g`` cast to its input's ``dtype`` when the op promoted; a dtype leak in the VJP otherwise."""
    if node.data.dtype == dtype:
        raise TypeError(
            f"op {node._op!r}: the gradient for input {index} is {g.dtype} but the "
            f"input and the output are {dtype}: a dtype leak in the op's VJP"
        )
    return g.astype(dtype)


def _as_gradient_array(g, node, index) -> np.ndarray:
    """A VJP's non-ndarray result as an array: numeric NumPy scalars and Python numbers only.

    ``None`` (a VJP that forgot to return), a string, a bool or a Tensor would otherwise
    become a 0-d array and be reported as a wrong shape.
    """
    if is_numeric(g):
        return np.asarray(g)
    hint = " (a VJP works on ndarrays: return the array, not a Tensor)" if type(g).__name__ == "Tensor" else ""
    raise TypeError(f"op {node._op!r}: the VJP for input {index} returned {type(g).__name__}, "
                    f"not an array of gradients{hint}")


def _reduce_to_input_shape(g, shape, node, index) -> np.ndarray:
    """The gradient ``g`` for input ``index`` of ``node``, summed back to the input's ``shape``.

    A VJP returns the input's shape, or, when the op broadcast the input, the op's output
    shape or a shape between the two (the output's with some broadcast axes already
    summed, ``keepdims=True``); :func:`~minigrad.broadcast.unbroadcast` sums the rest.
    Any other shape is an error in the VJP, even one that would reduce: a (2, 3) gradient
    for an op from (3,) to (3,) would be summed into twice the gradient.
    """
    output_shape = node.data.shape
    if _within(g.shape, output_shape):
        try:
            return unbroadcast(g, shape)
        except ValueError:
            pass
    raise ValueError(
        f"op {node._op!r}: the gradient for input {index} has shape {g.shape}; the input has shape "
        f"{shape} and the output {output_shape}, and a VJP must return the input's shape, the output's, "
        "or the output's with broadcast axes summed"
    )


def _within(shape: tuple, output_shape: tuple) -> bool:
    """Whether ``shape`` broadcasts to ``output_shape`` without growing it: the output's shape
    with some axes of size 1 or leading axes left out, as a partly summed gradient has."""
    extra = len(output_shape) - len(shape)
    return extra >= 0 and all(size in (1, out) for size, out in zip(shape, output_shape[extra:]))


def __getattr__(name: str):
    """Names of earlier versions that are gone, each with what replaced it."""
    if name == "Product":
        raise AttributeError("minigrad.engine.Product was removed (issue 26): a VJP returns its gradient as an "
                             "array, a weight's as x.T @ g; the engine knows no optimizer")
    raise AttributeError(f"module 'minigrad.engine' has no attribute {name!r}")
