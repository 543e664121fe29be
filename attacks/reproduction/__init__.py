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
* :mod:`~attacks.reproduction.seeds`: ``--seeds``, one run per seed and each row's spread over them.

A re-run reuses every finished stage and trained model, and resumes an interrupted
training from its checkpoint (written after an epoch, at most once a minute for the
maxout networks); a folder holding a run with other settings is refused.

It writes ``OUT/results.json`` (under ``rows``, one row per number: ``id, metric, kind,
ours, paper, tolerance, ok, n, clip, setup``; plus each model's epochs, best epoch and
seconds per epoch under ``training``), ``OUT/results.md`` (our number beside the
paper's, then the training table) and figures. FGSM is the paper's, unclipped; the
clipped variant is reported beside it under the same id with ``_clipped``. Rates are
fractions in [0, 1].
"""

from .claims import ALL_MODELS, CLAIMS, EPS, Claim
from .run import FULL, FULL_SIZE, MODELS, OPTIONAL_MODELS, QUICK, Budget, Reproduction, adversarial_error
