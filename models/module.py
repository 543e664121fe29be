"""``Module``: the base of every layer and model, holding parameters, mode and state.

A module's weights are its ``Tensor`` attributes; its parameters, what an optimizer
trains, are the weights that require grad; its children are its ``Module`` attributes
(and the modules in a ``list`` attribute, for ``Sequential``). All are found by
looking at the attributes in the order they were assigned, so a layer only has to
create them in ``__init__``: nothing to register. Names are dotted paths
(``"layers.0.weight"``), which is also how ``state_dict`` keys and checkpoint files
name them. A frozen weight (``requires_grad = False``) is no parameter, so no
optimizer changes it, but it is still part of the model: ``state_dict`` and model
files keep every weight, frozen or not (they do not record which were frozen), and
``load_state_dict`` needs every one.

A layer may also hold *buffers*: fixed arrays that are part of the model but not
trained (the fitted whitening of :class:`models.ContrastWhitening`). It lists their
attribute names in ``buffer_names``; ``state_dict`` and model files keep them beside
the weights, and no optimizer ever sees them. A layer that must be fitted holds NaN
in every buffer until it is; :func:`models.load` refuses any other NaN or inf.
"""

from __future__ import annotations

import contextlib

import numpy as np

import minigrad as mg


class Module:
    """Base class: ``parameters()``, ``train()``/``eval()``, ``state_dict()``, ``constrain()``."""

    training: bool = True
    #: The attributes holding this layer's buffers (ndarrays kept with the model, never trained).
    buffer_names: tuple = ()

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    # --- structure ------------------------------------------------------------------
    def children(self):
        """``(name, module)`` for each direct sub-module, in assignment order."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def named_weights(self, prefix: str = ""):
        """``(dotted name, Tensor)`` for every weight (Tensor attribute), frozen or not, of this module and
        its children: what the model's state holds beside its buffers."""
        for name, value in vars(self).items():
            if isinstance(value, mg.Tensor):
                yield prefix + name, value
        for name, child in self.children():
            yield from child.named_weights(prefix + name + ".")

    def named_parameters(self, prefix: str = ""):
        """``(dotted name, Tensor)`` for every parameter (a weight that requires grad) of this module and its children."""
        return ((name, p) for name, p in self.named_weights(prefix) if p.requires_grad)

    def named_buffers(self, prefix: str = ""):
        """``(dotted name, ndarray)`` for every buffer of this module and its children."""
        for name in self.buffer_names:
            yield prefix + name, getattr(self, name)
        for name, child in self.children():
            yield from child.named_buffers(prefix + name + ".")

    def parameters(self) -> list:
        """Every parameter Tensor (requires_grad=True), in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def modules(self):
        """This module and all modules below it, depth first."""
        return (module for _, module in self.named_modules())

    def named_modules(self, prefix: str = ""):
        """``(dotted prefix, module)`` for this module (prefix ``""``) and all below it, depth first."""
        yield prefix, self
        for name, child in self.children():
            yield from child.named_modules(prefix + name + ".")

    # --- mode -------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active) for this module and all below it."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode (dropout off)."""
        return self.train(False)

    @contextlib.contextmanager
    def evaluating(self, enabled: bool = True):
        """Run the block in evaluation mode (if ``enabled``), then restore the mode it had.

        Predictions and attacks use it, so they see the deterministic network without
        changing the mode a training loop set.
        """
        if not enabled:
            yield self
            return
        modes = [(module, module.training) for module in self.modules()]
        self.eval()
        try:
            yield self
        finally:
            for module, mode in modes:  # each its own: a layer may have been set apart
                module.training = mode

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``.grad = None``), so that the next backward pass starts afresh.

        The optimizer's ``zero_grad`` does the same for the parameters it updates;
        :func:`training.train_step` calls that one.
        """
        for p in self.parameters():
            p.grad = None

    def constrain(self) -> None:
        """Apply the constraints of every layer (such as max-norm) after an update."""
        for module in self.modules():
            module.apply_constraint()

    def apply_constraint(self) -> None:
        """This layer's own constraint on its parameters; none by default."""

    def set_rng(self, rng: np.random.Generator) -> None:
        """Hook: draw this layer's random numbers from ``rng`` from now on; nothing by default.

        :func:`training.fit` calls it on every module with the run's one generator, so
        its seed fixes the dropout masks too. A layer that draws random numbers
        overrides it (``Dropout`` does).
        """

    # --- state ------------------------------------------------------------------------
    def state_arrays(self) -> dict:
        """``{name: array}`` for every weight (frozen too) and buffer: the arrays themselves, not
        copies (what a file write needs, which copies them into the file anyway)."""
        return {**{name: w.data for name, w in self.named_weights()}, **dict(self.named_buffers())}

    def state_dict(self) -> dict:
        """``{name: copy of the array}`` for every weight (frozen too) and buffer: everything needed to restore the model."""
        return {name: array.copy() for name, array in self.state_arrays().items()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the weights and buffers; names, shapes and dtypes must match exactly
        (:meth:`check_state_dict`). On a ValueError nothing is changed."""
        self.check_state_dict(state)
        for name, array in self.state_arrays().items():
            array[...] = np.asarray(state[name])

    def check_state_dict(self, state: dict) -> None:
        """The ValueError :meth:`load_state_dict` raises for ``state``, naming the array at fault; changes nothing.

        Every weight (frozen or not) and buffer must be there with its shape and dtype, and
        nothing else. (Older checkpoints hold no frozen weight, only the trained ones;
        ``training.fit`` fills those in from the model before it loads one.)
        """
        own = self.state_arrays()
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the state does not fit this model "
                f"(missing: {missing or 'none'}; unexpected: {unexpected or 'none'})"
            )
        for name, array in own.items():
            value = np.asarray(state[name])
            if value.shape != array.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {name} has shape {value.shape}, the model expects {array.shape}")
            if value.dtype != array.dtype:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {name} has dtype {value.dtype}, the model expects {array.dtype}")
