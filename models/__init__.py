"""The models: the paper's, and the conv nets after it, built from layers on :mod:`minigrad`'s public API.

Layers (:mod:`models.layers`): ``Linear``, ``ReLU``, ``Tanh``, ``Maxout``, ``RBF``,
``Dropout``, ``Sequential``, and ``Quantise`` (with ``straight_through``, for BPDA); convolutional layers (:mod:`models.conv`): ``Conv2d``,
``MaxPool2d``, ``Flatten``, ``ConvMaxout``; the CIFAR-10 preprocessing
(:mod:`models.preprocessing`): ``ContrastWhitening``. Classifiers (:mod:`models.classifiers`):
``LogisticRegression``, ``SoftmaxRegression``, ``MLP``, ``MaxoutNetwork``,
``RBFNetwork``, ``SmallConvNet``, ``ConvMaxoutNetwork``; models that are not networks:
``LinearSVM`` (:mod:`models.linear_svm`), ``KNearestNeighbors`` (:mod:`models.neighbors`, with
``SoftNearestNeighbors``, its differentiable stand-in) and
``DecisionTree`` (:mod:`models.decision_tree`). ``save(model, path)`` / ``load(path)`` store a model in one ``.npz``;
``register`` makes a classifier of your own loadable.

>>> import numpy as np, models
>>> net = models.SoftmaxRegression(n_features=4, n_classes=3)
>>> net.predict_proba(np.ones((2, 4), dtype=np.float32))    # zero weights: uniform
array([[0.33333334, 0.33333334, 0.33333334],
       [0.33333334, 0.33333334, 0.33333334]], dtype=float32)
"""

from .classifiers import (
    CLASSIFIERS,
    MLP,
    Classifier,
    ConvMaxoutNetwork,
    LogisticRegression,
    ImageClassifier,
    MaxoutNetwork,
    PreprocessedInputs,
    RBFNetwork,
    SmallConvNet,
    SoftmaxRegression,
    register,
)
from .decision_tree import DecisionTree
from .conv import Conv2d, ConvMaxout, Flatten, MaxPool2d
from .io import ModelFileError, load, save
from .layers import RBF, Dropout, Linear, Maxout, Quantise, ReLU, Sequential, Tanh, straight_through
from .linear_svm import LinearSVM
from .module import Module
from .neighbors import KNearestNeighbors, SoftNearestNeighbors
from .preprocessing import ContrastWhitening
