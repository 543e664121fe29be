"""The rows of ``advex physical``: whether adversarial examples survive a camera, and EOT, with the published numbers.

Each :class:`~attacks.reproduction.claims.Claim` is one row of ``results.md``, in the
format of the other experiments' rows; the ids are a contract. Rates are fractions.

* Kurakin, Goodfellow & Bengio (2016), *Adversarial examples in the physical world*, on
  ImageNet (Inception v3): the destruction rate (their Eq. 1) of the fast, basic
  iterative and iterative least-likely methods under printed-and-photographed images
  and under single transformations. Their photo numbers, top-1 destruction at eps 16/255
  (average case): fast 12.5%, basic iterative 40.4%, least-likely 72.2% (at eps 2/255:
  61.1%, 71.7%, 82.1%). Their finding, which the row ``kurakin_ordering`` checks on our
  photo chain: the fast method's examples survive best, the iterative least-likely
  ones worst. Our images are MNIST digits and our camera a simulation, so the rates are
  reported beside theirs, not judged against them.
* Athalye, Engstrom, Ilyas & Kwok (2018), *Synthesizing Robust Adversarial Examples*:
  adversariality, the fraction of random transformations under which an example stays
  adversarial (96.4% in 2D on ImageNet, over their distribution of transformations).
"""

from __future__ import annotations

from ..reproduction.claims import CLIPPED, Claim

#: The methods, by their keys.
METHODS = ("fast", "iter", "ll")
#: Each transformation's sweep, Kurakin et al.'s Figure 6 ranges scaled to [0, 1] (rotation in degrees,
#: translation in whole pixels along both axes, JPEG in quality).
SWEEPS = {
    "brightness": (-30 / 255, -20 / 255, -10 / 255, 10 / 255, 20 / 255, 30 / 255),
    "contrast": (0.7, 0.8, 0.9, 1.1, 1.2),
    "blur": (0.4, 0.8, 1.2, 1.6, 2.0),
    "noise": (5 / 255, 10 / 255, 15 / 255, 20 / 255),
    "jpeg": (10.0, 30.0, 50.0, 70.0, 90.0, 100.0),
    "rotation": (-10.0, -5.0, 5.0, 10.0),
    "translation": (1.0, 2.0),
}
#: Kurakin et al.'s photo destruction rates (average case), by eps in [0, 255] and method.
PUBLISHED_PHOTO = {16: {"fast": 0.125, "iter": 0.404, "ll": 0.722}, 2: {"fast": 0.611, "iter": 0.717, "ll": 0.821}}

_MODEL = "the paper's maxout network {maxout_hidden}"
_METHODS = ("fast: FGSM; iter: the basic iterative method, steps of 1/255, min(eps 255 + 4, 1.25 eps 255) of them; "
            "ll: the same, towards the least-likely class; clipped to [0, 1], on {n_eval} test images")
_SWEEP = "destruction rate (Kurakin et al.'s Eq. 1) of the {method} examples at eps 0.1 on " + _MODEL + \
         ", transformation -> parameter -> rate. " + _METHODS
_PHOTO = ("destruction rate under the photo chain (rotation, translation, blur, brightness, contrast, noise, JPEG, "
          "each drawn per image from its range), method -> rate, eps 0.1, " + _MODEL + ". " + _METHODS +
          ". Kurakin et al.'s photos: 12.5%, 40.4%, 72.2% at eps 16/255")
_EOT = ("PGD and EOT-PGD (the photo chain, {eot_samples} draws per step), eps 0.1, {eot_steps} steps of "
        "{eot_step_size}, on {n_eot} test images, " + _MODEL + "; adversariality over {adversariality_draws} fresh "
        "photo draws")


def _row(id, metric, setup, tolerance=None, clip=CLIPPED) -> Claim:
    return Claim(id, metric, None, tolerance, setup, clip)


CLAIMS = (
    _row("clean_error", "error_rate", "each model's clean error on the {n_eval} test images", clip=None),
    *(_row(f"destruction_{method}", "destruction_rate", _SWEEP.format(method=method, maxout_hidden="{maxout_hidden}",
                                                                      n_eval="{n_eval}")) for method in METHODS),
    _row("photo_destruction", "destruction_rate", _PHOTO),
    Claim("kurakin_ordering", "holds: fast destroyed least, ll most", None, {"at_least": 1.0},
          "under the photo chain, eps 0.1, " + _MODEL + ": fast < iter < ll in destruction rate (Kurakin et al.)",
          CLIPPED),
    _row("photo_destruction_by_eps", "destruction_rate", "model -> eps -> method -> destruction rate under the photo "
         "chain; maxout " + "{maxout_hidden}" + " and SmallConvNet. " + _METHODS),
    _row("adversarial_error", "error_rate", "model -> eps -> method -> error on the adversarial examples, untransformed"),
    _row("pgd_adversariality", "adversariality", _EOT),
    _row("eot_adversariality", "adversariality", _EOT),
    _row("pgd_photo_destruction", "destruction_rate", _EOT + "; destruction rate under one photo draw"),
    _row("eot_photo_destruction", "destruction_rate", _EOT + "; destruction rate under one photo draw"),
)
