"""Parameter norm penalties for linear models: objectives, paths, cross-validation, selection.

Every objective here is written exactly as scikit-learn minimizes it (``w`` are the
coefficients, ``b`` the intercept, which is never penalized, ``n`` the number of rows):

* ``Ridge(alpha)``:        ``||y - Xw - b||_2^2 + alpha * ||w||_2^2``  (no ``1/n``)
* ``Lasso(alpha)``:        ``1/(2n) * ||y - Xw - b||_2^2 + alpha * ||w||_1``
* ``ElasticNet(alpha, l1_ratio)``:
  ``1/(2n) * ||y - Xw - b||_2^2 + alpha * l1_ratio * ||w||_1
  + 0.5 * alpha * (1 - l1_ratio) * ||w||_2^2``

so ``Ridge(alpha)`` has the minimizer of ``ElasticNet(alpha / n, l1_ratio=0)``: the same
number ``alpha`` means very different penalties in the two. How these map to other libraries' knobs (torch ``weight_decay``, ``C``, Goodfellow's
``α``) is explained once, on the book's notation page; :func:`weight_decay_equivalent` and
:func:`map_alpha` are its computed forms.

Cross-validation standardizes inside the folds (:func:`cv_curve` with ``standardize=True``,
:func:`fit_cv_models`): a scaler fit on all training rows has seen every held-out fold.
The path and cross-validation helpers never emit a ``ConvergenceWarning`` on the book's
data: coordinate descent runs with a generous ``max_iter`` along a warm-started path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .checks import check_array, check_bool, check_int, check_options, check_real

try:  # the Gram coordinate descent that sklearn.linear_model.enet_path runs (private API)
    from sklearn.linear_model._cd_fast import enet_coordinate_descent_gram as _cd_gram
except ImportError:  # pragma: no cover - another scikit-learn layout: the public route
    _cd_gram = None

PENALTIES = ("ridge", "lasso", "elasticnet")

# Coordinate descent stops when the duality gap falls below tol * ||y||^2 / n. These values
# converge on the book's 80 x 48 problem over alpha >= 1e-4 without warnings and still take
# well under a second per path.
MAX_ITER = 200_000
TOL = 1e-6


# ---------------------------------------------------------------------------------------------
# Validation


def _as_features(X, *, min_rows: int = 1) -> np.ndarray:
    """``X`` (2-D, at least ``min_rows`` rows and one column) as a float array of finite numbers."""
    X = check_array("X", X, ndim=2, min_len=min_rows)
    if X.shape[1] == 0:
        raise ValueError(f"X must have at least one column (feature), got shape {X.shape}")
    return X


def _as_xy(X, y, *, min_rows: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as :func:`_as_features` checks it and ``y`` (1-D, one value per row) as float
    arrays of finite numbers.

    The one check of a data set in the package (:mod:`regutils.theory` uses it too).
    """
    X = _as_features(X, min_rows=min_rows)
    y = check_array("y", y, ndim=1)
    if len(y) != len(X):
        raise ValueError(f"y must be 1-D with one value per row of X ({len(X)}), got shape {y.shape}")
    return X, y


def _as_alphas(alphas) -> np.ndarray:
    alphas = check_array("alphas", alphas, ndim=1, min_len=1)
    if not (alphas > 0).all():
        raise ValueError(f"alphas must be > 0, got {float(alphas.min())!r}")
    if np.unique(alphas).size != alphas.size:
        raise ValueError("alphas must not repeat a value")
    return np.sort(alphas)


def _standardizer(X: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Means and standard deviations along ``axis`` as ``StandardScaler`` computes them; a
    constant column gets scale 1, as ``StandardScaler`` leaves it (centred to zeros)."""
    mean, scale = X.mean(axis=axis), X.std(axis=axis)
    return mean, np.where(scale > 0, scale, 1.0)


def _check_penalty(penalty: str, l1_ratio) -> float | None:
    check_options("penalty", penalty, PENALTIES)
    if penalty == "elasticnet":
        return check_real("l1_ratio", l1_ratio, 0.0, 1.0, closed="right")
    return None


# ---------------------------------------------------------------------------------------------
# Objectives, written out


def _residual(w, X, y, intercept) -> tuple[np.ndarray, np.ndarray]:
    X, y = _as_xy(X, y)
    w = check_array("w", w, ndim=1)
    if len(w) != X.shape[1]:
        raise ValueError(f"w must have one value per column of X ({X.shape[1]}), got {len(w)}")
    return w, y - X @ w - check_real("intercept", intercept)


def ridge_objective(w, X, y, alpha: float, intercept: float = 0.0) -> float:
    """``||y - Xw - b||_2^2 + alpha * ||w||_2^2``: what ``sklearn.linear_model.Ridge`` minimizes."""
    alpha = check_real("alpha", alpha, 0.0)
    w, r = _residual(w, X, y, intercept)
    return float(r @ r + alpha * np.sum(w * w))


def lasso_objective(w, X, y, alpha: float, intercept: float = 0.0) -> float:
    """``1/(2n) * ||y - Xw - b||_2^2 + alpha * ||w||_1``: what ``sklearn.linear_model.Lasso`` minimizes."""
    alpha = check_real("alpha", alpha, 0.0)
    w, r = _residual(w, X, y, intercept)
    return float(r @ r / (2 * len(r)) + alpha * np.sum(np.abs(w)))


def elastic_net_objective(w, X, y, alpha: float, l1_ratio: float, intercept: float = 0.0) -> float:
    """What ``sklearn.linear_model.ElasticNet`` minimizes.

    ``1/(2n) * ||y - Xw - b||_2^2 + alpha * l1_ratio * ||w||_1
    + 0.5 * alpha * (1 - l1_ratio) * ||w||_2^2``
    """
    alpha = check_real("alpha", alpha, 0.0)
    l1_ratio = check_real("l1_ratio", l1_ratio, 0.0, 1.0)
    w, r = _residual(w, X, y, intercept)
    return float(
        r @ r / (2 * len(r))
        + alpha * l1_ratio * np.sum(np.abs(w))
        + 0.5 * alpha * (1 - l1_ratio) * np.sum(w * w)
    )


def weight_decay_equivalent(
    alpha: float,
    *,
    penalty: str,
    n_samples: int | None = None,
    l1_ratio: float | None = None,
) -> float:
    """The torch ``weight_decay`` whose L2 term matches scikit-learn's ``alpha``.

    Assumes the torch loss is ``torch.nn.MSELoss()`` (the *mean* of squared errors, no 1/2)
    and full-batch gradient steps. ``weight_decay=wd`` adds ``wd * w`` to the gradient, i.e.
    ``wd/2 * ||w||^2`` to the loss.

    * ``penalty="ridge"``: Ridge divided by ``n`` is ``(1/n)||r||^2 + (alpha/n)||w||^2``, so
      ``wd = 2 * alpha / n_samples``.
    * ``penalty="elasticnet"``: ElasticNet times 2 is ``(1/n)||r||^2 + 2*alpha*l1_ratio*||w||_1
      + alpha*(1 - l1_ratio)*||w||^2``, so ``wd = 2 * alpha * (1 - l1_ratio)``; the L1 part has
      no ``weight_decay`` counterpart and must be added to the loss by hand.

    The minimizer is the same; the learning rate that converges is not (the loss is scaled).
    The lasso has no L2 term, so ``penalty="lasso"`` is refused.
    """
    alpha = check_real("alpha", alpha, 0.0)
    check_options("penalty", penalty, ("ridge", "elasticnet"))
    if penalty == "ridge":
        return 2.0 * alpha / check_int("n_samples", n_samples, 1)
    return 2.0 * alpha * (1.0 - check_real("l1_ratio", l1_ratio, 0.0, 1.0))


def map_alpha(prior: str, *, noise_sd: float, prior_scale: float, n_samples: int | None = None) -> float:
    """The scikit-learn ``alpha`` whose fit is the posterior mode (MAP) under a prior on ``w``.

    Model: ``y | w ~ N(Xw + b, noise_sd^2 I)``, the coefficients independent a priori.

    * ``prior="gaussian"``: ``w_j ~ N(0, prior_scale^2)``. The negative log posterior is
      ``||r||^2 / (2 sigma^2) + ||w||^2 / (2 tau^2)`` + const; times ``2 sigma^2`` it is the
      ``Ridge`` objective with ``alpha = sigma^2 / tau^2`` (no ``n``: Ridge sums).
    * ``prior="laplace"``: ``w_j ~ Laplace(0, prior_scale)`` (density ``exp(-|w|/s) / 2s``).
      The negative log posterior is ``||r||^2 / (2 sigma^2) + ||w||_1 / s``; times
      ``sigma^2 / n`` it is the ``Lasso`` objective with ``alpha = sigma^2 / (n s)``.
    """
    check_options("prior", prior, ("gaussian", "laplace"))
    var = check_real("noise_sd", noise_sd, 0.0, closed="neither") ** 2
    scale = check_real("prior_scale", prior_scale, 0.0, closed="neither")
    if prior == "gaussian":
        return var / scale**2
    return var / (check_int("n_samples", n_samples, 1) * scale)


def alpha_max(X, y, *, l1_ratio: float = 1.0) -> float:
    """The smallest ``Lasso``/``ElasticNet`` ``alpha`` at which every coefficient is zero.

    With centred ``X`` and ``y`` (the intercept absorbs the means), ``w = 0`` is optimal exactly
    when ``|x_j^T y| / n <= alpha * l1_ratio`` for every ``j``, so
    ``alpha_max = max_j |x_j^T y| / (n * l1_ratio)``: the smaller ``l1_ratio``, the larger the
    alpha needed to clear the model.
    """
    X, y = _as_xy(X, y, min_rows=2)
    l1_ratio = check_real("l1_ratio", l1_ratio, 0.0, 1.0, closed="right")
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    return float(np.abs(Xc.T @ yc).max() / (len(y) * l1_ratio))


def soft_threshold(z, threshold: float) -> np.ndarray:
    """``sign(z) * max(|z| - threshold, 0)``, elementwise.

    With orthonormal columns (``X.T @ X = I``) and ``z = X.T @ y``, the ``Lasso(alpha,
    fit_intercept=False)`` solution is ``soft_threshold(z, n * alpha)`` (the ``n`` undoes the
    ``1/(2n)``), while ``Ridge(alpha, fit_intercept=False)`` gives ``z / (1 + alpha)``: the lasso
    moves every coefficient toward zero by the same amount and stops at zero, ridge scales
    every coefficient by the same factor.
    """
    threshold = check_real("threshold", threshold, 0.0)
    z = check_array("z", z)
    return np.sign(z) * np.maximum(np.abs(z) - threshold, 0.0)


def _l2_ball_minimizer(A, c, radius) -> np.ndarray:
    # Lagrange: w(mu) = (A + mu I)^{-1} A c, whose norm falls as mu grows; bisect ||w|| = radius
    def w_of(mu):
        return np.linalg.solve(A + mu * np.eye(2), A @ c)

    lo, hi = 0.0, 1.0
    while np.linalg.norm(w_of(hi)) > radius:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.linalg.norm(w_of(mid)) > radius else (lo, mid)
    return w_of(hi)


def _l1_ball_minimizer(A, c, radius) -> np.ndarray:
    # the minimum lies on the boundary: the best point of each of the four edges
    vertices = radius * np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    best, best_f = None, np.inf
    for a, b in zip(vertices, np.roll(vertices, -1, axis=0)):
        d = b - a
        t = np.clip(-(d @ A @ (a - c)) / (d @ A @ d), 0.0, 1.0)
        p = a + t * d
        f = (p - c) @ A @ (p - c)
        if f < best_f:
            best, best_f = p, f
    return best


def norm_ball_minimizer(A, center, radius: float, ord: int) -> np.ndarray:
    """Minimize ``(w - center)^T A (w - center)`` over the 2-D ball ``||w||_ord <= radius``.

    The quadratic is a least-squares loss around its unconstrained minimum ``center``; the
    ball is the constraint form of the penalty (``ord=1``: lasso diamond, ``ord=2``: ridge
    disc). Exact: for ``ord=1`` the best of the four edges (each a 1-D quadratic on a
    segment); for ``ord=2`` the Lagrange condition ``w = (A + mu I)^{-1} A center`` solved for
    ``||w|| = radius`` by bisection on ``mu``.
    """
    A = check_array("A", A)
    c = check_array("center", center)
    if A.shape != (2, 2) or c.shape != (2,):
        raise ValueError(f"A must be 2x2 and center of length 2, got {A.shape} and {c.shape}")
    if not np.allclose(A, A.T) or np.linalg.eigvalsh(A).min() <= 0:
        raise ValueError("A must be symmetric positive definite")
    radius = check_real("radius", radius, 0.0, closed="neither")
    check_options("ord", ord, (1, 2))
    if np.linalg.norm(c, ord) <= radius:
        return c.copy()
    return _l2_ball_minimizer(A, c, radius) if ord == 2 else _l1_ball_minimizer(A, c, radius)


# ---------------------------------------------------------------------------------------------
# Regularization paths


@dataclass(frozen=True)
class CoefPath:
    """Coefficients of one penalized model at every ``alpha`` (ascending)."""

    alphas: np.ndarray
    """Shape ``(n_alphas,)``, ascending."""
    coefs: np.ndarray
    """Shape ``(n_features, n_alphas)``; column ``k`` belongs to ``alphas[k]``."""
    intercepts: np.ndarray
    """Shape ``(n_alphas,)``."""
    penalty: str
    l1_ratio: float | None = None

    def predict(self, X) -> np.ndarray:
        """Predictions of every model on the path, shape ``(n_samples, n_alphas)``."""
        X = check_array("X", X, ndim=2)
        if X.shape[1] != self.coefs.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features, the path has {self.coefs.shape[0]}")
        return X @ self.coefs + self.intercepts

    def mse(self, X, y) -> np.ndarray:
        """Mean squared error of every model on the path, shape ``(n_alphas,)``."""
        X, y = _as_xy(X, y)
        return np.mean((y[:, None] - self.predict(X)) ** 2, axis=0)

    def n_nonzero(self) -> np.ndarray:
        """Number of non-zero coefficients at every alpha."""
        return np.count_nonzero(self.coefs, axis=0)


def _centred_path(Xc, yc, alphas, penalty, l1_ratio, max_iter, tol) -> np.ndarray:
    """Coefficients ``(n_features, n_alphas)`` on centred data, ``alphas`` ascending.

    The lasso and the elastic net run the coordinate descent that
    ``sklearn.linear_model.enet_path`` runs with a precomputed Gram matrix (each coordinate
    step O(p) instead of O(n p)), warm-started from the largest alpha down, but called
    directly: ``enet_path`` validates its arrays again at every alpha, which costs about as
    much as the descent itself on problems this small (a cross-validation curve is five
    paths; the laboratory fits thousands). The results are the same to the last bit; where
    that routine is missing or takes other arguments ``enet_path`` itself runs.
    ``tests/test_penalties.py`` checks both routes against each other.
    """
    if penalty == "ridge":
        U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
        uty = U.T @ yc
        return Vt.T @ (s[:, None] / (s[:, None] ** 2 + alphas[None, :]) * uty[:, None])
    ratio = 1.0 if penalty == "lasso" else l1_ratio
    gram = np.ascontiguousarray(Xc.T @ Xc)
    xy = np.ascontiguousarray(Xc.T @ yc)
    if _cd_gram is not None:
        n, n_features = Xc.shape
        y = np.ascontiguousarray(yc, dtype=float)
        w = np.zeros(n_features)
        rng = np.random.RandomState(0)  # unused by the cyclic rule, required by the signature
        out = np.empty((n_features, len(alphas)))
        try:
            for k in range(len(alphas) - 1, -1, -1):  # largest alpha first: warm starts
                # enet_path's scaling: its objective is n times the one in cd_fast
                w = _cd_gram(w, alphas[k] * ratio * n, alphas[k] * (1.0 - ratio) * n, gram,
                             xy, y, max_iter, tol, rng, False, False)[0]
                out[:, k] = w
            return out
        except TypeError:  # pragma: no cover - a changed signature: the public route
            pass
    from sklearn.linear_model import enet_path

    _, coefs_desc, _ = enet_path(
        Xc, yc, l1_ratio=ratio, alphas=alphas[::-1], precompute=gram, Xy=xy,
        max_iter=max_iter, tol=tol,
    )
    return coefs_desc[:, ::-1]


def coef_path(
    X,
    y,
    alphas,
    *,
    penalty: str,
    l1_ratio: float | None = None,
    max_iter: int = MAX_ITER,
    tol: float = TOL,
) -> CoefPath:
    """Fit ``Ridge``, ``Lasso`` or ``ElasticNet`` (with intercept) at every alpha.

    Gives the same coefficients as fitting ``Ridge(alpha)``, ``Lasso(alpha)`` or
    ``ElasticNet(alpha, l1_ratio)`` at each alpha separately, but in one pass: ridge through
    one SVD of the centered ``X`` (``w = V diag(s / (s^2 + alpha)) U^T y_c``), the lasso and the
    elastic net through the coordinate descent of ``sklearn.linear_model.enet_path`` on
    centered data with a precomputed Gram matrix, warm-started from the largest alpha down.
    """
    X, y = _as_xy(X, y, min_rows=2)
    alphas = _as_alphas(alphas)
    l1_ratio = _check_penalty(penalty, l1_ratio)
    max_iter = check_int("max_iter", max_iter, 1)
    tol = check_real("tol", tol, 0.0, closed="neither")
    x_mean, y_mean = X.mean(axis=0), y.mean()
    coefs = _centred_path(X - x_mean, y - y_mean, alphas, penalty, l1_ratio, max_iter, tol)
    return CoefPath(alphas, coefs, y_mean - x_mean @ coefs, penalty, l1_ratio)


@dataclass(frozen=True)
class CVCurve:
    """K-fold cross-validated MSE at every alpha (ascending)."""

    alphas: np.ndarray
    fold_mse: np.ndarray
    """Shape ``(n_alphas, n_folds)``: MSE on each held-out fold."""

    @property
    def mean(self) -> np.ndarray:
        return self.fold_mse.mean(axis=1)

    @property
    def se(self) -> np.ndarray:
        """Standard error of the mean over folds (``std(ddof=1) / sqrt(n_folds)``)."""
        k = self.fold_mse.shape[1]
        return self.fold_mse.std(axis=1, ddof=1) / np.sqrt(k)

    @property
    def best_alpha(self) -> float:
        """The alpha with the lowest mean CV MSE."""
        return float(self.alphas[np.argmin(self.mean)])

    @property
    def one_se_alpha(self) -> float:
        """The largest alpha whose mean CV MSE is within one standard error of the best.

        The "one-standard-error rule" (Hastie, Tibshirani & Friedman, ESL §7.10): the simplest
        model that cross-validation cannot tell apart from the best.
        """
        i = np.argmin(self.mean)
        ok = self.mean <= self.mean[i] + self.se[i]
        return float(self.alphas[ok].max())


def _default_cv(cv):
    from sklearn.model_selection import KFold

    if cv is not None and (isinstance(cv, str) or not callable(getattr(cv, "split", None))):
        raise ValueError(f"cv must be a scikit-learn splitter (such as KFold(5)) or None, got {cv!r}")
    return KFold(5, shuffle=True, random_state=0) if cv is None else cv


def cv_curve(
    X,
    y,
    alphas,
    *,
    penalty: str,
    l1_ratio: float | None = None,
    cv=None,
    standardize: bool = False,
    max_iter: int = MAX_ITER,
    tol: float = TOL,
) -> CVCurve:
    """Cross-validated MSE of a penalized model at every alpha.

    For each split of ``cv`` (any scikit-learn splitter; default ``KFold(5, shuffle=True,
    random_state=0)``), fit :func:`coef_path` on the training folds and score every alpha on
    the held-out fold. With ``standardize=True`` each split first standardizes with the
    means and standard deviations of its own training folds, exactly what
    ``Pipeline([StandardScaler(), model])`` does inside ``GridSearchCV``; without it, this is
    what ``LassoCV``/``ElasticNetCV`` compute in ``mse_path_``.
    """
    X, y = _as_xy(X, y, min_rows=2)
    alphas = _as_alphas(alphas)
    _check_penalty(penalty, l1_ratio)
    standardize = check_bool("standardize", standardize)
    folds = []
    for train, held in _default_cv(cv).split(X, y):
        X_fit, X_held = X[train], X[held]
        if standardize:
            mean, scale = _standardizer(X_fit)
            X_fit, X_held = (X_fit - mean) / scale, (X_held - mean) / scale
        path = coef_path(
            X_fit, y[train], alphas, penalty=penalty, l1_ratio=l1_ratio, max_iter=max_iter, tol=tol
        )
        folds.append(path.mse(X_held, y[held]))
    return CVCurve(alphas, np.column_stack(folds))


def penalized_model(penalty: str, alpha: float | None = None, *, l1_ratio: float | None = None):
    """``Pipeline([StandardScaler(), model])``, unfitted, with this module's convergence settings.

    ``model`` is ``LinearRegression()`` for ``penalty=None``, else ``Ridge(alpha)``,
    ``Lasso(alpha)`` or ``ElasticNet(alpha, l1_ratio)``. The scaler is part of the model, so
    whatever fits the pipeline (``fit``, ``cross_val_score``, ``GridSearchCV``) learns the
    scaling from the rows it fits on and nothing else.
    """
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if penalty is None:
        for name, value in (("alpha", alpha), ("l1_ratio", l1_ratio)):
            if value is not None:
                raise ValueError(f"{name} must be None for penalty=None (least squares has no penalty), got {value!r}")
        return make_pipeline(StandardScaler(), LinearRegression())
    l1_ratio = _check_penalty(penalty, l1_ratio)
    alpha = check_real("alpha", alpha, 0.0, closed="neither")
    model = {
        "ridge": lambda: Ridge(alpha=alpha),
        "lasso": lambda: Lasso(alpha=alpha, max_iter=MAX_ITER, tol=TOL),
        "elasticnet": lambda: ElasticNet(alpha=alpha, l1_ratio=l1_ratio, max_iter=MAX_ITER, tol=TOL),
    }[penalty]()
    return make_pipeline(StandardScaler(), model)


@dataclass(frozen=True)
class CVModels:
    """Models fitted with the alpha (and ``l1_ratio``) that cross-validation chose."""

    models: dict
    """Name -> fitted ``Pipeline([StandardScaler(), model])``: ``"OLS"``, ``"Ridge"``,
    ``"Lasso"``, ``"Elastic net"``."""
    curves: dict
    """Name -> :class:`CVCurve` of the penalized models (the elastic net's at its chosen
    ``l1_ratio``)."""
    l1_ratio: float
    """The elastic net's chosen ``l1_ratio``."""
    enet_curves: dict
    """``l1_ratio`` -> :class:`CVCurve` of the elastic net, for every ratio searched."""


def fit_cv_models(X, y, *, ridge_alphas, lasso_alphas, l1_ratios, cv=None):
    """Fit OLS and the three penalized models, each with alpha chosen by K-fold CV on ``X, y``.

    Returns a ``CVModels``: the fitted pipelines, the CV curves, the elastic net's
    ``l1_ratio`` and its CV curve at every ratio searched. ``X`` is on its own (raw) scale:
    every model is a ``Pipeline([StandardScaler(), model])`` (``ru.penalized_model``), and the
    cross-validation standardizes inside the folds
    (:func:`cv_curve` with ``standardize=True``). All models use the same folds (``cv``;
    default ``KFold(5, shuffle=True, random_state=0)``) and score by mean squared error; the
    chosen alpha minimizes the mean CV MSE. ``lasso_alphas`` also serves the elastic net, at
    every ``l1_ratios`` value; the (``l1_ratio``, alpha) pair with the lowest CV MSE wins.
    """
    X, y = _as_xy(X, y, min_rows=2)
    l1_ratios = np.atleast_1d(check_array("l1_ratios", l1_ratios))
    if l1_ratios.ndim != 1 or l1_ratios.size == 0 or not ((l1_ratios > 0) & (l1_ratios <= 1)).all():
        raise ValueError(f"l1_ratios must be a non-empty sequence of values in (0, 1], got {l1_ratios!r}")
    cv = _default_cv(cv)
    kw = dict(cv=cv, standardize=True)
    curves = {
        "Ridge": cv_curve(X, y, ridge_alphas, penalty="ridge", **kw),
        "Lasso": cv_curve(X, y, lasso_alphas, penalty="lasso", **kw),
    }
    enet = {
        float(r): cv_curve(X, y, lasso_alphas, penalty="elasticnet", l1_ratio=float(r), **kw)
        for r in l1_ratios
    }
    ratio = min(enet, key=lambda r: enet[r].mean.min())
    curves["Elastic net"] = enet[ratio]
    models = {"OLS": penalized_model(None).fit(X, y)}
    for name, penalty in [("Ridge", "ridge"), ("Lasso", "lasso"), ("Elastic net", "elasticnet")]:
        model = penalized_model(penalty, curves[name].best_alpha, l1_ratio=ratio)
        models[name] = model.fit(X, y)
    return CVModels(models, curves, ratio, enet)


# ---------------------------------------------------------------------------------------------
# Feature selection against the true coefficients


def selection_scores(coef, true_coef, *, tol: float = 0.0) -> dict:
    """How well the non-zero coefficients of ``coef`` recover the support of ``true_coef``.

    A feature counts as selected when ``|coef| > tol``. Returns ``n_nonzero`` (selected),
    ``true_positives``, ``precision`` (true positives / selected; NaN when nothing is
    selected) and ``recall`` (true positives / true support size).
    """
    coef = check_array("coef", coef, ndim=1)
    true_coef = check_array("true_coef", true_coef, ndim=1)
    if coef.shape != true_coef.shape:
        raise ValueError(
            f"coef and true_coef must be 1-D of the same length, got {coef.shape} and {true_coef.shape}"
        )
    tol = check_real("tol", tol, 0.0)
    selected = np.abs(coef) > tol
    truth = true_coef != 0
    if not truth.any():
        raise ValueError("true_coef has no non-zero entry: recall is undefined")
    tp = int(np.sum(selected & truth))
    n_sel = int(selected.sum())
    return {
        "n_nonzero": n_sel,
        "true_positives": tp,
        "precision": tp / n_sel if n_sel else float("nan"),
        "recall": tp / int(truth.sum()),
    }


def group_nonzero_counts(coefs, groups) -> pd.DataFrame:
    """Non-zero coefficients per feature group.

    ``coefs`` is ``(n_features,)`` or ``(n_features, n_alphas)`` (a path); ``groups`` gives each
    feature's group id, ``-1`` for features in no group (left out). Returns a DataFrame with
    one row per group id (ascending) and one column per alpha (a single column ``0`` for 1-D
    ``coefs``), each cell the number of the group's features with a non-zero coefficient.
    """
    coefs = check_array("coefs", coefs)
    groups = check_array("groups", groups, ndim=1, integer=True)
    if coefs.ndim == 1:
        coefs = coefs[:, None]
    if coefs.ndim != 2 or groups.shape != (coefs.shape[0],):
        raise ValueError(
            "coefs must be (n_features,) or (n_features, n_alphas) and groups must have one entry "
            f"per feature, got coefs {coefs.shape}, groups {groups.shape}"
        )
    ids = sorted(int(g) for g in np.unique(groups) if g != -1)
    if not ids:
        raise ValueError("groups holds no group (every entry is -1)")
    counts = [np.count_nonzero(coefs[groups == g], axis=0) for g in ids]
    return pd.DataFrame(np.array(counts), index=pd.Index(ids, name="group"))


def _final_step(model):
    """The estimator at the end of a pipeline (or the model itself)."""
    return model.steps[-1][1] if hasattr(model, "steps") else model


def results_table(models: dict, X_test, y_test, true_coef=None) -> pd.DataFrame:
    """One row per fitted model: ``alpha`` / ``l1_ratio``, test MSE, selection scores.

    ``models`` maps a name to a fitted scikit-learn linear model or a pipeline ending in one
    (``LinearRegression``, ``Ridge``, ``Lasso``, ``ElasticNet`` or their ``…CV`` forms).
    ``alpha`` is ``alpha_`` (CV models) or ``alpha``, NaN for OLS; ``l1_ratio`` likewise (1 for
    the lasso, NaN for OLS and ridge). Precision and recall appear when ``true_coef`` is given;
    a pipeline's coefficients are those of its last step (on the scaler's scale).
    """
    from sklearn.linear_model import Lasso, LassoCV

    X_test, y_test = _as_xy(X_test, y_test)
    if not isinstance(models, dict):
        raise ValueError(f"models must be a dict of name -> fitted model, got {type(models).__name__}")
    if not models:
        raise ValueError("models is empty")
    rows = []
    for name, model in models.items():
        est = _final_step(model)
        if not hasattr(est, "coef_"):
            raise ValueError(f"model {name!r} is not fitted (it has no coef_)")
        alpha = getattr(est, "alpha_", getattr(est, "alpha", np.nan))
        l1_ratio = getattr(est, "l1_ratio_", getattr(est, "l1_ratio", np.nan))
        row = {
            "model": name,
            "alpha": float(alpha),
            "l1_ratio": 1.0 if isinstance(est, (Lasso, LassoCV)) else float(l1_ratio),
            "test_mse": float(np.mean((y_test - model.predict(X_test)) ** 2)),
            "n_nonzero": int(np.count_nonzero(est.coef_)),
        }
        if true_coef is not None:
            scores = selection_scores(est.coef_, true_coef)
            row["precision"] = scores["precision"]
            row["recall"] = scores["recall"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")
