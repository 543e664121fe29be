"""``advex robustness``: what the field learned after the paper, as a second experiment.

The reproduction ends with FGSM adversarial training making a maxout network robust.
Six years of later work say otherwise, and this experiment lets a student watch it
happen, on MNIST, on a laptop:

1. the paper's defence under stronger attacks (PGD with restarts, APGD-CE, the
   gradient-free Square attack, transfer) and the per-example worst case;
2. label leaking: FGSM from the true labels against FGSM from the model's predictions;
3. fast adversarial training (Wong, Rice & Kolter 2020): FGSM from a random start;
4. catastrophic overfitting: the same without the random start, watched epoch by epoch;
5. gradient masking: the maxout network's saturating float32 gradient, and a model
   behind an input quantiser that only looks robust (BPDA and black-box attacks break it).

* :mod:`attacks.robustness.claims`: the rows and the published numbers;
* :mod:`attacks.robustness.stages`: one function per lesson;
* :mod:`attacks.robustness.run`: the budget, the models and the run folder.
"""

from .claims import CLAIMS
from .run import FULL_BUDGET, QUICK_BUDGET, Budget, Robustness
