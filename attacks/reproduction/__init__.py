"""``advex reproduce``: the experiments of Goodfellow, Shlens & Szegedy from one command.

Read it in this order:

* :mod:`~attacks.reproduction.claims`: the paper's numbers and our tolerances, one table;
* :mod:`~attacks.reproduction.stages`: what each stage measures (the toy example,
  logistic regression on 3 vs 7, FGSM against each model, the noise baseline, the eps
  curves, transfer between the two maxout networks, the linearity figure, the
  "rubbish class" test);
* :mod:`~attacks.reproduction.run`: the budgets, the models' recipes, and the order of
  the stages;
* :mod:`~attacks.reproduction.cache`: the run folder that lets a re-run reuse them;
* :mod:`~attacks.reproduction.report`: claims joined with measurements.

A trained model is saved in ``OUT/models`` when its training ends; while it trains, a
checkpoint is written after an epoch, at most once a minute (after every epoch for
the small models), so an interrupted run resumes where it stopped. Each finished
stage's result is kept in ``OUT/stages.json`` with the settings of the run, and a
re-run with the same settings reuses it (a re-run with other settings is refused:
use another ``--out``).

It writes ``OUT/results.json`` (under ``rows``, one row per number: ``id, metric, kind,
ours, paper, tolerance, ok, n, clip, setup``; plus each model's epochs, best epoch and
seconds per epoch under ``training``), ``OUT/results.md`` (our number beside the
paper's, then the training table) and figures. FGSM is the paper's, unclipped; the
clipped variant is reported beside it under the same id with ``_clipped``. Rates are
fractions in [0, 1].
"""

from .claims import CLAIMS, EPS, Claim
from .run import FULL, FULL_SIZE, MODELS, OPTIONAL_MODELS, QUICK, Budget, Reproduction, adversarial_error
