"""Adversarial attacks and the measurements around them, built on :mod:`minigrad` and :mod:`models`.

* :mod:`attacks.gradients`: ``input_gradient`` and the never-vanishing ``attack_direction``.
* :mod:`attacks.methods`: ``fgsm``, ``fgm``, ``pgd``, ``bim``, ``least_likely_class``,
  ``random_sign_noise`` (and ``noise_attack``, its attack-callable form).
* :mod:`attacks.metrics`: ``evaluate`` (error and confidence versus eps),
  ``transfer_matrix``, ``linearity``.
* :mod:`attacks.toy`: the lecture's 10-dimensional logistic example.
* :mod:`attacks.figures` (needs matplotlib) and :mod:`attacks.cli` (the ``advex`` command).
"""

from .gradients import attack_direction, input_gradient, logistic_direction_loss, softmax_direction_loss
from .methods import bim, fgm, fgsm, least_likely_class, noise_attack, pgd, random_sign_noise
from .metrics import DEFAULT_EPS, evaluate, linearity, transfer_matrix
from .toy import describe, toy_example, toy_model
from . import figures
