"""The one switch for the speed tricks: ``enable()``, ``disable()``, ``enabled()``.

The code a student reads (the reading path the README names, from
``minigrad/tensor.py`` to ``attacks/adversarial_training.py``) is the textbook form,
and importing the project leaves it so. The tricks that make the same
computation faster live in :mod:`minigrad.fast`, one module each, and :func:`enable`
is the one place that switches them on. ``advex`` and the benchmarks call it at their
entry; a script or a notebook can call it too, or run a block under ``with enabled():``.
Results agree with the textbook path to float rounding (``tests/test_fast_paths.py``).

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
* **Chunked im2col** (:mod:`minigrad.fast.chunked_im2col`):
  replaces ``minigrad.conv2d``, the name ``models.Conv2d`` calls, by a ``conv2d`` with
  the same signature and results that builds im2col's patch matrix in chunks when a
  batch's patch matrix is large (an attack's batch of 1,000 images; a training batch
  is one chunk and takes the textbook op).
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
idea. Dropped: folding a dense layer's weight gradient into SGD's velocity with one
gemm during the backward walk (it made the engine know the optimizer).
``docs/measurements.md`` says what each kept or dropped trick is worth, with the
command that measured it.

Old names: ``Optimizer.backward_and_step(loss)`` stays, defined here as
``loss.backward(); self.step()`` and attached to ``training.optim.Optimizer`` when
``training`` is imported, whether or not the fast paths are on.
"""

from __future__ import annotations

import contextlib

import minigrad
from minigrad.fast import chunked_im2col, layout_reshape
from minigrad.fast.allocator import keep_freed_memory
from minigrad.fast.blas_momentum import momentum_step

from .optim import SGD, Optimizer

#: (owner, name) -> the textbook object :func:`enable` replaced there; empty while switched off.
_replaced: dict = {}


def _sgd_update_through_blas(self, i, w, g):
    """``SGD._update`` with classical momentum through :func:`minigrad.fast.blas_momentum.momentum_step`;
    Nesterov's variant and weight decay take the textbook update."""
    if self.nesterov or self.weight_decay:
        return _replaced[(SGD, "_update")](self, i, w, g)
    momentum_step(self.buffers["velocity"][i], w, g, self.momentum, self._lr(i))


def _replacements() -> list:
    """``(owner, name, fast object)`` for each name :func:`enable` rebinds."""
    return [(SGD, "_update", _sgd_update_through_blas),
            (minigrad, "conv2d", chunked_im2col.conv2d),
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
        _replaced[(owner, name)] = getattr(owner, name)
        setattr(owner, name, fast)


def disable() -> None:
    """Put back every textbook function :func:`enable` replaced (the allocator setting stays)."""
    while _replaced:
        (owner, name), textbook = _replaced.popitem()
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

    An old name, kept for code that calls it: ``training.train_step`` now spells the
    two calls out. (It used to fold a dense layer's weight gradient into SGD's velocity
    during the backward walk; that trick is dropped, see ``docs/measurements.md``.)
    """
    loss.backward()
    self.step()


Optimizer.backward_and_step = backward_and_step
