"""Train the paper's classifiers on MNIST and record their clean test error.

Run ``python -m benchmarks.train_mnist`` (MNIST from ``--data``, ``$MINIGRAD_DATA`` or the
cache; about 15 minutes on 2 cores, most of it the maxout network). It writes
``benchmarks/results/train_mnist.{json,md}`` and the trained models to
``benchmarks/results/models/`` (which the attack experiments reuse). Every model trains
on the first 50,000 training images, is validated on the last 10,000 after each epoch,
keeps its best epoch, and is then scored on the 10,000 test images.

The settings, and the targets of the models issue:

======== =============================================================== ===========
model    setting                                                         target
======== =============================================================== ===========
softmax  zero init, SGD lr 0.1, batch 100, 20 epochs                     <= 8.0 %
mlp      784-1200-1200-10 ReLU, He init, SGD lr 0.05 momentum 0.9,       <= 1.8 %
         batch 100, 20 epochs
maxout   the paper's recipe (``training.maxout_paper_recipe``): dropout,  <= 1.25 %
         max-norm, lr decay, momentum ramp, at most 150 epochs
rbf      centers at the class means, beta 0.05 capped at 0.2,          <= 15 %
         Adam lr 0.01, 10 epochs
======== =============================================================== ===========

The RBF network is also scored on its mean clean confidence (the paper: 60.6 %).
``--quick`` trains each model briefly on 5,000 images: a smoke run, not a result.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import minigrad
import models
import training
from models.io import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"softmax": 0.080, "mlp": 0.018, "maxout": 0.0125, "rbf": 0.15}


def setups(X, y, quick: bool, seed: int, maxout_epochs: int) -> dict:
    """name -> (model, keyword arguments of training.fit, human-readable setting)."""
    epochs = (lambda full: 2 if quick else full)
    softmax = models.SoftmaxRegression()
    mlp = models.MLP((784, 1200, 1200, 10), seed=seed)
    maxout = models.MaxoutNetwork(seed=seed)
    rbf = models.RBFNetwork.from_data(X, y, beta=0.05)
    recipe = training.maxout_paper_recipe(maxout, epochs=epochs(maxout_epochs))
    return {
        "softmax": (softmax, training.linear_classifier_recipe(softmax, epochs=epochs(20)),
                    "zero init, SGD lr 0.1, batch 100"),
        "mlp": (mlp, dict(optimizer=training.SGD(mlp.parameters(), lr=0.05, momentum=0.9), epochs=epochs(20), batch_size=100),
                "784-1200-1200-10 ReLU, He init, SGD lr 0.05 momentum 0.9, batch 100"),
        "maxout": (maxout, recipe, "paper recipe: dropout, max-norm 1.9365, lr 0.1 decaying, momentum 0.5->0.7"),
        "rbf": (rbf, training.rbf_recipe(rbf, epochs=epochs(10)),
                "centers at class means, beta 0.05 capped at 0.2, Adam lr 0.01, batch 100"),
    }


def train_one(name, model, fit_kwargs, setting, data, out_dir: Path, resume: bool, seed: int) -> dict:
    (X, y), (X_val, y_val), (X_test, y_test) = data
    fit_kwargs = dict(fit_kwargs)
    fit_kwargs.setdefault("early_stopping", training.EarlyStopping(patience=fit_kwargs["epochs"]))
    started = time.perf_counter()
    tag = name if seed == 0 else f"{name}_seed{seed}"
    history = training.fit(model, X, y, val=(X_val, y_val), seed=seed, checkpoint_dir=out_dir / "checkpoints" / tag,
                           resume=resume, **fit_kwargs)
    seconds = time.perf_counter() - started
    proba = model.predict_proba(X_test)
    models.save(model, out_dir / "models" / f"{tag}.npz")
    return {
        "model": name,
        "setting": setting,
        "seed": seed,
        "test_error": float(np.mean(proba.argmax(1) != y_test)),
        "mean_confidence": float(proba.max(1).mean()),
        "target": TARGETS[name],
        "epochs_run": len(history.epoch),
        "best_epoch": history.best_epoch,
        "best_val_error": min(history.val_error),
        "seconds_per_epoch": float(np.mean(history.seconds)),
        "seconds_total": seconds,
        "n_test": len(y_test),
    }


def markdown(rows: list, config: dict) -> str:
    lines = [
        f"# Clean MNIST test error ({config})",
        "",
        "| model | setting | test error | target | mean confidence | epochs (best) | s / epoch |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = "" if r["test_error"] <= r["target"] else " (misses the target)"
        lines.append(
            f"| {r['model']} | {r['setting']} | {100 * r['test_error']:.2f}%{verdict} | <= {100 * r['target']:.2f}% "
            f"| {100 * r['mean_confidence']:.1f}% | {r['epochs_run']} ({r['best_epoch']}) | {r['seconds_per_epoch']:.2f} |"
        )
    lines += ["", f"n = {rows[0]['n_test'] if rows else 0} test images; seconds per epoch include validation."]
    return "\n".join(lines) + "\n"


def merged_with_earlier(path: Path, config: dict, rows: list) -> list:
    """This run's rows plus those of models an earlier run with the same config trained."""
    if not path.exists():
        return rows
    earlier = json.loads(path.read_text())
    if earlier.get("config") != config:
        return rows
    fresh = {r["model"] for r in rows}
    return [r for r in earlier["rows"] if r["model"] not in fresh] + rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_mnist", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder with the MNIST IDX files (default: $MINIGRAD_DATA or the cache)")
    parser.add_argument("--models", nargs="+", choices=sorted(TARGETS), default=["softmax", "mlp", "rbf", "maxout"])
    parser.add_argument("--quick", action="store_true", help="2 epochs on 5,000 images: a smoke run")
    parser.add_argument("--resume", action="store_true", help="continue interrupted runs from their checkpoints")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation, shuffling and dropout")
    parser.add_argument("--maxout-epochs", type=int, default=150,
                        help="the maxout network's epoch budget (default 150; the paper trained until early stopping)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    minigrad.keep_freed_memory()
    try:
        X, y = training.load_mnist("train", path=args.data, download=False)
        X_test, y_test = training.load_mnist("test", path=args.data, download=False)
    except training.DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    train, val = (X[:50_000], y[:50_000]), (X[50_000:], y[50_000:])
    if args.quick:
        train, val, X_test, y_test = (X[:5000], y[:5000]), (X[50_000:51_000], y[50_000:51_000]), X_test[:1000], y_test[:1000]
    plans = setups(*train, args.quick, args.seed, args.maxout_epochs)
    rows = []
    for name in args.models:
        model, fit_kwargs, setting = plans[name]
        print(f"== {name}: {setting}", flush=True)
        rows.append(train_one(name, model, fit_kwargs, setting, (train, val, (X_test, y_test)), args.out, args.resume, args.seed))
        print(f"   test error {100 * rows[-1]['test_error']:.2f}% (target <= {100 * TARGETS[name]:.2f}%)", flush=True)
    config = {"quick": args.quick, "n_train": len(train[1]), "n_val": len(val[1]), "seed": args.seed,
              "maxout_epochs": args.maxout_epochs}
    stem = "train_mnist_quick" if args.quick else "train_mnist" if args.seed == 0 else f"train_mnist_seed{args.seed}"
    rows = merged_with_earlier(args.out / f"{stem}.json", config, rows)
    atomic_write_text(args.out / f"{stem}.json", json.dumps({"config": config, "rows": rows}, indent=2))
    table = markdown(rows, config)
    atomic_write_text(args.out / f"{stem}.md", table)
    print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
