"""FGSM against the paper's classifiers on the full MNIST test set, beside the paper's numbers.

Run ``python -m benchmarks.train_mnist`` first (it saves the trained models), then
``python -m benchmarks.attack_mnist``. It also trains the paper's *short-budget*
softmax (1 epoch of SGD, lr 0.1, batch 100) on which the paper's 79.3% confidence was
measured. Every row says whether the adversarial examples were clipped to [0, 1] (the
paper's FGSM is not) and how many test images it used. Writes
``benchmarks/results/attack_mnist.{json,md}`` and the eps-curve figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import attacks
import minigrad
import models
import training
from models.io import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"
EPS = 0.25
PAPER = {  # error, confidence on mistakes; FGSM eps = 0.25, unclipped
    "softmax_1epoch": (0.999, 0.793),
    "maxout": (0.894, 0.976),
    "rbf": (0.554, 0.012),
}


def short_budget_softmax(X, y) -> models.SoftmaxRegression:
    """The paper's shallow softmax: one epoch of SGD, lr 0.1, batch 100, zero init."""
    model = models.SoftmaxRegression()
    training.fit(model, X, y, progress=False, **training.linear_classifier_recipe(model, epochs=1))
    return model


def fgsm_rows(name, model, X, y) -> list:
    """FGSM unclipped and clipped, the naive-gradient FGSM, and the noise baseline, at EPS."""
    rows = []
    variants = {
        "fgsm": (attacks.fgsm, None),
        "fgsm clipped": (attacks.fgsm, (0.0, 1.0)),
        "fgsm naive float32 gradient": (lambda m, x, y, e, clip: attacks.fgsm(m, x, y, e, clip=clip, exact=False), None),
        "random sign noise": (attacks.noise_attack(seed=0), None),
    }
    for label, (attack, clip) in variants.items():
        started = time.perf_counter()
        clean, adv = attacks.evaluate(model, X, y, attack=attack, eps=[0.0, EPS], clip=clip)
        paper = PAPER.get(name) if label == "fgsm" else None
        rows.append({
            "model": name, "attack": label, "eps": EPS, "clip": adv["clip"], "n": adv["n"],
            "clean_error": clean["error_rate"], "error": adv["error_rate"], "confidence_wrong": adv["confidence_wrong"],
            "p_true": adv["p_true"], "zero_grad_fraction": adv["zero_grad_fraction"],
            "paper_error": paper[0] if paper else None, "paper_confidence": paper[1] if paper else None,
            "seconds": time.perf_counter() - started,
        })
        print(f"{name:15s} {label:28s} error {100 * adv['error_rate']:6.2f}%  confidence {100 * adv['confidence_wrong']:5.1f}%",
              flush=True)
    return rows


def markdown(rows) -> str:
    lines = [f"# FGSM at eps = {EPS} on the MNIST test set", "",
             "| model | attack | clip | clean error | error | paper | confidence on mistakes | paper | zero-gradient fraction | n |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    pct = lambda v: "" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    for r in rows:
        lines.append(f"| {r['model']} | {r['attack']} | {r['clip']} | {pct(r['clean_error'])} | {pct(r['error'])} "
                     f"| {pct(r['paper_error'])} | {pct(r['confidence_wrong'])} | {pct(r['paper_confidence'])} "
                     f"| {r['zero_grad_fraction']:.4f} | {r['n']} |")
    lines += ["", "FGSM versus random-sign noise of the same size (unclipped): increase in error over clean", ""]
    for model in dict.fromkeys(r["model"] for r in rows):
        by = {r["attack"]: r for r in rows if r["model"] == model}
        fgsm_up = by["fgsm"]["error"] - by["fgsm"]["clean_error"]
        noise_up = by["random sign noise"]["error"] - by["random sign noise"]["clean_error"]
        ratio = f"{fgsm_up / noise_up:.1f}x" if noise_up > 0 else "noise did not raise the error"
        lines.append(f"- {model}: FGSM +{100 * fgsm_up:.1f} points, noise +{100 * noise_up:.1f} points ({ratio})")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.attack_mnist", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder with the MNIST IDX files (default: $MINIGRAD_DATA or the cache)")
    parser.add_argument("--models-dir", type=Path, default=RESULTS / "models")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--n", type=int, default=10_000, help="test images to use (default all)")
    args = parser.parse_args(argv)
    minigrad.keep_freed_memory()
    try:
        X, y = training.load_mnist("train", path=args.data, download=False)
        X_test, y_test = training.load_mnist("test", path=args.data, download=False)
    except training.DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    X_test, y_test = X_test[: args.n], y_test[: args.n]
    trained = {"softmax_1epoch": short_budget_softmax(X[:50_000], y[:50_000])}
    for name in ("softmax", "maxout", "rbf"):
        path = args.models_dir / f"{name}.npz"
        if not path.exists():
            print(f"error: {path} is missing: run python -m benchmarks.train_mnist first", file=sys.stderr)
            return 2
        trained[name] = models.load(path)
    rows = [row for name, model in trained.items() for row in fgsm_rows(name, model, X_test, y_test)]
    curves = {f"{name}, {label}": attacks.evaluate(model, X_test[:2000], y_test[:2000], attack=attack, clip=None)
              for name, model in trained.items() if name != "softmax_1epoch"
              for label, attack in (("FGSM", attacks.fgsm), ("noise", attacks.noise_attack(seed=0)))}
    atomic_write_text(args.out / "attack_mnist.json", json.dumps({"rows": rows, "curves": curves}, indent=2))
    atomic_write_text(args.out / "attack_mnist.md", markdown(rows))
    try:
        attacks.figures.plot_eps_curves(curves, args.out / "attack_mnist_eps.png", title="FGSM vs noise, unclipped, n = 2000")
    except ImportError as error:
        print(f"no figure: {error}")
    print("\n" + markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
