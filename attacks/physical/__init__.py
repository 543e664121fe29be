"""``advex physical``: whether adversarial examples survive a camera (Kurakin, Goodfellow & Bengio 2016), and
how to make them survive (expectation over transformation, Athalye et al. 2018), on MNIST.

* :mod:`~attacks.physical.claims`: the rows, the sweeps and the published numbers;
* :mod:`~attacks.physical.run`: the data, budget, models and run folder;
* :mod:`~attacks.physical.stages`: the measurements.
"""

from .run import FULL_BUDGET, QUICK_BUDGET, Budget, Physical

__all__ = ["Budget", "FULL_BUDGET", "QUICK_BUDGET", "Physical"]
