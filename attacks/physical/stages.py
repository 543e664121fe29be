"""The stages of ``advex physical``, each a function of the running :class:`~attacks.physical.run.Physical`.

Like the other experiments' stages, each computes once (kept in the run folder under its
name) and returns measurements ``{"id", "metric", "ours", "n"}`` for the report.
"""

from __future__ import annotations

import numpy as np

from .. import figures
from ..camera import TRANSFORMATIONS, Photo, destruction_rate
from ..eot import adversariality, eot_pgd
from ..methods import fgsm, least_likely_class, pgd
from ..reproduction.stages import measurement
from .claims import METHODS, SWEEPS

CLIP = (0.0, 1.0)
#: The eps of the rows about one eps (the sweeps, the photo rows, EOT).
ROW_EPS = 0.1


def iterations(eps: float) -> int:
    """Kurakin et al.'s number of iterations of step 1/255 for eps (in [0, 1]): min(eps + 4, 1.25 eps) in [0, 255]."""
    e = eps * 255
    return int(min(e + 4, 1.25 * e))


def adversarial_examples(model, x, y, eps: float) -> dict:
    """method -> its adversarial examples of x at eps: ``fast`` FGSM, ``iter`` the basic iterative method,
    ``ll`` the iterative least-likely class method (towards the class least likely for the clean image)."""
    steps = iterations(eps)
    return {"fast": fgsm(model, x, y, eps, clip=CLIP),
            "iter": pgd(model, x, y, eps, step_size=1 / 255, steps=steps, random_start=False, clip=CLIP),
            "ll": pgd(model, x, least_likely_class(model, x), eps, step_size=1 / 255, steps=steps, random_start=False,
                      targeted=True, clip=CLIP)}


def destruction(r) -> list:
    """Each method at each eps on both models: the destruction rate under every transformation of the sweep and
    under the photo chain (one stage per model and eps)."""
    x, y = r.test
    found = {}
    for name in ("maxout", "conv"):
        for eps in r.budget.eps:
            def run(name=name, eps=eps):
                model = r.model(name)
                examples = adversarial_examples(model, x, y, eps)
                result = {"clean_error": float(np.mean(model.predict(x) != y)), "error": {}, "sweep": {}, "photo": {}}
                for method, x_adv in examples.items():
                    result["error"][method] = float(np.mean(model.predict(x_adv) != y))
                    result["sweep"][method] = {
                        key: {f"{value:g}": destruction_rate(model, x, x_adv, y, TRANSFORMATIONS[key](
                            value, image_shape=r.image_shape, seed=r.seed)) for value in values}
                        for key, values in SWEEPS.items()}
                    result["photo"][method] = destruction_rate(model, x, x_adv, y,
                                                               Photo(image_shape=r.image_shape, seed=r.seed))
                return result

            found[name, eps] = r.folder.stage(f"destruction {name} eps {eps:g}", run)
    row = found["maxout", ROW_EPS]
    r.figure("destruction.png", figures.plot_destruction, row["sweep"],
             title=f"maxout network, eps {ROW_EPS}, n = {len(y)}: destruction rate against each transformation's parameter")
    photo = row["photo"]
    rates = [photo[method] for method in METHODS]
    order = float("nan") if any(rate != rate for rate in rates) else float(rates[0] < rates[1] < rates[2])  # NaN: undecided
    models_ = ("maxout", "conv")
    return [measurement("clean_error", "error_rate", {m: found[m, r.budget.eps[0]]["clean_error"] for m in models_}, len(y)),
            *(measurement(f"destruction_{method}", "destruction_rate", row["sweep"][method], len(y)) for method in METHODS),
            measurement("photo_destruction", "destruction_rate", photo, len(y)),
            measurement("kurakin_ordering", "holds: fast destroyed least, ll most", order, len(y)),
            measurement("photo_destruction_by_eps", "destruction_rate",
                        {m: {f"{eps:g}": found[m, eps]["photo"] for eps in r.budget.eps} for m in models_}, len(y)),
            measurement("adversarial_error", "error_rate",
                        {m: {f"{eps:g}": found[m, eps]["error"] for eps in r.budget.eps} for m in models_}, len(y))]


def expectation_over_transformation(r) -> list:
    """Plain PGD and EOT-PGD at eps 0.1 under the photo chain, on the maxout network: adversariality and the
    destruction rate of each, and a figure of clean, adversarial and photographed examples."""
    b, (x, y) = r.budget, r.eot_test

    def photo(seed):
        return Photo(image_shape=r.image_shape, seed=seed)

    def attacked(x, y):
        model = r.model("maxout")
        x_pgd = pgd(model, x, y, ROW_EPS, step_size=b.eot_step_size, steps=b.eot_steps, random_start=False, clip=CLIP)
        x_eot = eot_pgd(model, x, y, ROW_EPS, photo(r.seed + 1), samples=b.eot_samples, steps=b.eot_steps,
                        step_size=b.eot_step_size, clip=CLIP)
        return model, x_pgd, x_eot

    def run():
        model, x_pgd, x_eot = attacked(x, y)
        return {kind: {"adversariality": adversariality(model, x_adv, y, photo(r.seed + 2), b.adversariality_draws),
                       "destruction": destruction_rate(model, x, x_adv, y, photo(r.seed + 3)),
                       "error": float(np.mean(model.predict(x_adv) != y))}
                for kind, x_adv in (("pgd", x_pgd), ("eot", x_eot))}

    e = r.folder.stage("expectation over transformation", run)

    def pictures(path):  # eight examples attacked again for the figure; the numbers come from the stage above
        model, x_pgd, x_eot = attacked(x[:8], y[:8])
        rows = {"clean": x[:8], "PGD": x_pgd, "PGD, photographed": photo(r.seed + 4)(x_pgd), "EOT-PGD": x_eot,
                "EOT-PGD, photographed": photo(r.seed + 4)(x_eot)}  # the same photos of both
        return figures.plot_rows(model, rows, y[:8], path, image_shape=r.image_shape[1:],
                                 title=f"maxout network, eps {ROW_EPS}: the prediction below each digit (red: wrong)")

    r.figure("eot_examples.png", pictures)
    n = len(y)
    return [measurement("pgd_adversariality", "adversariality", e["pgd"]["adversariality"], n),
            measurement("eot_adversariality", "adversariality", e["eot"]["adversariality"], n),
            measurement("pgd_photo_destruction", "destruction_rate", e["pgd"]["destruction"], n),
            measurement("eot_photo_destruction", "destruction_rate", e["eot"]["destruction"], n)]
