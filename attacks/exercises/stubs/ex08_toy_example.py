"""Exercise 8: the lecture's toy example. Which sign to add to each x_i, and the new probability.

A logistic regression says p(y = 1 | x) = sigmoid(w . x + b). The lecture's example has

    w = [-5, 3, -2, 2, -2, -5, -4, 3, 4, -4],  x = [-1, -1, 1, -1, 1, 1, -1, 1, -1, -1],  b = 0

so w . x = -2 and p(y = 1) = sigmoid(-2) = 0.12: class 0. An attacker may change every
x_i by at most eps (the L-infinity ball) and wants class 1, that is the largest
possible w . (x + eta).

w . (x + eta) = w . x + sum_i w_i eta_i, and each term w_i eta_i can be maximised on
its own, whatever the others do. Work out which eta_i does it, and how much the
score then grows (in terms of a norm of w).

Check your work:  advex exercises check 8
"""

import numpy as np


def best_perturbation(w, eps):
    """The eta with max_i |eta_i| <= eps that makes w . eta as large as possible (an array of w's shape and dtype).

    Hint: for w_i > 0 the best eta_i is +eps; for w_i < 0 it is -eps; for w_i = 0 it does not matter.
    """
    raise NotImplementedError


def new_probability(w, b, x, eps):
    """p(y = 1 | x + eta) for that best eta: a float.

    Hint: the score grows by exactly eps times a norm of w; which one? For the lecture's
    numbers and eps = 0.1 the answer is 0.80.
    """
    raise NotImplementedError
