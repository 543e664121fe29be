"""Exercise 1: the vector-Jacobian products of exp, tanh and sigmoid.

An elementwise op z = f(x) has a diagonal Jacobian, so its VJP, the gradient of the
loss L with respect to x given g = dL/dz, is an elementwise product:

    dL/dx = g * f'(x)

Each function below receives ``g`` (dL/dz), ``x`` (the op's input) and ``z`` (the output
f(x) the forward pass computed). All three are NumPy arrays of one shape and one
float dtype (float32 in a model, float64 when the grader checks you against finite
differences); return an array of that shape and dtype. Never write into ``g``: the
engine hands it to you read-only.

Check your work:  advex exercises check 1
"""

import numpy as np


def exp_vjp(g, x, z):
    """dL/dx for z = e^x.

    Derive: d/dx e^x = e^x. The forward pass already computed e^x: it is ``z``.
    Hint: one multiplication; no new exponential is needed.
    """
    raise NotImplementedError


def tanh_vjp(g, x, z):
    """dL/dx for z = tanh(x).

    Derive: tanh(x) = (e^x - e^-x) / (e^x + e^-x); differentiate it with the quotient rule
    and write the result in terms of tanh(x) itself.
    Hint: the answer uses only ``g`` and ``z``.
    """
    raise NotImplementedError


def sigmoid_vjp(g, x, z):
    """dL/dx for z = sigmoid(x) = 1 / (1 + e^-x).

    Derive: differentiate 1 / (1 + e^-x) and write the result in terms of sigmoid(x).
    Hint: like tanh's, the answer uses only ``g`` and ``z``.
    """
    raise NotImplementedError
