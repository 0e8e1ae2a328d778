"""Figures for the neural-network chapters (dropout, weight decay, early stopping, experiments).

Every function takes results — :class:`regutils.History` objects, arrays of scores, confusion
matrices, images — and returns a matplotlib Figure or Axes. None of them trains or evaluates
a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .checks import check_array, check_int
from .plots_linear import _axes

__all__ = [
    "NN_COLORS",
    "plot_learning_curves",
    "plot_confusion",
    "plot_predictions",
    "plot_reliability",
    "plot_weight_histograms",
    "plot_shrinkage_filters",
    "plot_seed_intervals",
]

# one colour per role, the same in every figure of these chapters
NN_COLORS = {"train": "tab:blue", "val": "tab:orange", "test": "tab:red", "best": "tab:green", "stop": "0.3"}


def _history_like(what: str, h) -> None:
    for name in ("train_loss", "val_loss", "train_acc", "val_acc", "best_epoch", "stopped_epoch"):
        if not hasattr(h, name):
            raise ValueError(f"{what} must be a regutils.History (needs .{name}), got {type(h).__name__}")


def plot_learning_curves(
    histories,
    *,
    labels: Sequence[str] | None = None,
    metric: str = "loss",
    mark_best: bool = True,
    mark_stop: bool = False,
    ax=None,
    title: str | None = None,
    ylim=None,
):
    """Training (dashed) and validation (solid) curves of one or more runs.

    Parameters
    ----------
    histories
        A :class:`regutils.History` or a sequence of them; each gets one colour.
    labels
        One legend label per history (default: none for one history, ``run 1``, ``run 2`` …).
    metric
        ``"loss"`` (cross-entropy) or ``"error"`` (``1 − accuracy``, in percent).
    mark_best
        Put a dot on the validation curve at each history's ``best_epoch``.
    mark_stop
        Draw a vertical line at each history's ``stopped_epoch`` when early stopping ended
        the run (``stop_reason == "early_stopping"``). For a run that early stopping only
        watched (``sweep(..., stop_early=False)``, ``early_stop_epoch`` set): a vertical line
        at ``early_stop_epoch``, where it would have ended the run, and a diamond on the
        validation curve at ``early_stop_best_epoch``, the epoch whose weights it would have
        restored.
    ax, title, ylim
        Axes to draw into (default: a new figure), its title and y limits.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    single = not isinstance(histories, Sequence)
    hs = [histories] if single else list(histories)
    if not hs:
        raise ValueError("histories is empty: need at least one History")
    for i, h in enumerate(hs):
        _history_like("histories" if single else f"histories[{i}]", h)
    if metric not in ("loss", "error"):
        raise ValueError(f"metric must be 'loss' or 'error', got {metric!r}")
    if labels is not None and len(labels) != len(hs):
        raise ValueError(f"labels needs one entry per history ({len(hs)}), got {len(labels)}")
    if labels is None:
        labels = [None] if single else [f"run {i + 1}" for i in range(len(hs))]
    ax = _axes(ax)
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (h, label) in enumerate(zip(hs, labels)):
        if metric == "loss":
            train, val = np.asarray(h.train_loss), np.asarray(h.val_loss)
        else:
            train, val = 100 * (1 - np.asarray(h.train_acc)), 100 * (1 - np.asarray(h.val_acc))
        epochs = np.arange(1, len(train) + 1)
        if len(hs) == 1:
            c_train, c_val = NN_COLORS["train"], NN_COLORS["val"]
        else:
            c_train = c_val = cycle[i % len(cycle)]
        prefix = f"{label}: " if label else ""
        ax.plot(epochs, train, ls="--", color=c_train, lw=1.3, label=f"{prefix}training")
        ax.plot(epochs, val, ls="-", color=c_val, lw=1.8, label=f"{prefix}validation")
        if mark_best and h.best_epoch >= 1:
            ax.plot(h.best_epoch, val[h.best_epoch - 1], "o", color=c_val, mec="k", ms=7, zorder=4)
        stop_color = NN_COLORS["stop"] if len(hs) == 1 else c_val
        if mark_stop and getattr(h, "stop_reason", "") == "early_stopping":
            ax.axvline(h.stopped_epoch, color=stop_color, ls=":", lw=1.5)
        elif mark_stop and getattr(h, "early_stop_epoch", None) is not None:
            ax.axvline(h.early_stop_epoch, color=stop_color, ls=":", lw=1.5)
            restored = h.early_stop_best_epoch
            ax.plot(restored, val[restored - 1], "D", color=stop_color, mfc="white", ms=6, zorder=5)
    ax.set(
        xlabel="epoch",
        ylabel="cross-entropy (nats)" if metric == "loss" else "error (%)",
        title=title,
    )
    if ylim is not None:
        ax.set_ylim(ylim)
    ax.legend(fontsize=8)
    return ax


def plot_confusion(confusion, *, ax=None, title: str | None = None, class_names: Sequence[str] | None = None):
    """A confusion matrix (rows: true class, columns: predicted class) as an image.

    The diagonal is left blank so the errors — which are what a good classifier's matrix is
    about — are readable; every non-zero off-diagonal count is written in its cell, and the
    diagonal counts are given in the tick labels as the per-class number correct.

    Parameters
    ----------
    confusion
        Square array of non-negative counts, ``confusion[i, j]`` = rows of class ``i``
        predicted as ``j`` (scikit-learn's convention).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    cm = check_array("confusion", confusion, ndim=2)
    if cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"confusion must be a non-empty square matrix, got shape {cm.shape}")
    if np.any(cm < 0):
        raise ValueError("confusion must hold non-negative counts")
    k = cm.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else list(class_names)
    if len(names) != k:
        raise ValueError(f"class_names needs {k} entries, got {len(names)}")
    ax = _axes(ax, figsize=(5, 4.6))
    errors = cm.astype(float).copy()
    np.fill_diagonal(errors, np.nan)
    vmax = max(np.nanmax(errors), 1.0) if k > 1 else 1.0
    cmap = plt.get_cmap("Reds").with_extremes(bad="white")
    ax.imshow(errors, cmap=cmap, vmin=0, vmax=vmax)
    for i in range(k):
        for j in range(k):
            if i != j and cm[i, j] > 0:
                color = "white" if cm[i, j] > 0.6 * vmax else "black"
                ax.text(j, i, f"{cm[i, j]:g}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), [f"{n} ({cm[i, i]:g})" for i, n in enumerate(names)], fontsize=8)
    ax.set(xlabel="predicted class", ylabel="true class (correct)", title=title)
    return ax


def plot_predictions(
    images, y_true, y_pred, *, confidence=None, ncols: int = 8, title: str | None = None, figsize=None
):
    """A grid of digit images titled with the prediction; wrong predictions in red.

    Parameters
    ----------
    images
        Array ``(N, 28, 28)`` (or any ``(N, h, w)``) of pixel intensities.
    y_true, y_pred
        True and predicted labels, length ``N``.
    confidence
        Optional probability the model gave its prediction, shown next to it.
    figsize
        Figure size in inches; default 1.15 × 1.35 per image. At the book's 100 dpi a
        width of 6.4 renders at about the width of the page's text, so every digit stays
        legible without scaling down.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    imgs = check_array("images", images)
    if imgs.ndim != 3 or len(imgs) == 0:
        raise ValueError(f"images must have shape (N, height, width) with N >= 1, got {imgs.shape}")
    y_true = check_array("y_true", y_true, integer=True)
    y_pred = check_array("y_pred", y_pred, integer=True)
    if y_true.shape != (len(imgs),) or y_pred.shape != (len(imgs),):
        raise ValueError(f"y_true and y_pred need one label per image ({len(imgs)})")
    if confidence is not None:
        confidence = check_array("confidence", confidence)
        if confidence.shape != (len(imgs),):
            raise ValueError(f"confidence needs one value per image ({len(imgs)})")
    ncols = check_int("ncols", ncols, 1)
    ncols = min(ncols, len(imgs))
    nrows = -(-len(imgs) // ncols)
    if figsize is None:
        figsize = (1.15 * ncols, 1.35 * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, layout="constrained", squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= len(imgs):
            continue
        ax.imshow(imgs[k], cmap="gray_r", vmin=0, vmax=1)
        wrong = y_pred[k] != y_true[k]
        text = f"{y_pred[k]}" + (f" ({confidence[k]:.0%})" if confidence is not None else "")
        if wrong:
            text += f"\ntrue {y_true[k]}"
        ax.set_title(text, fontsize=8, color="tab:red" if wrong else "black")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_reliability(calibrations: Mapping[str, dict], *, ax=None, title: str | None = None):
    """Reliability diagram: accuracy against confidence per confidence bin, one line per model.

    Parameters
    ----------
    calibrations
        Label → the dict ``regutils.calibration`` returns (``bin_confidence``,
        ``bin_accuracy``, ``bin_count``, ``ece``). Empty bins (``None``) are skipped; each
        non-empty bin is one marker at (mean confidence, accuracy) with an area that grows
        with the number of images in it. The legend gives each model's ECE.

    Returns
    -------
    matplotlib.axes.Axes
        The dashed diagonal (perfect calibration) is the first line, then one line per model
        in the order of ``calibrations``.
    """
    if not calibrations:
        raise ValueError("calibrations is empty: need at least one label -> regutils.calibration result")
    for name, cal in calibrations.items():
        missing = [k for k in ("bin_confidence", "bin_accuracy", "bin_count", "ece") if k not in cal]
        if missing:
            raise ValueError(f"calibrations[{name!r}] is not a regutils.calibration result (missing {missing})")
    ax = _axes(ax, figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="perfect calibration")
    for i, (name, cal) in enumerate(calibrations.items()):
        kept = [(c, a, n) for c, a, n in zip(cal["bin_confidence"], cal["bin_accuracy"], cal["bin_count"]) if n]
        conf, acc, count = (np.array(v, dtype=float) for v in zip(*kept)) if kept else ([], [], [])
        color = f"C{i}"
        ax.plot(conf, acc, "-", color=color, lw=1.4, label=f"{name} (ECE {100 * cal['ece']:.2f} %)")
        ax.scatter(conf, acc, s=8 + 6 * np.sqrt(count), color=color, alpha=0.6, zorder=3, linewidths=0)
    ax.set(xlabel="confidence (largest predicted probability)", ylabel="accuracy", title=title)
    ax.set_aspect("equal", adjustable="box")
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_weight_histograms(weights: Mapping[str, np.ndarray], *, bins: int = 80, ax=None, title: str | None = None, xlim=None):
    """Overlaid density histograms (log y) of weight values, one per label.

    ``weights`` maps a label (e.g. ``"weight_decay = 1e-4"``) to any array of weights; it is
    flattened. All histograms share the same bin edges so their shapes compare directly.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not weights:
        raise ValueError("weights is empty: need at least one label -> array")
    flat = {k: check_array(f"weights[{k!r}]", v).ravel() for k, v in weights.items()}
    for k, v in flat.items():
        if v.size == 0:
            raise ValueError(f"weights[{k!r}] is empty")
    bins = check_int("bins", bins, 1)
    lo = min(v.min() for v in flat.values()) if xlim is None else xlim[0]
    hi = max(v.max() for v in flat.values()) if xlim is None else xlim[1]
    if hi <= lo:
        hi = lo + 1e-12
    edges = np.linspace(lo, hi, bins + 1)
    ax = _axes(ax)
    for i, (k, v) in enumerate(flat.items()):
        ax.hist(np.clip(v, lo, hi), bins=edges, density=True, histtype="step", lw=1.6, color=f"C{i}", label=k)
    ax.set_yscale("log")
    ax.set(xlabel="weight value", ylabel="density", title=title)
    ax.legend(fontsize=8)
    return ax


def plot_shrinkage_filters(eigvals, curves: Mapping[str, np.ndarray], *, ax=None, title: str | None = None):
    """Shrinkage factor (fraction of the least-squares solution kept) against Hessian eigenvalue.

    ``curves`` maps a label to factors of the same length as ``eigvals`` (for example from
    :func:`regutils.theory.shrinkage_factors`). The x axis is logarithmic, so eigenvalues must
    be > 0.

    Returns
    -------
    matplotlib.axes.Axes
    """
    lam = check_array("eigvals", eigvals)
    if lam.ndim != 1 or lam.size == 0 or np.any(lam <= 0):
        raise ValueError("eigvals must be a non-empty 1-d array of positive values")
    if not curves:
        raise ValueError("curves is empty")
    order = np.argsort(lam)
    ax = _axes(ax)
    styles = ["-", "--", ":", "-."]
    for i, (name, f) in enumerate(curves.items()):
        f = check_array(f"curves[{name!r}]", f)
        if f.shape != lam.shape:
            raise ValueError(f"curve {name!r} must have the shape of eigvals {lam.shape}, got {f.shape}")
        ax.plot(lam[order], f[order], styles[i % 4], marker="o", ms=3, lw=1.6, label=name)
    ax.set_xscale("log")
    ax.set(xlabel="Hessian eigenvalue λ", ylabel="fraction of least-squares weight kept", ylim=(-0.03, 1.03), title=title)
    ax.legend(fontsize=8)
    return ax


def plot_seed_intervals(
    values,
    series: Mapping[str, np.ndarray],
    *,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    confidence: float = 0.95,
    reference: np.ndarray | None = None,
    reference_label: str = "reference",
    ax=None,
    title: str | None = None,
    colors: Mapping[str, str] | None = None,
):
    """Mean over seeds with its t-interval (:func:`regutils.stats.summarize_seeds`), against a hyperparameter.

    The error bar is the ``confidence`` interval of the mean, ``t_{(1+c)/2, n-1} · sd / sqrt(n)``, and every seed's
    value is drawn as a dot.

    Parameters
    ----------
    values
        The hyperparameter values, shape ``(k,)``.
    series
        Name → scores of shape ``(k, seeds)`` with at least two seeds; row ``i`` belongs to
        ``values[i]``.
    reference
        Optional scores of a reference configuration over the same seeds (e.g. the
        unregularized network), drawn as a grey band: its mean's interval.
    logx
        Logarithmic x axis (values must be > 0).

    Returns
    -------
    matplotlib.axes.Axes
        One errorbar container per series, in ``ax.containers``, in the order of ``series``.
    """
    from .stats import summarize_seeds

    x = check_array("values", values)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values must be a non-empty 1-d sequence, got shape {x.shape}")
    if not series:
        raise ValueError("series is empty: need at least one name -> (k, seeds) array")
    if logx and np.any(x <= 0):
        raise ValueError("logx=True needs values > 0")
    ax = _axes(ax)
    if reference is not None:
        ref = summarize_seeds(check_array("reference", reference).ravel(), confidence)
        lo, hi = ref["mean"] - ref["half_width"], ref["mean"] + ref["half_width"]
        ax.axhspan(lo, hi, color="0.88", label=f"{reference_label} ({confidence:.0%} interval)")
        ax.axhline(ref["mean"], color="0.6", lw=1)
    for i, (name, scores) in enumerate(series.items()):
        s = check_array(f"series[{name!r}]", scores)
        if s.ndim != 2 or s.shape[0] != x.size or s.shape[1] < 2:
            raise ValueError(f"series {name!r} must have shape ({x.size}, seeds >= 2), got {np.shape(scores)}")
        rows = [summarize_seeds(row, confidence) for row in s]
        mean = np.array([r["mean"] for r in rows])
        half = np.array([r["half_width"] for r in rows])
        color = (colors or {}).get(name, f"C{i}")
        ax.errorbar(x, mean, yerr=half, fmt="o-", color=color, capsize=4, lw=1.6, label=name)
        ax.scatter(np.repeat(x, s.shape[1]), s.ravel(), s=10, color=color, alpha=0.45, zorder=3, linewidths=0)
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    return ax
