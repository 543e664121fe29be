"""``advex transfer``: the lecture's claims that models other than networks are vulnerable, that adversarial
examples transfer between algorithms, and that an attacker with only the victim's labels succeeds.

* :mod:`~attacks.transferability.claims`: the rows and the published numbers;
* :mod:`~attacks.transferability.run`: the data halves, budget, models and run folder;
* :mod:`~attacks.transferability.stages`: the measurements.
"""

from .run import FULL, QUICK, Budget, Transferability

__all__ = ["Budget", "FULL", "QUICK", "Transferability"]
