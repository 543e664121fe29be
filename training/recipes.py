"""Named training recipes: the settings each experiment trains with, in one place.

``maxout_paper_recipe`` is published (the maxout paper's configuration); Goodfellow et
al. give no optimizer settings for their softmax, logistic and RBF models, so
``linear_classifier_recipe``, ``rbf_recipe``, ``mlp_recipe`` and ``conv_recipe`` are ours;
``conv_maxout_recipe`` is the maxout paper's CIFAR-10 one, as far as it is published.

A recipe returns the keyword arguments of :func:`training.fit` (optimizer, schedules,
batch size, epochs, early stopping), so a run reads
``fit(model, X, y, val_fraction=1/6, **maxout_paper_recipe(model))``.
"""

from __future__ import annotations

import models

from .loop import EarlyStopping
from .optim import SGD, Adam, ExponentialDecay, LinearRamp, StepDecay

MAXOUT_LR = 0.1
MAXOUT_LR_DECAY = 1 / 1.000004
MAXOUT_LR_FLOOR = 1e-6


def maxout_paper_recipe(model, *, epochs: int = 150, patience: int = 100) -> dict:
    """The maxout paper's permutation-invariant MNIST recipe (pylearn2 ``mnist_pi.yaml``).

    SGD with batch 100; learning rate 0.1 multiplied by 1/1.000004 after every update
    (floor 1e-6); momentum 0.5 rising linearly to 0.7 between epochs 1 and 250; early
    stopping after ``patience`` epochs without a better validation error, keeping the
    best weights. The paper trains until early stopping ends it; on 2 CPU cores we cap
    it at ``epochs`` (150 by default): say which budget a result used. Pair it with
    ``MaxoutNetwork()``'s defaults (dropout, +-0.005 init, max-norm 1.9365; the input
    dropout keeps each pixel with probability 0.8 *unscaled*, as pylearn2, so training sees
    0.8 times the input on average and testing all of it) and
    ``val_fraction=1/6`` (train on the first 50,000 images, validate on the last 10,000).
    """
    return dict(
        optimizer=SGD(model.parameters(), lr=MAXOUT_LR, momentum=0.5),
        schedules=[
            ExponentialDecay("lr", MAXOUT_LR, MAXOUT_LR_DECAY, floor=MAXOUT_LR_FLOOR),
            LinearRamp("momentum", 0.5, 0.7, begin=1, finish=250),
        ],
        batch_size=100,
        epochs=epochs,
        early_stopping=EarlyStopping(patience=patience),
    )


def linear_classifier_recipe(model, *, epochs: int) -> dict:
    """Softmax or logistic regression: plain SGD, learning rate 0.1, batch 100, no
    schedule (our choice; the paper gives none). ``advex reproduce`` trains the softmax
    for 1 epoch, the budget on which its FGSM confidence is comparable with the paper's,
    and for 20 to converge it."""
    return dict(optimizer=SGD(model.parameters(), lr=0.1), batch_size=100, epochs=epochs)


def rbf_recipe(model, *, epochs: int = 10) -> dict:
    """The shallow RBF network (``RBFNetwork.from_data``: centers at the class means):
    Adam with learning rate 0.01, batch 100."""
    return dict(optimizer=Adam(model.parameters(), lr=0.01), batch_size=100, epochs=epochs)


def mlp_recipe(model, *, epochs: int = 20) -> dict:
    """A ReLU MLP such as 784-1200-1200-10 (``MLP()``): SGD with learning rate 0.05 and
    momentum 0.9, batch 100, keeping the epoch with the best validation error."""
    return dict(optimizer=SGD(model.parameters(), lr=0.05, momentum=0.9), batch_size=100, epochs=epochs,
                early_stopping=EarlyStopping(patience=epochs))


def conv_recipe(model, *, epochs: int = 12) -> dict:
    """``SmallConvNet`` on MNIST: SGD with momentum 0.9 and batch 100, the learning rate 0.05
    halved every 3 epochs, keeping the epoch with the best validation error (ours; see
    ``docs/measurements.md`` for the runs that chose it)."""
    recipe = mlp_recipe(model, epochs=epochs)  # the MLP's SGD, batch and best-epoch rule, plus the decay
    return dict(recipe, schedules=[StepDecay("lr", recipe["optimizer"].lr, 0.5, 3)])


CONV_MAXOUT_LR = 0.17
CONV_LR_SCALE = 0.05


def conv_maxout_recipe(model, *, epochs: int = 20) -> dict:
    """The maxout paper's CIFAR-10 recipe (pylearn2 ``cifar10.yaml``) for ``ConvMaxoutNetwork``.

    SGD with batch 128 and learning rate 0.17, scaled by 0.05 for the conv layers'
    kernels and biases (pylearn2's ``W_lr_scale``/``b_lr_scale``); momentum 0.5 rising
    linearly to 0.65 (we ramp it over epochs 1-250, as the MNIST recipe does: the
    CIFAR-10 file's own span is not in our sources, and neither is a learning-rate
    decay, so there is none); the epoch with the best validation error is kept. Pair it
    with ``ConvMaxoutNetwork(preprocessing="gcn_zca")``, fitted on the training images.
    """
    params = model.parameters()
    conv = {id(p) for module in model.modules() if isinstance(module, models.Conv2d) for p in module.parameters()}
    scales = [CONV_LR_SCALE if id(p) in conv else 1.0 for p in params]
    return dict(
        optimizer=SGD(params, lr=CONV_MAXOUT_LR, momentum=0.5, lr_scales=scales),
        schedules=[LinearRamp("momentum", 0.5, 0.65, begin=1, finish=250)],
        batch_size=128,
        epochs=epochs,
        early_stopping=EarlyStopping(patience=epochs),
    )
