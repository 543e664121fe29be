"""The training loop: minibatch SGD with validation, early stopping, checkpoints and resume.

``fit`` owns every source of randomness of a run: one ``numpy.random.Generator``
made from ``seed`` shuffles the minibatches and is handed, through the ``set_rng``
hook, to every module of the model (``Dropout`` draws its masks from it) and to the
loss if it has that method (PGD adversarial training's random starts). Its state is checkpointed with the weights
and the optimizer (after every epoch, or once ``checkpoint_interval`` seconds have
passed), so ``fit(..., resume=True)`` continues an interrupted run and ends with
exactly the weights an uninterrupted run would have.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time

import numpy as np

import minigrad as mg
from minigrad.labels import check_labels
from minigrad.validation import integer_at_least, is_integer

from . import checkpoints
from .checkpoints import CHECKPOINT_NAME, run_key  # noqa: F401 (their old home: names users import from here)
from .progress import progress_bar


def default_loss(model, x, y):
    """The model's own loss on its logits: ``model.loss(model(x), y)`` (mean over the batch)."""
    return model.loss(model(mg.Tensor(x)), y)


@dataclasses.dataclass
class History:
    """Per-epoch records of a run; ``best_epoch`` is the one whose weights were kept."""

    epoch: list = dataclasses.field(default_factory=list)
    train_loss: list = dataclasses.field(default_factory=list)
    train_error: list = dataclasses.field(default_factory=list)
    val_error: list = dataclasses.field(default_factory=list)
    lr: list = dataclasses.field(default_factory=list)
    seconds: list = dataclasses.field(default_factory=list)
    best_epoch: int | None = None

    def append(self, **row) -> None:
        for name, value in row.items():
            getattr(self, name).append(value)


@dataclasses.dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs without a lower validation error; keep the best weights.

    ``restore_best``: at the end of training the model gets the weights of its best
    epoch back (the paper's "keep the best"). ``min_delta``: how much lower counts.
    """

    patience: int
    min_delta: float = 0.0
    restore_best: bool = True
    best: float = np.inf
    best_epoch: int | None = None
    waited: int = 0
    best_state: dict | None = dataclasses.field(default=None, repr=False)

    def update(self, value: float, epoch: int, model) -> bool:
        """Record one epoch's validation error; True when training should stop.

        A NaN error (a ``validate`` that returns NaN) raises: it would never improve, and
        training would stop silently after ``patience`` epochs.
        """
        if not np.isfinite(value):
            raise ValueError(f"EarlyStopping: the validation error of epoch {epoch} is {value}")
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.waited = value, epoch, 0
            self.best_state = model.state_dict()
        else:
            self.waited += 1
        return self.waited >= self.patience


def error_rate(model, X, y, batch_size: int = 1000) -> float:
    """Fraction of examples the model misclassifies (evaluation mode, batched); NaN for none.

    ``y`` must be one label per row of X: a (N, 1) or length-1 ``y`` would broadcast
    against the predictions and give a meaningless rate.
    """
    y = check_labels(y, len(X), None, what="error_rate: y")
    return float(np.mean(model.predict(X, batch_size) != y)) if len(y) else float("nan")


def train_step(model, optimizer, loss, x, y) -> float:
    """One update: the loss ``loss(model, x, y)``, its gradient by backpropagation (after which
    every parameter's ``.grad`` holds its gradient), the optimizer's step, then the model's
    constraints (max-norm). Returns the loss, a float. (``training.fast_paths.enable()``
    replaces it by a version that lets SGD fold its step into the backward pass.)"""
    optimizer.zero_grad()
    value = loss(model, x, y)
    value.backward()
    optimizer.step()
    model.constrain()
    return float(value.data)


def fit(model, X, y, *, epochs: int, batch_size: int, optimizer, loss=None, val=None,
        val_fraction: float | None = None, early_stopping: EarlyStopping | None = None, schedules=(), seed: int = 0,
        checkpoint_dir=None, resume: bool = False, progress: bool = True, monitor_size: int = 10_000, validate=None,
        checkpoint_interval: float = 0.0) -> History:
    """Train ``model`` on (X, y) with minibatches; return the per-epoch :class:`History`.

    Each step: the ``schedules`` set the optimizer's settings for this step, then
    ``loss(model, x_batch, y_batch)`` (a scalar Tensor; default: the model's own loss),
    its gradient and the update (:func:`train_step`), and ``model.constrain()`` (max-norm).

    X: (N, D) float32 in any range (float64 is converted once); y: (N,) integer labels.
    Validation data: ``val=(X_val, y_val)``, or ``val_fraction``, which holds out the
    *last* fraction of (X, y) (the paper trains on the first 50,000 MNIST images and
    validates on the last 10,000). The training error is measured in evaluation mode
    on the first ``monitor_size`` training examples after every epoch (0: not at all).
    ``checkpoint_dir``: after every epoch the whole state is written there atomically
    (or, with ``checkpoint_interval``, after an epoch once that many seconds have passed
    since the last write, and after the last epoch); ``resume=True`` continues from it
    (and is a no-op start when there is none) with exactly the uninterrupted result
    (:mod:`training.checkpoints`).
    The model is left in evaluation mode (with the best weights, under early stopping).
    ``validate(model, X_val, y_val) -> error`` replaces :func:`error_rate` as the
    validation error that is recorded and early-stopped on (for example the error on
    adversarial examples, when training for robustness).
    """
    X, y, val = _training_and_validation_data(X, y, val, val_fraction)
    _check_settings(epochs, batch_size, monitor_size, seed, early_stopping, val)
    _check_model(model, needs_loss=loss is None, needs_predict=(val is not None and validate is None) or monitor_size > 0)
    _check_optimizer(optimizer, model, schedules)
    checkpoint = checkpoints.checkpoint_path(checkpoint_dir)
    restoring = resume and checkpoint is not None and os.path.exists(checkpoint)
    _check_early_stopping_is_new(early_stopping, restoring)
    loss = default_loss if loss is None else loss
    rng = _generator_of_the_run(seed, model, loss)
    # What a checkpoint must match to be resumed (model, optimizer, data, seed): saved with it, compared on resume.
    run = None if checkpoint is None else run_key(model, optimizer, X, y, batch_size=batch_size, seed=seed,
                                                    scheduled={s.attr for s in schedules})
    history, start_epoch, step = History(), 0, 0
    if restoring:
        start_epoch, step = _resume(checkpoint, run, model, optimizer, rng, history, early_stopping, epochs)

    n_batches = math.ceil(len(X) / batch_size)
    last_checkpoint = time.perf_counter()
    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        model.train()
        order = rng.permutation(len(X))
        bar = progress_bar(len(X), f"epoch {epoch + 1}/{epochs}", progress)
        total_loss = 0.0
        for b in range(n_batches):
            batch = order[b * batch_size : (b + 1) * batch_size]
            for schedule in schedules:
                schedule.apply(optimizer, step, epoch)
            total_loss += train_step(model, optimizer, loss, X[batch], y[batch]) * len(batch)
            step += 1
            bar.update(len(batch))
        model.eval()
        row = _epoch_row(model, epoch, total_loss / len(X), X, y, val, validate, monitor_size, optimizer, started)
        history.append(**row)
        bar.set_postfix_str(_summary(row))
        bar.close()
        stop = early_stopping is not None and early_stopping.update(row["val_error"], epoch + 1, model)
        due = time.perf_counter() - last_checkpoint >= checkpoint_interval or stop or epoch + 1 == epochs
        if checkpoint is not None and due:
            checkpoints.save(checkpoint, run, epoch + 1, step, model, optimizer, rng, history, early_stopping)
            last_checkpoint = time.perf_counter()
        if stop:
            break
    _keep_the_best_epoch(model, history, early_stopping)
    model.eval()
    return history


def _generator_of_the_run(seed: int, model, loss) -> np.random.Generator:
    """The run's one generator, seeded by ``seed``, handed through ``set_rng`` to every module of
    ``model`` (dropout masks) and to ``loss`` if it takes one (PGD's random starts)."""
    rng = np.random.default_rng(seed)
    for module in model.modules():
        module.set_rng(rng)
    if callable(getattr(loss, "set_rng", None)):
        loss.set_rng(rng)
    return rng


def _resume(checkpoint, run, model, optimizer, rng, history, early_stopping, epochs: int) -> tuple[int, int]:
    """(the first epoch to run, the step count) after restoring the run saved in ``checkpoint``
    (:func:`training.checkpoints.restore`); ``epochs`` if that run had already stopped early."""
    epoch, step = checkpoints.restore(checkpoint, run, model, optimizer, rng, history, early_stopping)
    if early_stopping is not None and early_stopping.waited >= early_stopping.patience:
        epoch = epochs
    return epoch, step


def _epoch_row(model, epoch: int, train_loss: float, X, y, val, validate, monitor_size: int, optimizer,
               started: float) -> dict:
    """The history's row of ``epoch`` (counted from 0), measured on the model in evaluation mode: the
    training error on the first ``monitor_size`` examples, the validation error (by ``validate``, or
    :func:`error_rate`), the learning rate and the seconds since ``started``."""
    return dict(
        epoch=epoch + 1,
        train_loss=train_loss,
        train_error=error_rate(model, X[:monitor_size], y[:monitor_size]) if monitor_size else None,
        val_error=(validate or error_rate)(model, *val) if val is not None else None,
        lr=float(optimizer.lr),
        seconds=time.perf_counter() - started,
    )


def _keep_the_best_epoch(model, history: History, early_stopping) -> None:
    """Under early stopping, record the best epoch and (``restore_best``) give the model its weights back."""
    if early_stopping is not None and early_stopping.best_state is not None:
        history.best_epoch = early_stopping.best_epoch
        if early_stopping.restore_best:
            model.load_state_dict(early_stopping.best_state)


def _training_and_validation_data(X, y, val, val_fraction):
    """``(X, y, val)`` checked (:func:`_check_data`), with ``val`` the last ``val_fraction`` of (X, y) if that is given."""
    X, y = _check_data(X, y)
    if val is not None and val_fraction is not None:
        raise ValueError("fit: pass either val=(X_val, y_val) or val_fraction, not both")
    if val_fraction is not None:
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"fit: val_fraction must be in (0, 1), got {val_fraction}")
        cut = len(X) - int(round(len(X) * val_fraction))
        X, y, val = X[:cut], y[:cut], (X[cut:], y[cut:])
    if not len(X):
        raise ValueError("fit: no training examples (after holding out the validation fraction)")
    if val is not None:
        val = _check_data(*val, what="validation ")
        if not len(val[0]):
            raise ValueError("fit: the validation set is empty")
    return X, y, val


def _check_settings(epochs, batch_size, monitor_size, seed, early_stopping, val) -> None:
    """fit's numbers must be integers in their ranges, and early stopping needs validation data."""
    if early_stopping is not None and val is None:
        raise ValueError("fit: early_stopping needs validation data (val= or val_fraction=)")
    if not is_integer(epochs) or not is_integer(batch_size) or epochs < 0 or batch_size < 1:
        raise ValueError(f"fit: need integers epochs >= 0 and batch_size >= 1, got {epochs!r} and {batch_size!r}")
    integer_at_least(monitor_size, 0, "fit: monitor_size")
    integer_at_least(seed, 0, "fit: seed")


def _check_early_stopping_is_new(early_stopping, restoring: bool) -> None:
    """An EarlyStopping watches one run: a used one is refused, unless the run it watched is being resumed."""
    if early_stopping is not None and not restoring and (early_stopping.best_epoch is not None or early_stopping.waited):
        raise ValueError("fit: this EarlyStopping has already watched a run (it holds that run's best weights): "
                         "give each fit a new one")


def _check_optimizer(optimizer, model, schedules) -> None:
    """The optimizer must update this model's parameters, and each schedule set one of its settings."""
    own = {id(p) for p in model.parameters()}
    foreign = sum(id(p) not in own for p in getattr(optimizer, "params", ()))
    if foreign:
        raise ValueError(f"fit: {foreign} of the optimizer's parameters are not among the model's trainable ones "
                         "(another model's, or frozen since): build it from model.parameters() of the model you train")
    for schedule in schedules:
        schedule.check(optimizer)


def _check_model(model, *, needs_loss: bool, needs_predict: bool) -> None:
    """Fail before the first step, in one line, when the model lacks what training will call."""
    needed = ["parameters", "modules", "train", "eval", "constrain", "state_dict", "load_state_dict"]
    needed += ["loss"] if needs_loss else []
    needed += ["predict"] if needs_predict else []
    missing = [name for name in needed if not callable(getattr(model, name, None))]
    if missing:
        raise TypeError(
            f"fit: {type(model).__name__} has no {', '.join(name + '()' for name in missing)}; "
            "subclass models.Classifier and write logits() (or pass loss= and validate=)"
        )
    if not model.parameters():
        raise ValueError(f"fit: {type(model).__name__} has no parameters (no Tensor attribute with requires_grad=True)")


def _check_data(X, y, what: str = ""):
    """``(X as float32, y as integer labels)``, or the error naming what is wrong (``what``: "validation " or "")."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"fit: {what}X must have shape (N, features), got {X.shape}")
    if X.dtype.kind != "f":
        hint = " (raw pixels? divide by 255)" if X.dtype == np.uint8 else ""
        raise TypeError(f"fit: {what}X must be floating point, got {X.dtype}{hint}")
    y = check_labels(y, len(X), None, what=f"fit: {what}y")
    if not np.isfinite(X).all():
        raise ValueError(f"fit: {what}X contains NaN or inf")
    return X.astype(np.float32, copy=False), y


def _summary(row: dict) -> str:
    parts = [f"loss {row['train_loss']:.4f}"]
    if row["train_error"] is not None:
        parts.append(f"train err {100 * row['train_error']:.2f}%")
    if row["val_error"] is not None:
        parts.append(f"val err {100 * row['val_error']:.2f}%")
    return ", ".join(parts)
