"""Figures of the linear-model chapters: constraint regions, shrinkage, coefficient paths, error
curves, bias and variance, selection frequencies. Every function takes results and returns a
matplotlib Figure or Axes; none of them fits a model. (The networks' figures are in
:mod:`regutils.plots_nn`, those of comparison records in :mod:`regutils.plots_comparisons`.)
"""

from __future__ import annotations

import numpy as np

from .checks import check_array, check_int, check_real

# one colour per role, used the same way in every figure
COLORS = {
    "ols": "0.35",
    "ridge": "tab:blue",
    "lasso": "tab:orange",
    "elasticnet": "tab:green",
    "train": "tab:blue",
    "cv": "tab:orange",
    "test": "tab:red",
    "null": "0.75",
}
# correlated blocks; none of these is used for a model or an error curve
BLOCK_COLORS = ["tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "darkgoldenrod"]


def _axes(ax, figsize=(6.4, 4.0)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _per_feature(n_features: int, true_coef=None, groups=None):
    """``(true_coef, groups)`` checked against ``n_features``: one number per feature and one
    integer block label per feature (``-1``: independent), either may be None."""
    if true_coef is not None:
        true_coef = check_array("true_coef", true_coef, ndim=1)
    if groups is not None:
        groups = check_array("groups", groups, ndim=1, integer=True)
    for name, arr in (("true_coef", true_coef), ("groups", groups)):
        if arr is not None and len(arr) != n_features:
            raise ValueError(f"{name} needs one entry per feature ({n_features}), got {len(arr)}")
    return true_coef, groups


def _series(name: str, value, length: int | None = None):
    """``value`` as a 1-D float array of finite numbers named ``name``, of ``length`` if given."""
    arr = check_array(name, value, ndim=1)
    if length is not None and len(arr) != length:
        raise ValueError(f"{name} has shape {arr.shape}, the alphas have ({length},)")
    return arr


def _feature_colors(n_features: int, true_coef=None, groups=None) -> list:
    """Features in the true support get a colour (one per correlated block, one for the
    independent ones); the others are light grey. ``true_coef`` and ``groups`` are checked
    already (:func:`_per_feature`)."""
    colors = []
    for j in range(n_features):
        if true_coef is None or true_coef[j] != 0:
            g = -1 if groups is None else int(groups[j])
            colors.append(BLOCK_COLORS[g % len(BLOCK_COLORS)] if g >= 0 else "black")
        else:
            colors.append(COLORS["null"])
    return colors


def _log_alpha_axis(ax) -> None:
    """A log-scale x axis for alpha, with ticks at the powers of ten only: the minor ticks
    of a log axis take a third of the time of drawing a path figure, and the chapters draw
    dozens of them."""
    ax.set_xscale("log")
    ax.minorticks_off()


def _check_dict(name: str, value, what: str) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a dict of {what}, got {type(value).__name__}")


def _check_path(path) -> None:
    for name in ("alphas", "coefs"):
        if not hasattr(path, name):
            raise ValueError(f"path must be a CoefPath (from regutils.penalties.coef_path), got {type(path).__name__}")


def plot_constraint_regions(A, center, radius: float, solutions: dict, *, levels: int = 7):
    """Least-squares loss contours with the L1 diamond and the L2 disc of the same ``radius``.

    ``A`` and ``center`` define the loss ``(w - center)^T A (w - center)``; ``solutions`` maps
    ``1`` and ``2`` to the constrained minimizers (from
    :func:`regutils.norm_ball_minimizer`). Returns a Figure with two panels.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Polygon

    A = check_array("A", A, ndim=2)
    c = check_array("center", center, ndim=1)
    if A.shape != (2, 2) or c.shape != (2,):
        raise ValueError(f"A must be 2 x 2 and center of length 2 (the plane of two weights), got {A.shape} and {c.shape}")
    radius = check_real("radius", radius, 0, closed="neither")
    _check_dict("solutions", solutions, "norm order -> minimizer")
    if set(solutions) != {1, 2}:
        raise ValueError(f"solutions must have keys 1 and 2, got {sorted(solutions)}")
    lim = 1.25 * max(np.abs(c).max() + radius, 2 * radius)
    grid = np.linspace(-lim, lim, 301)
    W1, W2 = np.meshgrid(grid, grid)
    D = np.stack([W1 - c[0], W2 - c[1]], axis=-1)
    loss = np.einsum("...i,ij,...j->...", D, A, D)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), layout="constrained", sharey=True)
    for ax, order in zip(axes, (1, 2)):
        w = check_array(f"solutions[{order}]", solutions[order], ndim=1)
        if w.shape != (2,):
            raise ValueError(f"solutions[{order}] must be a point of the plane (2 values), got shape {w.shape}")
        touch = (w - c) @ A @ (w - c)
        # contour levels spaced so that one of them passes through the solution
        ax.contour(W1, W2, loss, levels=touch * np.arange(1, levels + 1) ** 2 / 4, colors="0.6", linewidths=0.8)
        ax.contour(W1, W2, loss, levels=[touch], colors="0.2", linewidths=1.4)
        if order == 1:
            region = Polygon(radius * np.array([[1, 0], [0, 1], [-1, 0], [0, -1]]), closed=True)
            color, name = COLORS["lasso"], "L1 ball (lasso): $|w_1| + |w_2| \\leq t$"
        else:
            region = Circle((0, 0), radius)
            color, name = COLORS["ridge"], "L2 ball (ridge): $w_1^2 + w_2^2 \\leq t^2$"
        region.set(facecolor=color, alpha=0.35, edgecolor=color, linewidth=1.5)
        ax.add_patch(region)
        ax.plot(*c, "k+", markersize=10, label="least squares $\\hat w$")
        ax.plot(*w, "o", color=color, markeredgecolor="k", markersize=8, label=f"constrained minimum ({w[0]:.2f}, {w[1]:.2f})")
        ax.axhline(0, color="0.85", lw=0.8, zorder=0)
        ax.axvline(0, color="0.85", lw=0.8, zorder=0)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="$w_1$", title=name)
        ax.legend(loc="lower left", fontsize="small")
    axes[0].set_ylabel("$w_2$")
    return fig


def plot_shrinkage(z, curves: dict, *, threshold: float | None = None, ax=None):
    """Estimated coefficient against the least-squares coefficient ``z`` for orthonormal
    features: one line per entry of ``curves`` (label -> array like ``z``)."""
    _check_dict("curves", curves, "label -> coefficients")
    ax = _axes(ax, figsize=(5.2, 4.0))
    z = check_array("z", z, ndim=1)
    styles = {"ols": ("--", COLORS["ols"]), "ridge": ("-", COLORS["ridge"]), "lasso": ("-", COLORS["lasso"]), "elasticnet": ("-", COLORS["elasticnet"])}
    for i, (label, w) in enumerate(curves.items()):
        w = check_array(f"curves[{label!r}]", w)
        if w.shape != z.shape:
            raise ValueError(f"curve {label!r} has shape {w.shape}, z has {z.shape}")
        key = next((k for k in styles if label.lower().replace(" ", "").startswith(k)), None)
        ls, color = styles.get(key, ("-", f"C{i}"))
        ax.plot(z, w, ls, color=color, lw=2, label=label)
    if check_real("threshold", threshold, 0, allow_none=True) is not None:
        ax.axvspan(-threshold, threshold, color=COLORS["lasso"], alpha=0.12, label="lasso sets to 0")
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.set(xlabel="least-squares coefficient $z_j = x_j^\\top y$", ylabel="penalized coefficient $w_j$")
    ax.legend(fontsize="small")
    return ax


def plot_path(path, *, true_coef=None, groups=None, chosen_alpha=None, ax=None, title=None, absolute=False):
    """Coefficient of every feature against alpha (log scale).

    Features in the true support are coloured by correlated block (black: independent), the
    rest are grey; ``chosen_alpha`` is marked with a dashed vertical line.
    """
    _check_path(path)
    chosen_alpha = check_real("chosen_alpha", chosen_alpha, 0, closed="neither", allow_none=True)
    ax = _axes(ax)
    coefs = np.abs(path.coefs) if absolute else path.coefs
    colors = _feature_colors(coefs.shape[0], *_per_feature(coefs.shape[0], true_coef, groups))
    # grey null features first, so the true support is drawn on top
    order = sorted(range(coefs.shape[0]), key=lambda j: colors[j] != COLORS["null"])
    for j in order:
        null = colors[j] == COLORS["null"]
        ax.plot(path.alphas, coefs[j], color=colors[j], lw=0.8 if null else 1.5, zorder=1 if null else 2)
    if chosen_alpha is not None:
        ax.axvline(chosen_alpha, color="k", ls="--", lw=1, label=f"chosen alpha = {chosen_alpha:.3g}")
        ax.legend(fontsize="small", loc="upper right")
    ax.axhline(0, color="0.5", lw=0.6)
    _log_alpha_axis(ax)
    ax.set(xlabel="alpha (log scale)", ylabel="|coefficient|" if absolute else "coefficient")
    if title:
        ax.set_title(title)
    return ax


def plot_mse_curves(alphas, *, train, cv_mean, cv_se=None, test=None, chosen_alpha=None, ols_test=None, ax=None, title=None):
    """Training, cross-validated (± one standard error) and test MSE against alpha."""
    alphas = check_array("alphas", alphas, ndim=1, min_len=1)
    n = len(alphas)
    train, cv_mean = _series("train", train, n), _series("cv_mean", cv_mean, n)
    cv_se = None if cv_se is None else _series("cv_se", cv_se, n)
    test = None if test is None else _series("test", test, n)
    chosen_alpha = check_real("chosen_alpha", chosen_alpha, 0, closed="neither", allow_none=True)
    ols_test = check_real("ols_test", ols_test, allow_none=True)
    ax = _axes(ax)
    ax.plot(alphas, train, color=COLORS["train"], lw=2, label="training")
    ax.plot(alphas, cv_mean, color=COLORS["cv"], lw=2, label="5-fold CV (training split)")
    if cv_se is not None:
        ax.fill_between(alphas, cv_mean - cv_se, cv_mean + cv_se, color=COLORS["cv"], alpha=0.2, lw=0)
    if test is not None:
        ax.plot(alphas, test, color=COLORS["test"], lw=1.5, ls=":", label="test (shown, never used to choose)")
    if ols_test is not None:
        ax.axhline(ols_test, color=COLORS["ols"], ls="-.", lw=1, label="OLS test MSE")
    if chosen_alpha is not None:
        ax.axvline(chosen_alpha, color="k", ls="--", lw=1, label=f"chosen alpha = {chosen_alpha:.3g}")
    _log_alpha_axis(ax)
    ax.set(xlabel="alpha (log scale)", ylabel="mean squared error")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def plot_coef_and_mse(path, mse: dict, *, true_coef=None, groups=None, chosen_alpha=None, ax=None, title=None, mse_ylim=None):
    """The dual-axis view: ``|coefficient|`` of every feature (left axis) and MSE curves (right
    axis, ``mse`` maps a label to an array over ``path.alphas``) against alpha, log scale.
    Returns the left Axes; the right one is ``ax.right_ax``."""
    _check_path(path)
    _check_dict("mse", mse, "label -> MSE per alpha")
    chosen_alpha = check_real("chosen_alpha", chosen_alpha, 0, closed="neither", allow_none=True)
    ax = plot_path(path, true_coef=true_coef, groups=groups, ax=ax, absolute=True)
    ax2 = ax.twinx()
    styles = {"train": ("-", COLORS["train"]), "cv": ("-", COLORS["cv"]), "test": (":", COLORS["test"])}
    for i, (label, values) in enumerate(mse.items()):
        values = check_array(f"mse[{label!r}]", values)
        if values.shape != path.alphas.shape:
            raise ValueError(f"mse[{label!r}] has shape {values.shape}, the path has {path.alphas.shape} alphas")
        key = next((k for k in styles if label.lower().startswith(k)), None)
        ls, color = styles.get(key, ("-", f"C{i}"))
        ax2.plot(path.alphas, values, ls, color=color, lw=2.2, label=f"{label} MSE")
    if chosen_alpha is not None:
        ax2.axvline(chosen_alpha, color="k", ls="--", lw=1, label=f"chosen alpha = {chosen_alpha:.3g}")
    ax2.set_ylabel("mean squared error")
    if mse_ylim is not None:
        ax2.set_ylim(*mse_ylim)
    ax2.legend(fontsize="small", loc="upper left")
    if title:
        ax.set_title(title)
    ax.right_ax = ax2
    return ax


def _model_color(name: str, i: int) -> str:
    """The role colour of a model named like ``"Lasso (CV)"`` or ``"elastic net"``, else ``C{i}``."""
    key = name.lower().replace(" ", "")
    return next((COLORS[k] for k in ("ols", "ridge", "lasso", "elasticnet") if key.startswith(k)), f"C{i}")


def _shade_blocks(ax, groups) -> None:
    """Shade each correlated block of features (``groups[j] >= 0``), alternating greys."""
    if groups is None:
        return
    for g in sorted(set(int(v) for v in groups if v >= 0)):
        idx = np.flatnonzero(groups == g)
        ax.axvspan(idx.min() - 0.5, idx.max() + 0.5, color="0.93" if g % 2 else "0.87", zorder=0)


def _per_feature_axes(ax, series: dict, what: str, groups, figsize):
    """``(ax, names, n, x)`` for a figure with one value per feature and series: the axes with
    the correlated blocks shaded, the series names, the number of features and their positions."""
    _check_dict(what, series, "name -> one value per feature")
    ax = _axes(ax, figsize=figsize)
    names = list(series)
    if not names:
        raise ValueError(f"{what} is empty")
    n = len(check_array(f"{what}[{names[0]!r}]", series[names[0]], ndim=1))
    _, groups = _per_feature(n, None, groups)
    _shade_blocks(ax, groups)
    return ax, names, n, np.arange(n)


def plot_coef_comparison(coefs: dict, *, true_coef=None, groups=None, feature_names=None, ax=None):
    """Coefficients of several models side by side, one marker per feature and model.

    Correlated blocks are shaded and labelled; the true coefficients (if given) are drawn as
    black bars.
    """
    ax, names, n, x = _per_feature_axes(ax, coefs, "coefs", groups, figsize=(10, 3.8))
    true_coef, _ = _per_feature(n, true_coef)
    if true_coef is not None:
        ax.bar(x, true_coef, width=0.8, color="none", edgecolor="k", lw=1, label="true", zorder=1)
    offsets = np.linspace(-0.25, 0.25, len(names)) if len(names) > 1 else [0.0]
    markers = "os^Dv"
    for i, (name, w) in enumerate(coefs.items()):
        w = check_array(f"coefs[{name!r}]", w)
        if w.shape != (n,):
            raise ValueError(f"coefs[{name!r}] has shape {w.shape}, expected ({n},)")
        color = _model_color(name, i)
        zero = w == 0
        ax.scatter(x[~zero] + offsets[i], w[~zero], s=18, marker=markers[i % 5], color=color, label=name, zorder=3)
        ax.scatter(x[zero] + offsets[i], w[zero], s=18, marker=markers[i % 5], facecolor="none", edgecolor=color, lw=0.8, zorder=3)
    ax.axhline(0, color="0.5", lw=0.6)
    if feature_names is not None:
        ax.set_xticks(x[::4], [feature_names[j] for j in x[::4]], fontsize="small")
    ax.set(xlim=(-0.7, n - 0.3), xlabel="feature (shaded: correlated blocks; hollow marker: exactly 0)", ylabel="coefficient")
    ax.legend(fontsize="small", ncol=len(names) + 1, loc="upper right")
    return ax


def plot_path_frame(path, k: int, *, mse: dict, true_coef=None, groups=None, mse_ylim=None):
    """One frame of the interactive figure: the coefficients at ``path.alphas[k]`` (left) and
    MSE curves along the whole path (right; ``mse`` maps a label such as ``"training"`` or
    ``"CV"`` to an array over ``path.alphas``) with ``alphas[k]`` marked. Returns the Figure."""
    import matplotlib.pyplot as plt

    _check_path(path)
    _check_dict("mse", mse, "label -> MSE per alpha")
    k = check_int("k", k)
    if not 0 <= k < len(path.alphas):
        raise ValueError(f"k must index path.alphas (0..{len(path.alphas) - 1}), got {k}")
    # fixed margins, not constrained layout: a widget renders dozens of these frames, and
    # the layout solver would be most of the cost of each one
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2), width_ratios=(1.6, 1))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.9, wspace=0.28)
    w = path.coefs[:, k]
    n = len(w)
    true_coef, groups = _per_feature(n, true_coef, groups)
    colors = _feature_colors(n, true_coef, groups)
    left.bar(np.arange(n), w, color=colors, width=0.8)
    if true_coef is not None:
        left.scatter(np.arange(n), true_coef, marker="_", s=60, color="k", lw=1.2, label="true", zorder=3)
        left.legend(fontsize="small", loc="lower right")
    lim = 1.1 * np.abs(path.coefs).max()
    left.set(ylim=(-lim, lim), xlabel="feature index", ylabel="coefficient")
    label = path.penalty if path.l1_ratio is None else f"{path.penalty}, l1_ratio={path.l1_ratio:g}"
    left.set_title(f"{label}: alpha={path.alphas[k]:.3g}, {np.count_nonzero(w)} non-zero", fontsize="medium")
    styles = {"train": ("-", COLORS["train"]), "cv": ("-", COLORS["cv"]), "test": (":", COLORS["test"])}
    for i, (name, values) in enumerate(mse.items()):
        values = check_array(f"mse[{name!r}]", values)
        if values.shape != path.alphas.shape:
            raise ValueError(f"mse[{name!r}] has shape {values.shape}, the path has {path.alphas.shape} alphas")
        ls, color = styles.get(next((s for s in styles if name.lower().startswith(s)), None), ("-", f"C{i}"))
        right.plot(path.alphas, values, ls, color=color, lw=1.8, label=name)
        right.plot(path.alphas[k], values[k], "o", color=color, ms=5)
    right.axvline(path.alphas[k], color="k", ls="--", lw=1)
    _log_alpha_axis(right)
    if mse_ylim is not None:
        right.set_ylim(*mse_ylim)
    right.set(xlabel="alpha (log scale)", ylabel="MSE")
    right.legend(fontsize="small", loc="upper left")
    return fig


def plot_bias_variance(table, *, ax=None, title=None, ylim=None):
    """Expected test MSE and its parts against alpha for one model.

    ``table`` has columns ``alpha``, ``bias2``, ``variance``, ``expected_mse`` and ``noise``
    (one model's rows of ``ru.bias_variance``). The noise floor is drawn as a
    horizontal line: no model can go below it on average.
    """
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame (one model's rows of ru.bias_variance), got {type(table).__name__}")
    ax = _axes(ax)
    missing = {"alpha", "bias2", "variance", "expected_mse", "noise"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {', '.join(sorted(missing))}")
    a = table["alpha"].to_numpy()
    ax.plot(a, table["expected_mse"], color="k", lw=2.2, label="expected test MSE")
    ax.plot(a, table["bias2"], color="tab:purple", lw=1.8, label="squared bias")
    ax.plot(a, table["variance"], color="tab:cyan", lw=1.8, label="variance")
    ax.axhline(table["noise"].iloc[0], color=COLORS["ols"], ls=":", lw=1.5, label="noise floor")
    best = int(np.argmin(table["expected_mse"].to_numpy()))
    ax.axvline(a[best], color="k", ls="--", lw=1, label=f"lowest expected MSE, alpha = {a[best]:.3g}")
    _log_alpha_axis(ax)
    ax.set(xlabel="alpha (log scale)", ylabel="mean squared error")
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def plot_selection_frequency(freqs: dict, *, true_coef=None, groups=None, feature_names=None, ax=None):
    """How often each feature is selected across draws, one bar series per model.

    ``freqs`` maps a model name to an array of per-feature selection frequencies in [0, 1].
    Correlated blocks are shaded; features in the true support (``true_coef != 0``) are marked
    with a black dot at 1.
    """
    ax, names, n, x = _per_feature_axes(ax, freqs, "freqs", groups, figsize=(10, 3.4))
    width = 0.8 / len(names)
    for i, (name, f) in enumerate(freqs.items()):
        f = check_array(f"freqs[{name!r}]", f)
        if f.shape != (n,) or np.any((f < 0) | (f > 1)):
            raise ValueError(f"freqs[{name!r}] must be {n} values in [0, 1]")
        color = _model_color(name, i)
        ax.bar(x + (i - (len(names) - 1) / 2) * width, f, width=width, color=color, label=name, zorder=2)
    true_coef, _ = _per_feature(n, true_coef)
    if true_coef is not None:
        support = np.flatnonzero(true_coef != 0)
        ax.plot(support, np.ones(len(support)), "k.", ms=5, label="truly non-zero", zorder=3)
    if feature_names is not None:
        ax.set_xticks(x[::4], [feature_names[j] for j in x[::4]], fontsize="small")
    ax.set(xlim=(-0.7, n - 0.3), ylim=(0, 1.08), xlabel="feature (shaded: correlated blocks)",
           ylabel="share of draws selected")
    ax.legend(fontsize="small", ncol=len(names) + 1, loc="upper right")
    return ax
