"""The checks of exercises 8 to 12, the attacks: closed forms, the L-infinity bound, the valid range,
agreement with the library, and the effect on a trained model.

Random small models (a softmax regression or a ReLU network of a few units, drawn by
seed) carry the property tests; a softmax regression trained on 1,000 MNIST images (or
the synthetic set, without MNIST) carries the effect: the student's attack must raise
its test error as much as the library's does.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

import minigrad as mg
import models

from ..adversarial_training import AdversarialObjective
from ..checks import ROUNDING
from ..methods import fgsm as library_fgsm, pgd as library_pgd
from ..toy import W as TOY_W, X as TOY_X
from . import solutions as library
from .engine_checks import SOURCES, arrays, error_rate, floats, small_data, trained_softmax
from .expectations import expect_array, read_only
from .grader import Check, Mismatch

#: The eps of the effect on the trained model, by its data (a key of ``SOURCES``): on MNIST the paper's
#: smaller eps; the synthetic set's strong features resist up to about 0.12, and 0.15 fools its model on
#: some of the images, not all.
EFFECT_EPS = {"MNIST": 0.1, "synthetic": 0.15}
#: PGD's steps in the effect: advex attack --attack pgd's.
PGD_STEPS = 10
#: How far below the library's error the student's attack may leave the trained model's: PGD's error moves
#: with the random start by about this much from seed to seed.
EFFECT_MARGIN = 0.05


# --- 8. the toy example ---------------------------------------------------------------------------------------------
def check_toy_numbers(student, ex):
    w, x = TOY_W.astype(np.float64), TOY_X.astype(np.float64)
    shown = {"w": w, "x": x, "b": 0.0, "eps": 0.1}
    expect_array("best_perturbation(w, 0.1) for the lecture's w", shown, 0.1 * np.sign(w),
                 student.best_perturbation(read_only(w), 0.1), atol=1e-8, rtol=1e-6)
    expected = np.asarray(special.expit(w @ x + 0.1 * np.abs(w).sum()))
    expect_array("new_probability(w, 0, x, 0.1) for the lecture's example", shown, expected,
                 np.asarray(student.new_probability(*read_only(w, 0.0, x), 0.1), dtype=np.float64), atol=1e-6, rtol=0)


@st.composite
def linear_examples(draw):
    d = draw(st.integers(1, 8))
    return {"w": draw(hnp.arrays(np.float64, d, elements=st.integers(-5, 5).map(float))), "b": draw(floats(-2, 2)),
            "x": draw(arrays(d, -1, 1)), "eps": draw(floats(0, 0.5))}


def check_best_perturbation(student, ex):
    w, eps = ex["w"], ex["eps"]
    shown = {"w": w, "eps": eps}
    eta = expect_array("best_perturbation(w, eps)", shown, eps * np.sign(w),
                       student.best_perturbation(read_only(w), eps), atol=np.inf, rtol=0)
    if np.abs(eta).max() > eps * (1 + ROUNDING):
        raise Mismatch("best_perturbation(w, eps) leaves the L-infinity ball", shown, eps * np.sign(w), eta,
                       note=f"max |eta_i| = {np.abs(eta).max():.6g} > eps = {eps:.6g}")
    best = eps * np.abs(w).sum()
    if w @ eta < best * (1 - ROUNDING) - 1e-12:
        raise Mismatch("best_perturbation(w, eps) is not the best: w . eta falls short of the largest value in the ball",
                       shown, eps * np.sign(w), eta, note=f"w . eta = {w @ eta:.6g}, the best is {best:.6g}")


def check_new_probability(student, ex):
    w, b, x, eps = ex["w"], ex["b"], ex["x"], ex["eps"]
    expected = np.asarray(special.expit(w @ x + b + eps * np.abs(w).sum()))
    came = student.new_probability(*read_only(w, b, x), eps)
    expect_array("new_probability(w, b, x, eps)", ex, expected,
                 np.asarray(came, dtype=np.float64) if np.ndim(came) == 0 and not isinstance(came, mg.Tensor) else came,
                 atol=1e-5, rtol=0)


def exercise_8():
    return [Check("the lecture's numbers (w . x = -2, p = 0.12; eps = 0.1 gives p = 0.80)", check_toy_numbers),
            Check("best_perturbation on random weights", check_best_perturbation, linear_examples()),
            Check("new_probability against the closed form", check_new_probability, linear_examples())]


# --- random small models, and the bound and range every attack must keep ------------------------------------------
@st.composite
def model_examples(draw, network: bool = True):
    kind = draw(st.sampled_from(["softmax", "relu"] if network else ["softmax"]))
    d, c, n = draw(st.integers(2, 6)), draw(st.integers(2, 4)), draw(st.integers(1, 4))
    return {"model": ModelSpec(kind, d, c, draw(st.integers(0, 2**16))),
            "x": draw(arrays((n, d), 0, 1)).astype(np.float32),
            "y": draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1))), "eps": draw(floats(0.0, 0.5))}


class ModelSpec(tuple):
    """(kind, features, classes, seed) of a random small model, shown as the code that makes it."""

    def __new__(cls, kind, d, c, seed):
        return super().__new__(cls, (kind, d, c, seed))

    def build(self):
        kind, d, c, seed = self
        if kind == "logistic":
            return models.LogisticRegression(d, init="glorot", seed=seed)
        if kind == "softmax":
            return models.SoftmaxRegression(d, c, init="glorot", seed=seed)
        return models.MLP((d, 5, c), activation="relu", seed=seed)

    def __repr__(self):
        kind, d, c, seed = self
        if kind == "logistic":
            return f"models.LogisticRegression({d}, init='glorot', seed={seed})"
        if kind == "softmax":
            return f"models.SoftmaxRegression({d}, {c}, init='glorot', seed={seed})"
        return f"models.MLP(({d}, 5, {c}), activation='relu', seed={seed})"


def expect_attack(what: str, shown: dict, x: np.ndarray, eps: float, x_adv, clip=(0.0, 1.0)) -> np.ndarray:
    """``x_adv`` as an answer to the attack: x's shape and dtype, within eps of x (to float32 rounding), inside ``clip``."""
    x_adv = expect_array(f"what {what} returned", shown, x, x_adv, atol=np.inf, rtol=0)
    if not np.isfinite(x_adv).all():
        raise Mismatch(f"{what} holds NaN or inf", shown, None, x_adv)
    moved = np.abs(x_adv.astype(np.float64) - x)
    allowed = eps + ROUNDING * (np.abs(x) + eps)
    if (moved > allowed).any():
        raise Mismatch(f"{what} leaves the L-infinity ball of radius eps", shown, None, x_adv,
                       note=f"a pixel moved by {moved.max():.6g}, more than eps = {eps:.6g}")
    if clip is not None and ((x_adv < clip[0]) | (x_adv > clip[1])).any():
        raise Mismatch(f"{what} leaves the valid range {clip}", shown, None, x_adv,
                       note=f"its values span [{x_adv.min():.6g}, {x_adv.max():.6g}]")
    return x_adv


def effect(what: str, attack, reference) -> str:
    """The error of the trained softmax regression under the student's ``attack`` and the library's ``reference``
    (which returns the error itself): a Mismatch if the student's is more than :data:`EFFECT_MARGIN` below; else
    the line that reports both."""
    model, (_, (x, y), key) = trained_softmax(), small_data()
    source, eps = SOURCES[key], EFFECT_EPS[key]
    x_adv = expect_attack(what, {"model": f"the softmax regression trained on {source}", "eps": eps}, x, eps,
                          attack(model, read_only(x), y, eps))
    clean, came, expected = error_rate(model, x, y), error_rate(model, x_adv, y), reference(model, x, y, eps)
    if came < expected - EFFECT_MARGIN:
        raise Mismatch(f"{what} raises the test error of a softmax regression trained on {source} far less than the "
                       f"library's attack does, at eps {eps}", {"images": len(x)}, np.asarray(expected), np.asarray(came),
                       note=f"its clean error is {100 * clean:.1f}%")
    return (f"{what} at eps {eps} on a softmax regression trained on {source}: test error {100 * clean:.1f}% -> "
            f"{100 * came:.1f}% (the library's: {100 * expected:.1f}%)")


# --- 9. FGSM --------------------------------------------------------------------------------------------------------
def check_fgsm(student, ex):
    model, x, y, eps, clip = ex["model"].build(), ex["x"], ex["y"], ex["eps"], ex["clip"]
    x_adv = expect_attack("fgsm(model, x, y, eps, clip)", ex, x, eps, student.fgsm(model, read_only(x), y, eps, clip), clip)
    expected = library_fgsm(model, x, y, eps, exact=False, clip=clip)
    expect_array("fgsm(model, x, y, eps, clip)", ex, expected, x_adv, atol=1e-6, rtol=0)


@st.composite
def fgsm_examples(draw):
    example = draw(model_examples())
    example["clip"] = draw(st.sampled_from([(0.0, 1.0), None]))
    return example


def report_9(student) -> str:
    return effect("your FGSM", student.fgsm, lambda model, x, y, eps: error_rate(model, library_fgsm(model, x, y, eps), y))


def exercise_9():
    return [Check("fgsm on random small models, clipped and not: bound, range, and the library's answer", check_fgsm,
                  fgsm_examples())]


# --- 10. the logistic regression's adversarial loss -----------------------------------------------------------------
@st.composite
def logistic_examples(draw):
    d, n = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    b = draw(floats(0.1, 1.0)) * draw(st.sampled_from([-1.0, 1.0]))  # never 0: softplus(0) sits on max and abs' kinks
    return {"model": ModelSpec("logistic", d, 2, draw(st.integers(0, 2**16))), "b": b,
            "x": draw(arrays((n, d), 0, 1)).astype(np.float32),
            "y": draw(hnp.arrays(np.float64, n, elements=st.sampled_from([-1.0, 1.0]))).astype(np.float32),
            "eps": draw(floats(0.0, 0.5))}


def logistic(spec, b) -> models.LogisticRegression:
    model = spec.build()
    model.linear.bias.data[:] = b
    return model


def value_and_parameter_grads(objective, model):
    """The value of ``objective()`` (a loss Tensor) and the gradient of each of the model's parameters after its
    ``backward()`` (zeros where none reached it), from parameters whose ``.grad`` was empty before the call: a
    gradient the objective itself left on them would be added to the weights' in training, and counts here too."""
    model.zero_grad()
    loss = objective()
    if not isinstance(loss, mg.Tensor):
        raise Mismatch(f"the loss must be a Tensor made with minigrad ops, so that the engine can differentiate it; "
                       f"came {type(loss).__name__}", {})
    if loss.size != 1:
        raise Mismatch(f"the loss must be one number (the mean over the batch); came a Tensor of shape {loss.shape}", {})
    if loss.requires_grad:
        loss.backward()
    grads = [np.zeros_like(p.data) if p.grad is None else p.grad for p in model.parameters()]
    model.zero_grad()
    return np.asarray(loss.data, dtype=np.float32).reshape(()), grads


def check_logistic_loss(student, ex):
    x, y, eps = ex["x"], ex["y"], ex["eps"]
    shown = {"w": logistic(ex["model"], ex["b"]).linear.weight.data[:, 0], "b": ex["b"], "x": x, "y": y, "eps": eps}
    labels = ((y + 1) // 2).astype(np.int64)
    # The value: FGSM on the model itself, then its loss (no closed form involved).
    model = logistic(ex["model"], ex["b"])
    expected, expected_grads = value_and_parameter_grads(
        lambda: AdversarialObjective(eps, alpha=0.0, clip=None)(model, x, labels), model)
    try:
        came, came_grads = value_and_parameter_grads(
            lambda: student.adversarial_logistic_loss(model, read_only(x), read_only(y), eps), model)
    except Mismatch as failure:
        raise Mismatch(f"adversarial_logistic_loss(model, x, y, eps): {failure.what}", shown) from None
    expect_array("adversarial_logistic_loss(model, x, y, eps)", shown, expected, came,
                 atol=1e-5, rtol=1e-4)
    for name, e, c in zip(("dL/dw", "dL/db"), expected_grads, came_grads):
        expect_array(f"{name} of your loss, through the engine,", shown, e, c, atol=1e-5, rtol=1e-3)


def exercise_10():
    return [Check("adversarial_logistic_loss against FGSM on the model, for both labels", check_logistic_loss,
                  logistic_examples())]


# --- 11. adversarial training ---------------------------------------------------------------------------------------
@st.composite
def objective_examples(draw):
    example = draw(model_examples())
    example["alpha"] = draw(floats(0.0, 1.0))
    return example


def check_objective(student, ex):
    x, y, eps, alpha = ex["x"], ex["y"], ex["eps"], ex["alpha"]
    model = ex["model"].build()
    expected, expected_grads = value_and_parameter_grads(lambda: library.adversarial_objective(model, x, y, eps, alpha), model)
    try:
        came, came_grads = value_and_parameter_grads(
            lambda: student.adversarial_objective(model, read_only(x), y, eps, alpha), model)
    except Mismatch as failure:
        raise Mismatch(f"adversarial_objective(model, x, y, eps, alpha): {failure.what}", ex) from None
    expect_array("adversarial_objective(model, x, y, eps, alpha)", ex, expected, came, atol=1e-5, rtol=1e-4)
    names = [name for name, _ in model.named_parameters()]
    for name, e, c in zip(names, expected_grads, came_grads):
        expect_array(f"the gradient of {name} from your objective", ex, e, c, atol=1e-5, rtol=1e-3)


def exercise_11():
    return [Check("adversarial_objective against the library's, value and gradients", check_objective, objective_examples())]


# --- 12. PGD --------------------------------------------------------------------------------------------------------
@st.composite
def projection_examples(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
    eps = draw(floats(0.0, 0.5))
    x = draw(arrays(shape, 0, 1))
    return {"x_adv": x + draw(arrays(shape, -1.5, 1.5)), "x": x, "eps": eps}


def check_projection(student, ex):
    x_adv, x, eps = ex["x_adv"], ex["x"], ex["eps"]
    expect_array("project_linf(x_adv, x, eps)", ex, library.project_linf(x_adv, x, eps),
                 student.project_linf(*read_only(x_adv, x), eps), atol=1e-12, rtol=1e-12)


def check_pgd(student, ex):
    model, x, y, eps = ex["model"].build(), ex["x"], ex["y"], ex["eps"]
    expect_attack("pgd(model, x, y, eps, eps / 4, 10, rng)", ex, x, eps,
                  student.pgd(model, read_only(x), y, eps, eps / 4, 10, np.random.default_rng(0)))


def check_random_start(student, ex):
    model = models.SoftmaxRegression(10, 3, init="glorot", seed=0)
    x, y, eps = np.full((200, 10), 0.5, dtype=np.float32), np.zeros(200, dtype=np.int64), 0.1
    shown = {"model": "models.SoftmaxRegression(10, 3, init='glorot', seed=0)", "x": "200 x 10 pixels of 0.5",
             "eps": eps, "steps": 0}
    start = expect_attack("pgd with steps=0 (the random start alone)", shown, x, eps,
                          student.pgd(model, read_only(x), y, eps, 0.025, 0, np.random.default_rng(0)))
    spread = float(np.abs(start - x).mean() / eps)
    if not 0.4 <= spread <= 0.6:
        raise Mismatch("pgd's random start is not uniform in [-eps, eps]: its mean |x_0 - x| / eps", shown, np.asarray(0.5),
                       np.asarray(spread), note="a start drawn uniformly from [-eps, eps] moves a pixel by eps / 2 on average")


def check_step_size(student, ex):
    model, x, y, eps = ex["model"].build(), ex["x"], ex["y"], ex["eps"]
    step, steps = eps / 10, 3
    start = student.pgd(model, read_only(x), y, eps, step, 0, np.random.default_rng(0))
    x_adv = student.pgd(model, read_only(x), y, eps, step, steps, np.random.default_rng(0))
    moved = float(np.abs(np.asarray(x_adv, dtype=np.float64) - np.asarray(start, dtype=np.float64)).max())
    if moved > steps * step * (1 + ROUNDING) + 1e-6:
        raise Mismatch(f"pgd's {steps} steps of step_size = eps / 10 move x further than {steps} * step_size from the "
                       "start", ex, note=f"they moved a pixel by {moved:.6g} from where steps=0 (the same rng seed) "
                                         f"started, more than {steps * step:.6g}: is step_size used?")


def report_12(student) -> str:
    steps = PGD_STEPS

    def library_error(model, x, y, eps):  # its mean over three random starts: one start is one draw
        return float(np.mean([error_rate(model, library_pgd(model, x, y, eps, step_size=eps / 4, steps=steps, seed=seed), y)
                              for seed in range(3)]))

    return effect(f"your PGD ({steps} steps of eps / 4)",
                  lambda model, x, y, eps: student.pgd(model, x, y, eps, eps / 4, steps, np.random.default_rng(0)),
                  library_error)


def exercise_12():
    return [Check("project_linf against the nearest point of the box", check_projection, projection_examples()),
            Check("pgd's random start: uniform in the ball", check_random_start),
            Check("pgd on random small models: bound and range", check_pgd, model_examples(), max_examples=20),
            Check("pgd's steps: each at most step_size", check_step_size, model_examples(), max_examples=10)]


CHECKS = {8: exercise_8, 9: exercise_9, 10: exercise_10, 11: exercise_11, 12: exercise_12}
REPORTS = {9: report_9, 12: report_12}
