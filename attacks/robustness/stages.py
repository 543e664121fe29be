"""The lessons of the robustness lab, each a stage of :class:`~attacks.robustness.run.Robustness`.

Like the reproduction's stages, each computes once (kept in the run folder under its
name) and returns measurements ``{"id", "metric", "ours", "n"}`` for the report.
"""

from __future__ import annotations

import functools
import os

import numpy as np

import models
import training

from .. import figures
from ..adversarial_training import fast_adversarial_recipe
from ..apgd import apgd_ce
from ..methods import bpda, fgsm, pgd
from ..square import square_attack
from ..worst_case import worst_case
from ..reproduction.stages import measurement
from .claims import COLLAPSE_FRACTION, COLLAPSE_RISE, FAST_EPS, PAPER_EPS

_error = training.error_rate


def _accuracy(model, x, y) -> float:
    """The fraction of ``x`` classified as ``y``, rounded to 6 places (1 - error leaves 0.8049999...)."""
    return round(1.0 - _error(model, x, y), 6)


def _pgd(steps, restarts, step_size=0.01, seed=0):
    """PGD with a random start as an attack callable: ``steps`` of ``step_size``, ``restarts`` starts."""
    return functools.partial(_run_pgd, steps=steps, restarts=restarts, step_size=step_size, seed=seed)


def _run_pgd(model, x, y, eps, clip=(0.0, 1.0), *, steps, restarts, step_size, seed):
    return pgd(model, x, y, eps, step_size=step_size, steps=steps, restarts=restarts, seed=seed, clip=clip)


def _transfer(surrogate, attack):
    """``attack`` crafted on ``surrogate``, whatever model it is then evaluated on (a black-box attack)."""
    def transferred(model, x, y, eps, clip=(0.0, 1.0)):
        return attack(surrogate, x, y, eps, clip=clip)

    return transferred


def _suite(r, surrogate, *, square_p_init: float):
    b = r.budget
    white = {"fgsm": fgsm, "pgd": _pgd(b.pgd_steps, b.pgd_restarts, seed=r.seed),
             "apgd": functools.partial(apgd_ce, iterations=b.apgd_iterations)}
    black = {"square": functools.partial(square_attack, queries=b.square_queries, p_init=square_p_init, seed=r.seed),
             "transfer": _transfer(surrogate, _pgd(b.pgd_steps, 1, seed=r.seed))}
    return white, black


def strong_attacks(r) -> list:
    """Lesson 1: the paper's maxout networks under FGSM, PGD with restarts, APGD-CE, Square and
    transfer, and the per-example worst case (eps 0.25 unclipped, as the paper)."""
    X, y = r.test
    found, errors = [], {}
    for name, prefix, other in (("maxout", "maxout", "maxout_adversarial"), ("maxout_adversarial", "advmaxout", "maxout")):
        def run(name=name, other=other):
            white, black = _suite(r, r.paper_model(other), square_p_init=0.8)
            return worst_case(r.paper_model(name), X, y, PAPER_EPS, white_box=white, black_box=black, clip=None)

        result = r.folder.stage(f"strong attacks {name}", run)
        errors[prefix] = {a: v["error_rate"] for a, v in result["attacks"].items()} | {
            "worst case": result["worst_case"]["error_rate"]}
        found += [measurement(f"{attack}_{prefix}", "error_rate", result["attacks"][attack]["error_rate"], result["n"])
                  for attack in ("fgsm", "pgd", "apgd", "square")]
        found.append(measurement(f"worstcase_{prefix}", "error_rate", result["worst_case"]["error_rate"], result["n"]))
    r.figure("attack_strength.png", figures.plot_attack_strength, errors,
             title=f"the paper's maxout networks, eps {PAPER_EPS} unclipped, n = {len(y)}")
    return found


def label_leaking(r) -> list:
    """Lesson 2: FGSM against the adversarially trained maxout from the true labels and from its predictions.

    The lesson's second half comes from :func:`catastrophic_overfitting`: the conv net
    trained by plain FGSM, whose FGSM accuracy from the true labels can exceed its clean
    accuracy (the row ``labelleak_overfit_by_epoch``).
    """
    X, y = r.test

    def run():
        model = r.paper_model("maxout_adversarial")
        return {"clean": _error(model, X, y), "true": _error(model, fgsm(model, X, y, PAPER_EPS, clip=None), y),
                "predicted": _error(model, fgsm(model, X, None, PAPER_EPS, clip=None), y), "n": len(y)}

    e = r.folder.stage("label leaking", run)
    return [measurement(f"labelleak_{key}", "error_rate", e[source], e["n"])
            for key, source in (("clean", "clean"), ("true", "true"), ("pred", "predicted"))]


def _tracked(r, name: str, *, seed: int, random_start: bool, step_size: float, keep_best: bool = False):
    """SmallConvNet trained by FGSM training (:func:`attacks.fast_adversarial_recipe`) from ``seed``,
    epoch by epoch, with its accuracy on the held-out images after each epoch (one stage per
    epoch): clean, under FGSM from the true labels and from its own predictions, under PGD.

    ``keep_best``: the model kept is the epoch with the best held-out PGD accuracy (Wong
    et al.'s remedy for catastrophic overfitting), saved as ``NAME-best`` when it is found.
    Returns the model and ``{"clean": [...], "fgsm": [...], "fgsm_pred": [...], "pgd": [...]}``.
    """
    b, X_h, y_h = r.budget, *r.holdout
    n_train = len(r.train[0])
    track = _pgd(b.track_pgd_steps, 1, step_size=FAST_EPS / 4, seed=r.seed)
    best_path = r.folder.model_path(f"{name}-best")
    best_key = os.path.relpath(best_path, r.folder.out)

    def make():  # initialised as PyTorch does, as Wong et al.'s network was (He's scheme does not train robustly here)
        return models.SmallConvNet(r.image_shape(), n_classes=int(r.y.max()) + 1, init="pytorch", seed=seed)

    def recipe(model):
        return fast_adversarial_recipe(model, n_train, epochs=b.fast_epochs, eps=FAST_EPS, step_size=step_size,
                                       random_start=random_start)

    def records(upto: int) -> list:
        return [r.folder.stages[f"{name} epoch {e}"]["result"] for e in range(1, upto + 1)]

    def train():
        if keep_best and f"{name} epoch 1" in r.folder.stages and not os.path.exists(best_path):
            raise FileNotFoundError(f"{best_path} is missing, but the run folder records epochs of {name}: its best "
                                    "epoch cannot be recovered (it is saved when its epoch is measured); use a new --out")
        model = None
        for epoch in range(1, b.fast_epochs + 1):
            model = make()
            training.fit(model, *r.train, seed=seed, progress=r.progress, monitor_size=0, resume=True,
                         checkpoint_dir=r.folder.checkpoint_dir(name), **dict(recipe(model), epochs=epoch))

            def measure(model=model, epoch=epoch):  # runs once per epoch: the model is that epoch's
                result = {"clean": _accuracy(model, X_h, y_h), "fgsm": _accuracy(model, fgsm(model, X_h, y_h, FAST_EPS), y_h),
                          "fgsm_pred": _accuracy(model, fgsm(model, X_h, None, FAST_EPS), y_h),
                          "pgd": _accuracy(model, track(model, X_h, y_h, FAST_EPS), y_h)}
                if keep_best and result["pgd"] > max((e["pgd"] for e in records(epoch - 1)), default=-1.0):
                    r.folder.save_file(best_key, lambda path: models.save(model, path))
                return result

            r.folder.stage(f"{name} epoch {epoch}", measure)
        accuracy = [e["pgd"] for e in records(b.fast_epochs)]
        best_epoch = int(np.argmax(accuracy)) + 1
        if keep_best:
            r.folder.check_used_file(best_key)  # saved by this run as its best epoch, not copied in
            model = models.load(best_path, expected=models.SmallConvNet)
        return model, {"epochs": b.fast_epochs, "best_epoch": best_epoch if keep_best else None, "seconds_per_epoch": None,
                       "seed": seed}

    model = r.folder.model(name, models.SmallConvNet, train, (r.X, r.labels))
    by_epoch = records(b.fast_epochs)
    return model, {key: [e[key] for e in by_epoch] for key in ("clean", "fgsm", "fgsm_pred", "pgd")}


def _training_seeds(r) -> range:
    return range(r.seed, r.seed + r.budget.fast_seeds)


def _fast_runs(r) -> dict:
    """Fast adversarial training from each training seed: ``{seed: (model, accuracies by epoch)}``.

    The recipe is unstable at eps 0.3: from one seed it holds, from another its PGD
    accuracy rises and then collapses (catastrophic overfitting with the random start),
    so the lab trains from several and reports them all.
    """
    return {seed: _tracked(r, f"fast_random_start_seed{seed}", seed=seed, random_start=True, step_size=0.375,
                           keep_best=True) for seed in _training_seeds(r)}


def _chosen_seed(runs: dict) -> int:
    """The training seed whose best epoch has the highest held-out PGD accuracy (the first, on a tie)."""
    return max(runs, key=lambda seed: max(runs[seed][1]["pgd"]))


def fast_adversarial(r) -> list:
    """Lesson 3: fast adversarial training (FGSM from a random start) on SmallConvNet, evaluated with PGD.

    Each training seed keeps its best held-out epoch; the seed whose kept epoch is best on
    the held-out images is the one evaluated on the test images (model selection on held-out
    data only: the test images decide nothing).
    """
    b, (X, y) = r.budget, r.test
    runs = _fast_runs(r)
    seed = _chosen_seed(runs)
    model = runs[seed][0]

    def run():
        attack = _pgd(b.eval_pgd_steps, b.eval_pgd_restarts, seed=r.seed)
        return {"clean": _error(model, X, y), "fgsm": _error(model, fgsm(model, X, y, FAST_EPS), y),
                "pgd": _error(model, attack(model, X, y, FAST_EPS), y), "n": len(y), "seed": seed}

    e = r.folder.stage("fast adversarial evaluation", run)
    if e["seed"] != seed:
        raise ValueError(f"the run folder's fast adversarial evaluation is of seed {e['seed']}, its held-out numbers choose "
                         f"seed {seed}: the folder is inconsistent; use a new --out")
    by_seed = {f"seed{s}": accuracy["pgd"] for s, (_, accuracy) in runs.items()}
    return [measurement(f"fgsmrs_{key}", "error_rate", e[key], e["n"]) for key in ("clean", "fgsm", "pgd")] + [
        measurement("fgsmrs_seed", "seed", e["seed"], len(r.holdout[1])),
        measurement("fgsmrs_pgd_by_seed", "pgd_accuracy_by_epoch", by_seed, len(r.holdout[1]))]


def collapse_epoch(pgd_accuracy, *, rose_to: float = COLLAPSE_RISE, fraction_of_best: float = COLLAPSE_FRACTION):
    """The first epoch at which a run's PGD accuracy, having reached at least ``rose_to``,
    falls below ``fraction_of_best`` times its best so far: the moment of catastrophic
    overfitting (None if it never happens). A run at 0 throughout never rose, and has no
    such moment.
    """
    best = 0.0
    for epoch, accuracy in enumerate(pgd_accuracy, start=1):
        if best >= rose_to and accuracy < fraction_of_best * best:
            return epoch
        best = max(best, accuracy)
    return None


def catastrophic_overfitting(r) -> list:
    """Lesson 4: the same training without the random start (plain FGSM at eps 0.3); FGSM and PGD
    accuracy on held-out images after every epoch, beside the runs with it, and the epoch at
    which each run's PGD accuracy collapsed (if it did)."""
    fast = _fast_runs(r)
    chosen_seed = _chosen_seed(fast)
    runs = {f"random_start_seed{seed}": accuracy for seed, (_, accuracy) in fast.items()}
    _, without = _tracked(r, "fgsm_no_random_start", seed=r.seed, random_start=False, step_size=r.budget.overfit_step)
    runs[f"no_random_start_seed{r.seed}"] = without
    collapsed = {key: collapse_epoch(accuracy["pgd"]) for key, accuracy in runs.items()}

    def label(key):
        start, seed = key.rsplit("_seed", 1)
        evaluated = " (evaluated)" if start == "random_start" and int(seed) == chosen_seed else ""
        return f"{start.replace('_', ' ')}, seed {seed}{evaluated}"

    r.figure("overfitting.png", figures.plot_accuracy_by_epoch, {label(k): v for k, v in runs.items()},
             marks={label(k): v for k, v in collapsed.items()},
             title=f"FGSM training, eps {FAST_EPS}: accuracy on {len(r.holdout[1])} held-out images after each epoch")
    chosen, n = fast[chosen_seed][1], len(r.holdout[1])
    return [measurement("overfit_pgd_by_epoch", "pgd_accuracy_by_epoch",
                        {"random_start": chosen["pgd"], "no_random_start": without["pgd"]}, n),
            measurement("overfit_fgsm_by_epoch", "fgsm_accuracy_by_epoch",
                        {"random_start": chosen["fgsm"], "no_random_start": without["fgsm"]}, n),
            measurement("overfit_collapse_epoch", "epoch", collapsed, n),
            measurement("labelleak_overfit_by_epoch", "accuracy_by_epoch",
                        {"clean": without["clean"], "fgsm_true": without["fgsm"], "fgsm_pred": without["fgsm_pred"]}, n)]


def _fired(flags: dict) -> dict:
    return {name: flag["fired"] for name, flag in flags.items()}


def plain_gradient_masking(r) -> list:
    """Lesson 5a: the maxout network's plain float32 gradient saturates; the flags see it, the worst case recovers."""
    X, y = r.test

    def run():
        model = r.paper_model("maxout")
        plain = functools.partial(fgsm, exact=False)
        square = functools.partial(square_attack, queries=r.budget.square_queries, p_init=0.8, seed=r.seed)
        result = worst_case(model, X, y, PAPER_EPS, white_box={"fgsm_plain": plain}, black_box={"square": square}, clip=None)
        return {"plain": result["attacks"]["fgsm_plain"]["error_rate"],
                "exact": _error(model, fgsm(model, X, y, PAPER_EPS, clip=None), y),
                "flags": _fired(result["flags"]), "n": len(y)}

    e = r.folder.stage("plain gradient masking", run)
    return [measurement("plaingrad_fgsm", "error_rate", e["plain"], e["n"]),
            measurement("exactgrad_fgsm", "error_rate", e["exact"], e["n"]),
            measurement("plaingrad_flags", "flags_fired", e["flags"], e["n"])]


def masked_model(r) -> list:
    """Lesson 5b: SmallConvNet behind an input quantiser looks robust to gradient attacks and is not."""
    b, (X, y) = r.budget, r.test

    def clean_recipe(model):
        return dict(optimizer=training.Adam(model.parameters(), lr=1e-3), batch_size=100, epochs=b.surrogate_epochs)

    classes = int(r.y.max()) + 1
    masked = r.model("masked", lambda: models.SmallConvNet(r.image_shape(), classes, quantise=b.quantise_levels,
                                                           seed=r.seed), clean_recipe)
    surrogate = r.model("surrogate", lambda: models.SmallConvNet(r.image_shape(), classes, seed=r.seed + 1), clean_recipe)

    def run():
        white, black = _suite(r, surrogate, square_p_init=0.8)
        white.pop("apgd")
        result = worst_case(masked, X, y, FAST_EPS, white_box=white, black_box=black)
        through = bpda(_pgd(b.pgd_steps, 1, seed=r.seed))
        return {"clean": result["clean_error"], **{k: v["error_rate"] for k, v in result["attacks"].items()},
                "bpda": _error(masked, through(masked, X, y, FAST_EPS), y), "flags": _fired(result["flags"]), "n": len(y)}

    e = r.folder.stage("masked model", run)
    x = X[:8]
    r.figure("masked_bpda_examples.png", figures.plot_examples, masked, x, bpda(_pgd(b.pgd_steps, 1, seed=r.seed))(
        masked, x, y[:8], FAST_EPS), y[:8], title=f"quantised SmallConvNet, BPDA (PGD through the quantiser), eps {FAST_EPS}")
    n = e["n"]
    names = (("clean", "clean"), ("fgsm", "fgsm"), ("pgd", "pgd"), ("transfer", "transfer"),
             ("gradient_free", "square"), ("bpda", "bpda"))
    return [measurement(f"masked_{id}", "error_rate", e[key], n) for id, key in names] + [
        measurement("masked_flags", "flags_fired", e["flags"], n)]
