"""What does adversarial training cost over ordinary training?  Run ``python -m benchmarks.research.adversarial_cost``.

It times the pieces of an epoch of the paper's maxout network (``MaxoutNetwork()``,
784-(240x5)-(240x5)-10 with dropout and max-norm, SGD with momentum, batch 100) on
synthetic data of MNIST's shape:

* ``clean``: a training step (``training.train_step``, what ``fit`` runs) on the ordinary loss;
* ``adversarial``: a training step on ``AdversarialObjective(eps=0.25, alpha=0.5)``;
* ``craft``: the FGSM examples alone (``attacks.fgsm``), the part of the adversarial
  step that the clean one does not have;
* ``clean_val`` and ``adversarial_val``: the validation that each early-stops on (the
  error on the validation images, or on their FGSM examples), in batches of 1,000.

Every time is scaled to one epoch of ``advex reproduce`` (50,000 training images,
10,000 validation images).

Shared machines change speed for minutes at a time, so the pieces take turns, one
pass over the 10,000 images each, and every ratio compares the passes of one repeat.
Reported: the min and the median over repeats of each ratio, and the ratio of whole
epochs as ``advex reproduce`` runs them (training on 50,000 images and validating on
10,000). Shorter turns (switching models every step) distort the clean step instead;
``docs/measurements.md`` has the numbers behind both choices.

Why the ratio is above 2. Per batch of N images, let F be the cost of a forward
pass. A clean step costs about 3F: the forward, the weight gradients (as many
multiply-adds as the forward) and the input gradients of the upper layers (the first
layer's is skipped, nobody needs it). The adversarial step crafts first: a forward in
evaluation mode (dropout off, so it cannot reuse the training forward) and a backward
to the input, which *does* include the first layer's input gradient, as large as its
forward: about 2F. Then the clean and adversarial halves train as one batch of 2N:
about 6F, cheaper per row than two batches of N because BLAS is more efficient on
taller matrices. So about 8F against 3F, before that gain. Crafting against the
dropout network with the training forward's own masks would save the crafting
forward, at the price of crafting against a network that is never attacked (see
``AdversarialObjective``'s ``train_mode``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


import attacks
import models
import training
from attacks.reproduction import EPS, adversarial_error

from ..harness import ROOT, environment, environment_lines, write_json
from ..workloads import synthetic_data


FULL = {"train": 10_000, "val": 10_000, "repeats": 5}
QUICK = {"train": 400, "val": 2_000, "repeats": 1}
EPOCH = {"train": 50_000, "val": 10_000}  # what advex reproduce trains and validates on
BATCH, VAL_BATCH, TURN = 100, 1000, 100
RATIOS = {  # name -> (numerator, denominator), each a sum of parts
    "adversarial / clean training step": (("adversarial",), ("clean",)),
    "crafting / clean training step": (("craft",), ("clean",)),
    "adversarial / clean validation": (("adversarial_val",), ("clean_val",)),
    "adversarial / clean epoch, validation included": (("adversarial", "adversarial_val"), ("clean", "clean_val")),
}


def taking_turns(functions: dict, X, y, batch: int, turn: int) -> dict:
    """Seconds spent in each ``fn(x_batch, y_batch)`` over all batches of (X, y): the
    functions take turns, each running ``turn`` batches in a row."""
    spent = dict.fromkeys(functions, 0.0)
    for first in range(0, len(X), batch * turn):
        for name, fn in functions.items():
            start = time.perf_counter()
            for i in range(first, min(first + batch * turn, len(X)), batch):
                fn(X[i : i + batch], y[i : i + batch])
            spent[name] += time.perf_counter() - start
    return spent


def stepper(model, loss):
    """A training step of ``model`` on ``loss`` with the optimizer of the paper's recipe
    (its schedules are left out: they cost nothing and change no timing)."""
    model.train()
    optimizer = training.maxout_paper_recipe(model)["optimizer"]
    return lambda x, y: training.train_step(model, optimizer, loss, x, y)


def measure(sizes: dict) -> list:
    """One {part: seconds} per repeat, scaled to an epoch of ``advex reproduce``."""
    X, y = synthetic_data(sizes["train"], seed=0)  # MNIST's shape; timings do not depend on the values
    X_val, y_val = synthetic_data(sizes["val"], seed=1)
    clean_model, adversarial_model = models.MaxoutNetwork(seed=0), models.MaxoutNetwork(seed=0)
    training_parts = {
        "clean": stepper(clean_model, training.default_loss),
        "adversarial": stepper(adversarial_model, attacks.AdversarialObjective(eps=EPS, alpha=0.5)),
        "craft": lambda x, y: attacks.fgsm(adversarial_model, x, y, EPS, clip=None),
    }
    validation_parts = {
        "clean_val": lambda x, y: training.error_rate(clean_model, x, y),
        "adversarial_val": lambda x, y: adversarial_error(adversarial_model, x, y),
    }
    taking_turns(training_parts, X[:BATCH], y[:BATCH], BATCH, TURN)  # one untimed warm-up step
    repeats = []
    for _ in range(sizes["repeats"]):
        spent = {name: seconds * EPOCH["train"] / len(X) for name, seconds in taking_turns(training_parts, X, y, BATCH, TURN).items()}
        spent.update({name: seconds * EPOCH["val"] / len(X_val)
                      for name, seconds in taking_turns(validation_parts, X_val, y_val, VAL_BATCH, 2).items()})
        repeats.append(spent)
    return repeats


def summarize(repeats: list) -> dict:
    per_repeat = {name: [sum(r[p] for p in top) / sum(r[p] for p in bottom) for r in repeats]
                  for name, (top, bottom) in RATIOS.items()}
    return {"seconds_per_epoch": repeats, "ratios": {name: {"min": min(v), "median": statistics.median(v)}
                                                      for name, v in per_repeat.items()}}


def report(result: dict) -> str:
    ratios = result["ratios"]
    lines = [f"## The cost of adversarial training: {json.dumps(result['config'])}", "", *environment_lines(result["environment"])]
    lines += ["", "| ratio | min | median |", "|---|---|---|"]
    lines += [f"| {name} | {r['min']:.2f} | {r['median']:.2f} |" for name, r in ratios.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.research.adversarial_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 1 repeat (a smoke run)")
    parser.add_argument("--repeats", type=int, help=f"interleaved repeats (default {FULL['repeats']})")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "adversarial_cost.json")
    args = parser.parse_args(argv)
    training.fast_paths.enable()
    sizes = dict(QUICK if args.quick else FULL)
    if args.repeats is not None:
        if args.repeats < 1:
            parser.error(f"--repeats must be at least 1, got {args.repeats}")
        sizes["repeats"] = args.repeats
    result = {"config": {"quick": args.quick, **sizes}, "environment": environment(peers=False), **summarize(measure(sizes))}
    print(report(result))
    write_json(args.out, result)
    print(f"\nJSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
