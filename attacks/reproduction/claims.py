"""The paper's claims that ``advex reproduce`` checks: one table, read by the stages' report.

Each :class:`Claim` is one row of ``results.md``: the id and metric of a measurement,
the paper's value (None where the paper gives none: the row is reported, not judged),
our tolerance, the setup it was measured in, and whether the attack was clipped to
[0, 1]. The ids are a contract: ``results.json`` keeps them from version to version.

Each claim names the data its paper's number and our target hold on (``data``:
"mnist", "cifar10", or None for the toy example, which needs none); on other data
(Fashion-MNIST, a synthetic CIFAR-format set in the tests) the row keeps only ours.

Tolerances: ``{"at_least": v}``, ``{"at_most": v}``, ``{"within": d}`` (of the paper's
value), or ``{"at_most": Relative(id, metric, margin)}``: at most another measurement
plus a margin. A metric named ``"holds: ..."`` is a yes/no claim (ours 1.0 or 0.0); one
in :data:`VALUES` is a number (such as an eps in pixels), not a rate.
Setups are templates filled in with the run's :class:`Budget` fields.

Numbers are from Goodfellow, Shlens & Szegedy, *Explaining and Harnessing Adversarial
Examples* (arXiv 2014, ICLR 2015), on MNIST with FGSM at eps = 0.25 unless a setup
says otherwise; the CIFAR-10 rows' eps are in the units of the preprocessed images
(GCN, then ZCA whitening), and the clean error beside them is the maxout paper's.
"""

from __future__ import annotations

import dataclasses

EPS = 0.25  # the paper's FGSM step on MNIST
CIFAR_EPS = 0.1  # the paper's FGSM step on CIFAR-10, in preprocessed units
CIFAR_LECTURE_EPS = 0.15  # the lecture's, for the same numbers
CLIPPED = (0.0, 1.0)
#: Metrics that are numbers, not rates (the report prints them as they are).
VALUES = ("mean_linf_pixels", "features_changed", "linf", "queries")
#: Every model the reproduction can train, in the order it trains them (``mlp`` only on request).
ALL_MODELS = ("softmax", "softmax_converged", "maxout", "mlp", "conv", "rbf", "maxout_adversarial")


@dataclasses.dataclass(frozen=True)
class Relative:
    """A tolerance bound that is another measurement plus ``margin``."""

    id: str
    metric: str
    margin: float


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    metric: str
    paper: float | None = None
    tolerance: dict | None = None
    setup: str = ""
    clip: tuple | None = None
    data: str | None = "mnist"  # the data the paper's number and our target hold on (None: any)

    @property
    def kind(self) -> str:
        return "claim" if self.metric.startswith("holds:") else "value" if self.metric in VALUES else "rate"


def fgsm_claims(id: str, setup: str, *, error=(None, None), confidence=(None, None)) -> list:
    """The four rows of one model under FGSM: error and confidence on mistakes, unclipped
    (the paper's setting; ``error`` and ``confidence`` are (paper, tolerance)), then clipped."""
    return [
        Claim(id, "error_rate", error[0], error[1], setup),
        Claim(id, "confidence_wrong", confidence[0], confidence[1], setup),
        Claim(f"{id}_clipped", "error_rate", setup=setup, clip=CLIPPED),
        Claim(f"{id}_clipped", "confidence_wrong", setup=setup, clip=CLIPPED),
    ]


_TOY = "10-d logistic regression, FGSM eps = 0.1 (no clipping)"
_LOGREG = "logistic regression on MNIST 3 (label 0) vs 7 (label 1), SGD lr 0.1"
_SOFTMAX = "softmax regression, 1 epoch of SGD (lr 0.1, batch 100), as the paper"
_CONVERGED = "softmax regression, {softmax_epochs} epochs (converged)"
_MAXOUT = "maxout {maxout_hidden} x 5 pieces, paper recipe, <= {maxout_epochs} epochs"
_MLP = "MLP 784-1200-1200-10 ReLU, SGD lr 0.05 momentum 0.9, {mlp_epochs} epochs"
_CONV = "SmallConvNet (Wong et al. 2020), SGD lr 0.05 halved every 3 epochs, momentum 0.9, {conv_epochs} epochs"
_RBF = "RBF network, class-mean centers, Adam lr 0.01, {rbf_epochs} epochs"
_ADV = "maxout {maxout_hidden}, adversarial training eps 0.25 alpha 0.5, <= {adv_epochs} epochs"
_NOISE = "random +-0.25 sign noise, unclipped"
_TRANSFER = ("FGSM eps 0.25 crafted on one maxout network, evaluated on the other; the paper: first < second; "
             "over three seeds orig_to_adv spans 24.8-32.0%, mostly with the adversarially trained network (docs/seeds.md)")
#: The clean maxout network's target is our budget's, not the paper's: the recipe stops at ``maxout_epochs`` or
#: after ``patience`` epochs without improvement, where the paper's waits 100. The seeds behind the number are in
#: docs/seeds.md; the earlier target was one draw's.
_MAXOUT_CLEAN_TARGET = ("; target: this budget's (the paper's recipe waits 100 epochs without improvement, ours at most "
                        "{maxout_epochs} epochs and {patience}): 1.17-1.37% over three seeds")
_RUBBISH = "N(0, I) samples counted wrong when the top probability exceeds 0.5"
_CIFAR = ("ConvMaxoutNetwork {cifar_preset!r} on GCN + ZCA, maxout paper's recipe, {cifar_epochs} epochs; "
          "clean: the maxout paper's 11.68% (no augmentation, its full-size network)")
_CIFAR_FGSM = ("FGSM eps = {eps} in preprocessed units (unclipped), {cifar_preset!r} preset; "
               "mean_linf_pixels: the same perturbation in pixels (first order), "
               "error_rate_in_pixels: the model's error on that pixel perturbation")


def cifar_fgsm_claims(id: str, eps: float, source: str) -> list:
    """The CIFAR-10 FGSM rows at ``eps`` (preprocessed units): the paper's 87.15% at 96.6%,
    reported beside ours (not judged: never run on the real CIFAR-10 on our machines)."""
    setup = _CIFAR_FGSM.replace("{eps}", f"{eps:g} ({source})")
    return [Claim(id, "error_rate", 0.8715, None, setup, data="cifar10"),
            Claim(id, "confidence_wrong", 0.966, None, setup, data="cifar10"),
            Claim(id, "mean_linf_pixels", None, None, setup, data="cifar10"),
            Claim(id, "error_rate_in_pixels", None, None, setup, data="cifar10")]

#: Every row of the report, in its order. Rows whose model a run did not train are left out.
CLAIMS = (
    Claim("toy_example", "sigmoid before", 0.12, {"within": 0.005}, _TOY, data=None),
    Claim("toy_example", "sigmoid after", 0.80, {"within": 0.005}, _TOY, data=None),
    Claim("logreg37_clean", "error_rate", 0.016, {"at_most": 0.025}, _LOGREG),
    Claim("logreg37_fgsm", "error_rate", 0.99, {"at_least": 0.95}, _LOGREG),
    *fgsm_claims("softmax_fgsm", _SOFTMAX, error=(0.999, {"at_least": 0.99}), confidence=(0.793, {"within": 0.10})),
    Claim("softmax_converged_clean", "error_rate", None, {"at_most": 0.08}, _CONVERGED),
    *fgsm_claims("softmax_converged_fgsm", _CONVERGED),
    Claim("maxout_clean", "error_rate", 0.0094, {"at_most": 0.014}, _MAXOUT + _MAXOUT_CLEAN_TARGET),
    *fgsm_claims("maxout_fgsm", _MAXOUT, error=(0.894, {"at_least": 0.85}), confidence=(0.976, {"at_least": 0.90})),
    Claim("mlp_clean", "error_rate", None, {"at_most": 0.018}, _MLP),
    *fgsm_claims("mlp_fgsm", _MLP),
    Claim("conv_clean", "error_rate", None, {"at_most": 0.012}, _CONV),
    *fgsm_claims("conv_fgsm", _CONV),
    Claim("rbf_clean", "error_rate", None, {"at_most": 0.15}, _RBF),
    Claim("rbf_clean", "mean_confidence", 0.606, None, _RBF),
    *fgsm_claims("rbf_fgsm", _RBF, error=(0.554, None), confidence=(0.012, {"at_most": 0.10})),
    Claim("advmaxout_clean", "error_rate", 0.0084, {"at_most": Relative("maxout_clean", "error_rate", 0.0015)},
          _ADV + "; tolerance: the plain maxout's clean error + 0.15 points"),
    *fgsm_claims("advmaxout_fgsm", _ADV, error=(0.179, {"at_most": 0.20}), confidence=(0.814, {"at_least": 0.60})),
    *(Claim(f"{name}_noise", "error_rate", setup=_NOISE)
      for name in ALL_MODELS),
    Claim("transfer_orig_to_adv", "error_rate", 0.196, {"within": 0.10}, _TRANSFER),
    Claim("transfer_adv_to_orig", "error_rate", 0.409, {"within": 0.10}, _TRANSFER),
    Claim("transfer_asymmetry", "holds: orig_to_adv < adv_to_orig", 1.0, {"at_least": 1.0}, _TRANSFER),
    Claim("rubbish_maxout", "fooled_fraction", 0.9835, None, _RUBBISH),
    Claim("rubbish_maxout", "confidence_fooled", 0.928, None, _RUBBISH),
    Claim("rubbish_softmax", "fooled_fraction", 0.598, None, _RUBBISH),
    Claim("rubbish_softmax", "confidence_fooled", 0.708, None, _RUBBISH),
    Claim("rubbish_rbf", "fooled_fraction", 0.0, None, _RUBBISH),
    Claim("rubbish_rbf", "confidence_fooled", None, None, _RUBBISH),
    Claim("rubbish_order", "holds: rbf < softmax < maxout", 1.0, {"at_least": 1.0}, _RUBBISH),
    Claim("cifar_maxout_clean", "error_rate", 0.1168, None, _CIFAR, data="cifar10"),
    Claim("cifar_maxout_clean", "mean_confidence", None, None, _CIFAR, data="cifar10"),
    *cifar_fgsm_claims("cifar_maxout_fgsm", CIFAR_EPS, "the paper's"),
    *cifar_fgsm_claims("cifar_maxout_fgsm_lecture", CIFAR_LECTURE_EPS, "the lecture's"),
)
