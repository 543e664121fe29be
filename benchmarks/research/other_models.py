"""What do the models that are not networks cost?  Run ``python -m benchmarks.research.other_models``.

Two budgets, measured on MNIST:

* **Growing the tree.** ``models.DecisionTree()`` (grown until its leaves are pure) on
  the 60,000 training images, against 10 epochs of the paper's maxout network at the
  reproduction's settings (``MaxoutNetwork()``, ``training.maxout_paper_recipe``, batch
  100) on the same images. The two take turns, ``--repeats`` times, and each ratio
  compares the times of one turn: the budget is a ratio of at most 1.
* **kNN's memory.** ``models.KNearestNeighbors(k=3)`` fitted on the 60,000 training
  images predicts the 10,000 test images; ``tracemalloc`` records the peak of the
  memory allocated beyond the stored set (NumPy reports its arrays to it). The budget is
  about 100 MB.

``--quick`` runs both on synthetic data of MNIST's shape and a few epochs (a smoke run:
its numbers are not the budgets').
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import models
import training

from ..harness import ROOT, environment, environment_lines, write_json
from ..workloads import synthetic_data

FULL = {"train": 60_000, "test": 10_000, "epochs": 10, "repeats": 2}
QUICK = {"train": 600, "test": 200, "epochs": 1, "repeats": 1}


def maxout_epochs(X, y, epochs: int) -> float:
    """Seconds for ``epochs`` epochs of the paper's maxout network on (X, y), as the reproduction trains it."""
    model = models.MaxoutNetwork(seed=0)
    recipe = training.maxout_paper_recipe(model, epochs=epochs)
    recipe.pop("early_stopping", None)  # no validation: only the training is timed
    start = time.perf_counter()
    training.fit(model, X, y, progress=False, monitor_size=0, seed=0, **recipe)
    return time.perf_counter() - start


def tree_growth(X, y) -> tuple:
    """(seconds, nodes, depth) of growing a tree until its leaves are pure."""
    start = time.perf_counter()
    tree = models.DecisionTree().fit(X, y)
    return time.perf_counter() - start, len(tree.feature), tree.depth()


def knn_peak(X, y, X_test) -> dict:
    """The peak of memory allocated while kNN predicts X_test, beyond the set it stores, and the seconds it took."""
    knn = models.KNearestNeighbors(k=3).fit(X, y)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        knn.predict(X_test, batch_size=len(X_test))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"peak_mb": peak / 2**20, "seconds": time.perf_counter() - start}


def measure(sizes: dict, data) -> dict:
    (X, y), (X_test, _) = data
    X, y, X_test = X[: sizes["train"]], y[: sizes["train"]], X_test[: sizes["test"]]
    turns = []
    for _ in range(sizes["repeats"]):
        seconds, nodes, depth = tree_growth(X, y)
        turns.append({"tree": seconds, "maxout": maxout_epochs(X, y, sizes["epochs"]), "nodes": nodes, "depth": depth})
    ratios = [t["tree"] / t["maxout"] for t in turns]
    return {"turns": turns, "tree_over_maxout": {"min": min(ratios), "median": statistics.median(ratios)},
            "knn": knn_peak(X, y, X_test)}


def report(result: dict) -> str:
    c, r = result["config"], result["tree_over_maxout"]
    lines = [f"## Models without gradients: {c}", "", *environment_lines(result["environment"]), ""]
    lines += [f"- tree grown on {c['train']} images ({t['nodes']} nodes, depth {t['depth']}): {t['tree']:.1f} s; "
              f"{c['epochs']} maxout epochs: {t['maxout']:.1f} s" for t in result["turns"]]
    lines += [f"- tree / {c['epochs']} maxout epochs: min {r['min']:.2f}, median {r['median']:.2f} (budget: at most 1)",
              f"- kNN (k = 3) predicting {c['test']} images against {c['train']}: peak {result['knn']['peak_mb']:.1f} MB "
              f"beyond the stored set (budget: about 100 MB), {result['knn']['seconds']:.1f} s"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.research.other_models", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="synthetic data, tiny sizes, 1 repeat (a smoke run)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "other_models.json")
    args = parser.parse_args(argv)
    training.fast_paths.enable()
    sizes = QUICK if args.quick else FULL
    data = ((synthetic_data(sizes["train"], seed=0), synthetic_data(sizes["test"], seed=1)) if args.quick
            else (training.load_mnist("train"), training.load_mnist("test")))
    result = {"config": {"quick": args.quick, **sizes}, "environment": environment(peers=False), **measure(sizes, data)}
    print(report(result))
    write_json(args.out, result)
    print(f"\nJSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
