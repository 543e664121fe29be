"""The one switch for the speed tricks: ``enable()``, ``disable()``, ``enabled()``.

The code a student reads (the reading path the README names, from
``minigrad/tensor.py`` to ``attacks/adversarial_training.py``) is the textbook form,
and importing the project leaves it so. The tricks that make the same
computation faster live in :mod:`minigrad.fast`, one module each, and :func:`enable`
is the one place that switches them on. ``advex`` and the benchmarks call it at their
entry; a script or a notebook can call it too, or run a block under ``with enabled():``.
Weights, velocities and input gradients agree with the textbook path to float rounding
(``tests/test_fast_paths.py``, ``tests/test_folded_momentum.py``); one thing differs
that a user can see: after a step of SGD with classical momentum, the parameters'
``.grad`` are None (their gradients went straight into the velocities).

The tricks, what each replaces, and where it lives:

* **The allocator setting** (:mod:`minigrad.fast.allocator`, ``keep_freed_memory``):
  glibc's malloc keeps freed large blocks mapped, so the fresh array every op returns
  reuses pages instead of page-faulting them in again. It replaces no code; it changes
  the process's allocator, for the rest of the process: :func:`disable` cannot undo it
  (it changes no result).
* **SGD's momentum step through NumPy's BLAS** (:mod:`minigrad.fast.blas_momentum`,
  on the binding :mod:`minigrad.fast.numpy_blas`): replaces the ufuncs of
  ``training.optim.SGD._update`` for classical momentum (no Nesterov, no weight decay;
  those keep the textbook update) by ``scal`` and ``axpy``, in place and threaded.
* **SGD's momentum folded into the backward pass**
  (:mod:`minigrad.fast.folded_momentum`): replaces ``training.train_step``'s
  ``loss.backward(); optimizer.step()`` by ``optimizer.backward_and_step(loss)``. For
  SGD with classical momentum, the walk hands each dense layer's input x and output
  gradient G to the update, and after the walk one gemm computes
  ``v <- m v - lr x^T G``: the weight gradient is never written out, and the
  parameters' ``.grad`` stay None. ``minigrad.linear`` is replaced by the same op with
  a weight VJP the fold recognises.
* **Chunked im2col** (:mod:`minigrad.fast.chunked_im2col`):
  replaces ``minigrad.conv2d``, the name ``models.Conv2d`` calls, by a ``conv2d`` with
  the same signature and results that builds im2col's patch matrix in chunks when a
  batch's patch matrix is large (an attack's batch of 1,000 images; a training batch
  is one chunk and takes the textbook op).
* **conv2d's bias gradient as one matrix-vector product** (:mod:`minigrad.fast.conv_bias_gemv`):
  replaces the bias VJP ``g.sum(axis=(0, 2, 3))`` of that ``conv2d`` by ``ones @ rows(g)``,
  one BLAS pass over the channels-last gradient instead of NumPy's row-by-row sum.
* **A reshape whose gradient keeps its input's memory layout**
  (:mod:`minigrad.fast.layout_reshape`): replaces ``minigrad.reshape`` and
  ``minigrad.ops.reshape`` (which ``Tensor.reshape`` calls), so the gradient of a conv
  layer's flattened maps comes back laid out as the maps are, and the VJPs below it
  run over one layout.

One trick became a definition instead: :class:`models.Maxout` lays its columns out
piece by piece (piece k of every unit in one block), in memory and in files alike, so
that its forward pass is a reshape and a maximum over the pieces axis; there is no
other layout to switch to (files of earlier versions, grouped by unit, are converted as
they load, :mod:`models.old_files`).

Why off the reading path: each trick trades lines about the idea for lines about
memory or about a shared library, and a student learning backprop should meet the
idea. (The fold used to live in the engine itself, which then knew the optimizer; it
now leaves the engine's walk as it is.) ``docs/measurements.md`` says what each kept
or dropped trick is worth, with the command that measured it.

Old names: ``Optimizer.backward_and_step(loss)`` stays, defined here as
``loss.backward(); self.step()`` and attached to ``training.optim.Optimizer`` when
``training`` is imported, whether or not the fast paths are on; :func:`enable` gives
``SGD`` the folded one.
"""

from __future__ import annotations

import contextlib

import minigrad
from minigrad.engine import accumulate_grads, is_anomaly_detection_enabled
from minigrad.fast import conv_bias_gemv, folded_momentum, layout_reshape, numpy_blas
from minigrad.fast.allocator import keep_freed_memory
from minigrad.fast.blas_momentum import add_velocity, momentum_step

from . import loop
from .optim import SGD, Optimizer

#: (owner, name) -> the textbook object :func:`enable` replaced there (``_INHERITED``: the
#: owner had none of its own, a class inheriting it); empty while switched off.
_replaced: dict = {}
_INHERITED = object()


def _sgd_update_through_blas(self, i, w, g):
    """``SGD._update`` with classical momentum through :func:`minigrad.fast.blas_momentum.momentum_step`;
    Nesterov's variant and weight decay take the textbook update."""
    if self.nesterov or self.weight_decay or not self.momentum:
        return _replaced[(SGD, "_update")](self, i, w, g)
    momentum_step(self.buffers["velocity"][i], w, g, self.momentum, self._lr(i))


def _sgd_backward_and_step_folded(self, loss) -> None:
    """``loss.backward(); self.step()``, with the step folded into the backward pass
    (:mod:`minigrad.fast.folded_momentum`) when :func:`_can_fold`; otherwise the pair itself.

    Every parameter keeps ``.grad`` None; another leaf that requires grad (an input)
    gets its ``.grad`` as ``backward()`` gives it. All velocities are computed before
    any weight moves, as ``step()`` computes every gradient before it.
    """
    if not _can_fold(self, loss):
        return backward_and_step(self, loss)
    velocities = self.buffers["velocity"]
    folds = {id(p): folded_momentum.Fold(velocities[i], self.momentum, self._lr(i)) for i, p in enumerate(self.params)}
    reached = folded_momentum.backward(loss, folds)
    accumulate_grads([(leaf, g) for leaf, g in reached if id(leaf) not in folds])
    gradients = {id(leaf): g for leaf, g in reached}
    moved = [p for p in self.params if folds[id(p)].update_velocity(gradients.get(id(p)))]
    for p in moved:
        add_velocity(p.data, folds[id(p)].v)
    self.steps += 1


def _can_fold(optimizer, loss) -> bool:
    """Whether the folded step gives what ``loss.backward(); optimizer.step()`` would.

    It needs classical momentum (no Nesterov, no weight decay), SGD's own step and update
    (a subclass that overrides them does something else), NumPy's BLAS, a
    single-element loss to differentiate, no ``.grad`` left over to add to, parameters
    that are leaves (a parameter computed from another passes its gradient on), and
    :func:`minigrad.detect_anomaly` off (it checks each gradient as the walk makes it,
    and a folded one is never made).
    """
    cls = type(optimizer)
    return bool(optimizer.momentum and not (optimizer.nesterov or optimizer.weight_decay)
                and cls._update is SGD._update and cls.step is Optimizer.step and numpy_blas.available()
                and loss.requires_grad and loss.data.size == 1 and not is_anomaly_detection_enabled()
                and all(p.is_leaf and p.grad is None for p in optimizer.params))


def train_step(model, optimizer, loss, x, y) -> float:
    """``training.train_step`` with ``loss.backward()`` and ``optimizer.step()`` taken as one
    ``optimizer.backward_and_step(loss)`` where the optimizer has it, so that SGD can fold
    its update into the backward pass."""
    optimizer.zero_grad()
    value = loss(model, x, y)
    if hasattr(optimizer, "backward_and_step"):
        optimizer.backward_and_step(value)
    else:
        value.backward()
        optimizer.step()
    model.constrain()
    return float(value.data)


def _replacements() -> list:
    """``(owner, name, fast object)`` for each name :func:`enable` rebinds."""
    import training

    return [(SGD, "_update", _sgd_update_through_blas),
            (SGD, "backward_and_step", _sgd_backward_and_step_folded),
            (loop, "train_step", train_step), (training, "train_step", train_step),
            (minigrad, "linear", folded_momentum.linear), (minigrad.ops, "linear", folded_momentum.linear),
            (minigrad, "conv2d", conv_bias_gemv.conv2d),
            (minigrad, "reshape", layout_reshape.reshape), (minigrad.ops, "reshape", layout_reshape.reshape)]


def is_enabled() -> bool:
    """Whether :func:`enable` has switched the fast paths on (and :func:`disable` not yet off)."""
    return bool(_replaced)


def enable() -> None:
    """Switch every trick above on (a second call changes nothing)."""
    keep_freed_memory()
    if is_enabled():
        return
    for owner, name, fast in _replacements():
        _replaced[(owner, name)] = vars(owner).get(name, _INHERITED)
        setattr(owner, name, fast)


def disable() -> None:
    """Put back every textbook function :func:`enable` replaced (the allocator setting stays)."""
    while _replaced:
        (owner, name), textbook = _replaced.popitem()
        if textbook is _INHERITED:
            delattr(owner, name)
        else:
            setattr(owner, name, textbook)


@contextlib.contextmanager
def enabled():
    """``with enabled():`` runs its block with the fast paths on, then leaves them as they were."""
    was_on = is_enabled()
    enable()
    try:
        yield
    finally:
        if not was_on:
            disable()


def backward_and_step(self, loss) -> None:
    """``loss.backward()``, then ``self.step()``: one update from the gradients of ``loss``.

    An old name, kept for code that calls it: ``training.train_step`` spells the two
    calls out. With the fast paths on, ``SGD`` has a ``backward_and_step`` of its own,
    which folds the update into the backward pass (:func:`_sgd_backward_and_step_folded`).
    """
    loss.backward()
    self.step()


Optimizer.backward_and_step = backward_and_step
