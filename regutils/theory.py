"""Closed forms behind the neural-network chapters, computed on models small enough to solve.

Early stopping as an L2 penalty
-------------------------------
On a linear least-squares model the objective is exactly quadratic,

.. math::

    L(w) = \\frac{1}{2n} \\lVert y - X w \\rVert^2, \\qquad
    H = \\nabla^2 L = \\frac{1}{n} X^\\top X = Q \\Lambda Q^\\top ,

so gradient descent started at ``w = 0`` with step ``lr`` can be written down after any number
of steps ``t``: in the eigenbasis of ``H`` each coordinate of the least-squares solution is
multiplied by ``1 - (1 - lr λ_i)^t``. The L2-penalized minimizer of
``L(w) + (alpha/2)‖w‖²`` multiplies the same coordinate by ``λ_i / (λ_i + alpha)``. Both are
filters that keep directions of large curvature and shrink directions of small curvature;
they agree closely when ``alpha = 1 / (t · lr)`` (Goodfellow, Bengio and Courville, *Deep
Learning*, §7.8). :func:`gd_closed_form`, :func:`ridge_solution`, :func:`shrinkage_factors`
and :func:`equivalent_alpha` compute these quantities; :func:`gd_path` runs the iteration
itself, as an independent check.

Every ``alpha`` here is the coefficient of ``(alpha/2)‖w‖²`` added to the *mean* loss above,
the convention of ``weight_decay`` in :func:`regutils.fit`. scikit-learn's ``Ridge`` minimizes
``‖y − Xw‖² + alpha_sk ‖w‖²`` (a sum, without ``1/n``), so ``alpha_sk = n · alpha``.
No intercept is fitted: centre ``X`` and ``y`` first.
"""

from __future__ import annotations

import numpy as np

from .checks import check_array, check_int, check_real
from .penalties import _as_features, _as_xy

__all__ = [
    "hessian_eigen",
    "gd_path",
    "gd_closed_form",
    "ridge_solution",
    "shrinkage_factors",
    "equivalent_alpha",
    "matching_alpha",
]


def _check_steps(steps) -> int:
    return check_int("steps", steps, 0)


def _check_positive(name: str, value) -> float:
    return check_real(name, value, 0.0, closed="neither")


def _check_eigvals(eigvals) -> np.ndarray:
    eigvals = check_array("eigvals", eigvals, ndim=1, min_len=1)
    if eigvals.min() < 0:
        raise ValueError(f"eigvals must be >= 0 (eigenvalues of XᵀX/n), got {float(eigvals.min())!r}")
    return eigvals


def _check_lr(lr, eigvals: np.ndarray) -> float:
    lr = _check_positive("lr", lr)
    top = float(np.max(eigvals)) if eigvals.size else 0.0
    if top > 0 and lr >= 2.0 / top:
        raise ValueError(
            f"lr={lr:g} makes gradient descent diverge: it needs lr < 2 / largest Hessian "
            f"eigenvalue = {2.0 / top:g}"
        )
    return lr


def hessian_eigen(X) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending, clipped at 0) and eigenvectors of ``H = XᵀX / n``.

    Returns
    -------
    eigvals : ndarray, shape (d,)
    Q : ndarray, shape (d, d)
        Orthonormal columns: ``H = Q diag(eigvals) Qᵀ``.

    Raises
    ------
    ValueError
        If ``X`` is not a 2-D array of finite numbers with at least one row and one column.
    """
    X = _as_features(X)
    eigvals, Q = np.linalg.eigh(X.T @ X / len(X))
    return np.clip(eigvals, 0.0, None), Q


def gd_path(X, y, *, lr: float, steps: int) -> np.ndarray:
    """Run full-batch gradient descent on ``L(w) = ‖y − Xw‖² / (2n)`` from ``w = 0``.

    The update is ``w ← w − lr · Xᵀ(Xw − y) / n``.

    Returns
    -------
    ndarray, shape (steps + 1, d)
        Row ``t`` is the weight vector after ``t`` steps (row 0 is zeros).

    Raises
    ------
    ValueError
        For mismatched or non-finite ``X``/``y``, ``steps < 0``, ``lr <= 0`` or an ``lr`` at
        or above ``2 / λ_max``, where the iteration diverges.
    """
    X, y = _as_xy(X, y)
    steps = _check_steps(steps)
    eigvals, _ = hessian_eigen(X)
    lr = _check_lr(lr, eigvals)
    n = len(X)
    path = np.zeros((steps + 1, X.shape[1]))
    w = path[0].copy()
    for t in range(1, steps + 1):
        w = w - lr * (X.T @ (X @ w - y)) / n
        path[t] = w
    return path


def shrinkage_factors(eigvals, *, lr: float | None = None, steps: int | None = None, alpha: float | None = None) -> np.ndarray:
    """How much of the least-squares solution survives along each Hessian eigen-direction.

    Give ``lr`` and ``steps`` for gradient descent from zero: ``1 − (1 − lr λ)^steps``.
    Give ``alpha`` for the L2 penalty ``(alpha/2)‖w‖²``: ``λ / (λ + alpha)``.
    Exactly one of the two must be given. Eigenvalues of 0 give a factor of 0 in both cases
    (nothing is learned along a direction the data never varies in).

    Raises
    ------
    ValueError
        If both or neither are given; if ``eigvals`` is not a non-empty 1-D array of finite
        numbers >= 0; for a non-positive ``alpha`` or ``lr``, a divergent ``lr``
        (``>= 2 / max(eigvals)``) or ``steps < 0``.
    """
    eigvals = _check_eigvals(eigvals)
    gd = lr is not None or steps is not None
    if gd == (alpha is not None):
        raise ValueError("give lr and steps (gradient descent) or alpha (L2 penalty): exactly one of the two")
    if gd:
        if lr is None or steps is None:
            raise ValueError("gradient descent needs both lr and steps")
        steps = _check_steps(steps)
        lr = _check_lr(lr, eigvals)
        # 1 - (1 - lr λ)^t written with expm1/log1p: accurate when lr λ is tiny
        base = 1.0 - lr * eigvals
        with np.errstate(divide="ignore"):
            out = -np.expm1(steps * np.log1p(-lr * eigvals)) if np.all(base > 0) else 1.0 - base**steps
        return np.where(eigvals == 0, 0.0, out)
    alpha = _check_positive("alpha", alpha)
    return eigvals / (eigvals + alpha)


def gd_closed_form(X, y, *, lr: float, steps: int) -> np.ndarray:
    """The weights gradient descent reaches after ``steps`` steps, without iterating.

    With ``H = Q Λ Qᵀ`` and ``b = Xᵀy / n``, starting from zero:
    ``w_t = Q diag(f_i / λ_i) Qᵀ b`` with ``f_i = 1 − (1 − lr λ_i)^t``; along a direction
    with ``λ_i = 0`` the weight stays 0. Equals row ``steps`` of :func:`gd_path`.
    """
    X, y = _as_xy(X, y)
    steps = _check_steps(steps)
    eigvals, Q = hessian_eigen(X)
    f = shrinkage_factors(eigvals, lr=lr, steps=steps)
    b = Q.T @ (X.T @ y) / len(X)
    scale = np.divide(f, eigvals, out=np.zeros_like(f), where=eigvals > 0)
    return Q @ (scale * b)


def ridge_solution(X, y, alpha: float) -> np.ndarray:
    """Minimizer of ``‖y − Xw‖² / (2n) + (alpha/2)‖w‖²``: ``(XᵀX/n + alpha I)⁻¹ Xᵀy / n``.

    scikit-learn's ``Ridge(alpha=n * alpha, fit_intercept=False)`` gives the same weights.
    """
    X, y = _as_xy(X, y)
    alpha = _check_positive("alpha", alpha)
    n, d = X.shape
    return np.linalg.solve(X.T @ X / n + alpha * np.eye(d), X.T @ y / n)


def equivalent_alpha(lr: float, steps: int) -> float:
    """The L2 strength that ``steps`` steps of gradient descent at rate ``lr`` act like: ``1 / (steps · lr)``.

    Where ``steps · lr · λ ≪ 1`` — with ``alpha = 1 / (steps · lr)`` the same condition as
    ``λ ≪ alpha`` — both filters are ``≈ steps · lr · λ`` (gradient descent's
    ``1 − (1 − lr λ)^steps``, ridge's ``λ / (λ + alpha)``); where ``λ ≫ alpha`` both are
    ``≈ 1``. In between they differ by a bounded amount (see :func:`matching_alpha` for the
    exact per-direction value).
    """
    lr = _check_positive("lr", lr)
    # zero steps of gradient descent would be an infinite penalty
    steps = check_int("steps", steps, 1)
    return 1.0 / (steps * lr)


def matching_alpha(eigvals, *, lr: float, steps: int) -> np.ndarray:
    """Per eigen-direction, the ``alpha`` whose L2 shrinkage equals that of early stopping.

    Solves ``λ / (λ + alpha) = 1 − (1 − lr λ)^steps`` for ``alpha``:
    ``alpha = λ (1 − lr λ)^steps / (1 − (1 − lr λ)^steps)``. One ``alpha`` for all directions
    exists only approximately; the spread of this array shows how good the approximation is.
    Directions with ``λ = 0`` give NaN (no ``alpha`` is needed: both filters are 0 there).
    ``steps`` must be >= 1: after no step both filters are 0 and no finite ``alpha`` matches.
    """
    eigvals = _check_eigvals(eigvals)
    steps = check_int("steps", steps, 1)
    f = shrinkage_factors(eigvals, lr=lr, steps=steps)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = eigvals * (1.0 - f) / f
    return np.where(eigvals > 0, out, np.nan)
