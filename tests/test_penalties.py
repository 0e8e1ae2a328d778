"""regutils.penalties against independent answers: closed forms, scikit-learn, scipy, torch."""

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.linear_model import ElasticNet, Lasso, LassoCV, Ridge, RidgeCV
from sklearn.model_selection import KFold

from regutils import penalties


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    X[:, 1] = X[:, 0] + 0.1 * rng.standard_normal(40)  # a correlated pair
    w = np.array([2.0, 0.0, -1.5, 0.0, 0.5, 0.0])
    y = 3.0 + X @ w + 0.5 * rng.standard_normal(40)
    return X, y, w


# --- objectives ------------------------------------------------------------------------------


def test_ridge_objective_hand_computed():
    X = np.array([[1.0, 0.0], [0.0, 2.0]])
    y = np.array([1.0, 1.0])
    # residuals 1 - 1 = 0 and 1 - 2*0.5 = 0; penalty 2 * (1 + 0.25)
    assert penalties.ridge_objective([1.0, 0.5], X, y, alpha=2.0) == pytest.approx(2.5)
    # residuals 1, 1 -> 2 / (2*2) = 0.5; L1 of w = 1.5 -> 0.5 + 0.1 * 1.5
    assert penalties.lasso_objective([0.0, 0.0], X, y, alpha=0.1) == pytest.approx(0.5)
    assert penalties.lasso_objective([1.0, 0.5], X, y, alpha=0.1) == pytest.approx(0.15)
    # elastic net: 0 data term + 0.1*0.5*1.5 + 0.5*0.1*0.5*1.25
    assert penalties.elastic_net_objective([1.0, 0.5], X, y, 0.1, 0.5) == pytest.approx(0.075 + 0.03125)


@pytest.mark.parametrize(
    "model, objective",
    [
        (Ridge(alpha=3.0), lambda w, b, X, y: penalties.ridge_objective(w, X, y, 3.0, b)),
        (Lasso(alpha=0.05, tol=1e-12, max_iter=100_000), lambda w, b, X, y: penalties.lasso_objective(w, X, y, 0.05, b)),
        (
            ElasticNet(alpha=0.05, l1_ratio=0.3, tol=1e-12, max_iter=100_000),
            lambda w, b, X, y: penalties.elastic_net_objective(w, X, y, 0.05, 0.3, b),
        ),
    ],
)
def test_objectives_are_what_sklearn_minimizes(problem, model, objective):
    X, y, _ = problem
    model.fit(X, y)
    best = objective(model.coef_, model.intercept_, X, y)
    rng = np.random.default_rng(1)
    for _ in range(50):
        step = 1e-3 * rng.standard_normal(X.shape[1])
        assert best < objective(model.coef_ + step, model.intercept_, X, y)
    assert best < objective(model.coef_, model.intercept_ + 1e-3, X, y)


def test_objective_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"y must be 1-D with one value per row of X \(3\)"):
        penalties.ridge_objective([0.0], np.ones((3, 1)), np.ones(2), 1.0)
    with pytest.raises(ValueError, match=r"^X must be a 2-D array of numbers, got an array of shape \(3,\)"):
        penalties.lasso_objective([0.0], np.ones(3), np.ones(3), 1.0)
    with pytest.raises(ValueError, match=r"^X must contain only finite numbers, got nan at index \(0, 0\)$"):
        penalties.lasso_objective([0.0], np.array([[np.nan], [1.0]]), np.ones(2), 1.0)


@pytest.mark.parametrize(
    "objective", [penalties.ridge_objective, penalties.lasso_objective,
                  lambda w, X, y, alpha: penalties.elastic_net_objective(w, X, y, alpha, 0.5)],
)
@pytest.mark.parametrize(
    "w, X, y, message",
    [
        ([0.0, 1.0], np.ones((3, 1)), np.ones(3), r"^w must have one value per column of X \(1\), got 2$"),
        ([[0.0]], np.ones((3, 1)), np.ones(3), r"^w must be a 1-D array of numbers, got an array of shape \(1, 1\)"),
        ([np.inf], np.ones((3, 1)), np.ones(3), r"^w must contain only finite numbers, got inf at index 0$"),
        (["0"], np.ones((3, 1)), np.ones(3), r"^w must be a 1-D array of numbers, got .* dtype <U1$"),
        ([0.0], np.ones((3, 1)), [1.0, np.nan, 1.0], r"^y must contain only finite numbers, got nan at index 1$"),
        ([0.0], np.ones((3, 0)), np.ones(3), r"^X must have at least one column \(feature\), got shape \(3, 0\)$"),
        ([0.0], np.ones((0, 1)), np.ones(0), r"^X must have at least 1 row, got 0$"),
        ([0.0], "X", np.ones(3), r"^X must be a 2-D array of numbers, got .* dtype <U1$"),
    ],
)  # fmt: skip
def test_objectives_name_the_bad_argument(objective, w, X, y, message):
    with pytest.raises(ValueError, match=message):
        objective(w, X, y, 1.0)


# --- torch weight_decay -------------------------------------------------------------------------


def _torch_fit(X, y, weight_decay, steps=4000, lr=0.1):
    torch = pytest.importorskip("torch")
    Xt, yt = torch.tensor(X), torch.tensor(y)
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(Xt @ w, yt).backward()
        opt.step()
    return w.detach().numpy()


def test_weight_decay_matches_ridge(problem):
    X, y, _ = problem
    alpha = 4.0
    wd = penalties.weight_decay_equivalent(alpha, penalty="ridge", n_samples=len(y))
    assert wd == pytest.approx(2 * alpha / len(y))
    w_torch = _torch_fit(X, y, wd)
    w_ridge = Ridge(alpha=alpha, fit_intercept=False).fit(X, y).coef_
    np.testing.assert_allclose(w_torch, w_ridge, atol=1e-6)
    # the factor 2 matters: alpha / n is a different (weaker) penalty
    assert np.abs(_torch_fit(X, y, alpha / len(y)) - w_ridge).max() > 1e-3


def test_weight_decay_matches_elastic_net_l2_part(problem):
    X, y, _ = problem
    alpha = 0.2
    wd = penalties.weight_decay_equivalent(alpha, penalty="elasticnet", l1_ratio=0.0)
    w_torch = _torch_fit(X, y, wd)
    # ElasticNet with l1_ratio=0 is ridge with alpha_ridge = n * alpha (closed form)
    n = len(y)
    w_closed = np.linalg.solve(X.T @ X + n * alpha * np.eye(X.shape[1]), X.T @ y)
    np.testing.assert_allclose(w_torch, w_closed, atol=1e-6)
    assert penalties.weight_decay_equivalent(0.2, penalty="elasticnet", l1_ratio=0.75) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(alpha=1.0, penalty="ridge"), "n_samples must be an integer >= 1, got None"),
        (dict(alpha=1.0, penalty="ridge", n_samples=0), "n_samples must be an integer >= 1, got 0"),
        (dict(alpha=-1.0, penalty="ridge", n_samples=5), "alpha must be a finite number >= 0, got -1.0"),
        (dict(alpha=1.0, penalty="elasticnet"), r"l1_ratio must be a finite number in \[0, 1\], got None"),
        (dict(alpha=1.0, penalty="lasso"), "penalty must be one of 'ridge', 'elasticnet', got 'lasso'"),
    ],
)
def test_weight_decay_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        penalties.weight_decay_equivalent(**kwargs)


# --- soft-thresholding and the constraint picture -----------------------------------------------


def test_soft_threshold_hand_computed():
    np.testing.assert_allclose(
        penalties.soft_threshold([-3.0, -0.5, 0.0, 0.5, 2.0], 1.0), [-2.0, 0.0, 0.0, 0.0, 1.0]
    )
    with pytest.raises(ValueError, match="threshold must be a finite number >= 0, got -0.1"):
        penalties.soft_threshold([1.0], -0.1)
    with pytest.raises(ValueError, match="^z must contain only finite numbers, got nan at index 1$"):
        penalties.soft_threshold([1.0, np.nan], 0.5)
    with pytest.raises(ValueError, match="^z must be an array of numbers, got .* dtype object$"):
        penalties.soft_threshold(None, 0.5)


def test_soft_threshold_is_the_lasso_on_orthonormal_columns():
    rng = np.random.default_rng(3)
    n = 50
    Q, _ = np.linalg.qr(rng.standard_normal((n, 5)))
    y = Q @ np.array([2.0, -1.0, 0.3, 0.05, 0.0]) + 0.05 * rng.standard_normal(n)
    z = Q.T @ y
    for alpha in (0.001, 0.005, 0.02):
        lasso = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(Q, y)
        np.testing.assert_allclose(lasso.coef_, penalties.soft_threshold(z, n * alpha), atol=1e-9)
        assert np.count_nonzero(lasso.coef_) == np.sum(np.abs(z) > n * alpha)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("center", [[1.6, 0.9], [-0.2, 1.7], [2.0, -2.0]])
def test_norm_ball_minimizer_matches_scipy(order, center):
    A = np.array([[1.0, 0.45], [0.45, 0.6]])
    c = np.array(center)
    w = penalties.norm_ball_minimizer(A, c, 1.0, ord=order)
    res = minimize(
        lambda v: (v - c) @ A @ (v - c),
        x0=np.zeros(2),
        constraints=[{"type": "ineq", "fun": lambda v: 1.0 - np.linalg.norm(v, order)}],
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 500},
    )
    np.testing.assert_allclose(w, res.x, atol=1e-4)
    assert np.linalg.norm(w, order) == pytest.approx(1.0)


def test_norm_ball_minimizer_inside_and_bad_input():
    A = np.eye(2)
    np.testing.assert_array_equal(penalties.norm_ball_minimizer(A, [0.2, 0.1], 1.0, ord=1), [0.2, 0.1])
    with pytest.raises(ValueError, match="ord must be one of 1, 2, got 3"):
        penalties.norm_ball_minimizer(A, [1, 1], 1.0, ord=3)
    with pytest.raises(ValueError, match="symmetric positive definite"):
        penalties.norm_ball_minimizer(np.array([[1.0, 2.0], [2.0, 1.0]]), [1, 1], 1.0, ord=2)
    with pytest.raises(ValueError, match="radius must be a finite number > 0, got 0.0"):
        penalties.norm_ball_minimizer(A, [1, 1], 0.0, ord=2)
    with pytest.raises(ValueError, match=r"^center must contain only finite numbers, got inf at index 0$"):
        penalties.norm_ball_minimizer(np.eye(2), [np.inf, 1.0], 1.0, 2)
    with pytest.raises(ValueError, match=r"^A must contain only finite numbers, got nan at index \(0, 1\)$"):
        penalties.norm_ball_minimizer([[1.0, np.nan], [0.0, 1.0]], [2.0, 1.0], 1.0, 1)
    with pytest.raises(ValueError, match="A must be 2x2"):
        penalties.norm_ball_minimizer(np.eye(3), [1, 1], 1.0, ord=2)


# --- paths and cross-validation ------------------------------------------------------------------


def test_ridge_path_is_the_closed_form(problem):
    X, y, _ = problem
    alphas = [0.1, 1.0, 30.0]
    path = penalties.coef_path(X, y, alphas, penalty="ridge")
    Xc, yc = X - X.mean(0), y - y.mean()
    for k, a in enumerate(alphas):
        w = np.linalg.solve(Xc.T @ Xc + a * np.eye(X.shape[1]), Xc.T @ yc)
        np.testing.assert_allclose(path.coefs[:, k], w, atol=1e-10)
        np.testing.assert_allclose(path.intercepts[k], Ridge(alpha=a).fit(X, y).intercept_, atol=1e-10)


@pytest.mark.parametrize("penalty, l1_ratio", [("lasso", None), ("elasticnet", 0.4)])
def test_sparse_paths_match_single_fits(problem, penalty, l1_ratio):
    X, y, _ = problem
    alphas = [0.3, 0.003, 0.03]  # unsorted on purpose
    path = penalties.coef_path(X, y, alphas, penalty=penalty, l1_ratio=l1_ratio, tol=1e-10)
    np.testing.assert_array_equal(path.alphas, np.sort(alphas))
    for k, a in enumerate(path.alphas):
        model = (
            Lasso(alpha=a, tol=1e-12, max_iter=100_000)
            if penalty == "lasso"
            else ElasticNet(alpha=a, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000)
        ).fit(X, y)
        np.testing.assert_allclose(path.coefs[:, k], model.coef_, atol=1e-6)
        np.testing.assert_allclose(path.predict(X)[:, k], model.predict(X), atol=1e-6)
        assert path.mse(X, y)[k] == pytest.approx(np.mean((y - model.predict(X)) ** 2), rel=1e-6)


@pytest.mark.parametrize("penalty, l1_ratio", [("lasso", None), ("elasticnet", 0.3)])
def test_direct_descent_is_enet_paths_descent(problem, penalty, l1_ratio, monkeypatch):
    """coef_path calls scikit-learn's Gram coordinate descent directly (fast); it must give
    what enet_path gives at the same tolerance, bit for bit, and run enet_path without it."""
    from sklearn.linear_model import enet_path

    X, y, _ = problem
    Xc, yc = X - X.mean(0), y - y.mean()
    alphas = np.logspace(-3, 0, 12)
    ratio = 1.0 if penalty == "lasso" else l1_ratio
    public = enet_path(Xc, yc, l1_ratio=ratio, alphas=alphas[::-1], precompute=Xc.T @ Xc,
                       Xy=Xc.T @ yc, max_iter=penalties.MAX_ITER, tol=1e-3)[1][:, ::-1]
    assert penalties._cd_gram is not None  # this scikit-learn has it: the fast route is tested
    for route in ("direct", "enet_path"):
        if route == "enet_path":
            monkeypatch.setattr(penalties, "_cd_gram", None)
        coefs = penalties.coef_path(X, y, alphas, penalty=penalty, l1_ratio=l1_ratio, tol=1e-3).coefs
        np.testing.assert_array_equal(coefs, public)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(alphas=[], penalty="lasso"), "^alphas must have at least 1 value, got 0$"),
        (dict(alphas=0.1, penalty="lasso"), r"^alphas must be a 1-D array of numbers, got an array of shape \(\)"),
        (dict(alphas=["0.1"], penalty="lasso"), "^alphas must be a 1-D array of numbers, got .* dtype <U3$"),
        (dict(alphas=[0.1, np.inf], penalty="lasso"), "^alphas must contain only finite numbers, got inf at index 1$"),
        (dict(alphas=[0.1, -1.0], penalty="lasso"), "^alphas must be > 0, got -1.0$"),
        (dict(alphas=[0.1, 0.1], penalty="lasso"), "must not repeat"),
        (dict(alphas=[0.1], penalty="l3"), "penalty must be one of 'ridge', 'lasso', 'elasticnet', got 'l3'"),
        (dict(alphas=[0.1], penalty="elasticnet"), r"l1_ratio must be a finite number in \(0, 1\], got None"),
        (dict(alphas=[0.1], penalty="elasticnet", l1_ratio=0.0), r"l1_ratio must be a finite number in \(0, 1\], got 0.0"),
    ],
)
def test_coef_path_bad_input(problem, kwargs, message):
    X, y, _ = problem
    with pytest.raises(ValueError, match=message):
        penalties.coef_path(X, y, **kwargs)


def test_path_mse_checks_feature_count(problem):
    X, y, _ = problem
    path = penalties.coef_path(X, y, [1.0], penalty="ridge")
    with pytest.raises(ValueError, match="X has 5 features, the path has 6"):
        path.mse(X[:, :5], y)
    with pytest.raises(ValueError, match="^X has 5 features, the path has 6$"):
        path.predict(X[:, :5])
    with pytest.raises(ValueError, match=r"^X must be a 2-D array of numbers, got an array of shape \(6,\)"):
        path.predict(X[0])


@pytest.mark.parametrize("cv", [5, "kfold"])
def test_cv_must_be_a_splitter(problem, cv):
    X, y, _ = problem
    message = rf"^cv must be a scikit-learn splitter \(such as KFold\(5\)\) or None, got {cv!r}$"
    with pytest.raises(ValueError, match=message):
        penalties.cv_curve(X, y, [0.1], penalty="lasso", cv=cv)
    with pytest.raises(ValueError, match=message):
        penalties.fit_cv_models(X, y, ridge_alphas=[1.0], lasso_alphas=[0.1], l1_ratios=[0.5], cv=cv)


def test_cv_curve_matches_lasso_cv_and_ridge_cv(problem):
    X, y, _ = problem
    cv = KFold(4, shuffle=True, random_state=0)
    alphas = np.logspace(-3, 0, 12)
    curve = penalties.cv_curve(X, y, alphas, penalty="lasso", cv=cv, tol=1e-10)
    ref = LassoCV(alphas=alphas, cv=cv, tol=1e-10, max_iter=100_000).fit(X, y)
    # LassoCV stores alphas in decreasing order
    np.testing.assert_allclose(curve.fold_mse, ref.mse_path_[::-1], rtol=1e-5)
    assert curve.best_alpha == pytest.approx(ref.alpha_)
    ridge_alphas = np.logspace(-2, 3, 15)
    rcurve = penalties.cv_curve(X, y, ridge_alphas, penalty="ridge", cv=cv)
    rref = RidgeCV(alphas=ridge_alphas, cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert rcurve.best_alpha == pytest.approx(rref.alpha_)


def test_one_se_rule_hand_computed():
    # means 5, 3, 3.5, 6; se of the best (alpha 2) is 1 -> alphas with mean <= 4: 2 and 3 -> 3
    fold = np.array([[4, 6], [2, 4], [3.5, 3.5], [6, 6]], dtype=float)
    curve = penalties.CVCurve(alphas=np.array([1.0, 2.0, 3.0, 4.0]), fold_mse=fold)
    assert curve.se[1] == pytest.approx(np.std([2, 4], ddof=1) / np.sqrt(2))
    assert curve.best_alpha == 2.0
    assert curve.one_se_alpha == 3.0


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((None, 3.0), {}, r"^alpha must be None for penalty=None \(least squares has no penalty\), got 3.0$"),
        ((None,), dict(l1_ratio=0.5), "^l1_ratio must be None for penalty=None .*, got 0.5$"),
        (("lasso",), {}, "^alpha must be a finite number > 0, got None$"),
        (("ridge", -1.0), {}, "^alpha must be a finite number > 0, got -1.0$"),
        (("l2", 1.0), {}, "^penalty must be one of 'ridge', 'lasso', 'elasticnet', got 'l2'$"),
        (("elasticnet", 1.0), {}, r"^l1_ratio must be a finite number in \(0, 1\], got None$"),
    ],
)
def test_penalized_model_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        penalties.penalized_model(*args, **kwargs)


def test_penalized_model_is_the_scaled_estimator(problem):
    from sklearn.linear_model import LinearRegression

    X, y, _ = problem
    Xs = (X - X.mean(0)) / X.std(0)
    for model, plain in [(penalties.penalized_model(None), LinearRegression()),
                         (penalties.penalized_model("ridge", 2.0), Ridge(alpha=2.0))]:
        np.testing.assert_allclose(model.fit(X, y).predict(X), plain.fit(Xs, y).predict(Xs), atol=1e-10)


def test_standardized_cv_is_the_pipeline_in_grid_search(problem):
    from sklearn.model_selection import GridSearchCV

    X, y, _ = problem
    X = X * np.array([1.0, 10.0, 0.1, 3.0, 1.0, 50.0]) + 7.0  # columns on different scales
    cv = KFold(4, shuffle=True, random_state=0)
    alphas = np.logspace(-3, 0, 6)
    curve = penalties.cv_curve(X, y, alphas, penalty="lasso", cv=cv, standardize=True, tol=1e-10)
    search = GridSearchCV(
        penalties.penalized_model("lasso", 1.0),
        {"lasso__alpha": alphas, "lasso__tol": [1e-10]},
        cv=cv,
        scoring="neg_mean_squared_error",
    ).fit(X, y)
    np.testing.assert_allclose(curve.mean, -search.cv_results_["mean_test_score"], rtol=1e-6)
    # scaling on all rows first is a different (leaky) computation
    Xs = (X - X.mean(0)) / X.std(0)
    leaky = penalties.cv_curve(Xs, y, alphas, penalty="lasso", cv=cv, tol=1e-10)
    assert np.abs(leaky.mean - curve.mean).max() > 1e-6


def test_fit_cv_models_matches_grid_search(problem):
    from sklearn.model_selection import GridSearchCV

    X, y, _ = problem
    cv = KFold(5, shuffle=True, random_state=0)
    ridge_alphas, lasso_alphas = np.logspace(-2, 3, 10), np.logspace(-3, 0, 10)
    fits = penalties.fit_cv_models(
        X, y, ridge_alphas=ridge_alphas, lasso_alphas=lasso_alphas, l1_ratios=[0.5, 1.0], cv=cv
    )
    assert list(fits.models) == ["OLS", "Ridge", "Lasso", "Elastic net"]
    for name, step, alphas in [("Ridge", "ridge", ridge_alphas), ("Lasso", "lasso", lasso_alphas)]:
        search = GridSearchCV(
            penalties.penalized_model(step, 1.0), {f"{step}__alpha": alphas}, cv=cv,
            scoring="neg_mean_squared_error",
        ).fit(X, y)
        assert fits.models[name][-1].alpha == pytest.approx(search.best_params_[f"{step}__alpha"])
    assert fits.l1_ratio in (0.5, 1.0)
    assert fits.models["Elastic net"][-1].l1_ratio == fits.l1_ratio
    with pytest.raises(ValueError, match="l1_ratios must be a non-empty sequence"):
        penalties.fit_cv_models(X, y, ridge_alphas=[1.0], lasso_alphas=[0.1], l1_ratios=[0.0])
    with pytest.raises(ValueError, match="^l1_ratios must contain only finite numbers, got nan at index 1$"):
        penalties.fit_cv_models(X, y, ridge_alphas=[1.0], lasso_alphas=[0.1], l1_ratios=[0.5, np.nan])
    with pytest.raises(ValueError, match="^l1_ratios must be an array of numbers, got .* dtype <U3$"):
        penalties.fit_cv_models(X, y, ridge_alphas=[1.0], lasso_alphas=[0.1], l1_ratios=["0.5"])


# --- MAP view and alpha_max -------------------------------------------------------------------


def test_map_alpha_gaussian_prior_is_ridge(problem):
    X, y, _ = problem
    X, y = X - X.mean(0), y - y.mean()
    sigma, tau = 0.5, 0.8
    # posterior mode, written out: (X^T X / sigma^2 + I / tau^2)^{-1} X^T y / sigma^2
    mode = np.linalg.solve(X.T @ X / sigma**2 + np.eye(X.shape[1]) / tau**2, X.T @ y / sigma**2)
    alpha = penalties.map_alpha("gaussian", noise_sd=sigma, prior_scale=tau)
    assert alpha == pytest.approx(sigma**2 / tau**2)
    np.testing.assert_allclose(Ridge(alpha=alpha, fit_intercept=False).fit(X, y).coef_, mode, atol=1e-10)


def test_map_alpha_laplace_prior_is_lasso(problem):
    X, y, _ = problem
    X, y = X - X.mean(0), y - y.mean()
    sigma, s = 0.5, 0.05
    alpha = penalties.map_alpha("laplace", noise_sd=sigma, prior_scale=s, n_samples=len(y))
    w = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y).coef_
    # optimality of the negative log posterior ||r||^2/(2 sigma^2) + ||w||_1 / s (subgradient)
    g = X.T @ (y - X @ w) / sigma**2
    nz = w != 0
    assert nz.any() and (~nz).any()
    np.testing.assert_allclose(g[nz], np.sign(w[nz]) / s, rtol=1e-6)
    assert np.all(np.abs(g[~nz]) <= 1 / s + 1e-9)
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1, got None"):
        penalties.map_alpha("laplace", noise_sd=1.0, prior_scale=1.0)
    with pytest.raises(ValueError, match="prior must be one of 'gaussian', 'laplace', got 'cauchy'"):
        penalties.map_alpha("cauchy", noise_sd=1.0, prior_scale=1.0)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.3])
def test_alpha_max_is_where_every_coefficient_is_zero(problem, l1_ratio):
    X, y, _ = problem
    a = penalties.alpha_max(X, y, l1_ratio=l1_ratio)
    fit = ElasticNet(alpha=a * 1.0001, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000).fit(X, y)
    assert np.count_nonzero(fit.coef_) == 0
    fit = ElasticNet(alpha=a * 0.99, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000).fit(X, y)
    assert np.count_nonzero(fit.coef_) == 1


# --- selection ------------------------------------------------------------------------------------


def test_selection_scores_hand_computed():
    true = np.array([1.0, 0.0, -2.0, 0.0, 0.5])
    s = penalties.selection_scores([0.3, 0.1, 0.0, 0.0, 0.2], true)
    # selected {0, 1, 4}; true {0, 2, 4}; tp 2
    assert s == {"n_nonzero": 3, "true_positives": 2, "precision": 2 / 3, "recall": 2 / 3}
    s = penalties.selection_scores([0.3, 0.1, 0.0, 0.0, 0.2], true, tol=0.15)
    assert s["n_nonzero"] == 2 and s["precision"] == 1.0
    assert np.isnan(penalties.selection_scores(np.zeros(5), true)["precision"])


@pytest.mark.parametrize(
    "coef, true, message",
    [
        ([1.0, 0.0], [1.0, 0.0, 0.0], "same length"),
        ([1.0, 0.0], [0.0, 0.0], "no non-zero entry"),
        ([1.0, np.nan], [1.0, 0.0], "^coef must contain only finite numbers, got nan at index 1$"),
        ([1.0, 0.0], [np.inf, 0.0], "^true_coef must contain only finite numbers, got inf at index 0$"),
        ([[1.0, 0.0]], [1.0, 0.0], r"^coef must be a 1-D array of numbers, got an array of shape \(1, 2\)"),
        (["1", "0"], [1.0, 0.0], "^coef must be a 1-D array of numbers, got .* dtype <U1$"),
    ],
)
def test_selection_scores_bad_input(coef, true, message):
    with pytest.raises(ValueError, match=message):
        penalties.selection_scores(coef, true)


def test_group_nonzero_counts():
    groups = np.array([0, 0, 1, 1, 1, -1])
    coefs = np.array([[1, 0], [0, 0], [1, 1], [1, 0], [0, 0], [5, 5]], dtype=float)
    counts = penalties.group_nonzero_counts(coefs, groups)
    assert counts.index.tolist() == [0, 1]
    np.testing.assert_array_equal(counts.to_numpy(), [[1, 0], [2, 1]])
    assert penalties.group_nonzero_counts(coefs[:, 0], groups)[0].tolist() == [1, 2]
    with pytest.raises(ValueError, match="one entry per feature"):
        penalties.group_nonzero_counts(coefs, groups[:4])
    with pytest.raises(ValueError, match="holds no group"):
        penalties.group_nonzero_counts(coefs, -np.ones(6, dtype=int))


@pytest.mark.parametrize(
    "coefs, groups, message",
    [
        (np.ones((6, 2, 2)), [0, 0, 1, 1, 1, -1], r"^coefs must be \(n_features,\) or \(n_features, n_alphas\) and groups"),
        ([1.0, np.nan, 0.0], [0, 0, 1], "^coefs must contain only finite numbers, got nan at index 1$"),
        ([1.0, 0.0, 0.0], [0.5, 0.5, 1.5], "^groups must be a 1-D array of integers, got .* dtype float64$"),
        ([1.0, 0.0, 0.0], ["a", "a", "b"], "^groups must be a 1-D array of integers, got .* dtype <U1$"),
    ],
)  # fmt: skip
def test_group_nonzero_counts_bad_input(coefs, groups, message):
    with pytest.raises(ValueError, match=message):
        penalties.group_nonzero_counts(coefs, groups)


def test_results_table(problem):
    X, y, w = problem
    models = {
        "Pipe": penalties.penalized_model("lasso", 0.1).fit(X, y),
        "Ridge": Ridge(alpha=1.0).fit(X, y),
        "Lasso": Lasso(alpha=0.1).fit(X, y),
        "EN": ElasticNet(alpha=0.1, l1_ratio=0.3).fit(X, y),
    }
    table = penalties.results_table(models, X, y, true_coef=w)
    assert table.loc["Ridge", "alpha"] == 1.0 and np.isnan(table.loc["Ridge", "l1_ratio"])
    assert table.loc["Lasso", "l1_ratio"] == 1.0 and table.loc["EN", "l1_ratio"] == 0.3
    lasso = models["Lasso"]
    assert table.loc["Lasso", "test_mse"] == pytest.approx(np.mean((y - lasso.predict(X)) ** 2))
    assert table.loc["Lasso", "n_nonzero"] == np.count_nonzero(lasso.coef_)
    assert table.loc["Ridge", "precision"] == pytest.approx(3 / 6)
    assert table.loc["Pipe", "alpha"] == 0.1 and table.loc["Pipe", "l1_ratio"] == 1.0
    pipe = models["Pipe"]
    assert table.loc["Pipe", "test_mse"] == pytest.approx(np.mean((y - pipe.predict(X)) ** 2))
    with pytest.raises(ValueError, match="model 'bad' is not fitted"):
        penalties.results_table({"bad": Ridge()}, X, y)
    with pytest.raises(ValueError, match="models is empty"):
        penalties.results_table({}, X, y)
    with pytest.raises(ValueError, match="^models must be a dict of name -> fitted model, got list$"):
        penalties.results_table([models["Ridge"]], X, y)
