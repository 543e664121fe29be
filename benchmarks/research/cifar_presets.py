"""What the CIFAR-10 stage of ``advex reproduce --cifar`` costs on this machine, per preset.

CIFAR-10 cannot be downloaded on the project's machines, so this times the stage's
pieces on synthetic CIFAR-shaped images (3x32x32, uniform noise: the cost of the
arithmetic does not depend on the pixels) and extrapolates to the real set's sizes:

* the GCN + ZCA fit on ``--fit-images`` training images (covariance and its
  eigendecomposition), scaled linearly to 40,000: an upper bound, since the
  eigendecomposition does not grow with the images (and below 3,072 images the fit
  takes another route, the SVD, so time it on at least that many);
* ``--steps`` training steps of the preset (``training.train_step``, the maxout paper's
  recipe: batch 128, dropout and max-norm on, preprocessing inside the model), after one
  warm-up step, scaled to an epoch of 40,000 images plus the validation pass over 10,000;
* FGSM in preprocessed units with its pixel cost (``attacks.fgsm_preprocessed``) on
  ``--attack-images`` images (one batch of 1,000 by default), scaled to the 10,000 test images and both eps.

    python -m benchmarks.research.cifar_presets [--presets tiny cpu paper] [--steps 3]

Run it alone on an idle machine; it prints the BLAS in use and a table, and writes
``benchmarks/results/cifar_presets.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


import attacks
import models
import training
from attacks.reproduction.claims import CIFAR_EPS, CIFAR_LECTURE_EPS

from ..harness import ROOT, environment, environment_lines, write_json
from ..workloads import SEED, synthetic_data

TRAIN, VALIDATE, TEST, BATCH = 40_000, 10_000, 10_000, 128


def measure(preset: str, steps: int, fit_images: int, epochs: int, attack_images: int = 1000) -> dict:
    X, y = synthetic_data(max(fit_images, BATCH * (steps + 2), 4 * BATCH), d_in=3072)  # enough rows for every timed step and prediction
    model = models.ConvMaxoutNetwork(preset, preprocessing="gcn_zca", seed=0)
    start = time.perf_counter()
    model.preprocess.fit(X[:fit_images])
    fit = (time.perf_counter() - start) * TRAIN / fit_images
    optimizer, loss = training.conv_maxout_recipe(model, epochs=1)["optimizer"], training.default_loss
    training.train_step(model, optimizer, loss, X[:BATCH], y[:BATCH])
    start = time.perf_counter()
    for i in range(1, steps + 1):
        at = i * BATCH % (len(X) - BATCH)
        training.train_step(model, optimizer, loss, X[at : at + BATCH], y[at : at + BATCH])
    step = (time.perf_counter() - start) / steps
    start = time.perf_counter()
    model.predict(X[:BATCH * 4])
    predict = (time.perf_counter() - start) / (BATCH * 4)
    X_attack, y_attack = synthetic_data(attack_images, d_in=3072, seed=SEED + 1)
    start = time.perf_counter()
    attacks.fgsm_preprocessed(model, X_attack, y_attack, [CIFAR_EPS, CIFAR_LECTURE_EPS])  # both eps, as the stage
    attack = (time.perf_counter() - start) / attack_images
    epoch = step * TRAIN / BATCH + predict * VALIDATE
    stage = fit + epochs * epoch + attack * TEST + predict * TEST
    return {"preset": preset, "seconds_per_step": step, "minutes_per_epoch": epoch / 60, "fit_seconds": fit,
            "attack_seconds": attack * TEST, "epochs": epochs, "stage_hours": stage / 3600}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.research.cifar_presets", description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "cpu", "paper"], choices=sorted(models.classifiers.CONV_MAXOUT_PRESETS))
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per preset (after one warm-up)")
    parser.add_argument("--fit-images", type=int, default=10_000, help="images the GCN + ZCA fit is timed on")
    parser.add_argument("--attack-images", type=int, default=1000, help="images the FGSM batch is timed on")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cifar_presets.json"))
    args = parser.parse_args(argv)
    if args.steps < 1 or args.fit_images < 2 or args.attack_images < 1:
        parser.error("--steps and --attack-images must be >= 1, --fit-images >= 2")
    training.fast_paths.enable()
    from attacks.reproduction import FULL, FULL_SIZE, QUICK

    epochs = {QUICK.cifar_preset: QUICK.cifar_epochs, FULL.cifar_preset: FULL.cifar_epochs,
              FULL_SIZE.cifar_preset: FULL_SIZE.cifar_epochs}
    env = environment(peers=False)
    print("\n".join(environment_lines(env)))
    rows = [measure(preset, args.steps, args.fit_images, epochs.get(preset, FULL.cifar_epochs), args.attack_images)
            for preset in args.presets]
    print("| preset | s per step (batch 128) | min per epoch | GCN+ZCA fit (s) | FGSM, both eps (s) | epochs | stage (h) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['seconds_per_step']:.3f} | {r['minutes_per_epoch']:.1f} | {r['fit_seconds']:.0f} "
              f"| {r['attack_seconds']:.0f} | {r['epochs']} | {r['stage_hours']:.2f} |")
    write_json(Path(args.out), {"environment": env, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
