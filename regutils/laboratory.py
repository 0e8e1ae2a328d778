"""The book's data generator as a laboratory: many training sets from one population.

:func:`regutils.make_regression_data` draws the book's one data set. The population behind it
can give as many fresh training sets, and as large a test set, as an experiment needs: latent
features ``z`` (six blocks of four columns that correlate at 0.95, then 24 independent
columns, all standard normal) and ``y = 5 + z @ beta + N(0, 2^2)``, with the generator's own
``beta`` (:func:`population`). Here ``z`` is used as the feature matrix. The book's observed
columns are ``x = mean + scale * z``, and every model here standardizes with its own training
rows' statistics, which maps ``x`` and ``z`` to the same numbers: the observed means and
scales cannot change a prediction.

Everything is vectorized over draws: a draw is one slice of a ``(n_draws, n_rows, n_features)``
array. :func:`fit_draws` fits one penalty along an alpha grid on every draw (ridge in closed
form from each draw's Gram matrix, the lasso and the elastic net by warm-started coordinate
descent on it); :func:`bias_variance` splits the expected test error into squared bias,
variance and noise (Hastie, Tibshirani & Friedman, ESL §7.3); :func:`cv_draws` cross-validates
every draw with the scaling inside the folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import data
from .checks import check_array, check_int, check_real, check_str
from .penalties import MAX_ITER, _as_alphas, _centred_path, _check_penalty, _default_cv, _standardizer

# scikit-learn's default duality-gap tolerance. An experiment here averages over hundreds of
# draws, whose spread is far larger than what a tighter fit would change, and 1e-4 makes the
# lasso paths about twice as fast as the 1e-6 that single fits in the chapters use.
TOL = 1e-4

__all__ = ["Population", "population", "generator_intercept", "draw_datasets", "DrawFits", "fit_draws", "bias_variance", "test_mse", "cv_draws",
           "blocks_split_by_size"]


@dataclass(frozen=True)
class Population:
    """The generator's population, on the latent (standardized) feature scale."""

    beta: np.ndarray
    """True coefficients of ``z``, shape ``(48,)``; 14 are non-zero."""
    intercept: float
    noise_sd: float
    groups: np.ndarray
    """Correlated block of each feature (``-1``: independent)."""
    feature_names: list


def population() -> Population:
    """The constants :func:`regutils.make_regression_data` draws from (seed-independent)."""
    beta = np.array([data._TRUE_Z_COEF.get(name, 0.0) for name in data.FEATURES])
    return Population(
        beta, data._INTERCEPT, data._NOISE_SD, data._feature_groups(), list(data.FEATURES)
    )


def generator_intercept(seed: int = 42) -> float:
    """The true intercept of :func:`regutils.make_regression_data` (``seed``) in observed units.

    With ``x = mean + scale * z`` the true regression function ``5 + z @ beta`` is
    ``5 - mean @ true_coef + x @ true_coef`` (``true_coef = beta / scale``). The generator does
    not return ``mean``; this replays its draws up to ``mean`` (factors, own terms, means,
    in that order), so ``generator_intercept() + X @ true_coef`` is the oracle's prediction
    for the book's data set: its errors are exactly the generator's noise.
    """
    rng = np.random.default_rng(check_int("seed", seed, 0))
    rng.standard_normal((data._N_SAMPLES, data._N_BLOCKS))
    rng.standard_normal((data._N_SAMPLES, data.N_FEATURES))
    means = rng.normal(0.0, 3.0, data.N_FEATURES)
    _, true_coef = data.make_regression_data(seed)
    return float(data._INTERCEPT - means @ true_coef.to_numpy())


def draw_datasets(n_draws: int, n_rows: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_draws`` independent data sets of ``n_rows`` rows from the population.

    Returns ``Z`` of shape ``(n_draws, n_rows, 48)`` and ``y`` of shape ``(n_draws, n_rows)``,
    drawn exactly as step 1 and 3 of :func:`regutils.make_regression_data` describe (block
    features ``sqrt(rho) * factor + sqrt(1 - rho) * own``), from ``default_rng(seed)``.
    """
    n_draws = check_int("n_draws", n_draws, 1)
    n_rows = check_int("n_rows", n_rows, 2)
    pop = population()
    rng = np.random.default_rng(check_int("seed", seed, 0))
    k, size, rho = data._N_BLOCKS, data._BLOCK_SIZE, data._BLOCK_RHO
    factors = rng.standard_normal((n_draws, n_rows, k))
    Z = rng.standard_normal((n_draws, n_rows, len(pop.beta)))
    Z[..., : k * size] = (
        np.sqrt(rho) * np.repeat(factors, size, axis=-1) + np.sqrt(1 - rho) * Z[..., : k * size]
    )
    y = pop.intercept + Z @ pop.beta + rng.normal(0.0, pop.noise_sd, (n_draws, n_rows))
    return Z, y


@dataclass(frozen=True)
class DrawFits:
    """One penalty fitted along ``alphas`` on every draw, each draw standardized on its own."""

    alphas: np.ndarray
    """Ascending, shape ``(n_alphas,)``."""
    coefs: np.ndarray
    """On the standardized features, shape ``(n_draws, n_features, n_alphas)``."""
    raw_coefs: np.ndarray
    """The same models on the unscaled features (``coefs / scale``)."""
    intercepts: np.ndarray
    """On the unscaled features, shape ``(n_draws, n_alphas)``."""

    def predict(self, Z) -> np.ndarray:
        """Predictions of draw ``b``'s models on ``Z[b]`` (or on one shared 2-D ``Z``), shape
        ``(n_draws, n_rows, n_alphas)``."""
        Z = check_array("Z", Z)
        n_draws, n_features = self.raw_coefs.shape[:2]
        if Z.ndim not in (2, 3) or Z.shape[-1] != n_features or (Z.ndim == 3 and len(Z) != n_draws):
            raise ValueError(
                f"Z must be (n_rows, {n_features}) or ({n_draws}, n_rows, {n_features}), got shape {Z.shape}"
            )
        sub = "nf,bfa->bna" if Z.ndim == 2 else "bnf,bfa->bna"
        return np.einsum(sub, Z, self.raw_coefs) + self.intercepts[:, None, :]


def _as_draws(Z, y) -> tuple[np.ndarray, np.ndarray]:
    """``Z`` ``(n_draws, n_rows, n_features)`` and ``y`` ``(n_draws, n_rows)`` as float arrays
    of finite numbers: at least one draw, two rows and one feature."""
    Z = check_array("Z", Z, ndim=3)
    y = check_array("y", y, ndim=2)
    if y.shape != Z.shape[:2]:
        raise ValueError(f"Z must be (n_draws, n_rows, n_features) and y (n_draws, n_rows), got {Z.shape}, {y.shape}")
    if Z.shape[0] < 1 or Z.shape[1] < 2 or Z.shape[2] < 1:
        raise ValueError(f"Z must have at least 1 draw of 2 rows and 1 feature, got shape {Z.shape}")
    return Z, y


def _ridge_batch(G, c, alphas) -> np.ndarray:
    # w(alpha) = Q diag(1 / (lambda + alpha)) Q^T c for every draw at once
    lam, Q = np.linalg.eigh(G)
    qc = np.einsum("bfe,bf->be", Q, c)
    return np.einsum("bfe,bea->bfa", Q, qc[:, :, None] / (lam[:, :, None] + alphas))


def fit_draws(
    Z, y, alphas, *, penalty: str, l1_ratio: float | None = None, tol: float = TOL
) -> DrawFits:
    """Fit ``Ridge``, ``Lasso`` or ``ElasticNet`` at every alpha on every draw.

    Each draw is standardized with its own rows' means and standard deviations (what
    ``Pipeline([StandardScaler(), model])`` does, a constant column included), then fitted as
    in :func:`regutils.coef_path`: the same objective, the same ``alpha``, the same coordinate
    descent with duality-gap tolerance ``tol``.
    """
    Z, y = _as_draws(Z, y)
    alphas = _as_alphas(alphas)
    l1_ratio = _check_penalty(penalty, l1_ratio)
    tol = check_real("tol", tol, 0, None, closed="neither")
    (mean, scale), y_mean = _standardizer(Z, axis=1), y.mean(axis=1)
    Xs = (Z - mean[:, None]) / scale[:, None]
    yc = y - y_mean[:, None]
    if penalty == "ridge":
        coefs = _ridge_batch(np.einsum("bnf,bng->bfg", Xs, Xs), np.einsum("bnf,bn->bf", Xs, yc), alphas)
    else:
        coefs = np.stack([_centred_path(Xs[b], yc[b], alphas, penalty, l1_ratio, MAX_ITER, tol)
                          for b in range(len(Z))])
    raw = coefs / scale[:, :, None]
    intercepts = y_mean[:, None] - np.einsum("bf,bfa->ba", mean, raw)
    return DrawFits(alphas, coefs, raw, intercepts)


def _test_moments(fits: DrawFits, Z_test, y_test):
    """``Zt = [1, Z_test]``, ``y_test``, the test set's moments ``M = Zt' Zt / n`` and
    ``m_y = Zt' y_test / n``, and every model's ``[intercept, coefficients]``, shape
    ``(n_draws, 1 + n_features, n_alphas)``: what the test-set errors are computed from."""
    if not isinstance(fits, DrawFits):
        raise ValueError(f"fits must be the DrawFits of fit_draws, got {type(fits).__name__}")
    n_features = fits.raw_coefs.shape[1]
    Z_test = check_array("Z_test", Z_test, ndim=2, min_len=1)
    y_test = check_array("y_test", y_test, ndim=1)
    if Z_test.shape[1] != n_features:
        raise ValueError(f"Z_test must have one column per feature of the fits ({n_features}), got {Z_test.shape[1]}")
    if len(y_test) != len(Z_test):
        raise ValueError(f"y_test must have one value per row of Z_test ({len(Z_test)}), got {y_test.shape}")
    Zt = np.column_stack([np.ones(len(Z_test)), Z_test])
    theta = np.concatenate([fits.intercepts[:, None, :], fits.raw_coefs], axis=1)
    return Zt, y_test, Zt.T @ Zt / len(Zt), Zt.T @ y_test / len(Zt), theta


def bias_variance(fits: DrawFits, Z_test, y_test, *, model: str) -> pd.DataFrame:
    """Expected test MSE over draws, split as ESL §7.3 does, at every alpha.

    With ``f_b`` the model fitted on draw ``b``, ``f_bar`` their average and ``f*`` the true
    regression function ``5 + z @ beta``, averaged over the test rows ``x``:

    * ``variance = mean_x sum_b (f_b(x) - f_bar(x))^2 / (B - 1)`` over the ``B`` draws
    * ``bias2 = mean_x (f_bar(x) - f*(x))^2 - variance / B``: the plain plug-in value also
      contains the variance of ``f_bar`` itself, ``variance / B``, which would dominate where
      the true bias is tiny (small alpha); subtracting it makes the estimate unbiased
    * ``noise = mean_x (y - f*(x))^2`` (the realized noise of this test set, about 4)
    * ``expected_mse = mean_b mean_x (y - f_b(x))^2``

    ``expected_mse = bias2 + variance + noise + 2 mean_x (f_bar - f*)(f* - y)``; the last term
    has expectation 0 and is small on a large test set. Computed through the test set's
    second-moment matrix, so no ``(n_draws, n_test, n_alphas)`` array is formed. Returns one
    row per alpha, ``model`` (a non-empty string) naming them all.
    """
    Zt, y_test, M, m_y, theta = _test_moments(fits, Z_test, y_test)
    if len(theta) < 2:
        raise ValueError(f"fits must hold at least 2 draws (a variance needs them), got {len(theta)}")
    check_str("model", model)
    pop = population()
    truth = np.concatenate([[pop.intercept], pop.beta])
    d_bar = theta.mean(axis=0) - truth[:, None]
    spread = theta - theta.mean(axis=0)
    n_draws = len(theta)
    variance = np.einsum("bfa,fg,bga->a", spread, M, spread) / (n_draws - 1)
    second = np.einsum("bfa,fg,bga->a", theta, M, theta) / n_draws
    cross = np.einsum("bfa,f->a", theta, m_y) / n_draws
    return pd.DataFrame({
        "model": model,
        "alpha": fits.alphas,
        "bias2": np.einsum("fa,fg,ga->a", d_bar, M, d_bar) - variance / n_draws,
        "variance": variance,
        "expected_mse": y_test @ y_test / len(y_test) - 2 * cross + second,
        "noise": float(np.mean((y_test - Zt @ truth) ** 2)),
    })


def test_mse(fits: DrawFits, Z_test, y_test) -> np.ndarray:
    """Test MSE of every draw's model at every alpha, shape ``(n_draws, n_alphas)``.

    ``mean_x (y - f_b(x))^2`` for one shared test set, through the test set's second moments
    (no ``(n_draws, n_test, n_alphas)`` array of predictions is formed).
    """
    _, y_test, M, m_y, theta = _test_moments(fits, Z_test, y_test)
    return (
        y_test @ y_test / len(y_test)
        - 2 * np.einsum("bfa,f->ba", theta, m_y)
        + np.einsum("bfa,fg,bga->ba", theta, M, theta)
    )


def cv_draws(
    Z, y, alphas, *, penalty: str, l1_ratio: float | None = None, cv=None, tol: float = TOL,
) -> np.ndarray:
    """K-fold CV MSE of every draw at every alpha, shape ``(n_draws, n_alphas, n_folds)``.

    Every draw uses the same row indices for its folds (``cv``; default ``KFold(5,
    shuffle=True, random_state=0)``); the draws are independent, so that loses nothing. Each
    training fold is standardized on its own, as :func:`regutils.cv_curve` with
    ``standardize=True`` does for one data set. The alphas axis is in ascending order (as
    :func:`fit_draws` sorts them), so pass a slice of the result to
    :class:`regutils.CVCurve` with the sorted grid (``CVCurve(np.sort(alphas), out[b])``) for
    its best and 1-SE alphas.
    """
    Z, y = _as_draws(Z, y)
    folds = []
    for train, held in _default_cv(cv).split(Z[0]):
        fits = fit_draws(
            Z[:, train], y[:, train], alphas, penalty=penalty, l1_ratio=l1_ratio, tol=tol
        )
        err = y[:, held, None] - fits.predict(Z[:, held])
        folds.append(np.mean(err**2, axis=1))
    return np.stack(folds, axis=-1)


def blocks_split_by_size(coefs, groups, blocks) -> pd.DataFrame:
    """How often a correlated block is only partly selected, at each model size.

    ``coefs`` is ``(n_draws, n_features, n_alphas)`` (:attr:`DrawFits.coefs`); ``groups`` gives
    each feature's group id (``-1``: in no group); ``blocks`` are the group ids to watch, a
    block being every feature of that id. Every (draw, alpha) pair is one model; a block is
    *split* when some but not all of its features are non-zero. Returns one row per model
    size (``n_nonzero``) with ``n_models`` (how many (draw, alpha) pairs had that size) and
    ``share_split`` (split blocks / (models x blocks)). Comparing two penalties row by row
    compares them at the same sparsity, which a comparison at each one's own chosen alpha
    does not.
    """
    coefs = check_array("coefs", coefs, ndim=3)
    groups = check_array("groups", groups, ndim=1, integer=True)
    if groups.shape != (coefs.shape[1],):
        raise ValueError(f"coefs must be (n_draws, n_features, n_alphas) with one group per feature, got {coefs.shape}, {groups.shape}")
    blocks = check_array("blocks", blocks, ndim=1, min_len=1, integer=True)
    unknown = sorted(set(blocks.tolist()) - set(groups.tolist()) | ({-1} & set(blocks.tolist())))
    if unknown:
        raise ValueError(f"blocks must be group ids found in groups (not -1, no group), got {unknown}")
    selected = coefs != 0
    split = np.zeros(selected[:, 0].shape)
    for g in blocks:
        count = selected[:, groups == g].sum(axis=1)
        split += (count > 0) & (count < np.sum(groups == g))
    frame = pd.DataFrame({
        "n_nonzero": selected.sum(axis=1).ravel(), "split": split.ravel() / len(blocks)
    })
    out = frame.groupby("n_nonzero")["split"].agg(["size", "mean"])
    return out.rename(columns={"size": "n_models", "mean": "share_split"}).reset_index()
