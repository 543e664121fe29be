"""The exercises, in the lecture's order, and ``start``, which hands their stubs to a student.

Each exercise is one stub file in :mod:`attacks.exercises.stubs`: functions with their
signatures and docstrings (what to compute, the math to derive, a hint), each body
``raise NotImplementedError``. The grader (:mod:`attacks.exercises.grader`) runs against
the student's copy the checks that the library's own implementation passes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources

from models.io import atomic_write_text


@dataclass(frozen=True)
class Exercise:
    """One exercise: its number, its file's module name, its title, the functions to write, what it teaches."""

    number: int
    module: str
    title: str
    functions: tuple
    teaches: str

    @property
    def filename(self) -> str:
        return f"{self.module}.py"

    def stub(self) -> str:
        """The stub's text, as ``start`` writes it."""
        return resources.files("attacks.exercises.stubs").joinpath(self.filename).read_text()


EXERCISES = (
    Exercise(1, "ex01_elementwise_vjps", "the VJPs of exp, tanh and sigmoid", ("exp_vjp", "tanh_vjp", "sigmoid_vjp"),
             "an elementwise op's VJP is g times its derivative, and a derivative written in terms of the saved "
             "output costs no new exponential"),
    Exercise(2, "ex02_unbroadcast", "summing a gradient back over broadcast axes", ("unbroadcast",),
             "an input used several times through broadcasting collects one gradient term per use"),
    Exercise(3, "ex03_matmul_vjps", "matmul's two VJPs, and the bias of a dense layer",
             ("matmul_vjp_a", "matmul_vjp_b", "bias_vjp"),
             "the weight gradient x^T g, derived from one entry and checked by its shape"),
    Exercise(4, "ex04_softmax_cross_entropy", "log-softmax, and the softmax cross-entropy with its VJP",
             ("log_softmax", "log_softmax_vjp", "cross_entropy", "cross_entropy_vjp"),
             "the max-shift that keeps softmax finite, and softmax - onehot, the gradient every classifier trains on"),
    Exercise(5, "ex05_backward_walk", "the backward walk: topological order, and accumulation when a node is reused",
             ("topological_order", "backward"),
             "why reverse-mode autodiff needs a topological order, and why a reused node's gradients add"),
    Exercise(6, "ex06_maxout", "maxout's forward pass and its VJP, first maximum winning a tie", ("maxout", "maxout_vjp"),
             "the derivative of a maximum routes the gradient to one winner, and a tie must not count it twice"),
    Exercise(7, "ex07_conv2d", "conv2d by im2col, and its input VJP", ("im2col", "conv2d", "conv2d_vjp_x"),
             "a convolution is one matrix product over windows, and its input gradient adds overlapping windows back"),
    Exercise(8, "ex08_toy_example", "the lecture's toy example: which sign to add to each x_i, and the new probability",
             ("best_perturbation", "new_probability"),
             "the best L-infinity perturbation of a linear score is eps * sign(w), and it gains eps * ||w||_1"),
    Exercise(9, "ex09_fgsm", "the fast gradient sign method", ("fgsm",),
             "the linear view of a network: one input gradient, its sign, a step of eps, a clip"),
    Exercise(10, "ex10_logistic_adversarial_loss", "the logistic regression's exact adversarial loss",
             ("adversarial_logistic_loss",),
             "FGSM on a linear model in closed form, zeta(-y (w.x + b) + eps ||w||_1), right for both labels"),
    Exercise(11, "ex11_adversarial_training", "the adversarial training objective", ("adversarial_objective",),
             "train on clean and FGSM examples at once, the adversarial ones crafted afresh and held constant"),
    Exercise(12, "ex12_pgd", "PGD with a random start, and the projection onto the L-infinity ball",
             ("project_linf", "pgd"),
             "iterated FGSM stays in the ball by projecting, and the L-infinity projection is a clip"),
)


def exercise(number: int) -> Exercise:
    """The exercise numbered ``number``, or a ValueError listing the numbers there are."""
    for e in EXERCISES:
        if e.number == number:
            return e
    raise ValueError(f"there is no exercise {number}: they are numbered 1 to {len(EXERCISES)} (advex exercises lists them)")


def listing() -> str:
    """One line per exercise, starting with its number, as ``advex exercises`` prints them."""
    return "\n".join(f"{e.number:2d}  {e.title}  ({e.filename})" for e in EXERCISES)


def start(folder) -> list[tuple[str, str]]:
    """Write every stub into ``folder`` (created if needed); returns ``(file name, what happened)`` per exercise.

    A file already there is never overwritten unless it is the stub itself, unchanged:
    "kept" says a student's work was left alone.
    """
    os.makedirs(folder, exist_ok=True)
    done = []
    for e in EXERCISES:
        path = os.path.join(folder, e.filename)
        text = e.stub()
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                same = f.read() == text
            done.append((e.filename, "unchanged stub" if same else
                         "kept (it differs from this version's stub: your work, or an older stub; not overwritten)"))
            continue
        atomic_write_text(path, text)
        done.append((e.filename, "written"))
    return done
