"""Exercise 4: log-softmax, and the softmax cross-entropy with its VJP.

The softmax turns a row of logits z into probabilities, p_c = e^{z_c} / sum_k e^{z_k},
and its log is

    log_softmax(z)_c = z_c - log sum_k e^{z_k}

Computed as written, e^{z_k} overflows to inf for z_k above about 88 in float32 (and
log(softmax) gives log 0 = -inf once a probability underflows). The cure: subtracting
any constant m from every z_k changes nothing (the m cancels), so take m = max_k z_k;
then every exponent is <= 0 and the largest term is e^0 = 1.

The softmax cross-entropy of a batch of N rows with integer labels y is the mean
negative log-probability of the true class:

    L = -(1/N) sum_i log_softmax(z_i)_{y_i}

Its gradient is famously simple: dL/dz_i = (softmax(z_i) - onehot(y_i)) / N.
Derive it from the two lines above: it is the reason every library fuses the two.

Once your functions pass, the grader trains a softmax regression on 1,000 MNIST
images (or a synthetic set, without MNIST) with *your* loss, and reports its error.

Check your work:  advex exercises check 4
"""

import numpy as np


def log_softmax(z):
    """log_softmax of each row of ``z`` (N, C): an array of z's shape and dtype.

    It must stay finite and right for logits of +-1000.
    Hint: ``z.max(axis=1, keepdims=True)`` keeps the axis, so that it broadcasts against z.
    """
    raise NotImplementedError


def log_softmax_vjp(g, z, out):
    """dL/dz for out = log_softmax(z) (row by row), given g = dL/dout (N, C).

    Derive: d out_c / d z_k = [c == k] - softmax(z)_k. Apply this Jacobian to g (the
    sum over c of g_c times it), row by row.
    Hint: softmax(z) = e^out, and you need g's sum over each row.
    """
    raise NotImplementedError


def cross_entropy(logits, labels):
    """The mean softmax cross-entropy of ``logits`` (N, C) against integer ``labels`` (N,).

    Return a 0-d array (or a number) of the logits' dtype.
    Hint: ``a[np.arange(N), labels]`` picks entry labels[i] of each row i.
    """
    raise NotImplementedError


def cross_entropy_vjp(g, logits, labels):
    """dL/dlogits, given g = d(final)/dL, a 0-d array: g * (softmax(z_i) - onehot(y_i)) / N for each row i.

    Return an array of the logits' shape and dtype.
    """
    raise NotImplementedError
