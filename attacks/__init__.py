"""The adversarial-examples lab: attacks, measurements, adversarial training, the paper's experiments.

Built on :mod:`minigrad`, :mod:`models` and :mod:`training`; nothing below imports it.

* :mod:`attacks.gradients`: ``input_gradient`` and the never-vanishing ``attack_direction``.
* :mod:`attacks.methods`: ``fgsm``, ``fgsm_random_start``, ``fgm``, ``pgd`` (with restarts), ``bim``, ``bpda``,
  ``least_likely_class``, ``margin``, ``random_sign_noise`` (and ``noise_attack``, its
  attack-callable form).
* :mod:`attacks.apgd`: ``apgd_ce``, PGD that sets its own step size (AutoAttack's first attack).
* :mod:`attacks.square`: ``square_attack``, a gradient-free attack (random search).
* :mod:`attacks.decision_tree`: ``decision_tree_attack``, Papernot et al.'s Algorithm 2 for a
  decision tree, which has no gradient.
* :mod:`attacks.blackbox`: the black-box attack from labels alone (``LabelOracle``,
  ``jacobian_augmentation``, ``train_substitute``).
* :mod:`attacks.camera`: what a camera does to an image (brightness, contrast, blur, noise,
  JPEG, rotation, translation, and the ``Photo`` chain), and ``destruction_rate``.
* :mod:`attacks.eot`: ``eot_pgd``, PGD on the expectation over transformation, and
  ``adversariality`` (Athalye et al. 2018).
* :mod:`attacks.transferability`: ``advex transfer``, transfer between algorithms and the
  black-box attack on MNIST.
* :mod:`attacks.worst_case`: ``worst_case``, the per-example worst case over an attack
  suite, with the flags of an unreliable evaluation (zero gradients, gradient masking).
* :mod:`attacks.metrics`: ``evaluate`` (error and confidence versus eps),
  ``fgsm_preprocessed`` (eps in a model's preprocessed units, also measured in pixels),
  ``transfer_matrix``, ``linearity``.
* :mod:`attacks.adversarial_training`: ``AdversarialObjective`` (FGSM or PGD adversarial
  training, a loss for :func:`training.fit`), ``fast_adversarial_recipe`` (Wong et al.'s
  FGSM from a random start) and ``logistic_adversarial_loss``, the closed form for
  logistic regression.
* :mod:`attacks.toy`: the lecture's 10-dimensional logistic example.
* :mod:`attacks.reproduction`: ``advex reproduce``, the paper's experiments (claims,
  stages, run folder, report).
* :mod:`attacks.exercises`: ``advex exercises``, the reading path as twelve exercises for students,
  graded by the checks the library's own code passes.
* :mod:`attacks.figures` (needs matplotlib) and :mod:`attacks.cli` (the ``advex`` command).
"""

from .adversarial_training import AdversarialObjective, fast_adversarial_recipe, logistic_adversarial_loss
from .gradients import attack_direction, input_gradient
from .apgd import apgd_ce
from .methods import bim, bpda, fgm, fgsm, fgsm_random_start, least_likely_class, margin, noise_attack, pgd, random_sign_noise
from .square import square_attack
from .decision_tree import decision_tree_attack
from . import blackbox
from . import camera
from .camera import destruction_rate
from .eot import adversariality, eot_pgd
from .worst_case import worst_case
from .metrics import DEFAULT_EPS, evaluate, fgsm_preprocessed, linearity, transfer_matrix
from .toy import describe, toy_example, toy_model
from . import figures
