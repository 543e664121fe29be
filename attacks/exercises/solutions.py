"""The library's own implementations, in the signatures of the exercises' stubs.

``advex exercises check --solutions`` grades this module: each function is a thin
adapter that calls the code of the reading path (an op's VJP is read off the engine by
one backward walk seeded with g), so the grader's checks are the ones the library
itself passes. It is no model answer to hand out: the model answers are the library's
files themselves, which each docstring names.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import engine
from minigrad.broadcast import unbroadcast  # noqa: F401  (exercise 2 is the library's function itself)
from minigrad.ops import conv

from ..adversarial_training import AdversarialObjective, logistic_adversarial_loss
from ..methods import fgsm as library_fgsm, pgd as library_pgd
from ..toy import toy_model


def vjp_of(op, inputs, g, index=0, **settings):
    """The VJP of the library's ``op`` at ``inputs`` for input ``index``, applied to ``g``.

    One backward walk (:func:`minigrad.engine.backprop`) from ``op(*inputs)`` seeded with
    g, so the result is the op's own VJP and nothing else.
    """
    tensors = [mg.Tensor(x, requires_grad=True, dtype=np.asarray(x).dtype) for x in inputs]
    out = op(*tensors, **settings)
    reached = dict((id(t), grad) for t, grad in engine.backprop(out, np.array(g, dtype=out.dtype), targets=tensors[index:index + 1]))
    return reached.get(id(tensors[index]), np.zeros_like(tensors[index].data))


# 1. minigrad/ops/elementwise.py
def exp_vjp(g, x, z):
    return vjp_of(mg.exp, [x], g)


def tanh_vjp(g, x, z):
    return vjp_of(mg.tanh, [x], g)


def sigmoid_vjp(g, x, z):
    return vjp_of(mg.sigmoid, [x], g)


# 3. minigrad/ops/linalg.py
def matmul_vjp_a(g, a, b):
    return vjp_of(mg.matmul, [a, b], g, 0)


def matmul_vjp_b(g, a, b):
    return vjp_of(mg.matmul, [a, b], g, 1)


def bias_vjp(g):
    n, m = g.shape
    return vjp_of(mg.linear, [np.zeros((n, 1), g.dtype), np.zeros((1, m), g.dtype), np.zeros(m, g.dtype)], g, 2)


# 4. minigrad/ops/nn.py
def log_softmax(z):
    return mg.log_softmax(mg.Tensor(z, dtype=z.dtype)).data


def log_softmax_vjp(g, z, out):
    return vjp_of(mg.log_softmax, [z], g)


def cross_entropy(logits, labels):
    return mg.cross_entropy(mg.Tensor(logits, dtype=logits.dtype), labels).data


def cross_entropy_vjp(g, logits, labels):
    return vjp_of(mg.cross_entropy, [logits], g, labels=labels)


# 5. minigrad/engine.py
def topological_order(root):
    by_tensor = {id(node.tensor): node for node in _nodes(root)}
    return [by_tensor[id(t)] for t in engine.topological_order(root.tensor)]


def backward(root, seed):
    nodes = {id(node.tensor): node for node in _nodes(root)}
    pairs = engine.backprop(root.tensor, np.array(seed), targets=[node.tensor for node in nodes.values()], retain_graph=True)
    return {nodes[id(t)]: g for t, g in pairs}


def _nodes(root):
    """Every node below ``root`` (the grader's views of the engine's tensors), each once."""
    seen, stack = {id(root): root}, [root]
    while stack:
        for parent in stack.pop().parents:
            if id(parent) not in seen:
                seen[id(parent)] = parent
                stack.append(parent)
    return list(seen.values())


# 6. minigrad/ops/nn.py
def maxout(x, pieces):
    return mg.maxout(mg.Tensor(x, dtype=x.dtype), pieces).data


def maxout_vjp(g, x, pieces):
    return vjp_of(mg.maxout, [x], g, pieces=pieces)


# 7. minigrad/ops/conv.py (its im2col lists a window's pixels as (u, v, c); the exercise's as (c, u, v))
def im2col(x, kh, kw, stride=1, padding=0):
    cols = conv.im2col(x, (kh, kw), (stride, stride), (padding, padding))
    return cols.reshape(len(cols), kh, kw, x.shape[1]).transpose(0, 3, 1, 2).reshape(len(cols), -1)


def conv2d(x, w, stride=1, padding=0):
    return mg.conv2d(mg.Tensor(x, dtype=x.dtype), mg.Tensor(w, dtype=w.dtype), stride=stride, padding=padding).data


def conv2d_vjp_x(g, x, w, stride=1, padding=0):
    return vjp_of(mg.conv2d, [x, w], g, 0, stride=stride, padding=padding)


# 8. attacks/toy.py, attacks/methods.py: FGSM on a logistic regression whose weights are w
def best_perturbation(w, eps):
    model = toy_model(w)
    origin = np.zeros((1, len(w)), dtype=np.float32)
    return library_fgsm(model, origin, np.array([0]), eps, clip=None)[0].astype(w.dtype)


def new_probability(w, b, x, eps):
    model = toy_model(w, b)
    x_adv = library_fgsm(model, np.asarray(x, np.float32)[None], np.array([0]), eps, clip=None)
    return float(model.predict_proba(x_adv)[0, 1])


# 9. attacks/methods.py
def fgsm(model, x, y, eps, clip=(0.0, 1.0)):
    return library_fgsm(model, x, y, eps, clip=clip)


# 10. attacks/adversarial_training.py (its labels are 0 and 1)
def adversarial_logistic_loss(model, x, y, eps):
    return logistic_adversarial_loss(eps)(model, x, ((np.asarray(y) + 1) // 2).astype(np.int64))


# 11. attacks/adversarial_training.py
def adversarial_objective(model, x, y, eps, alpha):
    return AdversarialObjective(eps, alpha, clip=None)(model, x, y)


# 12. attacks/methods.py (pgd's projection is its line np.clip(x_adv, x - eps, x + eps))
def project_linf(x_adv, x, eps):
    return np.clip(x_adv, x - eps, x + eps)


def pgd(model, x, y, eps, step_size, steps, rng, clip=(0.0, 1.0)):
    return library_pgd(model, x, y, eps, step_size=step_size, steps=steps, seed=rng, clip=clip)
