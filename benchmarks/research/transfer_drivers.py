"""What moves ``transfer_orig_to_adv``? ``python -m benchmarks.research.transfer_drivers SEEDS_DIR``.

The row is the error of the adversarially trained maxout network on FGSM examples
(eps 0.25, unclipped) crafted on the original maxout network of the same run. Over
seeds it moves more than its target allows (issue 30). Two things can move it: the
*source*, the original network whose examples are transferred, and the *target*,
the adversarially trained network, including which of its epochs was kept. Given the
folders of ``advex reproduce --seeds`` (``SEEDS_DIR/seed-S``), this measures both:

1. **The cross matrix.** Examples crafted on the original network of seed i, the error
   of the adversarially trained network of seed j, for every pair (the diagonal is each
   run's own row). If the row moved with the source, the rows of the matrix would
   differ and its columns agree; if it moved with the target, the other way round. The
   spread of the row means and of the column means says which.
2. **The kept epoch against the last one.** Adversarial training keeps the epoch of the
   lowest *adversarial* validation error (FGSM on the network's own validation images:
   white-box), then trains ``patience`` epochs more before it stops. Each run's
   checkpoint still holds the last epoch's weights: their transfer error beside the kept
   epoch's, with the validation error that chose between them, says whether the
   criterion keeps an epoch that resists transfer.

It prints a Markdown report (``--json PATH`` also writes the numbers). It reads the
run folders (as they are: check them with ``advex reproduce --seeds ... --summary-only``
first) and the test set only (MNIST's, or ``--data``'s: pass the runs' own), and writes nothing into the folders. About a
minute per seed on 2 cores for the full 10,000 test images (``--n`` fewer).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

import models
import training
from attacks.methods import fgsm
from attacks.reproduction.claims import EPS
from attacks.reproduction.seeds import SEED_FOLDER
from training.checkpoints import read_meta


def seed_runs(folder) -> dict:
    """{seed: its run folder} for every ``seed-S`` folder under ``folder`` holding both maxout networks."""
    runs = {}
    for entry in sorted(os.listdir(folder)):
        match = SEED_FOLDER.fullmatch(entry)
        path = os.path.join(folder, entry)
        if match and all(os.path.exists(os.path.join(path, "models", f"{name}.npz"))
                         for name in ("maxout", "maxout_adversarial")):
            runs[int(match.group(1))] = path
    return dict(sorted(runs.items()))


def last_epoch(run_folder):
    """The adversarially trained network at the last epoch it trained (its checkpoint's weights), the
    checkpoint's history (the adversarial validation error of every epoch) and the epoch early stopping kept."""
    last = models.load(os.path.join(run_folder, "models", "maxout_adversarial.npz"))
    path = os.path.join(run_folder, "checkpoints", "maxout_adversarial", "checkpoint.npz")
    with np.load(path) as saved:
        last.load_state_dict({key[len("model/"):]: saved[key] for key in saved.files if key.startswith("model/")})
    meta = read_meta(path)
    return last, meta["history"], meta["early_stopping"]["best_epoch"]


def error_rate(model, x, y) -> float:
    return float((model.predict(x) != y).mean())


def measure(folder, n: int, data=None) -> dict:
    runs = seed_runs(folder)
    if not runs:
        raise SystemExit(f"{folder}: no seed-S folder with both maxout networks (the output of advex reproduce --seeds)")
    X, y = training.load_mnist("test") if data is None else training.load_idx_dataset(data, "test")
    X, y = X[:n], y[:n]
    seeds = list(runs)
    originals = [models.load(os.path.join(runs[s], "models", "maxout.npz")) for s in seeds]
    adversarial = [models.load(os.path.join(runs[s], "models", "maxout_adversarial.npz")) for s in seeds]
    crafted = [fgsm(model, X, y, EPS, clip=None) for model in originals]  # each source's examples, crafted once
    cross = np.array([[error_rate(target, x_adv, y) for target in adversarial] for x_adv in crafted])
    epochs = {}
    for k, s in enumerate(seeds):
        last, history, best = last_epoch(runs[s])
        on_last = error_rate(last, crafted[k], y)
        epochs[s] = {"kept_epoch": best, "last_epoch": history["epoch"][-1],
                     "validation_kept": history["val_error"][history["epoch"].index(best)], "validation_last": history["val_error"][-1],
                     "transfer_kept": float(cross[k, k]), "transfer_last": float(on_last)}
    return {"seeds": seeds, "n": len(X), "cross": cross.tolist(), "row_means": cross.mean(axis=1).tolist(),
            "column_means": cross.mean(axis=0).tolist(), "epochs": epochs}


def markdown(result: dict) -> str:
    seeds, cross = result["seeds"], np.asarray(result["cross"])
    lines = [f"# What moves transfer_orig_to_adv ({result['n']:,} test images, FGSM eps {EPS} unclipped)", "",
             "Error (%) of the adversarially trained network of seed j (columns) on examples crafted on the original "
             "network of seed i (rows); the diagonal is each run's row.", "",
             "| source \\ target | " + " | ".join(f"adv seed {s}" for s in seeds) + " | row mean |",
             "|---|" + "---|" * (len(seeds) + 1)]
    for i, s in enumerate(seeds):
        lines.append(f"| orig seed {s} | " + " | ".join(f"{100 * v:.2f}" for v in cross[i])
                     + f" | {100 * result['row_means'][i]:.2f} |")
    lines.append("| column mean | " + " | ".join(f"{100 * v:.2f}" for v in result["column_means"]) + " | |")
    spread = lambda values: 100 * (max(values) - min(values))  # noqa: E731
    lines += ["", f"Range of the row means (the source): {spread(result['row_means']):.2f} points; of the column means "
              f"(the target): {spread(result['column_means']):.2f} points.", "",
              "| seed | kept epoch | its adversarial validation error | last epoch | its adversarial validation error "
              "| transfer to the kept | transfer to the last |", "|---|---|---|---|---|---|---|"]
    for s, e in result["epochs"].items():
        lines.append(f"| {s} | {e['kept_epoch']} | {100 * e['validation_kept']:.2f}% | {e['last_epoch']} "
                     f"| {100 * e['validation_last']:.2f}% | {100 * e['transfer_kept']:.2f}% | {100 * e['transfer_last']:.2f}% |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.research.transfer_drivers", description=__doc__.split("\n")[0])
    parser.add_argument("folder", help="the --out of advex reproduce --seeds (its seed-S folders)")
    parser.add_argument("--n", type=int, default=10_000, help="test images (default: all 10,000)")
    parser.add_argument("--data", help="the IDX data set the runs used, if not MNIST (their --data)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    result = measure(args.folder, args.n, args.data)
    print(markdown(result))
    if args.json:
        from models.io import atomic_write_text
        atomic_write_text(args.json, json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
