"""The grader of ``advex exercises``: it passes the library's own code, fails every stub, and catches every
planted mistake; ``start`` never overwrites a student's work; nothing prints a traceback."""

import os
import sys
import types

import numpy as np
import pytest

import minigrad as mg
from attacks import cli
from attacks.exercises import EXERCISES, catalog, grader, solutions
from attacks.exercises.engine_checks import Node


def graded(number, **mistakes):
    """The grade of exercise ``number`` for the library's solutions with ``mistakes`` (name -> function) planted."""
    student = types.SimpleNamespace(**{name: getattr(solutions, name) for name in dir(solutions) if not name.startswith("__")})
    for name, function in mistakes.items():
        setattr(student, name, function)
    return grader.grade(catalog.exercise(number), student, __file__)


def test_the_library_passes_every_exercise(capsys):
    assert cli.main(["exercises", "check", "--solutions"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line[:2].strip().isdigit()]
    assert [line.split()[:2] for line in lines] == [[str(e.number), "pass"] for e in EXERCISES]


def test_every_stub_fails_as_not_written_yet(tmp_path, capsys):
    folder = str(tmp_path / "homework")
    assert cli.main(["exercises", "start", folder]) == 0
    assert sorted(os.listdir(folder)) == sorted(e.filename for e in EXERCISES)
    capsys.readouterr()
    assert cli.main(["exercises", "check", "--dir", folder]) == 1
    out = capsys.readouterr().out
    for e in EXERCISES:
        block = out.split(f"{e.number:2d} fail  {e.title}")[1]
        assert "not written yet" in block.split("\n")[2], block
    assert "Traceback" not in out


def test_start_never_overwrites_a_changed_file(tmp_path):
    folder = tmp_path / "hw"
    catalog.start(folder)
    mine = folder / EXERCISES[0].filename
    mine.write_text("def exp_vjp(g, x, z):\n    return g * z\n")
    what = dict(catalog.start(folder))
    assert mine.read_text() == "def exp_vjp(g, x, z):\n    return g * z\n"
    assert what[EXERCISES[0].filename].startswith("kept")
    assert what[EXERCISES[1].filename] == "unchanged stub"


def test_a_student_file_is_graded_with_its_error_in_one_line(tmp_path, capsys):
    (tmp_path / "ex02_unbroadcast.py").write_text("import numpy as np\n\n\ndef unbroadcast(g, shape):\n"
                                                   "    return g.sum(axis=())[shape]\n")
    assert cli.main(["exercises", "check", "2", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert " 2 fail" in out and "(ex02_unbroadcast.py, line 5, in unbroadcast)" in out
    assert "at the smallest input found:" in out and "Traceback" not in out


def test_a_passing_student_file_exits_0(tmp_path, capsys):
    (tmp_path / "ex02_unbroadcast.py").write_text(
        "import numpy as np\n\n\ndef unbroadcast(g, shape):\n"
        "    g = g.sum(axis=tuple(range(g.ndim - len(shape))))\n"
        "    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)\n")
    assert cli.main(["exercises", "check", "2", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith(" 2 pass")


def test_a_syntax_error_and_a_missing_file_are_one_line_each(tmp_path, capsys):
    (tmp_path / "ex03_matmul_vjps.py").write_text("def matmul_vjp_a(g, a, b):\n    return g @ b.T +\n")
    assert cli.main(["exercises", "check", "3", "4", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "ex03_matmul_vjps.py, line 2: SyntaxError" in out
    assert "no file" in out and "advex exercises start" in out


@pytest.mark.parametrize("argv, message", [
    (["exercises", "check", "13"], "there is no exercise 13"),
    (["exercises", "check", "--dir", "/nonexistent/hw"], "no such folder"),
])
def test_bad_arguments_exit_2_in_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_without_hypothesis_one_line_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # import hypothesis now raises ImportError
    assert cli.main(["exercises", "check", "--solutions"]) == 2
    err = capsys.readouterr().err
    assert "pip install" in err and len(err.strip().splitlines()) == 1


def test_verbose_lists_the_checks_a_pass_passed(capsys):
    assert cli.main(["exercises", "check", "2", "--solutions", "-v"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(" 2 pass") and lines[1].strip().startswith("ok  unbroadcast against finite differences")


def test_listing_starts_each_line_with_its_number(capsys):
    assert cli.main(["exercises"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [int(line.split()[0]) for line in lines] == list(range(1, 13))


# --- planted mistakes: one test each, and the grader must catch every one ------------------------------------------

def unbroadcast_leading_only(g, shape):
    return g.sum(axis=tuple(range(g.ndim - len(shape))))


def unbroadcast_without_keepdims(g, shape):
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1))


def naive_log_softmax(z):
    e = np.exp(z)
    return np.log(e / e.sum(axis=1, keepdims=True))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def onehot(labels, c):
    return np.eye(c)[labels]


def order_parents_last(root):
    order, seen = [], set()

    def visit(node):
        if node in seen:
            return
        seen.add(node)
        order.append(node)  # pre-order: a node before its parents
        for parent in node.parents:
            visit(parent)
    visit(root)
    return order


def order_with_repeats(root):
    order = []

    def visit(node):
        for parent in node.parents:
            visit(parent)
        order.append(node)  # no visited set: a reused node is listed once per path
    visit(root)
    return order


def backward_overwriting(root, seed):
    grads = {root: seed}
    for node in reversed(solutions.topological_order(root)):
        for parent, vjp in zip(node.parents, node.vjps):
            grads[parent] = vjp(grads[node])  # overwrites: a reused node keeps only its last contribution
    return grads


def backward_depth_first(root, seed):
    grads = {}

    def push(node, g):  # passes each contribution on at once, before the node's gradient is complete
        grads[node] = grads.get(node, 0) + g
        if not grads.get(("done", node)):
            grads[("done", node)] = True
            for parent, vjp in zip(node.parents, node.vjps):
                push(parent, vjp(grads[node]))
    push(root, seed)
    return {k: v for k, v in grads.items() if isinstance(k, Node)}


def maxout_strided(x, pieces):
    return x.reshape(len(x), pieces, -1).max(axis=1)


def maxout_vjp_to_every_tie(g, x, pieces):
    groups = x.reshape(len(x), -1, pieces)
    return (np.repeat(g[..., None], pieces, axis=2) * (groups == groups.max(axis=2, keepdims=True))).reshape(x.shape)


def maxout_vjp_last_wins(g, x, pieces):
    groups = x.reshape(len(x), -1, pieces)[..., ::-1]
    last = pieces - 1 - groups.argmax(axis=2)
    dx = np.zeros(groups.shape, dtype=x.dtype)
    np.put_along_axis(dx, last[..., None], g[..., None], axis=2)
    return dx.reshape(x.shape)


def im2col_channels_last(x, kh, kw, stride=1, padding=0):
    from minigrad.ops import conv
    return conv.im2col(x, (kh, kw), (stride, stride), (padding, padding))


def conv2d_flipped(x, w, stride=1, padding=0):
    return solutions.conv2d(x, w[:, :, ::-1, ::-1].copy(), stride, padding)


def conv2d_vjp_assigning(g, x, w, stride=1, padding=0):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = g.shape[2:]
    d_cols = g.transpose(0, 2, 3, 1).reshape(-1, f) @ w.reshape(f, -1)
    padded = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=x.dtype)
    rows = iter(d_cols.reshape(n, ho, wo, c, kh, kw).reshape(-1, c, kh, kw))
    for k in range(n):
        for i in range(ho):
            for j in range(wo):  # = instead of +=: overlapping windows overwrite each other
                padded[k, :, i * stride : i * stride + kh, j * stride : j * stride + kw] = next(rows)
    return padded[:, :, padding : padding + h, padding : padding + wd]


def new_probability_l2(w, b, x, eps):
    return float(1 / (1 + np.exp(-(w @ x + b + eps * np.linalg.norm(w)))))


def fgsm_without_sign(model, x, y, eps, clip=(0.0, 1.0)):
    g = mg.grad(lambda t: model.loss(model(t), y, reduction="sum"))(x)
    return np.clip(x + eps * g, *clip)


def fgsm_descending(model, x, y, eps, clip=(0.0, 1.0)):
    g = mg.grad(lambda t: model.loss(model(t), y, reduction="sum"))(x)
    return np.clip(x - eps * np.sign(g), *clip)


def fgsm_unclipped(model, x, y, eps, clip=(0.0, 1.0)):
    g = mg.grad(lambda t: model.loss(model(t), y, reduction="sum"))(x)
    return x + eps * np.sign(g)


def fgsm_in_place(model, x, y, eps, clip=(0.0, 1.0)):
    g = mg.grad(lambda t: model.loss(model(t), y, reduction="sum"))(x)
    x += eps * np.sign(g)
    return np.clip(x, *clip)


def softplus_of(t):
    return mg.binary_cross_entropy_with_logits(t, np.zeros(t.shape, dtype=np.float32), reduction="mean")


def logistic_loss_as_printed(model, x, y, eps):
    w = model.linear.weight
    return softplus_of(mg.Tensor(y) * (eps * mg.abs(w).sum() - model(x)))  # right only for y = +1


def logistic_loss_l2(model, x, y, eps):
    w = model.linear.weight
    return softplus_of(-(model(x) * y) + eps * mg.sqrt((w * w).sum()))


def logistic_loss_in_numpy(model, x, y, eps):
    w = model.linear.weight.data[:, 0]
    t = -y * model(x).data + eps * np.abs(w).sum()
    return float(np.mean(np.log1p(np.exp(t))))


def objective_swapped(model, x, y, eps, alpha):
    return solutions.adversarial_objective(model, x, y, eps, 1 - alpha)


def objective_descending(model, x, y, eps, alpha):
    x_adv = fgsm_descending(model, x, y, eps, clip=(-np.inf, np.inf))
    return alpha * model.loss(model(x), y) + (1 - alpha) * model.loss(model(x_adv), y)


def project_l2(x_adv, x, eps):
    d = x_adv - x
    norm = np.linalg.norm(d)
    return x + d * min(1.0, eps / norm) if norm else x_adv


def pgd_with(project, start=True):
    def pgd(model, x, y, eps, step_size, steps, rng, clip=(0.0, 1.0)):
        x_adv = x + (rng.uniform(-eps, eps, size=x.shape).astype(x.dtype) if start else 0)
        x_adv = np.clip(x_adv, *clip)
        for _ in range(steps):
            g = mg.grad(lambda t: model.loss(model(t), y, reduction="sum"))(x_adv)
            x_adv = np.clip(project(x_adv + step_size * np.sign(g), x, eps), *clip)
        return x_adv.astype(x.dtype)
    return pgd


PLANTED = {
    "exp_vjp forgets g": (1, dict(exp_vjp=lambda g, x, z: z)),
    "tanh_vjp without the square": (1, dict(tanh_vjp=lambda g, x, z: g * (1 - z))),
    "sigmoid_vjp a sign slip": (1, dict(sigmoid_vjp=lambda g, x, z: g * z * (1 + z))),
    "a float64 leak in a float32 graph": (1, dict(exp_vjp=lambda g, x, z: (g * z).astype(np.float64))),
    "a missing unbroadcast": (2, dict(unbroadcast=lambda g, shape: g)),
    "unbroadcast over the leading axes only": (2, dict(unbroadcast=unbroadcast_leading_only)),
    "unbroadcast without keepdims": (2, dict(unbroadcast=unbroadcast_without_keepdims)),
    "matmul_vjp_a without the transpose": (3, dict(matmul_vjp_a=lambda g, a, b: g @ b)),
    "matmul_vjp_b with the factors swapped": (3, dict(matmul_vjp_b=lambda g, a, b: g.T @ a)),
    "the bias gradient not summed (a missing unbroadcast)": (3, dict(bias_vjp=lambda g: g)),
    "log(softmax) without the max shift": (4, dict(log_softmax=naive_log_softmax)),
    "log_softmax_vjp without the row sum": (4, dict(log_softmax_vjp=lambda g, z, out: g - np.exp(out))),
    "cross_entropy summed instead of averaged": (4, dict(cross_entropy=lambda z, labels: -solutions.log_softmax(z)[np.arange(len(z)), labels].sum())),
    "cross_entropy_vjp without 1/N": (4, dict(cross_entropy_vjp=lambda g, z, labels: g * (softmax(z) - onehot(labels, z.shape[1])))),
    "log_softmax_vjp in float64 for float32 logits": (4, dict(log_softmax_vjp=lambda g, z, out: (g - np.exp(out) * g.sum(
        axis=1, keepdims=True)).astype(np.float64))),
    "cross_entropy_vjp a sign slip": (4, dict(cross_entropy_vjp=lambda g, z, labels: g * (onehot(labels, z.shape[1]) - softmax(z)) / len(z))),
    "topological order with parents after their node": (5, dict(topological_order=order_parents_last)),
    "topological order listing a reused node twice": (5, dict(topological_order=order_with_repeats)),
    "a walk that overwrites instead of adding": (5, dict(backward=backward_overwriting)),
    "a walk that passes a gradient on before it is complete": (5, dict(backward=backward_depth_first)),
    "maxout grouping strided, not consecutive": (6, dict(maxout=maxout_strided)),
    "maxout_vjp gives g to every tied piece": (6, dict(maxout_vjp=maxout_vjp_to_every_tie)),
    "maxout_vjp lets the last maximum win": (6, dict(maxout_vjp=maxout_vjp_last_wins)),
    "im2col in (u, v, c) order": (7, dict(im2col=im2col_channels_last)),
    "conv2d flips the kernel": (7, dict(conv2d=conv2d_flipped)),
    "col2im that assigns instead of adding": (7, dict(conv2d_vjp_x=conv2d_vjp_assigning)),
    "conv2d_vjp_x in float64 for float32 images": (7, dict(conv2d_vjp_x=lambda g, x, w, stride=1, padding=0: solutions.conv2d_vjp_x(
        g, x, w, stride, padding).astype(np.float64))),
    "the perturbation is eps * w, not eps * sign(w)": (8, dict(best_perturbation=lambda w, eps: eps * w)),
    "the new probability with ||w||_2": (8, dict(new_probability=new_probability_l2)),
    "FGSM without the sign": (9, dict(fgsm=fgsm_without_sign)),
    "FGSM descending the loss": (9, dict(fgsm=fgsm_descending)),
    "FGSM without the clip": (9, dict(fgsm=fgsm_unclipped)),
    "FGSM writing into x": (9, dict(fgsm=fgsm_in_place)),
    "the paper's printed form (right for y = +1 only)": (10, dict(adversarial_logistic_loss=logistic_loss_as_printed)),
    "the adversarial loss with ||w||_2": (10, dict(adversarial_logistic_loss=logistic_loss_l2)),
    "the adversarial loss in NumPy (no gradient)": (10, dict(adversarial_logistic_loss=logistic_loss_in_numpy)),
    "alpha and 1 - alpha swapped": (11, dict(adversarial_objective=objective_swapped)),
    "the adversarial half from a descending step": (11, dict(adversarial_objective=objective_descending)),
    "a projection onto the L2 ball": (12, dict(project_linf=project_l2)),
    "PGD without the projection": (12, dict(pgd=pgd_with(lambda x_adv, x, eps: x_adv))),
    "PGD projecting onto the L2 ball": (12, dict(pgd=pgd_with(project_l2))),
    "PGD without the random start": (12, dict(pgd=pgd_with(solutions.project_linf, start=False))),
}


@pytest.mark.parametrize("mistake", sorted(PLANTED))
def test_the_grader_catches_a_planted_mistake(mistake):
    number, planted = PLANTED[mistake]
    result = graded(number, **planted)
    assert not result.passed, result.text()
    assert "Traceback" not in result.text()


def test_every_exercise_has_a_planted_mistake():
    assert {number for number, _ in PLANTED.values()} == {e.number for e in EXERCISES}


def test_the_planted_mistakes_leave_the_rest_of_the_solutions_passing():
    """The harness itself: the solutions, passed through it unchanged, pass."""
    assert graded(5).passed and graded(10).passed


# --- what a review found: the exit status, endless loops, files, and answers right or wrong that the checks
# --- once misjudged

def write(folder, name, source):
    (folder / name).write_text(source)


def test_a_student_exit_fails_the_exercise_and_grading_goes_on(tmp_path, capsys):
    write(tmp_path, "ex01_elementwise_vjps.py", "def exp_vjp(g, x, z):\n    exit()\n\n\ndef tanh_vjp(g, x, z):\n"
          "    return g\n\n\ndef sigmoid_vjp(g, x, z):\n    return g\n")
    write(tmp_path, "ex02_unbroadcast.py", "import sys\nsys.exit(0)\n")
    assert cli.main(["exercises", "check", "1", "2", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert " 1 fail" in out and "SystemExit" in out and " 2 fail" in out


def test_an_endless_loop_is_stopped(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(grader, "TIME_LIMIT", 1)
    write(tmp_path, "ex02_unbroadcast.py", "def unbroadcast(g, shape):\n    while True:\n        pass\n")
    assert cli.main(["exercises", "check", "2", "--dir", str(tmp_path)]) == 1
    assert "stopped after 1 s" in capsys.readouterr().out


def test_grading_writes_nothing_into_the_folder_and_hides_prints(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "ex02_unbroadcast.py", "from helper import total\n\n\ndef unbroadcast(g, shape):\n"
          "    print('debugging', g.shape)\n    return total(g, shape)\n")
    write(tmp_path, "helper.py", "def total(g, shape):\n    g = g.sum(axis=tuple(range(g.ndim - len(shape))))\n"
          "    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)\n")
    assert grader.check([2], str(tmp_path))  # the Python API: the folder is importable while it is graded
    assert "debugging" not in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["ex02_unbroadcast.py", "helper.py"]  # no .hypothesis, no __pycache__


def unbroadcast_offset_forgotten(g, shape):
    for i, n in enumerate(shape):
        if n == 1:
            g = g.sum(axis=i, keepdims=True)  # should be axis lead + i
    return g.sum(axis=tuple(range(g.ndim - len(shape))))


def order_reversed_preorder(root):
    order, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(node.parents)
    return order[::-1]


def objective_leaving_gradients(model, x, y, eps, alpha):
    t = mg.Tensor(x, requires_grad=True)
    model.loss(model(t), y).backward()  # leaves gradients on the weights too
    x_adv = x + eps * np.sign(t.grad)
    return alpha * model.loss(model(x), y) + (1 - alpha) * model.loss(model(x_adv), y)


def pgd_ignoring_step_size(model, x, y, eps, step_size, steps, rng, clip=(0.0, 1.0)):
    return pgd_with(solutions.project_linf)(model, x, y, eps, eps, steps, rng, clip)


@pytest.mark.parametrize("number, mistakes", [
    (2, dict(unbroadcast=unbroadcast_offset_forgotten)),
    (5, dict(topological_order=order_reversed_preorder)),
    (11, dict(adversarial_objective=objective_leaving_gradients)),
    (12, dict(pgd=pgd_ignoring_step_size)),
], ids=["unbroadcast-offset", "reversed-preorder", "gradients-left", "step-size-ignored"])
def test_the_mistakes_a_review_found_are_caught(number, mistakes):
    assert not graded(number, **mistakes).passed


def fgsm_with_mean(model, x, y, eps, clip=(0.0, 1.0)):
    g = mg.grad(lambda t: model.loss(model(t), y))(x)
    x_adv = x + eps * np.sign(g)
    return x_adv if clip is None else np.clip(x_adv, *clip)


def stable_softplus_loss(model, x, y, eps):
    w = model.linear.weight
    t = -(model(x) * y) + eps * mg.abs(w).sum()
    return (mg.maximum(t, 0.0) + mg.log(1 + mg.exp(-mg.abs(t)))).mean()


def pgd_float32_draw(model, x, y, eps, step_size, steps, rng, clip=(0.0, 1.0)):
    x_adv = np.clip(x + eps * (2 * rng.random(x.shape, dtype=np.float32) - 1), *clip)
    for _ in range(steps):
        g = mg.grad(lambda t: model.loss(model(t), y, reduction="sum"))(x_adv)
        x_adv = np.clip(x + np.clip(x_adv + step_size * np.sign(g) - x, -eps, eps), *clip)
    return x_adv


@pytest.mark.parametrize("number, answers", [
    (9, dict(fgsm=fgsm_with_mean)),
    (10, dict(adversarial_logistic_loss=stable_softplus_loss)),
    (12, dict(pgd=pgd_float32_draw, project_linf=lambda x_adv, x, eps: x + np.clip(x_adv - x, -eps, eps))),
], ids=["fgsm-mean-loss", "textbook-softplus", "pgd-other-draw-and-projection"])
def test_right_answers_written_otherwise_pass(number, answers):
    result = graded(number, **answers)
    assert result.passed, result.text()
