"""Figures of the lab (matplotlib, an optional extra: ``pip install -e ".[plot]"``).

Each function draws one figure and writes it to a PNG file atomically; nothing else
in the project imports matplotlib. The Agg backend is used, so no display is needed.
"""

from __future__ import annotations

import math
import os

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


def _as_picture(row, shape):
    """A (H, W) grey or (H, W, 3) colour image from one row, clipped to [0, 1] for display."""
    if len(shape) == 3:
        image = row.reshape(shape)
        image = image[0] if shape[0] == 1 else image.transpose(1, 2, 0)
    else:
        image = row.reshape(shape)
    return image.clip(0.0, 1.0)


def plot_examples(model, x, x_adv, y, path, *, n: int = 8, image_shape=None, title: str = "") -> str:
    """Clean images (top row) above their adversarial versions, each with label and confidence.

    Our version of the paper's panda and gibbon: the two rows look alike to a person,
    and the model's answers below them do not. ``image_shape`` defaults to the model's
    ``input_shape`` (C, H, W) if it has one (three channels are drawn in colour), else
    to square grey images.
    """
    image_shape = image_shape or image_shape_of(model, x.shape[1])
    if image_shape is None:
        raise ValueError(f"plot_examples: rows of {x.shape[1]} features are not square images: pass image_shape")
    plt = _pyplot()
    n = min(n, len(x))
    clean, adversarial = model.predict_with_proba(x[:n]), model.predict_with_proba(x_adv[:n])
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.2), squeeze=False, dpi=100)
    for i in range(n):
        for row, (images, (guesses, proba)) in enumerate(((x, clean), (x_adv, adversarial))):
            ax = axes[row, i]
            ax.imshow(_as_picture(images[i], image_shape), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            guess = int(guesses[i])
            ax.set_xlabel(f"{guess} ({100 * proba[i, guess]:.0f}%)", color="black" if guess == y[i] else "red", fontsize=8)
    axes[0, 0].set_ylabel("clean", fontsize=9)
    axes[1, 0].set_ylabel("adversarial", fontsize=9)
    fig.suptitle(title or "prediction (confidence); red: wrong", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_eps_curves(curves: dict, path, *, title: str = "") -> str:
    """Error rate and confidence on mistakes versus eps, one line per entry of ``curves``.

    ``curves`` maps a label (e.g. "maxout, FGSM" or "maxout, noise") to the rows of
    :func:`attacks.evaluate`. Labels sharing the text before the comma share a colour;
    those containing "noise" are dashed.
    """
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=100)
    models = list(dict.fromkeys(label.split(",")[0] for label in curves))  # one colour per model
    for label, rows in curves.items():
        eps = [r["eps"] for r in rows]
        look = dict(linestyle="--" if "noise" in label else "-", marker="o", ms=3, label=label,
                    color=f"C{models.index(label.split(',')[0]) % 10}")
        left.plot(eps, [100 * r["error_rate"] for r in rows], **look)
        right.plot(eps, [100 * r["confidence_wrong"] for r in rows], **look)
    left.set(xlabel="eps", ylabel="error rate (%)", ylim=(0, 100))
    right.set(xlabel="eps", ylabel="mean confidence on mistakes (%)", ylim=(0, 100))
    left.legend(fontsize=7)
    n = next(iter(curves.values()))[0]["n"] if curves else 0
    fig.suptitle(title or f"n = {n} test examples", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_linearity(walk: dict, path, *, example: int = 0, title: str = "") -> str:
    """The logits of one example along the FGSM direction (the paper's Figure 4)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=100)
    logits = walk["logits"][:, example, :]
    for c in range(logits.shape[1]):
        ax.plot(walk["eps"], logits[:, c], lw=2.5 if c == walk["labels"][example] else 1, label=str(c))
    ax.axvline(0, color="gray", lw=0.5)
    ax.set(xlabel="eps (along sign of the gradient)", ylabel=walk.get("output", "logit"))
    ax.legend(fontsize=6, ncol=2, title="class", title_fontsize=7)
    ax.set_title(title or f"{walk.get('output', 'logit')} along the FGSM direction (label {walk['labels'][example]})",
                 fontsize=9)
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
    ax.set(xlabel="epoch", ylabel="accuracy on held-out images (%)", ylim=(0, 100))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: a run at 0 stays visible
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
