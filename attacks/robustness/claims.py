"""The rows of ``advex robustness``: what the field learned after the paper, with the published numbers.

Each :class:`~attacks.reproduction.claims.Claim` is one row of ``results.md``, in the
format of ``advex reproduce``'s rows; the ids are a contract. Published numbers:

* Wong, Rice & Kolter (2020), "Fast is better than free", MNIST, SmallConvNet, FGSM
  from a random start, eps = 0.3: 98.50% clean accuracy, 88.77% under PGD (50 steps of
  0.01, 10 restarts): as error rates 1.50% and 11.23%. Our targets (issue 13): clean
  error at most 2.5%, PGD error within 5 points of theirs.
* Kurakin, Goodfellow & Bengio (2016): label leaking, no number on MNIST maxout (the
  row says what to look for: FGSM from true labels scoring *below* clean error).
* Goodfellow, Shlens & Szegedy: the adversarially trained maxout's own FGSM error
  (the paper's 17.9%), the baseline the stronger attacks are compared with.
"""

from __future__ import annotations

import dataclasses

from ..reproduction.claims import CLIPPED, Claim

PAPER_EPS = 0.25  # the paper's MNIST eps, unclipped, for its maxout networks
FAST_EPS = 0.3  # Wong et al.'s, clipped to [0, 1], for the conv nets

_STRONG = ("{model}, eps 0.25 unclipped, n = {{n_eval}}: PGD {{pgd_steps}} steps of 0.01, {{pgd_restarts}} restarts; "
           "APGD-CE {{apgd_iterations}} iterations; Square {{square_queries}} queries; worst case over all (AutoAttack's rule)")
_LEAK = "adversarially trained maxout, FGSM eps 0.25 unclipped from the true labels vs the model's predictions, n = {n_eval}"
_FAST = ("SmallConvNet, FGSM from a random start (eps 0.3, step 0.375), Adam cyclic lr peak 5e-3, {fast_epochs} epochs, "
         "from {fast_seeds} seed(s); each keeps its epoch with the best held-out PGD accuracy, the seed whose kept epoch "
         "is best on the held-out images is evaluated; PGD {eval_pgd_steps} steps of 0.01, {eval_pgd_restarts} restarts, "
         "clipped, n = {n_eval}")
_SEEDS = ("fast adversarial training as above, PGD ({track_pgd_steps} steps of 0.075) accuracy on {n_holdout} held-out "
          "images after each epoch, from each seed")
_OVERFIT = ("SmallConvNet, FGSM training without a random start (eps 0.3, step {overfit_step}: plain FGSM) vs with one "
            "(step 0.375, the evaluated seed); FGSM and PGD ({track_pgd_steps} steps of 0.075) accuracy on {n_holdout} "
            "held-out images after each epoch")
COLLAPSE_RISE, COLLAPSE_FRACTION = 0.2, 0.5  # a collapse: PGD accuracy reached 20%, then fell below half its best
_COLLAPSE = (f"each run of the figure (random_start_seedN, no_random_start_seedN): the first epoch at which its held-out PGD "
             f"accuracy, having reached {COLLAPSE_RISE:.0%}, fell below {COLLAPSE_FRACTION:g} of its best so far "
             "(none: no collapse)")
_LEAK_OVERFIT = ("SmallConvNet trained without a random start: clean accuracy, FGSM (eps 0.3) from the true labels and from "
                 "its predictions, on {n_holdout} held-out images after each epoch; the label leaks when FGSM from the true "
                 "labels scores well above FGSM from the predictions (and above clean)")
_PLAIN = "maxout {maxout_hidden}, FGSM eps 0.25 unclipped with the plain float32 input gradient vs the exact direction, n = {n_eval}"
_MASKED = ("SmallConvNet behind an input quantiser ({quantise_levels} levels), eps 0.3 clipped, n = {n_eval}; transfer from "
           "a clean SmallConvNet; Square {square_queries} queries; BPDA: PGD through a straight-through quantiser")


def _rate(id, setup, paper=None, metric="error_rate"):
    return Claim(id, metric, paper, None, setup)


def _clipped(claim: Claim) -> Claim:
    """``claim`` for a conv net: its attacks clip to [0, 1] (the report's clip column says so)."""
    return dataclasses.replace(claim, clip=CLIPPED)


CLAIMS = (
    _rate("fgsm_maxout", _STRONG.format(model="maxout {maxout_hidden}")),
    _rate("pgd_maxout", _STRONG.format(model="maxout {maxout_hidden}")),
    _rate("apgd_maxout", _STRONG.format(model="maxout {maxout_hidden}")),
    _rate("square_maxout", _STRONG.format(model="maxout {maxout_hidden}")),
    _rate("worstcase_maxout", _STRONG.format(model="maxout {maxout_hidden}")),
    _rate("fgsm_advmaxout", _STRONG.format(model="adversarially trained maxout {maxout_hidden}"), 0.179),
    _rate("pgd_advmaxout", _STRONG.format(model="adversarially trained maxout {maxout_hidden}")),
    _rate("apgd_advmaxout", _STRONG.format(model="adversarially trained maxout {maxout_hidden}")),
    _rate("square_advmaxout", _STRONG.format(model="adversarially trained maxout {maxout_hidden}")),
    _rate("worstcase_advmaxout", _STRONG.format(model="adversarially trained maxout {maxout_hidden}")),
    _rate("labelleak_clean", _LEAK),
    _rate("labelleak_true", _LEAK),
    _rate("labelleak_pred", _LEAK),
    _clipped(Claim("labelleak_overfit_by_epoch", "accuracy_by_epoch", setup=_LEAK_OVERFIT)),
    _clipped(Claim("fgsmrs_clean", "error_rate", 0.015, {"at_most": 0.025}, _FAST)),
    _clipped(_rate("fgsmrs_fgsm", _FAST)),
    _clipped(Claim("fgsmrs_pgd", "error_rate", 0.1123, {"within": 0.05}, _FAST)),
    _clipped(Claim("fgsmrs_seed", "seed", setup=_FAST)),
    _clipped(Claim("fgsmrs_pgd_by_seed", "pgd_accuracy_by_epoch", setup=_SEEDS)),
    _clipped(Claim("overfit_pgd_by_epoch", "pgd_accuracy_by_epoch", setup=_OVERFIT)),
    _clipped(Claim("overfit_fgsm_by_epoch", "fgsm_accuracy_by_epoch", setup=_OVERFIT)),
    _clipped(Claim("overfit_collapse_epoch", "epoch", setup=_COLLAPSE)),
    _rate("plaingrad_fgsm", _PLAIN),
    _rate("exactgrad_fgsm", _PLAIN),
    Claim("plaingrad_flags", "flags_fired", setup=_PLAIN),
    _clipped(_rate("masked_clean", _MASKED)),
    _clipped(_rate("masked_fgsm", _MASKED)),
    _clipped(_rate("masked_pgd", _MASKED)),
    _clipped(_rate("masked_transfer", _MASKED)),
    _clipped(_rate("masked_gradient_free", _MASKED)),
    _clipped(_rate("masked_bpda", _MASKED)),
    _clipped(Claim("masked_flags", "flags_fired", setup=_MASKED)),
)
