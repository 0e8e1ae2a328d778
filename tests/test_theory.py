"""regutils.theory against independent answers: explicit iteration, scikit-learn, hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from regutils import theory


@pytest.fixture
def problem(rng):
    # correlated features, so the Hessian's eigenvalues spread over orders of magnitude
    n, d = 60, 6
    A = rng.normal(size=(d, d)) * np.array([3.0, 1.0, 0.5, 0.2, 0.1, 0.05])
    X = rng.normal(size=(n, d)) @ A
    y = X @ rng.normal(size=d) + rng.normal(scale=0.5, size=n)
    return X - X.mean(0), y - y.mean()


def test_gd_path_is_gradient_descent_written_out(problem):
    X, y = problem
    n = len(y)
    lr = 0.5 / np.linalg.eigvalsh(X.T @ X / n).max()
    w = np.zeros(X.shape[1])
    expected = [w]
    for _ in range(25):
        # gradient of ||y - Xw||^2 / (2n), by hand
        w = w - lr * (-(X.T @ (y - X @ w)) / n)
        expected.append(w)
    np.testing.assert_allclose(theory.gd_path(X, y, lr=lr, steps=25), np.array(expected), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("steps", [0, 1, 7, 300])
def test_closed_form_equals_iteration(problem, steps):
    X, y = problem
    lr = 1.5 / np.linalg.eigvalsh(X.T @ X / len(y)).max()  # beyond 1/λ_max: oscillating but stable
    path = theory.gd_path(X, y, lr=lr, steps=steps)
    np.testing.assert_allclose(theory.gd_closed_form(X, y, lr=lr, steps=steps), path[-1], rtol=1e-8, atol=1e-10)


def test_ridge_solution_matches_sklearn(problem):
    X, y = problem
    alpha = 0.37
    # sklearn minimizes ||y - Xw||^2 + alpha_sk ||w||^2: alpha_sk = n * alpha
    sk = Ridge(alpha=len(y) * alpha, fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(theory.ridge_solution(X, y, alpha), sk.coef_, rtol=1e-8)


def test_shrinkage_factors_hand_computed():
    lam = np.array([0.0, 0.5, 1.0, 3.0])
    # lr = 0.5, 2 steps: 1 - (1 - 0.5 λ)^2; at λ = 3 the base is -0.5 (oscillating, still stable)
    np.testing.assert_allclose(
        theory.shrinkage_factors(lam, lr=0.5, steps=2), [0.0, 1 - 0.75**2, 1 - 0.5**2, 1 - (-0.5) ** 2]
    )
    np.testing.assert_allclose(theory.shrinkage_factors(lam, alpha=1.0), [0.0, 1 / 3, 0.5, 0.75])


def test_ridge_with_equivalent_alpha_is_close_to_early_stopping(problem):
    X, y = problem
    n = len(y)
    lr = 0.2 / np.linalg.eigvalsh(X.T @ X / n).max()
    steps = 40
    w_gd = theory.gd_closed_form(X, y, lr=lr, steps=steps)
    w_ridge = theory.ridge_solution(X, y, theory.equivalent_alpha(lr, steps))
    w_ls = np.linalg.lstsq(X, y, rcond=None)[0]
    # both are far from least squares, and much closer to each other than to it
    gap = np.linalg.norm(w_gd - w_ridge)
    assert gap < 0.25 * np.linalg.norm(w_ls - w_ridge)
    assert gap < 0.25 * np.linalg.norm(w_ridge)


def test_small_eigenvalue_limit_of_both_filters():
    # where lr λ << 1 and λ << alpha both filters are ≈ steps · lr · λ
    lr, steps = 0.01, 100
    lam = np.array([1e-4, 1e-3])
    alpha = theory.equivalent_alpha(lr, steps)
    assert alpha == pytest.approx(1.0)
    expected = steps * lr * lam
    np.testing.assert_allclose(theory.shrinkage_factors(lam, lr=lr, steps=steps), expected, rtol=2e-3)
    np.testing.assert_allclose(theory.shrinkage_factors(lam, alpha=alpha), expected, rtol=2e-3)


def test_matching_alpha_reproduces_the_early_stopping_filter():
    lam = np.array([0.0, 0.01, 0.3, 2.0])
    lr, steps = 0.4, 12
    a = theory.matching_alpha(lam, lr=lr, steps=steps)
    assert np.isnan(a[0])
    f_es = theory.shrinkage_factors(lam[1:], lr=lr, steps=steps)
    f_l2 = lam[1:] / (lam[1:] + a[1:])
    np.testing.assert_allclose(f_l2, f_es, rtol=1e-10)


def test_hessian_eigen_reconstructs_h(problem):
    X, _ = problem
    lam, Q = theory.hessian_eigen(X)
    np.testing.assert_allclose(Q @ np.diag(lam) @ Q.T, X.T @ X / len(X), atol=1e-10)
    assert np.all(np.diff(lam) >= 0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda X, y: theory.gd_path(X, y, lr=0.1, steps=-1), "steps must be an integer >= 0"),
        (lambda X, y: theory.gd_path(X, y, lr=0.0, steps=3), "lr must be a finite number > 0"),
        (lambda X, y: theory.gd_path(X, y, lr=1e6, steps=3), "diverge"),
        (lambda X, y: theory.gd_path(X, y[:-1], lr=0.1, steps=3), "one value per row"),
        (lambda X, y: theory.gd_path(X[:, 0], y, lr=0.1, steps=3), "X must be a 2-D array of numbers"),
        (lambda X, y: theory.ridge_solution(X, y, -1.0), "alpha must be a finite number > 0"),
        (lambda X, y: theory.ridge_solution(X * np.nan, y, 1.0), "finite"),
        (lambda X, y: theory.equivalent_alpha(0.1, 0), "steps must be an integer >= 1, got 0"),
        (lambda X, y: theory.shrinkage_factors([1.0], lr=0.1, steps=2, alpha=1.0), "exactly one of the two"),
        (lambda X, y: theory.shrinkage_factors([1.0]), "exactly one of the two"),
        (lambda X, y: theory.shrinkage_factors([1.0], lr=0.1), "both lr and steps"),
        (lambda X, y: theory.shrinkage_factors([-1.0], alpha=1.0), r"^eigvals must be >= 0 \(eigenvalues of XᵀX/n\), got -1.0$"),
        (lambda X, y: theory.shrinkage_factors([1.0, np.nan], alpha=1.0), "^eigvals must contain only finite numbers, got nan at index 1$"),
        (lambda X, y: theory.shrinkage_factors([], alpha=1.0), "^eigvals must have at least 1 value, got 0$"),
        (lambda X, y: theory.shrinkage_factors([[1.0]], alpha=1.0), r"^eigvals must be a 1-D array of numbers, got an array of shape \(1, 1\)"),
        (lambda X, y: theory.shrinkage_factors(["1"], alpha=1.0), "^eigvals must be a 1-D array of numbers, got .* dtype <U1$"),
        (lambda X, y: theory.matching_alpha([1.0], lr=0.1, steps=0), "^steps must be an integer >= 1, got 0$"),
        (lambda X, y: theory.matching_alpha([-1.0], lr=0.1, steps=2), "^eigvals must be >= 0"),
        (lambda X, y: theory.hessian_eigen(np.where(X > 1, np.nan, X)), r"^X must contain only finite numbers, got nan at index \("),
        (lambda X, y: theory.hessian_eigen(X[:, :0]), r"^X must have at least one column \(feature\), got shape \(\d+, 0\)$"),
        (lambda X, y: theory.hessian_eigen(X[:0]), "^X must have at least 1 row, got 0$"),
        (lambda X, y: theory.hessian_eigen("X"), "^X must be a 2-D array of numbers, got .* dtype <U1$"),
        (lambda X, y: theory.gd_path(X, y, lr=0.1, steps=True), "steps must be an integer"),
    ],
)
def test_bad_input_is_refused(problem, call, message):
    X, y = problem
    with pytest.raises(ValueError, match=message):
        call(X, y)
