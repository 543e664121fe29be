"""Figures of the lab (matplotlib, an optional extra: ``pip install -e ".[plot]"``).

Each function draws one figure and writes it to a PNG file atomically; nothing else
in the project imports matplotlib. The Agg backend is used, so no display is needed.
"""

from __future__ import annotations

import math
import os

import numpy as np

from models.io import atomic_write


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError('the figures need matplotlib: pip install -e ".[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> str:
    """Write ``fig`` as a PNG to ``path`` atomically, then release it."""
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=fig.dpi))
    finally:
        _pyplot().close(fig)
    return os.fspath(path)


def draw(folder, name: str, plot, *args, **kwargs) -> None:
    """``plot(*args, FOLDER/figures/NAME, **kwargs)``, or one printed line when matplotlib is missing.

    How the experiments draw: a missing matplotlib costs the figures, never the run.
    """
    try:
        plot(*args, os.path.join(os.fspath(folder), "figures", name), **kwargs)
    except ImportError as error:
        print(f"no figure {name}: {error}")


def image_shape_of(model, n_features: int):
    """How to draw a row of ``n_features``: the model's ``input_shape`` (C, H, W), else a
    square (H, W) when the number is square, else None (it cannot be drawn as an image)."""
    shape = getattr(model, "input_shape", None)
    if shape is not None and len(shape) == 3 and shape[0] in (1, 3):
        return tuple(shape)
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features else None


def _as_picture(row, shape, display=(0.0, 1.0)):
    """A (H, W) grey or (H, W, 3) colour image from one row, mapped from the range ``display``
    to [0, 1] (values outside it are clamped)."""
    if len(shape) == 3:
        image = row.reshape(shape)
        image = image[0] if shape[0] == 1 else image.transpose(1, 2, 0)
    else:
        image = row.reshape(shape)
    low, high = display
    return ((image - low) / (high - low)).clip(0.0, 1.0)


def display_range(*images) -> tuple:
    """[0, 1], widened to cover every value of ``images``: unclipped adversarial inputs
    (``--no-clip``) are drawn as the model saw them, not silently clamped to [0, 1]."""
    low = min(0.0, *(float(np.min(a)) for a in images))
    high = max(1.0, *(float(np.max(a)) for a in images))
    return low, high


def plot_examples(model, x, x_adv, y, path, *, n: int = 8, image_shape=None, title: str = "",
                  adversarial_label: str = "adversarial") -> str:
    """Clean images (top row), the perturbation (middle) and the perturbed images (bottom).

    Our version of the paper's panda and gibbon: the top and bottom rows look alike to a
    person, and the model's answers below them do not. Each column is headed by its true
    label; each image shows the prediction and its confidence (red: wrong). The middle row
    is x_adv - x, mid-grey at 0 and stretched so that +-(its largest |value|) is white and
    black, with that L-infinity size below it. When the inputs leave [0, 1] (unclipped
    attacks) both image rows share a display range covering them, stated in the title.
    ``adversarial_label`` names the bottom row ("noise" for the noise baseline).
    ``image_shape`` defaults to the model's ``input_shape`` (C, H, W) if it has one (three
    channels are drawn in colour), else to square grey images.
    """
    image_shape = image_shape or image_shape_of(model, x.shape[1])
    if image_shape is None:
        raise ValueError(f"plot_examples: rows of {x.shape[1]} features are not square images: pass image_shape")
    if np.shape(x) != np.shape(x_adv):
        raise ValueError(f"plot_examples: x {np.shape(x)} and x_adv {np.shape(x_adv)} differ in shape")
    plt = _pyplot()
    n = min(n, len(x))
    x, x_adv = np.asarray(x[:n], dtype=np.float32), np.asarray(x_adv[:n], dtype=np.float32)
    delta = x_adv - x
    display = display_range(x, x_adv)
    clean, perturbed = model.predict_with_proba(x), model.predict_with_proba(x_adv)
    fig, axes = plt.subplots(3, n, figsize=(1.3 * n, 4.6), squeeze=False, dpi=100)
    for i in range(n):
        size = float(np.abs(delta[i]).max())
        pictures = ((x[i], display, clean), (0.5 + delta[i] / (2 * size) if size else np.full_like(delta[i], 0.5),
                                             (0.0, 1.0), None), (x_adv[i], display, perturbed))
        for row, (image, shown, answers) in enumerate(pictures):
            ax = axes[row, i]
            ax.imshow(_as_picture(image, image_shape, shown), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if answers is None:
                ax.set_xlabel(f"L-inf {size:.3g}", fontsize=7)
                continue
            guess, proba = int(answers[0][i]), answers[1]
            ax.set_xlabel(f"{guess} ({100 * proba[i, guess]:.0f}%)", color="black" if guess == y[i] else "red", fontsize=8)
        axes[0, i].set_title(f"true {int(y[i])}", fontsize=8)
    for row, name in enumerate(("clean", "perturbation", adversarial_label)):
        axes[row, 0].set_ylabel(name, fontsize=9)
    note = "" if display == (0.0, 1.0) else f"\nvalues outside [0, 1]: drawn over [{display[0]:.2f}, {display[1]:.2f}]"
    fig.suptitle((title or "prediction (confidence); red: wrong") + note, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _clip_words(rows) -> str:
    clip = rows[0].get("clip") if rows else None
    return "unclipped" if clip is None else f"clipped to [{clip[0]:g}, {clip[1]:g}]"


def plot_eps_curves(curves: dict, path, *, title: str = "") -> str:
    """Error rate and confidence on mistakes versus eps, one line per entry of ``curves``.

    ``curves`` maps a label (e.g. "maxout, FGSM" or "maxout, noise") to the rows of
    :func:`attacks.evaluate`. Labels sharing the text before the comma share a colour;
    those containing "noise" are dashed. Every measured eps is a marker; the two panels
    share the eps axis; the title always ends with whether the attacks were clipped (read
    from the rows' ``clip``), so a caller's ``title`` should not say it.
    A curve with no mistakes has no confidence on mistakes: the right panel says so.
    """
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=100, sharex=True)
    models = list(dict.fromkeys(label.split(",")[0] for label in curves))  # one colour per model
    without_mistakes = []
    for label, rows in curves.items():
        eps = [r["eps"] for r in rows]
        look = dict(linestyle="--" if "noise" in label else "-", marker="o", ms=3, label=label,
                    color=f"C{models.index(label.split(',')[0]) % 10}")
        left.plot(eps, [100 * r["error_rate"] for r in rows], **look)
        confidence = [100 * r["confidence_wrong"] for r in rows]
        if all(np.isnan(c) for c in confidence):
            without_mistakes.append(label)
        else:
            right.plot(eps, confidence, **look)
    if without_mistakes:
        right.text(0.5, 0.5, "no mistakes at any eps:\n" + "\n".join(without_mistakes), transform=right.transAxes,
                   ha="center", va="center", fontsize=8, color="gray")
    left.set(xlabel="eps", ylabel="error rate (%)", ylim=(0, 100))
    right.set(xlabel="eps", ylabel="mean confidence on mistakes (%)", ylim=(0, 100))
    left.legend(fontsize=7)
    first = next(iter(curves.values()), [])
    n = first[0]["n"] if first else 0
    fig.suptitle(f"{title or f'n = {n} test examples'} ({_clip_words(first)})", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def flip_eps(walk: dict, example: int = 0):
    """The smallest eps >= 0 on the walk's grid at which the predicted class is not the
    label: 0.0 when the example is already misclassified, None if the prediction never
    leaves the label on the walk."""
    eps, logits = np.asarray(walk["eps"]), walk["logits"][:, example, :]
    ahead = eps >= 0
    changed = logits[ahead].argmax(axis=1) != walk["labels"][example]
    return float(eps[ahead][np.argmax(changed)]) if changed.any() else None


def plot_linearity(walk: dict, path, *, example: int = 0, title: str = "", attack_eps=None) -> str:
    """The logits of one example along the FGSM direction (the paper's Figure 4).

    The label's line is thick and named "(label)" in the legend; a dotted line marks the
    eps at which the prediction leaves the label, a dashed one the attack's ``attack_eps``.
    The y axis names what the model outputs (``walk["output"]``: "logit", or the RBF's "log p_c").
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.6, 3.8), dpi=100)
    logits = walk["logits"][:, example, :]
    label = int(walk["labels"][example])
    for c in range(logits.shape[1]):
        ax.plot(walk["eps"], logits[:, c], lw=2.5 if c == label else 1, label=f"{c} (label)" if c == label else str(c))
    ax.axvline(0, color="gray", lw=0.5)
    flip = flip_eps(walk, example)
    if flip == 0.0:
        clean = int(logits[int(np.argmin(np.abs(walk["eps"])))].argmax())
        ax.axvline(0.0, color="red", ls=":", lw=1.2, label=f"already wrong at eps 0 (predicts {clean})")
    elif flip is not None:
        ax.axvline(flip, color="red", ls=":", lw=1.2, label=f"prediction leaves {label} at {flip:.3g}")
    if attack_eps is not None:
        ax.axvline(attack_eps, color="black", ls="--", lw=1, label=f"attack eps {attack_eps:g}")
    output = walk.get("output", "logit")
    ax.set(xlabel="eps (along sign of the gradient)", ylabel=output)
    ax.legend(fontsize=6, ncol=2, title="class", title_fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title or f"{output} along the FGSM direction (label {label})", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_accuracy_by_epoch(runs: dict, path, *, title: str = "", marks=None) -> str:
    """Robust accuracy after each training epoch: one colour per run, FGSM solid, PGD dashed.

    ``runs`` maps a label ("random start") to ``{"fgsm": [...], "pgd": [...]}``, the
    accuracies (fractions) after epochs 1, 2, ... Catastrophic overfitting shows as a
    run whose FGSM accuracy climbs while its PGD accuracy falls to zero. ``marks`` maps a
    label to an epoch (or None), drawn as a dotted vertical line in the run's colour:
    the epoch at which its PGD accuracy collapsed.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.4, 4.2), dpi=100)
    for i, (label, accuracy) in enumerate(runs.items()):
        for attack, style in (("fgsm", "-"), ("pgd", "--")):
            values = accuracy[attack]
            ax.plot(range(1, len(values) + 1), [100 * v for v in values], style, marker="o", ms=3, color=f"C{i}",
                    label=f"{label}: {attack.upper()}")
        epoch = (marks or {}).get(label)
        if epoch is not None:
            ax.axvline(epoch, ls=":", lw=1.2, color=f"C{i}", label=f"{label}: PGD collapses")
    ax.set(xlabel="epoch", ylabel="accuracy on held-out images (%)", ylim=(-3, 101))  # a run at 0 clear of the axis
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes, covering no line
    ax.set_title(title or "robust accuracy during training", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_attack_strength(errors: dict, path, *, title: str = "") -> str:
    """Error under each attack, grouped by model: ``errors[model][attack]`` (fractions), one bar each."""
    plt = _pyplot()
    attacks = list(dict.fromkeys(a for per_model in errors.values() for a in per_model))
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(attacks) * len(errors), 3.8), dpi=100)
    width = 0.8 / max(len(attacks), 1)
    for j, attack in enumerate(attacks):
        heights = [100 * errors[m].get(attack, float("nan")) for m in errors]
        ax.bar([i + j * width for i in range(len(errors))], heights, width, label=attack, color=f"C{j % 10}")
    ax.set_xticks([i + width * (len(attacks) - 1) / 2 for i in range(len(errors))], list(errors))
    ax.set(ylabel="error rate (%)", ylim=(0, 100))
    ax.legend(fontsize=7)
    ax.set_title(title or "error under each attack (worst case: any attack succeeds)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_transfer_matrix(matrix: dict, sources, targets, path, *, title: str = "", published=None) -> str:
    """A heatmap of ``matrix[source][target]`` (fractions, shown as %): rows the sources, columns the targets.

    ``published`` (the same shape, fewer targets allowed) adds a second panel with those numbers."""
    plt = _pyplot()
    panels = [("ours", matrix)] + ([("published (approximate)", published)] if published else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(1.5 + 1.0 * len(targets) * len(panels), 1.4 + 0.55 * len(sources)),
                             dpi=100, squeeze=False)
    for ax, (name, values) in zip(axes[0], panels):
        columns = [t for t in targets if any(t in values[s] for s in sources)]  # the published matrix has no ensemble
        grid = np.array([[100 * values[s].get(t, np.nan) for t in columns] for s in sources])
        ax.imshow(grid, vmin=0, vmax=100, cmap="viridis")
        for (i, j), v in np.ndenumerate(grid):
            if v == v:
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=8, color="white" if v < 60 else "black")
        ax.set_xticks(range(len(columns)), columns)
        ax.set_yticks(range(len(sources)), sources)
        ax.set(xlabel="target", ylabel="source")
        ax.set_title(name, fontsize=9)
    fig.suptitle(title or "% of the source's adversarial examples the target misclassifies", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_substitute_rounds(by_round: dict, set_sizes, path, *, title: str = "") -> str:
    """The black-box substitute after each round: one line per series of ``by_round`` (fractions, shown as %)
    against the size of its training set."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.6), dpi=100)
    for i, (label, values) in enumerate(by_round.items()):
        ax.plot(set_sizes[: len(values)], [100 * v for v in values], marker="o", color=f"C{i}", label=label.replace("_", " "))
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(set_sizes), [f"{n:,}" for n in set_sizes])
    ax.minorticks_off()
    ax.set(xlabel="points in the substitute's set (oracle queries so far)", ylabel="%", ylim=(0, 101))
    ax.legend(fontsize=8)
    ax.set_title(title or "the substitute as its set grows", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_rows(model, rows: dict, y, path, *, image_shape=None, title: str = "") -> str:
    """Rows of images, one per entry of ``rows`` (name -> (n, features) images in [0, 1]), each image with the
    model's prediction below it (red: wrong); the columns are the same examples, headed by their true labels."""
    plt = _pyplot()
    names = list(rows)
    n = len(y)
    first = np.asarray(rows[names[0]])
    image_shape = image_shape or image_shape_of(model, first.shape[1])
    fig, axes = plt.subplots(len(names), n, figsize=(1.2 * n + 1.2, 1.35 * len(names) + 0.5), squeeze=False, dpi=100)
    for row, name in enumerate(names):
        images = np.asarray(rows[name], dtype=np.float32)
        guesses = model.predict(images)
        for i in range(n):
            ax = axes[row, i]
            ax.imshow(_as_picture(images[i], image_shape, (0.0, 1.0)), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_xlabel(str(int(guesses[i])), color="black" if guesses[i] == y[i] else "red", fontsize=8)
            if row == 0:
                ax.set_title(f"true {int(y[i])}", fontsize=8)
        axes[row, 0].set_ylabel(name, fontsize=8)
    fig.suptitle(title or "each image's prediction (red: wrong)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_destruction(sweep: dict, path, *, title: str = "") -> str:
    """Kurakin et al.'s Figure 6: for each transformation, the destruction rate against its parameter, one line per
    method. ``sweep[method][transformation][parameter] = rate`` (parameters as strings of numbers, rates fractions)."""
    plt = _pyplot()
    methods = list(sweep)
    transformations = list(sweep[methods[0]])
    columns = min(4, len(transformations))
    grid_rows = -(-len(transformations) // columns)
    fig, axes = plt.subplots(grid_rows, columns, figsize=(3.2 * columns, 2.6 * grid_rows), squeeze=False, dpi=100)
    for k, key in enumerate(transformations):
        ax = axes[k // columns, k % columns]
        for j, method in enumerate(methods):
            points = sorted((float(p), 100 * v) for p, v in sweep[method][key].items())
            ax.plot([p for p, _ in points], [v for _, v in points], marker="o", ms=3, color=f"C{j}", label=method)
        ax.set(title=key, ylim=(-3, 103), ylabel="destroyed (%)" if k % columns == 0 else None)
        ax.title.set_fontsize(9)
    for k in range(len(transformations), grid_rows * columns):
        axes[k // columns, k % columns].axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title or "destruction rate against each transformation's parameter", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
