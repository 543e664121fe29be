"""``advex``: the command line of the lab.

    advex demo                                   the lecture's logistic example, computed
    advex attack --model PATH [--eps E ...]      attack a saved model on the MNIST test set
                 [--import MODULE]               (a model class of your own: import its module first)
                 [--cifar DIR [--units U]]       (or on CIFAR-10's, eps in pixels or preprocessed units)
    advex reproduce [--quick] [--out DIR]        the paper's experiments, our numbers beside its own
                    [--models NAME ...] [--mlp]  (only some models; also a ReLU MLP)
                    [--cifar DIR]                (and the CIFAR-10 result, from a folder you supply)
    advex robustness [--quick] [--out DIR]       after the paper: PGD, APGD, worst case, label leaking, fast
                     [--paper-models DIR]        adversarial training, catastrophic overfitting, gradient masking
    advex transfer [--quick] [--out DIR]         transfer between algorithms (DNN, LR, SVM, tree, kNN) and the
                                                 black-box attack from labels alone
    advex physical [--quick] [--out DIR]         adversarial examples through a simulated camera: destruction
                   [--paper-models DIR]          rates, and expectation over transformation
    advex exercises [start DIR | check [N ...]]  the lecture as graded homework: list the exercises, write their
                                                 stubs into DIR, grade a student's files (or --solutions)

``advex attack`` writes ``attack.md`` (a table), ``attack.json`` and, if matplotlib is
installed, figures (clean vs adversarial digits, error and confidence versus eps, the
linearity plot) into ``--out``, replacing what an earlier ``advex attack`` wrote there.
Errors (bad arguments, unreadable or wrong files, NaN weights, an unwritable ``--out``)
print one line and exit with status 2; arguments and files are checked before any
work. ``ADVEX_DEBUG=1`` shows the full traceback instead. (Arguments argparse itself
rejects, such as ``--eps abc``, print its usage line before the error, also exit 2.)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time

import numpy as np

import models
import training
from models.io import atomic_write_text, refuse_foreign

from . import exercises, figures, toy
from .checks import check_model_fits
from .methods import SHORT_PGD_STEP_FRACTION, SHORT_PGD_STEPS, fgsm, noise_attack, pgd
from .metrics import evaluate, fgsm_preprocessed, linearity
from .reproduction import FULL, FULL_SIZE, MODELS, QUICK, Reproduction
from .reproduction import run as reproduction_run, seeds as seeds_module
from .robustness import Robustness
from .physical import Physical
from .transferability import Transferability
from .toy import describe, toy_example


class CommandError(Exception):
    """A problem the user can fix, reported with its whole message (where we looked, how to fix it)."""


def table(rows: list, title: str) -> str:
    """The rows of :func:`attacks.evaluate` as a Markdown table."""
    clip = rows[0]["clip"] if rows else None
    lines = [f"# {title}", "", f"n = {rows[0]['n'] if rows else 0} test examples; clip = {clip}", "",
             "| eps | error | confidence on mistakes | p(true class) | mean L-inf | mean L2 | zero-gradient fraction |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        confidence = "no mistakes" if np.isnan(r["confidence_wrong"]) else f"{100 * r['confidence_wrong']:.1f}%"
        lines.append(f"| {r['eps']:g} | {100 * r['error_rate']:.2f}% | {confidence} "
                     f"| {100 * r['p_true']:.1f}% | {r['linf']:.3f} | {r['l2']:.2f} | "
                     f"{'' if r['zero_grad_fraction'] is None else format(r['zero_grad_fraction'], '.4f')} |")
    in_pixels = [r for r in rows if "mean_linf_pixels" in r]
    if in_pixels:  # eps in preprocessed units: what they cost in pixels
        lines += ["", "eps in preprocessed units; the same perturbation in pixels (first order):", "",
                  "| eps | mean L-inf in pixels | error when applied in pixels |", "|---|---|---|"]
        lines += [f"| {r['eps']:g} | {r['mean_linf_pixels']:.4f} | {100 * r['error_rate_in_pixels']:.2f}% |" for r in in_pixels]
    return "\n".join(lines) + "\n"


def load_test_set(args, checksums):
    """The test split of ``--cifar`` (CIFAR-10, checked against ``checksums``), of ``--data`` (any IDX
    data set, unchecked) or of MNIST."""
    if args.cifar is not None:
        with naming_checksum_file(args):
            return training.load_cifar10("test", args.cifar, checksums=checksums)
    if args.data is not None:
        return training.load_idx_dataset(args.data, "test")
    return training.load_mnist("test")


def cifar_checksums(args):
    """The digests of ``--cifar-checksums`` (None: the official ones); refused without ``--cifar``."""
    if args.cifar_checksums is None:
        return None
    if args.cifar is None:
        raise CommandError("--cifar-checksums needs --cifar DIR")
    return training.read_md5sums(args.cifar_checksums)


@contextlib.contextmanager
def naming_checksum_file(args):
    """A CIFAR-10 file read without a digest in ``--cifar-checksums`` becomes a CommandError naming that file."""
    try:
        yield
    except training.cifar.MissingChecksumError as error:
        raise CommandError(f"--cifar-checksums {args.cifar_checksums}: {error}") from None


def _attack(name: str, steps: int, step_size):
    if name == "fgsm":
        return fgsm
    if name == "noise":
        return noise_attack(seed=0)

    starts = np.random.default_rng(0)  # one generator for the command: every batch and eps starts afresh

    def iterated(model, x, y, eps, clip=(0.0, 1.0)):
        size = eps * SHORT_PGD_STEP_FRACTION if step_size is None else step_size
        return pgd(model, x, y, eps, step_size=size, steps=steps, seed=starts, clip=clip)

    return iterated


def import_user_modules(names) -> None:
    """Import each module (from the current folder or installed), so that it registers its classes.

    This is the only way ``advex`` runs a user's code: a model file names a class, never
    code to import, so loading a file cannot execute anything. A module is named as
    Python's ``import`` names it (``my_models``, ``lab.models``), never by a path: a path
    is refused, saying what to pass instead.
    """
    for name in names:
        if name.endswith(".py") or not all(part.isidentifier() for part in name.split(".")):
            raise CommandError(f"--import takes a module's name (my_models, lab.models), not a path or a relative "
                               f"name, got {name!r}: pass --import my_models for my_models.py and run advex from its "
                               "folder, or put that folder on PYTHONPATH")
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise CommandError(f"--import {name}: {error}") from None


def check_finite(name: str, value) -> None:
    """A CommandError unless ``value`` is a finite number >= 0, and finite in float32 (the data's dtype)."""
    if not (np.isfinite(value) and 0 <= value <= float(np.finfo(np.float32).max)):
        raise CommandError(f"{name} must be a finite number >= 0 (at most {np.finfo(np.float32).max:.1e}, float32's "
                           f"largest), got {value}")


#: The flags that name a file or folder, by their attribute in the parsed arguments.
PATH_FLAGS = {"model": "--model", "data": "--data", "cifar": "--cifar", "cifar_checksums": "--cifar-checksums",
              "paper_models": "--paper-models", "out": "--out", "dir": "--dir", "folder": "DIR"}


def expand_paths(args) -> None:
    """Each path flag given, with ``~`` expanded (the shell leaves ``--flag=~/x`` alone), or a CommandError
    for an empty one: '' would name the current folder, whose files a command would read or overwrite."""
    for attribute, flag in PATH_FLAGS.items():
        value = getattr(args, attribute, None)
        if value is None:
            continue
        if not value.strip():
            raise CommandError(f"{flag} is empty ({value!r}): pass a path (. for the current folder)")
        setattr(args, attribute, os.path.expanduser(value))


#: What ``advex attack`` writes into ``--out``; a folder holding anything else is refused.
ATTACK_OUTPUTS = ("attack.json", "attack.md", "examples.png", "eps_curve.png", "linearity.png")


def writable_folder(path: str) -> None:
    """A CommandError now, before any work, if results could not be written into ``path``.

    A missing folder is created and its created parts removed again: the one sure test,
    where ``os.access`` says yes to root on a file system that takes no folder (/proc).
    """
    if os.path.islink(path) and not os.path.exists(path):
        raise CommandError(f"--out {path}: a symbolic link to {os.readlink(path)}, which does not exist: make that "
                           "folder, or pass another --out")
    probe, missing = path, []
    while not os.path.exists(probe):
        missing.append(probe)
        probe = os.path.dirname(os.path.abspath(probe))
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
        raise CommandError(f"--out {path}: cannot write there ({probe} is not a writable folder)")
    try:
        os.makedirs(path)
    except FileExistsError:
        return
    except OSError as error:
        raise CommandError(f"--out {path}: cannot write there ({error.strerror or error})") from None
    for created in missing:  # the deepest first
        os.rmdir(created)


def run_attack(args) -> int:
    for e in args.eps:
        check_finite("--eps", e)
    if args.n < 0:
        raise CommandError(f"--n must be >= 0 (0: all test images), got {args.n}")
    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.steps < 0:
        raise CommandError(f"--steps must be >= 0, got {args.steps}")
    if args.step_size is not None:
        check_finite("--step-size", args.step_size)
    writable_folder(args.out)
    refuse_foreign(args.out, ATTACK_OUTPUTS, "attack.json", "advex attack")  # its own output it replaces
    if args.cifar is not None and args.data is not None:
        raise CommandError("--cifar and --data each name the test set: choose one")
    checksums = cifar_checksums(args)
    if args.units == "preprocessed" and args.attack != "fgsm":
        raise CommandError(f"--units preprocessed works with --attack fgsm, not {args.attack}")
    import_user_modules(args.imports)
    model = models.load(args.model)  # a missing or bad file, like bad data, is reported by main in one line
    unfitted = [type(layer).__name__ for _, layer in model.named_modules() if getattr(layer, "fitted", True) is False]
    if unfitted:
        raise CommandError(f"--model {args.model}: its {', '.join(unfitted)} layer was saved unfitted: fit it on the "
                           "training rows (model.preprocess.fit) before models.save")
    if args.units == "preprocessed" and getattr(model, "preprocess", None) is None:
        raise CommandError(f"--units preprocessed: {args.model} ({type(model).__name__}) has no preprocessing layer; "
                           "its eps are in pixels")
    X, y = load_test_set(args, checksums)
    if args.n:
        X, y = X[: args.n], y[: args.n]
    check_model_fits(model, X, y, args.model)
    clip = None if args.no_clip else (0.0, 1.0)
    attack = _attack(args.attack, args.steps, args.step_size)
    if args.units == "preprocessed":  # the maxout paper's CIFAR-10 units: no valid range to clip to
        clip = None
        rows = evaluate(model, X, y, eps=[0.0], clip=None, batch_size=args.batch_size)
        rows += fgsm_preprocessed(model, X, y, sorted(args.eps), batch_size=args.batch_size)
    else:
        rows = evaluate(model, X, y, attack=attack, eps=[0.0] + sorted(args.eps), clip=clip, batch_size=args.batch_size)
    for name in ATTACK_OUTPUTS:  # an earlier run's figures must not sit beside this run's tables
        if os.path.exists(os.path.join(args.out, name)):
            os.remove(os.path.join(args.out, name))
    title = f"{args.attack} on {os.path.basename(args.model)} ({type(model).__name__}), eps in {args.units}"
    atomic_write_text(os.path.join(args.out, "attack.json"), json.dumps({"model": args.model, "attack": args.attack, "rows": rows}, indent=2))
    atomic_write_text(os.path.join(args.out, "attack.md"), table(rows, title))
    print(table(rows, title))
    try:
        eps = max(args.eps)
        if figures.image_shape_of(model, X.shape[1]) is not None:  # the digits figure needs images
            if args.units == "preprocessed":  # drawn in pixels: the same perturbation, to first order
                view, z = model.on_preprocessed(), model.preprocess(X[:8]).data
                x_adv = X[:8] + model.preprocess.pixel_change(X[:8], fgsm(view, z, y[:8], eps, clip=None) - z)
            else:
                x_adv = attack(model, X[:8], y[:8], eps, clip=clip)
            figures.plot_examples(model, X[:8], x_adv, y[:8], os.path.join(args.out, "examples.png"),
                                  title=f"{args.attack}, eps = {eps:g} ({args.units}): prediction (confidence), red = wrong",
                                  adversarial_label="noise" if args.attack == "noise" else "adversarial")
        figures.plot_eps_curves({title: rows}, os.path.join(args.out, "eps_curve.png"))
        figures.plot_linearity(linearity(model, X[:1], y[:1], eps_max=max(1.0, eps)), os.path.join(args.out, "linearity.png"),
                               attack_eps=None if args.units == "preprocessed" else eps)  # the walk is in pixels
        print(f"figures and tables written to {args.out}")
    except ImportError as error:
        print(f"tables written to {args.out}; no figures: {error}")
    return 0


def run_reproduce(args) -> int:
    if args.quick and args.full_size:
        raise CommandError("--quick and --full-size contradict each other: choose one")
    budget = QUICK if args.quick else FULL_SIZE if args.full_size else FULL
    if args.seeds is not None:
        return run_seeds(args, budget)
    if args.summary_only:
        raise CommandError("--summary-only summarises the runs of --seeds: pass the seeds")
    args.seed = 0 if args.seed is None else args.seed
    args.out = "advex-results" if args.out is None else args.out

    def make():
        with naming_checksum_file(args):
            return Reproduction(args.out, budget=budget, data=args.data, seed=args.seed, progress=not args.quiet,
                                models=args.models, mlp=args.mlp, cifar=args.cifar,
                                cifar_checksums=cifar_checksums(args))

    return run_experiment(args, make)


def run_seeds(args, budget) -> int:
    """``advex reproduce --seeds S ...``: each seed's run in OUT/seed-S (checked, then run, each resumable), then
    OUT/summary.json and summary.md; ``--summary-only`` summarises what is there and trains nothing."""
    if args.seed is not None:
        raise CommandError("--seed and --seeds: choose one (--seeds 0 runs seed 0 alone)")
    seeds_module.check_seeds(args.seeds)
    args.out = "advex-seeds" if args.out is None else args.out
    seeds_module.check_seeds_folder(args.out)
    writable_folder(args.out)
    started = time.perf_counter()

    def make(seed):
        with naming_checksum_file(args):
            return Reproduction(seeds_module.seed_folder(args.out, seed), budget=budget, data=args.data, seed=seed,
                                progress=not args.quiet, models=args.models, mlp=args.mlp, cifar=args.cifar,
                                cifar_checksums=cifar_checksums(args))

    if not args.summary_only:
        for seed in sorted(args.seeds, key=lambda s: not os.path.exists(seeds_module.seed_folder(args.out, s))):
            try:  # every folder checked before any work, those that exist first: one of other settings is refused
                make(seed)  # here, before a new seed's folder is made
            except ValueError as error:
                raise CommandError(f"--seeds: seed {seed}: {error}") from None
        for seed in args.seeds:
            seed_started = time.perf_counter()
            try:
                make(seed).run()
            except models.ModelFileError as error:
                raise CommandError(f"--seeds: seed {seed}: {error}; remove it, or pass another --out") from None
            print(f"seed {seed}: done in {time.perf_counter() - seed_started:.0f} s; results in "
                  f"{seeds_module.seed_folder(args.out, seed)}")
    if not os.path.isdir(args.out):
        raise CommandError(f"--out {args.out}: no such folder, so no seed run to summarise")
    with naming_checksum_file(args):
        sources = reproduction_run.recorded_sources(args.data, args.cifar, cifar_checksums(args))
    summary = seeds_module.summarize(args.out, args.seeds, budget=budget, **sources)
    seeds_module.write_summary(args.out, summary)
    print(open(os.path.join(args.out, "summary.md")).read())
    print(f"done in {time.perf_counter() - started:.0f} s; summary in {args.out}")
    return 0


def run_experiment(args, make) -> int:
    """What the experiment commands share: check ``--seed`` (and ``--paper-models``, for a command that has it)
    and ``--out`` before any work, build the run with ``make()``, run it, and print its results.md."""
    if args.seed < 0:
        raise CommandError(f"--seed must be >= 0, got {args.seed}")
    paper_models = getattr(args, "paper_models", None)
    if paper_models is not None and not os.path.isdir(paper_models):
        what = "a file, not a folder" if os.path.exists(paper_models) else "no such folder"
        raise CommandError(f"--paper-models {paper_models}: {what} (pass the --out of an advex reproduce run)")
    writable_folder(args.out)
    started = time.perf_counter()
    run = make()
    try:
        run.run()
    except models.ModelFileError as error:  # a file in OUT that is not the model its stage expects
        raise CommandError(f"{error}; remove it, or pass another --out") from None
    print(open(os.path.join(args.out, "results.md")).read())
    print(f"done in {time.perf_counter() - started:.0f} s; results in {args.out}")
    return 0


def run_robustness(args) -> int:
    return run_experiment(args, lambda: Robustness(args.out, quick=args.quick, data=args.data, seed=args.seed,
                                                   progress=not args.quiet, paper_models=args.paper_models))


def run_transfer(args) -> int:
    return run_experiment(args, lambda: Transferability(args.out, quick=args.quick, data=args.data, seed=args.seed,
                                                        progress=not args.quiet))


def run_physical(args) -> int:
    return run_experiment(args, lambda: Physical(args.out, quick=args.quick, data=args.data, seed=args.seed,
                                                 progress=not args.quiet, paper_models=args.paper_models))


def run_exercises(args) -> int:
    """``advex exercises``: list them; ``start DIR``: write the stubs; ``check``: grade (exit 1 when one fails)."""
    if args.action is None:
        print(exercises.listing())
        return 0
    if args.action == "start":
        for name, what in exercises.start(args.folder):
            print(f"{name}: {what}")
        print(f"next: complete a function in {args.folder}, then: advex exercises check N --dir {args.folder}")
        return 0
    numbers = sorted(set(args.numbers)) or None
    for n in numbers or ():
        exercises.exercise(n)  # an unknown number is a ValueError, reported in one line
    if args.solutions and args.dir is not None:
        raise CommandError("--solutions grades the library's own code: it reads no --dir")
    folder = "." if args.dir is None else args.dir
    if not args.solutions and not os.path.isdir(folder):
        raise CommandError(f"--dir {folder}: no such folder (advex exercises start {folder} writes the stubs there)")
    from .exercises import grader

    try:
        passed = grader.check(numbers, folder, solutions=args.solutions, verbose=args.verbose)
    except grader.NeedsHypothesis as error:
        raise CommandError(str(error)) from None
    return 0 if passed else 1


def run_demo(args) -> int:
    check_finite("--eps", args.eps)
    largest = float(np.finfo(np.float32).max) / (2 * float(np.abs(toy.W).sum()))  # w.x moves by eps * ||w||_1
    if args.eps > largest:
        raise CommandError(f"--eps {args.eps:g} would move w.x by eps * ||w||_1 beyond float32's largest number: "
                           f"pass at most {largest:.1e}")
    print(describe(toy_example(args.eps)))
    return 0


#: What --cifar-checksums does, for every command that takes it.
CIFAR_CHECKSUMS_HELP = ("MD5s of a CIFAR-format set that is not the official one, in md5sum's format; every file it lists "
                        "is checked, .bin files too, and every file read must have a digest, its own or an official one "
                        "(an extracted binary folder's are read unchecked without it)")


def experiment(commands, name: str, run, help: str, *, paper_models: str | None = None) -> None:
    """The subcommand ``advex NAME`` of an experiment with a resumable run folder: --quick, --data, --out, --seed,
    --paper-models (with its help, where the experiment attacks the reproduction's models) and --quiet."""
    command = commands.add_parser(name, help=help)
    command.add_argument("--quick", action="store_true", help="small budgets (minutes)")
    command.add_argument("--data", help="an IDX data set folder (default: MNIST); published numbers show only for MNIST")
    command.add_argument("--out", default=f"advex-{name}", help="output folder; re-running reuses finished stages")
    command.add_argument("--seed", type=int, default=0)
    if paper_models is not None:
        command.add_argument("--paper-models", metavar="DIR", help=paper_models)
    command.add_argument("--quiet", action="store_true", help="no progress bars")
    command.set_defaults(run=run)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="advex", description="Adversarial examples, reproduced from first principles.")
    commands = top.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="print the lecture's 10-dimensional logistic example")
    demo.add_argument("--eps", type=float, default=0.1, help="the FGSM step (default 0.1)")
    demo.set_defaults(run=run_demo)
    attack = commands.add_parser("attack", help="attack a saved model on the MNIST test set")
    attack.add_argument("--model", required=True, help="a model file written by models.save")
    attack.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first: it registers a model class of your own with models.register "
                        "(repeatable). A module name as Python imports it (my_models, not ./my_models.py), found in "
                        "the current folder, on PYTHONPATH or installed")
    attack.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.25], help="perturbation sizes (L-inf)")
    attack.add_argument("--attack", choices=("fgsm", "pgd", "noise"), default="fgsm")
    attack.add_argument("--steps", type=int, default=SHORT_PGD_STEPS, help=f"pgd: number of steps (default {SHORT_PGD_STEPS})")
    attack.add_argument("--step-size", type=float, default=None,
                        help=f"pgd: step size (default eps * {SHORT_PGD_STEP_FRACTION:g})")
    attack.add_argument("--no-clip", action="store_true", help="do not clip to [0, 1] (the paper's setting)")
    attack.add_argument("--data", help="folder with a data set in MNIST's IDX layout, e.g. Fashion-MNIST "
                        "(default: MNIST from $MINIGRAD_DATA, the cache, or a download)")
    attack.add_argument("--cifar", metavar="DIR", help="attack on CIFAR-10's test set: a folder or archive of either "
                        "official format (it cannot be downloaded here)")
    attack.add_argument("--cifar-checksums", metavar="FILE", help=CIFAR_CHECKSUMS_HELP)
    attack.add_argument("--units", choices=("pixels", "preprocessed"), default="pixels",
                        help="the unit of eps: pixels in [0, 1] (default), or the preprocessed (GCN + ZCA) inputs of a "
                        "model with a preprocessing layer, as the paper's CIFAR-10 eps (FGSM only, unclipped)")
    attack.add_argument("--n", type=int, default=0, help="use the first N test images (default: all 10,000)")
    attack.add_argument("--batch-size", type=int, default=1000)
    attack.add_argument("--out", default="advex-out", help="output folder (default ./advex-out)")
    attack.set_defaults(run=run_attack)
    reproduce = commands.add_parser("reproduce", help="train, attack and adversarially train: the paper's numbers")
    reproduce.add_argument("--quick", action="store_true", help="small models and few epochs (minutes, not an hour)")
    reproduce.add_argument("--full-size", action="store_true", help="1600 maxout units per layer and, with --cifar, the "
                           "paper's conv maxout network (hours to days; never in CI)")
    reproduce.add_argument("--data", help="an IDX data set folder (default: MNIST); the paper's numbers show only for MNIST")
    reproduce.add_argument("--out", help="output folder (default advex-results, or advex-seeds with --seeds); re-running "
                           "reuses finished stages")
    reproduce.add_argument("--seed", type=int, help="the seed of the models' initialisation and shuffling (default 0)")
    reproduce.add_argument("--seeds", type=int, nargs="+", metavar="S", help="run once per seed, each in OUT/seed-S "
                           "(resumable), then write OUT/summary.md and summary.json: each row's mean, sd, min and max")
    reproduce.add_argument("--summary-only", action="store_true", help="with --seeds: summarise the finished seed runs "
                           "in OUT (naming the missing ones), training nothing")
    reproduce.add_argument("--models", nargs="+", choices=MODELS,
                           help="train and report only these models (default: all); stages that need another are skipped")
    reproduce.add_argument("--mlp", action="store_true", help="also train and attack a ReLU MLP 784-1200-1200-10")
    reproduce.add_argument("--cifar", metavar="DIR", help="also the CIFAR-10 stage: a conv maxout network on CIFAR-10 "
                           "from DIR (either official format, folder or archive; it cannot be downloaded here). The "
                           "paper's numbers show only for files that match published MD5s: an archive, or the Python "
                           "batches; an extracted binary folder (its .bin files have none) is reported without them")
    reproduce.add_argument("--cifar-checksums", metavar="FILE",
                           help=CIFAR_CHECKSUMS_HELP + "; its rows are reported without the paper's numbers")
    reproduce.add_argument("--quiet", action="store_true", help="no progress bars")
    reproduce.set_defaults(run=run_reproduce)
    experiment(commands, "robustness", run_robustness, "after the paper: stronger attacks, label leaking, fast "
               "adversarial training, catastrophic overfitting, gradient masking",
               paper_models="reuse the maxout networks of an advex reproduce output folder on the same data, whose "
               "stages.json records its models (a folder from before it did: run advex reproduce --out DIR again first) "
               "(default: train them at its settings)")
    experiment(commands, "transfer", run_transfer, "transfer between algorithms (DNN, LR, SVM, decision tree, kNN) "
               "and the black-box attack from labels alone (Papernot et al. 2016, 2017)")
    experiment(commands, "physical", run_physical, "adversarial examples through a simulated camera: destruction rates "
               "(Kurakin et al. 2016) and expectation over transformation (Athalye et al. 2018)",
               paper_models="reuse the maxout network and SmallConvNet of an advex reproduce output folder on the same "
               "data (default: train them at its settings)")
    homework = commands.add_parser("exercises", help="the lecture as exercises: list them, start them in a folder, "
                                   "check a student's work")
    homework.set_defaults(run=run_exercises, action=None)
    actions = homework.add_subparsers(dest="action")
    start = actions.add_parser("start", help="write the exercises' stubs into DIR (created if needed; a file you "
                               "changed is never overwritten)")
    start.add_argument("folder", metavar="DIR")
    check = actions.add_parser("check", help="grade the exercises in --dir (default: all of them; exit 0 only when "
                               "every one graded passes)")
    check.add_argument("numbers", nargs="*", type=int, metavar="N", help="the exercises to grade (default: all)")
    check.add_argument("--dir", help="the folder holding the student's files (default: the current folder)")
    check.add_argument("--solutions", action="store_true", help="grade the library's own implementations instead")
    check.add_argument("-v", "--verbose", action="store_true", help="under each pass, list the checks it passed")
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    training.fast_paths.enable()  # a command owns its process: the speed tricks of minigrad.fast, for all it runs
    try:
        expand_paths(args)
        return args.run(args)
    except (CommandError, ValueError, OSError) as error:  # bad input, a bad file, a full disk: one line
        if os.environ.get("ADVEX_DEBUG") == "1":
            raise
        message = " ".join(str(error).split())  # one line, whatever the message's own layout
        print(f"advex {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
