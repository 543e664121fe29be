"""Optimizers: update parameters in place from their gradients, and schedules for their settings.

An optimizer holds the parameters it updates and one buffer per parameter (SGD's
velocity, Adam's moments). ``step()`` reads each parameter's ``.grad``, which
``loss.backward()`` has filled, and moves ``.data``; ``zero_grad()`` clears the
gradients before the next backward pass. ``state_dict()`` holds everything needed to
resume exactly (buffers, step count and settings); checkpoints store it. A
:class:`Schedule` sets one setting (``lr``, ``momentum``) before every update.
"""

from __future__ import annotations

import numpy as np

from minigrad.validation import integer_at_least


class Optimizer:
    """Base class: the parameter list, ``zero_grad()``, and state for checkpoints."""

    settings: tuple = ("lr",)
    #: The valid range of each numeric setting: (low, high, whether low itself is allowed);
    #: high is never allowed. Checked at construction and whenever a schedule sets one.
    ranges: dict = {"lr": (0.0, np.inf, False)}

    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimise")
        seen = {}
        for i, p in enumerate(self.params):
            if id(p) in seen:  # step() would move it twice
                raise ValueError(f"{type(self).__name__}: parameters {seen[id(p)]} and {i} are the same tensor "
                                 "(a tied weight?): pass each one once")
            seen[id(p)] = i
        self.lr = self.check_setting("lr", lr)
        self.steps = 0
        self.buffers: dict[str, list[np.ndarray]] = {}

    def check_setting(self, name: str, value) -> float:
        """``value`` as a float if it is in ``name``'s range, else a ValueError naming both."""
        low, high, low_allowed = self.ranges[name]
        if not ((low <= value if low_allowed else low < value) and value < high):
            interval = f"{'[' if low_allowed else '('}{low:g}, {high:g})"
            raise ValueError(f"{type(self).__name__}: {name} must be in {interval}, got {value}")
        return float(value)

    def zero_grad(self) -> None:
        """Forget the gradients of the parameters (``.grad = None``) before the next backward pass."""
        for p in self.params:
            p.grad = None

    def _new_buffers(self, *names: str) -> None:
        for name in names:
            self.buffers[name] = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        """One update from the current gradients (a parameter without ``.grad`` is left alone)."""
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(i, p.data, p.grad)
        self.steps += 1

    def _update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict:
        """``{"settings": {...}, "steps": n, "buffers": {name: [arrays]}}`` (arrays copied)."""
        return {
            "settings": {name: getattr(self, name) for name in self.settings},
            "steps": self.steps,
            "buffers": {name: [b.copy() for b in arrays] for name, arrays in self.buffers.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        """Take the settings, step count and buffers of ``state``, which must fit this optimizer
        (:meth:`check_state_dict`). On a ValueError nothing is changed."""
        self.check_state_dict(state)
        for name, value in state["settings"].items():
            setattr(self, name, value)
        self.steps = int(state["steps"])
        for name, arrays in state["buffers"].items():
            for mine, saved in zip(self.buffers[name], arrays):
                mine[...] = saved

    def check_state_dict(self, state: dict) -> None:
        """The ValueError :meth:`load_state_dict` raises for ``state``, naming what does not fit; changes nothing.

        Every setting and buffer :meth:`state_dict` gives must be there, and nothing else;
        each buffer must hold one array per parameter, of that parameter's shape (a
        weight frozen or unfrozen since the state was saved changes both).
        """
        name = f"{type(self).__name__}.load_state_dict"
        own = {*self.settings, *self.buffers}
        given = {*state["settings"], *state["buffers"]}
        missing, unexpected = sorted(own - given), sorted(given - own)
        if missing or unexpected:
            raise ValueError(f"{name}: the state does not fit this optimizer "
                             f"(missing: {missing or 'none'}; unexpected: {unexpected or 'none'})")
        for buffer, arrays in state["buffers"].items():
            if len(arrays) != len(self.params):
                raise ValueError(f"{name}: buffer {buffer!r} holds {len(arrays)} arrays, "
                                 f"the optimizer has {len(self.params)} parameters")
            for i, (array, p) in enumerate(zip(arrays, self.params)):
                if np.shape(array) != p.data.shape:
                    raise ValueError(f"{name}: buffer {buffer!r} {i} has shape {np.shape(array)}, "
                                     f"the optimizer's parameter {i} {p.data.shape}")


class SGD(Optimizer):
    """Stochastic gradient descent with (optionally Nesterov) momentum and weight decay.

    With d = g + weight_decay * w, the velocity and the weights are updated as

        v <- momentum * v - lr * d
        w <- w + v                          (classical momentum)
        w <- w + momentum * v - lr * d      (Nesterov)

    ``lr`` and ``momentum`` are plain attributes, so a schedule can change them.
    ``lr_scales`` (one positive number per parameter, default all 1) multiplies each
    parameter's learning rate, as pylearn2's ``W_lr_scale`` does: the maxout paper's
    CIFAR-10 recipe trains its conv layers at 0.05 times the rate of the dense ones.
    """

    settings = ("lr", "momentum", "nesterov", "weight_decay", "lr_scales")
    ranges = {**Optimizer.ranges, "momentum": (0.0, 1.0, True), "weight_decay": (0.0, np.inf, True)}

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 lr_scales=None):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = self.check_setting("momentum", momentum), self.check_setting("weight_decay", weight_decay)
        if nesterov and momentum == 0.0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.nesterov = bool(nesterov)
        if lr_scales is not None:
            lr_scales = [float(s) for s in lr_scales]
            if len(lr_scales) != len(self.params) or not all(np.isfinite(s) and s > 0 for s in lr_scales):
                raise ValueError(f"SGD: lr_scales needs one finite number > 0 per parameter ({len(self.params)}), "
                                 f"got {lr_scales}")
        self.lr_scales = lr_scales  # a list (as a checkpoint's JSON gives it back) or None
        self._new_buffers("velocity")

    def _lr(self, i: int) -> float:
        return self.lr if self.lr_scales is None else self.lr * self.lr_scales[i]

    def _update(self, i, w, g):
        v, lr = self.buffers["velocity"][i], self._lr(i)
        if self.weight_decay:
            g = g + self.weight_decay * w  # the gradient of the loss plus weight_decay / 2 * ||w||^2
        v[...] = self.momentum * v - lr * g
        if self.nesterov:
            w += self.momentum * v - lr * g
        else:
            w += v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): per-parameter step sizes from running moments of the gradient.

        m <- b1 m + (1 - b1) g,   s <- b2 s + (1 - b2) g^2
        w <- w - lr * m_hat / (sqrt(s_hat) + eps),   m_hat = m / (1 - b1^t),  s_hat = s / (1 - b2^t)

    at step t = 1, 2, ... The moments start at 0, so early on they are biased toward 0;
    dividing by 1 - b^t undoes that bias. ``weight_decay`` adds weight_decay * w to g
    (L2 regularisation, not AdamW).
    """

    settings = ("lr", "beta1", "beta2", "eps", "weight_decay")
    ranges = {**Optimizer.ranges, "beta1": (0.0, 1.0, True), "beta2": (0.0, 1.0, True), "eps": (0.0, np.inf, False),
              "weight_decay": (0.0, np.inf, True)}

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        beta1, beta2 = betas  # 1 would divide by 0 in the bias correction
        self.beta1, self.beta2 = self.check_setting("beta1", beta1), self.check_setting("beta2", beta2)
        self.eps, self.weight_decay = self.check_setting("eps", eps), self.check_setting("weight_decay", weight_decay)
        self._new_buffers("m", "s")

    def step(self) -> None:
        self._t = self.steps + 1  # bias corrections use the number of this step
        super().step()

    def _update(self, i, w, g):
        m, s = self.buffers["m"][i], self.buffers["s"][i]
        if self.weight_decay:
            g = g + self.weight_decay * w
        m[...] = self.beta1 * m + (1 - self.beta1) * g
        s[...] = self.beta2 * s + (1 - self.beta2) * (g * g)
        m_hat = m / (1 - self.beta1**self._t)
        s_hat = s / (1 - self.beta2**self._t)
        w -= self.lr * m_hat / (np.sqrt(s_hat) + self.eps)


class Schedule:
    """Sets one optimizer attribute (``attr``) from the step and epoch before every update.

    Schedules are pure functions of (step, epoch), so a resumed run sees exactly the
    values an uninterrupted one would.
    """

    def __init__(self, attr: str):
        self.attr = attr

    def value(self, step: int, epoch: int) -> float:  # pragma: no cover
        raise NotImplementedError

    def apply(self, optimizer, step: int, epoch: int) -> None:
        """Set the value for this step, checked against the optimizer's range for it."""
        setattr(optimizer, self.attr, optimizer.check_setting(self.attr, self.value(step, epoch)))

    def check(self, optimizer) -> None:
        """Before training: a ValueError unless the optimizer has a numeric setting named ``attr``
        and the schedule's extreme values lie in its range (not hours later, at the last epoch)."""
        if self.attr not in optimizer.ranges:
            raise ValueError(f"{type(self).__name__} sets {self.attr!r}, which {type(optimizer).__name__} does not have "
                             f"(its settings: {', '.join(optimizer.ranges)})")
        for value in self.extremes():
            optimizer.check_setting(self.attr, value)

    def extremes(self) -> tuple:
        """The values between which the schedule moves (checked before training)."""
        return ()


class ExponentialDecay(Schedule):
    """value = max(start * factor ** step, floor), step counting updates from 0.

    The maxout recipe: lr = 0.1 multiplied by 1 / 1.000004 after every update, floor 1e-6.
    """

    def __init__(self, attr: str, start: float, factor: float, floor: float = 0.0):
        super().__init__(attr)
        if not 0 < factor <= 1:  # a decay: its extremes are then start and floor, checked before training
            raise ValueError(f"ExponentialDecay: factor must be in (0, 1], got {factor}")
        self.start, self.factor, self.floor = start, factor, floor

    def value(self, step, epoch):
        return max(self.start * self.factor**step, self.floor)

    def extremes(self):
        return (self.start,) + ((self.floor,) if self.floor else ())


class StepDecay(Schedule):
    """value = start * gamma ** (epoch // every): multiplied by gamma every ``every`` epochs."""

    def __init__(self, attr: str, start: float, gamma: float, every: int):
        super().__init__(attr)
        if not 0 < gamma <= 1:  # a decay: its largest value is start, checked before training
            raise ValueError(f"StepDecay: gamma must be in (0, 1], got {gamma}")
        self.start, self.gamma, self.every = start, gamma, integer_at_least(every, 1, "StepDecay: every")

    def value(self, step, epoch):
        return self.start * self.gamma ** (epoch // self.every)

    def extremes(self):
        return (self.start,)


class LinearRamp(Schedule):
    """value goes linearly from ``start`` to ``end`` between epochs ``begin`` and ``finish``.

    Epochs count from 0 here; the maxout recipe ramps momentum from 0.5 to 0.7 between
    epochs 1 and 250 (pylearn2's MomentumAdjustor(start=1, saturate=250)).
    """

    def __init__(self, attr: str, start: float, end: float, begin: int, finish: int):
        super().__init__(attr)
        if finish <= begin:
            raise ValueError(f"LinearRamp: finish ({finish}) must come after begin ({begin})")
        self.start, self.end, self.begin, self.finish = start, end, begin, finish

    def value(self, step, epoch):
        fraction = min(max((epoch - self.begin) / (self.finish - self.begin), 0.0), 1.0)
        return self.start + fraction * (self.end - self.start)

    def extremes(self):
        return (self.start, self.end)


class Triangular(Schedule):
    """value rises linearly from 0 to ``peak`` over the first ``rise`` of ``steps`` updates, then falls back to 0.

    The cyclic learning rate of Wong, Rice & Kolter's fast adversarial training (one
    cycle, peak at 2/5 of the run). Each update takes the value at its middle
    (step + 1/2), so no update has a learning rate of exactly 0.
    """

    def __init__(self, attr: str, peak: float, steps: int, rise: float = 0.4):
        super().__init__(attr)
        if not (0 < peak < np.inf and 0 < rise < 1):
            raise ValueError(f"Triangular: peak must be finite and > 0 and rise in (0, 1), got {peak} and {rise}")
        self.peak, self.steps, self.rise = float(peak), integer_at_least(steps, 1, "Triangular: steps"), float(rise)

    def value(self, step, epoch):
        t = min(step + 0.5, self.steps - 0.5) / self.steps
        return self.peak * (t / self.rise if t <= self.rise else (1 - t) / (1 - self.rise))

    def extremes(self):
        return (self.peak, self.value(0, 0), self.value(self.steps - 1, 0))
