"""The checks of exercises 1 to 7, the engine: VJPs against finite differences, the library, and the engine itself.

Every VJP is checked twice: called directly in float64 against central differences
(hypothesis draws the inputs), then recorded through :meth:`minigrad.Tensor.from_op` as
an op of a float32 graph, where the engine's own checks (shape, dtype) apply to it and
the gradient must agree with the library's op.
"""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

import minigrad as mg
import models
import training
from training.synthetic import strong_and_faint_features

from . import solutions as library
from .expectations import expect_array, numeric_vjp, read_only
from .grader import Check, Mismatch


def floats(low: float, high: float):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)


def arrays(shape, low: float, high: float, *, unique: bool = False):
    return hnp.arrays(np.float64, shape, elements=floats(low, high), unique=unique)


def grid(shape, low: int, high: int, *, unique: bool = False):
    """Multiples of 1/8 in [low, high], float64; with ``unique`` no two entries are near enough for a
    finite difference to cross a kink between them."""
    return hnp.arrays(np.float64, shape, elements=st.integers(8 * low, 8 * high).map(lambda k: k / 8), unique=unique)


def gradients(shape):
    """Upstream gradients g: nonzero multiples of 1/8 in [-1, 1], so that no entry is too small to matter."""
    return hnp.arrays(np.float64, shape, elements=st.integers(1, 8).flatmap(lambda k: st.sampled_from([k / 8, -k / 8])))


ROWS = hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4)


def engine_gradient(op, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """d sum(g * op(x)) / dx through the engine: the op's VJP, run by the backward walk."""
    return mg.grad(lambda t: (op(t) * g).sum())(x)


def in_float32(*arrays):
    return [np.asarray(a, dtype=np.float32) for a in arrays]


# --- 1. exp, tanh, sigmoid ------------------------------------------------------------------------------------------
ELEMENTWISE = {"exp_vjp": (np.exp, -3.0, 3.0), "tanh_vjp": (np.tanh, -4.0, 4.0), "sigmoid_vjp": (special.expit, -6.0, 6.0)}


def elementwise_examples(low, high):
    return ROWS.flatmap(lambda shape: st.fixed_dictionaries({"x": arrays(shape, low, high), "g": gradients(shape)}))


def elementwise_op(name: str, forward, vjp):
    """The student's VJP as an engine op: forward by NumPy, backward by ``vjp(g, x, z)``."""
    def op(a):
        x = a.data
        z = forward(x)
        return mg.Tensor.from_op(z, (a,), (lambda g: vjp(g, x, z),), f"your {name}")
    return op


def check_elementwise(name: str):
    forward = ELEMENTWISE[name][0]

    def run(student, ex):
        x, g = ex["x"], ex["g"]
        came = getattr(student, name)(*read_only(g, x, forward(x)))
        expect_array(f"{name}(g, x, z)", ex, numeric_vjp(forward, x, g), came)
    return run


def check_elementwise_in_engine(name: str):
    forward = ELEMENTWISE[name][0]

    def run(student, ex):
        x, g = in_float32(ex["x"], ex["g"])
        came = engine_gradient(elementwise_op(name[:-4], forward, getattr(student, name)), x, g)
        expected = engine_gradient(getattr(mg, name[:-4]), x, g)
        expect_array(f"the gradient through your {name[:-4]} op, float32", {"x": x, "g": g}, expected, came,
                     atol=1e-6, rtol=1e-5)
    return run


def exercise_1():
    checks = []
    for name, (_, low, high) in ELEMENTWISE.items():
        checks.append(Check(f"{name} against finite differences", check_elementwise(name), elementwise_examples(low, high)))
    for name, (_, low, high) in ELEMENTWISE.items():
        checks.append(Check(f"{name} inside the engine (Tensor.from_op, float32)", check_elementwise_in_engine(name),
                            elementwise_examples(low, high), max_examples=10))
    return checks


# --- 2. unbroadcast -------------------------------------------------------------------------------------------------
@st.composite
def broadcast_examples(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3))
    return {"shape": shapes.input_shapes[0], "g": draw(gradients(shapes.result_shape))}


def check_unbroadcast(student, ex):
    shape, g = ex["shape"], ex["g"]
    expected = numeric_vjp(lambda a: np.broadcast_to(a, g.shape), np.zeros(shape), g)
    expect_array("unbroadcast(g, shape)", ex, expected, student.unbroadcast(read_only(g), shape))


def check_unbroadcast_float32(student, ex):
    shape, g = ex["shape"], ex["g"].astype(np.float32)
    expected = library.unbroadcast(g, shape)
    expect_array("unbroadcast(g, shape) for a float32 g", {"shape": shape, "g": g}, expected,
                 student.unbroadcast(read_only(g), shape), atol=1e-6, rtol=1e-5)


def add_op(student):
    """a + b with NumPy's broadcasting as an engine op, its VJPs the student's unbroadcast."""
    def op(a, b):
        return mg.Tensor.from_op(a.data + b.data, (a, b), (lambda g: student.unbroadcast(g, a.shape),
                                                           lambda g: student.unbroadcast(g, b.shape)), "your add")
    return op


def check_unbroadcast_in_engine(student, ex):
    shape, g = ex["shape"], ex["g"].astype(np.float32)
    other = np.zeros(g.shape, dtype=np.float32)
    a = np.linspace(-1, 1, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    came = mg.grad(lambda t: (add_op(student)(t, mg.Tensor(other)) * g).sum())(a)
    expect_array("dL/da through your add op (a + b, a of the given shape), float32", {"shape": shape, "g": g},
                 library.unbroadcast(g, shape), came, atol=1e-6, rtol=1e-5)


#: Shapes a random draw rarely combines: leading axes added *and* axes of size 1 stretched, one in the middle.
UNBROADCAST_CASES = tuple({"shape": shape, "g": np.arange(1, np.prod(out) + 1, dtype=np.float64).reshape(out) / 8}
                          for shape, out in (((3, 1), (2, 3, 4)), ((1, 3, 1), (2, 4, 3, 5)), ((2, 1), (2, 3))))


def exercise_2():
    return [Check("unbroadcast against finite differences of broadcasting", check_unbroadcast, broadcast_examples(),
                  max_examples=60, cases=UNBROADCAST_CASES),
            Check("unbroadcast keeps float32", check_unbroadcast_float32, broadcast_examples(), max_examples=10),
            Check("unbroadcast inside the engine (the VJPs of an add, Tensor.from_op, float32)",
                  check_unbroadcast_in_engine, broadcast_examples(), max_examples=10, cases=UNBROADCAST_CASES)]


# --- 3. matmul and the bias -----------------------------------------------------------------------------------------
@st.composite
def matmul_examples(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    return {"a": draw(arrays((n, k), -2, 2)), "b": draw(arrays((k, m), -2, 2)), "g": draw(gradients((n, m)))}


def check_matmul_a(student, ex):
    a, b, g = ex["a"], ex["b"], ex["g"]
    expect_array("matmul_vjp_a(g, a, b)", ex, numeric_vjp(lambda v: v @ b, a, g), student.matmul_vjp_a(*read_only(g, a, b)))


def check_matmul_b(student, ex):
    a, b, g = ex["a"], ex["b"], ex["g"]
    expect_array("matmul_vjp_b(g, a, b)", ex, numeric_vjp(lambda v: a @ v, b, g), student.matmul_vjp_b(*read_only(g, a, b)))


def check_bias(student, ex):
    g = ex["g"]
    expected = numeric_vjp(lambda bias: ex["a"] @ ex["b"] + bias, np.zeros(g.shape[1]), g)
    expect_array("bias_vjp(g)", {"g": g}, expected, student.bias_vjp(read_only(g)))


def dense_op(student):
    """Z = A @ B + bias as one engine op, backward by the student's three VJPs."""
    def op(a, b, bias):
        x, w = a.data, b.data
        return mg.Tensor.from_op(x @ w + bias.data, (a, b, bias), (lambda g: student.matmul_vjp_a(g, x, w),
                                 lambda g: student.matmul_vjp_b(g, x, w), student.bias_vjp), "your dense layer")
    return op


def check_dense_in_engine(student, ex):
    a, b, g = in_float32(ex["a"], ex["b"], ex["g"])
    bias = np.linspace(-1, 1, b.shape[1], dtype=np.float32)
    came = mg.grad(lambda *t: (dense_op(student)(*t) * g).sum(), argnums=(0, 1, 2))(a, b, bias)
    expected = mg.grad(lambda *t: (mg.linear(*t) * g).sum(), argnums=(0, 1, 2))(a, b, bias)
    for name, e, c in zip(("A", "B", "bias"), expected, came):
        expect_array(f"dL/d{name} through your dense-layer op, float32", {"a": a, "b": b, "bias": bias, "g": g}, e, c,
                     atol=1e-5, rtol=1e-4)


def exercise_3():
    return [Check("matmul_vjp_a against finite differences", check_matmul_a, matmul_examples()),
            Check("matmul_vjp_b against finite differences", check_matmul_b, matmul_examples()),
            Check("bias_vjp against finite differences", check_bias, matmul_examples()),
            Check("a dense layer inside the engine (Tensor.from_op, float32), against mg.linear", check_dense_in_engine,
                  matmul_examples(), max_examples=10)]


# --- 4. log-softmax and cross-entropy -------------------------------------------------------------------------------
@st.composite
def logit_examples(draw, low: float = -5.0, high: float = 5.0):
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 5))
    return {"z": draw(arrays((n, c), low, high)), "labels": draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1))),
            "g": draw(gradients((n, c)))}


def check_log_softmax_values(student, ex):
    z = ex["z"]
    expect_array("log_softmax(z)", {"z": z}, library.log_softmax(z), student.log_softmax(read_only(z)), atol=1e-9, rtol=1e-9)


def check_log_softmax_float32(student, ex):
    z = ex["z"].astype(np.float32)
    expect_array("log_softmax(z) for a float32 z", {"z": z}, library.log_softmax(z), student.log_softmax(read_only(z)),
                 atol=1e-3, rtol=1e-5)


def check_log_softmax_vjp(student, ex):
    z, g = ex["z"], ex["g"]
    expected = numeric_vjp(library.log_softmax, z, g)
    expect_array("log_softmax_vjp(g, z, out)", {"z": z, "g": g}, expected,
                 student.log_softmax_vjp(*read_only(g, z, library.log_softmax(z))))


def check_cross_entropy_value(student, ex):
    z, labels = ex["z"], ex["labels"]
    expected = np.asarray(library.cross_entropy(z, labels))
    came = student.cross_entropy(*read_only(z, labels))
    expect_array("cross_entropy(logits, labels)", {"logits": z, "labels": labels}, expected,
                 came if came is None or isinstance(came, mg.Tensor) else np.asarray(came, dtype=z.dtype), atol=1e-9, rtol=1e-9)


def check_cross_entropy_vjp(student, ex):
    z, labels, g = ex["z"], ex["labels"], np.asarray(ex["g"].flat[0])
    expected = numeric_vjp(lambda v: library.cross_entropy(v, labels), z, g)
    expect_array("cross_entropy_vjp(g, logits, labels)", {"logits": z, "labels": labels, "g": g}, expected,
                 student.cross_entropy_vjp(*read_only(g, z, labels)))


def check_softmax_float32(student, ex):
    (z, g), labels = in_float32(ex["z"], ex["g"]), ex["labels"]
    g0 = g.reshape(-1)[:1].reshape(())
    expect_array("log_softmax_vjp(g, z, out) for float32 arrays", {"z": z, "g": g},
                 library.log_softmax_vjp(g, z, library.log_softmax(z)),
                 student.log_softmax_vjp(*read_only(g, z, library.log_softmax(z))), atol=1e-5, rtol=1e-4)
    expect_array("cross_entropy_vjp(g, logits, labels) for float32 arrays", {"logits": z, "labels": labels, "g": g0},
                 library.cross_entropy_vjp(g0, z, labels), student.cross_entropy_vjp(*read_only(g0, z, labels)),
                 atol=1e-5, rtol=1e-4)


def log_softmax_op(student):
    """log_softmax as an engine op: forward and VJP the student's."""
    def op(a):
        z = a.data
        out = np.asarray(student.log_softmax(z))
        return mg.Tensor.from_op(out, (a,), (lambda g: student.log_softmax_vjp(g, z, out),), "your log_softmax")
    return op


def check_softmax_in_engine(student, ex):
    (z, g), labels = in_float32(ex["z"], ex["g"]), ex["labels"]
    came = mg.grad(lambda t: (log_softmax_op(student)(t) * g).sum() + cross_entropy_op(student)(t, labels))(z)
    expected = mg.grad(lambda t: (mg.log_softmax(t) * g).sum() + mg.cross_entropy(t, labels))(z)
    expect_array("dL/dz for L = sum(g * log_softmax(z)) + cross_entropy(z, labels), through your two ops, float32",
                 {"z": z, "labels": labels, "g": g}, expected, came, atol=1e-5, rtol=1e-4)


def cross_entropy_op(student):
    """The student's cross-entropy as an engine op ``(logits Tensor, labels) -> 0-d Tensor``."""
    def op(logits, labels):
        z = logits.data
        value = np.asarray(student.cross_entropy(z, labels), dtype=z.dtype)
        return mg.Tensor.from_op(value, (logits,), (lambda g: student.cross_entropy_vjp(g, z, labels),), "your cross_entropy")
    return op


def exercise_4():
    return [Check("log_softmax against the library, logits up to +-1000", check_log_softmax_values,
                  logit_examples(-1000.0, 1000.0)),
            Check("log_softmax keeps float32", check_log_softmax_float32, logit_examples(-100.0, 100.0), max_examples=10),
            Check("log_softmax_vjp against finite differences", check_log_softmax_vjp, logit_examples()),
            Check("cross_entropy against the library, logits up to +-1000", check_cross_entropy_value,
                  logit_examples(-1000.0, 1000.0)),
            Check("cross_entropy_vjp against finite differences", check_cross_entropy_vjp, logit_examples()),
            Check("log_softmax_vjp and cross_entropy_vjp keep float32", check_softmax_float32, logit_examples(),
                  max_examples=10),
            Check("log_softmax and cross_entropy inside the engine (Tensor.from_op, float32)", check_softmax_in_engine,
                  logit_examples(), max_examples=10)]


def report_4(student) -> str:
    """A softmax regression trained with the student's loss, beside the one trained with the library's."""
    (X, _), (X_test, y_test), source = small_data()
    came = error_rate(train_softmax(cross_entropy_op(student)), X_test, y_test)
    expected = error_rate(trained_softmax(), X_test, y_test)
    if not came <= expected + 0.05:
        raise Mismatch("a softmax regression trained with your cross-entropy has a test error far above the library "
                       "loss's", {"data": SOURCES[source]}, np.asarray(expected), np.asarray(came))
    return (f"a softmax regression trained with your cross-entropy on {len(X):,} {SOURCES[source]} images: test error "
            f"{100 * came:.1f}% on {len(X_test)} test images (with the library's: {100 * expected:.1f}%)")


#: The data of the trained models, and how a report names them.
SOURCES = {"MNIST": "MNIST", "synthetic": "synthetic (no MNIST here)"}


@functools.lru_cache(maxsize=1)
def small_data():
    """1,000 training and 500 test images of MNIST, or of the synthetic set when MNIST is not here; and which
    (a key of :data:`SOURCES`)."""
    try:
        X, y = training.load_mnist("train", download=False)
        X_test, y_test = training.load_mnist("test", download=False)
        return (X[:1000], y[:1000]), (X_test[:500], y_test[:500]), "MNIST"
    except training.DataNotFoundError:
        X, y = strong_and_faint_features(1500, seed=0)
        return (X[:1000], y[:1000]), (X[1000:], y[1000:]), "synthetic"


def train_softmax(loss=None):
    """A softmax regression trained on :func:`small_data`'s 1,000 images with ``loss(logits Tensor, labels)``
    (default: the library's cross-entropy): 5 epochs of SGD."""
    (X, y), _, _ = small_data()
    model = models.SoftmaxRegression(X.shape[1], 10)
    fit_loss = None if loss is None else (lambda m, xb, yb: loss(m(xb), yb))
    training.fit(model, X, y, epochs=5, batch_size=50, optimizer=training.SGD(model.parameters(), lr=0.1), loss=fit_loss,
                 progress=False, monitor_size=0)
    return model


@functools.lru_cache(maxsize=1)
def trained_softmax():
    """The softmax regression the attacks of exercises 9 and 12 must fool (trained once per process)."""
    return train_softmax()


def error_rate(model, x, y) -> float:
    return float((model.predict(x) != y).mean())


# --- 5. the backward walk -------------------------------------------------------------------------------------------
class Node:
    """The grader's view of an engine tensor for exercise 5: ``parents``, ``vjps``, ``value`` (and the ``tensor``).

    ``views`` maps each tensor already seen to its node, so a tensor used twice is one node;
    ``names`` the program's names for tensors.
    """

    def __init__(self, tensor, views: dict, names: dict):
        views[id(tensor)] = self
        self.tensor, self.value, self.name = tensor, tensor.data, names.get(id(tensor), tensor._op)
        kept = [(p, vjp) for p, vjp in zip(tensor._parents, tensor._vjps) if p.requires_grad]
        self.parents = tuple(views[id(p)] if id(p) in views else Node(p, views, names) for p, _ in kept)
        self.vjps = tuple(vjp for _, vjp in kept)

    def __repr__(self):
        return self.name


OPS = {"add": (2, "{} + {}", mg.add), "multiply": (2, "{} * {}", mg.multiply), "tanh": (1, "tanh({})", mg.tanh),
       "sigmoid": (1, "sigmoid({})", mg.sigmoid)}


class Program(tuple):
    """A random computation's steps ``(op, i, j)`` (on the values v0, v1, ...: the leaves, then each step's
    result), shown as the code it stands for."""

    def text(self, leaves: int) -> str:
        lines = []
        for k, (op, i, j) in enumerate(self):
            arity, form, _ = OPS[op]
            lines.append(f"v{leaves + k} = " + form.format(*(f"v{a}" for a in (i, j)[:arity])))
        return "; ".join(lines + [f"root = sum(w * v{leaves + len(self) - 1})"])


class Text(str):
    """A string the report prints as it is (no quotes)."""

    def __repr__(self):
        return str(self)


@st.composite
def programs(draw):
    """A random computation on vectors of 3 numbers, reusing earlier results at random: leaves, steps, one root."""
    leaves = draw(st.integers(1, 3))
    steps = draw(st.lists(st.tuples(st.sampled_from(sorted(OPS)), st.integers(0, 100), st.integers(0, 100)),
                          min_size=1, max_size=6))
    program = Program((op, i % (leaves + k), j % (leaves + k)) for k, (op, i, j) in enumerate(steps))
    return {"program": Text(program.text(leaves)), "leaves": draw(arrays((leaves, 3), -1, 1)),
            "w": draw(gradients(3)), "_steps": program}


def build(example):
    """The example's program run on the engine, in float64: the leaf tensors, the root node (the grader's view,
    its nodes named as in the program), and the view of each tensor."""
    leaves = [mg.Tensor(v, requires_grad=True, dtype=np.float64) for v in example["leaves"]]
    nodes = list(leaves)
    for op, i, j in example["_steps"]:
        arity, _, function = OPS[op]
        nodes.append(function(*(nodes[a] for a in (i, j)[:arity])))
    weighted = nodes[-1] * example["w"]
    root = weighted.sum()
    names = {id(t): f"v{k}" for k, t in enumerate(nodes)} | {id(weighted): f"w * v{len(nodes) - 1}", id(root): "root"}
    views = {}
    return leaves, Node(root, views, names), views


def check_topological_order(student, ex):
    _, top, views = build(ex)
    order = student.topological_order(top)
    every = set(views.values())
    if not isinstance(order, (list, tuple)) or not all(isinstance(n, Node) for n in order):
        raise Mismatch("topological_order must return a list of the nodes", ex, note=f"came {order!r:.200}")
    position = {}
    for k, node in enumerate(order):
        if node in position:
            raise Mismatch(f"topological_order lists a node twice ({node.name}, at {position[node]} and {k})", ex)
        position[node] = k
    if set(position) != every:
        missing = sorted(n.name for n in every - set(position))
        raise Mismatch(f"topological_order leaves out nodes {missing}" if missing else "topological_order lists nodes that "
                       "are not in the graph", ex)
    for node in order:
        for parent in node.parents:
            if position[parent] > position[node]:
                raise Mismatch(f"topological_order puts {parent.name} after {node.name}, which was computed from it",
                               ex)


def check_backward(student, ex):
    _, top, views = build(ex)
    came = student.backward(top, read_only(np.array(1.0)))
    if not isinstance(came, dict):
        raise Mismatch("backward must return a dict {node: gradient}", ex, note=f"came {type(came).__name__}")
    expected = library.backward(top, np.array(1.0))
    for node in sorted(views.values(), key=lambda n: n.tensor._seq):  # the leaves first, the root last
        if node not in came:
            raise Mismatch(f"backward gives no gradient for {node.name}", ex)
        expect_array(f"dL/d({node.name})", ex, expected[node], came[node], atol=1e-9, rtol=1e-9)


def check_reuse(student, ex):
    a = mg.Tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=np.float64)
    b = a + a
    c = b * b
    root = c.sum()
    views = {}
    top = Node(root, views, {})
    came = student.backward(top, read_only(np.array(1.0)))
    if not isinstance(came, dict) or views[id(a)] not in came:
        raise Mismatch("backward must return a dict holding every node's gradient; it has none for the leaf a",
                       {"a": a.data}, note=f"came {came!r:.200}")
    expect_array("dL/da for L = sum((a + a) * (a + a)), which is 8a,", {"a": a.data}, 8 * a.data, came[views[id(a)]],
                 atol=1e-12, rtol=1e-12)


def program_case(leaves: int, steps) -> dict:
    """A fixed program as the examples of :func:`programs` are."""
    program = Program(steps)
    values = np.arange(1, 3 * leaves + 1, dtype=np.float64).reshape(leaves, 3) / (3 * leaves + 1)
    return {"program": Text(program.text(leaves)), "leaves": values, "w": np.array([1.0, -0.5, 0.25]), "_steps": program}


#: Graphs a wrong order gets wrong and a random draw may miss: a diamond (v0 reached by two paths), a chain of reuse.
GRAPH_CASES = (program_case(1, [("tanh", 0, 0), ("multiply", 1, 0)]),
               program_case(2, [("add", 0, 1), ("sigmoid", 2, 2), ("multiply", 3, 2), ("add", 4, 0)]))


def exercise_5():
    return [Check("topological_order on random graphs with reused nodes", check_topological_order, programs(),
                  max_examples=60, cases=GRAPH_CASES),
            Check("backward: a node used twice (b = a + a, c = b * b)", check_reuse),
            Check("backward against the engine on random graphs with reused nodes", check_backward, programs(),
                  max_examples=60, cases=GRAPH_CASES)]


# --- 6. maxout ------------------------------------------------------------------------------------------------------
@st.composite
def maxout_examples(draw, unique: bool):
    n, units, pieces = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    shape = (n, units * pieces)
    x = draw(grid(shape, -4, 4, unique=True) if unique else hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0])))
    return {"x": x, "pieces": pieces, "g": draw(gradients((n, units)))}


def check_maxout_values(student, ex):
    x, pieces = ex["x"], ex["pieces"]
    expect_array("maxout(x, pieces)", {"x": x, "pieces": pieces}, library.maxout(x, pieces),
                 student.maxout(read_only(x), pieces), atol=0, rtol=0)


def check_maxout_vjp(student, ex):
    x, pieces, g = ex["x"], ex["pieces"], ex["g"]
    expected = numeric_vjp(lambda v: library.maxout(v, pieces), x, g)
    expect_array("maxout_vjp(g, x, pieces)", ex, expected, student.maxout_vjp(*read_only(g, x), pieces))


def check_maxout_ties(student, ex):
    x, pieces, g = ex["x"], ex["pieces"], ex["g"]
    expect_array("maxout_vjp(g, x, pieces) where pieces tie (the first maximum takes g),", ex,
                 library.maxout_vjp(g, x, pieces), student.maxout_vjp(*read_only(g, x), pieces), atol=0, rtol=0)


def check_maxout_float32(student, ex):
    (x, g), pieces = in_float32(ex["x"], ex["g"]), ex["pieces"]
    ex = {"x": x, "pieces": pieces, "g": g}
    expect_array("maxout(x, pieces) for a float32 x", ex, library.maxout(x, pieces), student.maxout(read_only(x), pieces),
                 atol=0, rtol=0)
    expect_array("maxout_vjp(g, x, pieces) for float32 arrays", ex, library.maxout_vjp(g, x, pieces),
                 student.maxout_vjp(*read_only(g, x), pieces), atol=0, rtol=0)


def maxout_op(student, pieces):
    """maxout as an engine op: forward by the library, VJP the student's."""
    def op(a):
        x = a.data
        return mg.Tensor.from_op(library.maxout(x, pieces), (a,), (lambda g: student.maxout_vjp(g, x, pieces),),
                                 "your maxout")
    return op


def check_maxout_in_engine(student, ex):
    (x, g), pieces = in_float32(ex["x"], ex["g"]), ex["pieces"]
    came = engine_gradient(maxout_op(student, pieces), x, g)
    expected = engine_gradient(lambda t: mg.maxout(t, pieces), x, g)
    expect_array("dL/dx through your maxout op, float32", {"x": x, "pieces": pieces, "g": g}, expected, came, atol=0, rtol=0)


def exercise_6():
    return [Check("maxout against the library", check_maxout_values, maxout_examples(unique=True)),
            Check("maxout_vjp against finite differences", check_maxout_vjp, maxout_examples(unique=True)),
            Check("maxout_vjp against the library, with ties", check_maxout_ties, maxout_examples(unique=False)),
            Check("maxout and maxout_vjp keep float32", check_maxout_float32, maxout_examples(unique=False),
                  max_examples=10),
            Check("maxout_vjp inside the engine (Tensor.from_op, float32)", check_maxout_in_engine,
                  maxout_examples(unique=False), max_examples=10)]


# --- 7. conv2d ------------------------------------------------------------------------------------------------------
@st.composite
def conv_examples(draw):
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, min(3, h + 2 * padding))), draw(st.integers(1, min(3, w + 2 * padding)))
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    return {"x": draw(arrays((n, c, h, w), -1, 1)), "w": draw(arrays((f, c, kh, kw), -1, 1)), "stride": stride,
            "padding": padding, "g": draw(gradients((n, f, ho, wo)))}


def check_im2col(student, ex):
    x, (kh, kw) = ex["x"], ex["w"].shape[2:]
    shown_inputs = {"x": x, "kh": kh, "kw": kw, "stride": ex["stride"], "padding": ex["padding"]}
    expect_array("im2col(x, kh, kw, stride, padding)", shown_inputs, library.im2col(x, kh, kw, ex["stride"], ex["padding"]),
                 student.im2col(read_only(x), kh, kw, ex["stride"], ex["padding"]), atol=0, rtol=0)


def check_conv2d(student, ex):
    x, w, s, p = ex["x"], ex["w"], ex["stride"], ex["padding"]
    expect_array("conv2d(x, w, stride, padding)", {"x": x, "w": w, "stride": s, "padding": p}, library.conv2d(x, w, s, p),
                 student.conv2d(*read_only(x, w), s, p), atol=1e-12, rtol=1e-9)


def check_conv2d_vjp(student, ex):
    x, w, s, p, g = ex["x"], ex["w"], ex["stride"], ex["padding"], ex["g"]
    expected = numeric_vjp(lambda v: library.conv2d(v, w, s, p), x, g)
    expect_array("conv2d_vjp_x(g, x, w, stride, padding)", ex, expected, student.conv2d_vjp_x(*read_only(g, x, w), s, p))


def check_conv_float32(student, ex):
    x, w, g = in_float32(ex["x"], ex["w"], ex["g"])
    s, p, (kh, kw) = ex["stride"], ex["padding"], w.shape[2:]
    ex = {"x": x, "w": w, "stride": s, "padding": p, "g": g}
    expect_array("im2col(x, kh, kw, stride, padding) for a float32 x", ex, library.im2col(x, kh, kw, s, p),
                 student.im2col(read_only(x), kh, kw, s, p), atol=0, rtol=0)
    expect_array("conv2d(x, w, stride, padding) for float32 arrays", ex, library.conv2d(x, w, s, p),
                 student.conv2d(*read_only(x, w), s, p), atol=1e-5, rtol=1e-4)
    expect_array("conv2d_vjp_x(g, x, w, stride, padding) for float32 arrays", ex, library.conv2d_vjp_x(g, x, w, s, p),
                 student.conv2d_vjp_x(*read_only(g, x, w), s, p), atol=1e-5, rtol=1e-4)


def conv_op(student, stride, padding):
    """A conv layer as an engine op: forward by the student's conv2d, input VJP by theirs, kernel VJP by the library's."""
    def op(x, w):
        images, kernels = x.data, w.data
        return mg.Tensor.from_op(np.asarray(student.conv2d(images, kernels, stride, padding)), (x, w),
                                 (lambda g: student.conv2d_vjp_x(g, images, kernels, stride, padding),
                                  lambda g: library.vjp_of(mg.conv2d, [images, kernels], g, 1, stride=stride, padding=padding)),
                                 "your conv2d")
    return op


def check_conv_in_engine(student, ex):
    x, w, g = in_float32(ex["x"], ex["w"], ex["g"])
    s, p = ex["stride"], ex["padding"]
    came = mg.grad(lambda t: (conv_op(student, s, p)(t, mg.Tensor(w)) * g).sum())(x)
    expected = mg.grad(lambda t: (mg.conv2d(t, w, stride=s, padding=p) * g).sum())(x)
    expect_array("dL/dx through your conv2d op, float32", {"x": x, "w": w, "stride": s, "padding": p, "g": g}, expected,
                 came, atol=1e-5, rtol=1e-4)


def exercise_7():
    return [Check("im2col against the library", check_im2col, conv_examples()),
            Check("conv2d against the library", check_conv2d, conv_examples()),
            Check("conv2d_vjp_x against finite differences", check_conv2d_vjp, conv_examples()),
            Check("im2col, conv2d and conv2d_vjp_x keep float32", check_conv_float32, conv_examples(), max_examples=10),
            Check("a conv layer inside the engine (Tensor.from_op, float32), against mg.conv2d", check_conv_in_engine,
                  conv_examples(), max_examples=10)]


CHECKS = {1: exercise_1, 2: exercise_2, 3: exercise_3, 4: exercise_4, 5: exercise_5, 6: exercise_6, 7: exercise_7}
REPORTS = {4: report_4}
