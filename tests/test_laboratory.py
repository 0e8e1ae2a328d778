"""regutils.laboratory against the generator's description, scikit-learn and brute force."""

import re

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from regutils import data, laboratory as lab, penalties


def test_population_is_the_generators():
    pop = lab.population()
    # the coefficients data.make_regression_data's docstring lists, on the latent scale
    expected = np.zeros(48)
    expected[0:4], expected[4:8] = 1.5, -1.0
    expected[24:30] = [3, -2.5, 2, -1.5, 1, -0.75]
    np.testing.assert_array_equal(pop.beta, expected)
    _, true_coef = data.make_regression_data()
    np.testing.assert_array_equal(np.flatnonzero(pop.beta), np.flatnonzero(true_coef.to_numpy()))
    assert (pop.intercept, pop.noise_sd) == (5.0, 2.0)


def test_draw_has_the_generators_statistics():
    Z, y = lab.draw_datasets(2, 50_000, seed=0)
    assert Z.shape == (2, 50_000, 48) and y.shape == (2, 50_000)
    C = np.corrcoef(Z[0].T)
    assert C[0, 1] == pytest.approx(0.95, abs=0.01) and C[20, 23] == pytest.approx(0.95, abs=0.01)
    assert abs(C[0, 4]) < 0.02 and abs(C[24, 30]) < 0.02
    pop = lab.population()
    noise = y - pop.intercept - Z @ pop.beta
    assert noise.std() == pytest.approx(2.0, rel=0.01)
    Z2, _ = lab.draw_datasets(2, 50_000, seed=0)
    np.testing.assert_array_equal(Z, Z2)  # seeded


@pytest.mark.parametrize(
    "penalty, model",
    [
        ("ridge", lambda a: Ridge(alpha=a)),
        ("lasso", lambda a: Lasso(alpha=a, tol=1e-12, max_iter=100_000)),
        ("elasticnet", lambda a: ElasticNet(alpha=a, l1_ratio=0.5, tol=1e-12, max_iter=100_000)),
    ],
)
def test_fit_draws_is_a_scaler_pipeline_per_draw(penalty, model):
    Z, y = lab.draw_datasets(3, 40, seed=1)
    Z = Z[:, :, :10]
    y = y - Z.sum(axis=2)  # any response will do
    alphas = [0.05, 0.5, 5.0]
    fits = lab.fit_draws(Z, y, alphas, penalty=penalty, l1_ratio=0.5, tol=1e-10)
    Zt, _ = lab.draw_datasets(1, 7, seed=2)
    pred = fits.predict(Zt[0, :, :10])
    for b in range(3):
        for k, a in enumerate(alphas):
            pipe = make_pipeline(StandardScaler(), model(a)).fit(Z[b], y[b])
            np.testing.assert_allclose(fits.coefs[b, :, k], pipe[-1].coef_, atol=1e-6)
            np.testing.assert_allclose(pred[b, :, k], pipe.predict(Zt[0, :, :10]), atol=1e-6)


@pytest.mark.parametrize("penalty", ["ridge", "lasso"])
def test_a_constant_column_is_left_as_standard_scaler_leaves_it(penalty):
    # StandardScaler gives a constant column scale 1 (it becomes zeros); before, the
    # laboratory divided by its zero standard deviation and every coefficient was NaN
    Z, y = lab.draw_datasets(2, 30, seed=8)
    Z = Z[:, :, :5].copy()
    Z[:, :, 2] = 4.0
    fits = lab.fit_draws(Z, y, [0.1, 1.0], penalty=penalty, tol=1e-10)
    for b in range(2):
        for k, a in enumerate([0.1, 1.0]):
            model = Ridge(alpha=a) if penalty == "ridge" else Lasso(alpha=a, tol=1e-12, max_iter=100_000)
            pipe = make_pipeline(StandardScaler(), model).fit(Z[b], y[b])
            np.testing.assert_allclose(fits.coefs[b, :, k], pipe[-1].coef_, atol=1e-6)
            np.testing.assert_allclose(fits.predict(Z[b])[b, :, k], pipe.predict(Z[b]), atol=1e-6)


def test_bias_variance_is_the_brute_force_average():
    Z, y = lab.draw_datasets(6, 60, seed=3)
    Zt, yt = lab.draw_datasets(1, 30, seed=4)
    fits = lab.fit_draws(Z, y, [1.0, 50.0], penalty="ridge")
    table = lab.bias_variance(fits, Zt[0], yt[0], model="ridge")
    pop = lab.population()
    F = fits.predict(Zt[0])  # (draws, test rows, alphas)
    f_star = pop.intercept + Zt[0] @ pop.beta
    var = F.var(axis=0, ddof=1).mean(axis=0)
    np.testing.assert_allclose(table["variance"], var, rtol=1e-10)
    plug_in = ((F.mean(axis=0) - f_star[:, None]) ** 2).mean(axis=0)
    np.testing.assert_allclose(table["bias2"], plug_in - var / 6, rtol=1e-10)
    np.testing.assert_allclose(table["expected_mse"], ((yt[0][None, :, None] - F) ** 2).mean(axis=(0, 1)))
    assert table["noise"].iloc[0] == pytest.approx(np.mean((yt[0] - f_star) ** 2))
    assert list(table.columns) == ["model", "alpha", "bias2", "variance", "expected_mse", "noise"]


def test_cv_draws_is_cv_curve_with_scaling_in_the_folds():
    Z, y = lab.draw_datasets(2, 50, seed=5)
    alphas = np.logspace(-2, 0, 5)
    cv = KFold(5, shuffle=True, random_state=0)
    out = lab.cv_draws(Z, y, alphas, penalty="lasso", cv=cv, tol=1e-6)
    assert out.shape == (2, 5, 5)
    for b in range(2):
        ref = penalties.cv_curve(Z[b], y[b], alphas, penalty="lasso", cv=cv, standardize=True)
        np.testing.assert_allclose(out[b], ref.fold_mse, rtol=1e-3)


def test_bad_input():
    with pytest.raises(ValueError, match="n_draws must be an integer >= 1, got 0"):
        lab.draw_datasets(0, 10, seed=0)
    with pytest.raises(ValueError, match="Z must be"):
        lab.fit_draws(np.ones((3, 4)), np.ones(3), [1.0], penalty="ridge")
    Z, y = lab.draw_datasets(1, 20, seed=0)
    fits = lab.fit_draws(Z, y, [1.0], penalty="ridge")
    with pytest.raises(ValueError, match="at least 2 draws"):
        lab.bias_variance(fits, Z[0], y[0], model="ridge")


@pytest.mark.parametrize("seed", [-1, 1.5, "a", True, None])
def test_seeds_must_be_integers(seed):
    with pytest.raises(ValueError, match=rf"^seed must be an integer >= 0, got {re.escape(repr(seed))}$"):
        lab.draw_datasets(2, 10, seed=seed)
    with pytest.raises(ValueError, match=rf"^seed must be an integer >= 0, got {re.escape(repr(seed))}$"):
        lab.generator_intercept(seed)


Z3, Y3 = lab.draw_datasets(3, 20, seed=0)


@pytest.mark.parametrize(
    "Z, y, kwargs, message",
    [
        (Z3[0], Y3[0], {}, r"^Z must be a 3-D array of numbers, got an array of shape \(20, 48\)"),
        (Z3, Y3[:, :5], {}, r"^Z must be \(n_draws, n_rows, n_features\) and y \(n_draws, n_rows\), got \(3, 20, 48\), \(3, 5\)$"),
        (np.where(Z3 > 2.5, np.nan, Z3), Y3, {}, r"^Z must contain only finite numbers, got nan at index \("),
        (Z3, np.where(Y3 > 5, np.inf, Y3), {}, r"^y must contain only finite numbers, got inf at index \("),
        (Z3[:, :1], Y3[:, :1], {}, r"^Z must have at least 1 draw of 2 rows and 1 feature, got shape \(3, 1, 48\)$"),
        (Z3[:0], Y3[:0], {}, r"^Z must have at least 1 draw of 2 rows and 1 feature, got shape \(0, 20, 48\)$"),
        (Z3[:, :, :0], Y3, {}, r"^Z must have at least 1 draw of 2 rows and 1 feature, got shape \(3, 20, 0\)$"),
        (Z3, Y3, dict(tol=0), r"^tol must be a finite number > 0, got 0$"),
        (Z3, Y3, dict(tol="1e-4"), r"^tol must be a finite number > 0, got '1e-4'$"),
        (Z3, Y3, dict(alphas=["1"]), r"^alphas must be a 1-D array of numbers, got .* dtype <U1$"),
    ],
)  # fmt: skip
def test_fit_and_cv_draws_name_the_bad_argument(Z, y, kwargs, message):
    kwargs = {"alphas": [1.0], "penalty": "lasso", **kwargs}
    with pytest.raises(ValueError, match=message):
        lab.fit_draws(Z, y, **kwargs)
    with pytest.raises(ValueError, match=message):
        lab.cv_draws(Z, y, **kwargs)


def test_cv_draws_needs_a_splitter():
    with pytest.raises(ValueError, match=r"^cv must be a scikit-learn splitter \(such as KFold\(5\)\) or None, got 5$"):
        lab.cv_draws(Z3, Y3, [1.0], penalty="ridge", cv=5)


FITS = lab.fit_draws(Z3, Y3, [1.0], penalty="ridge")
ZT, YT = (a[0] for a in lab.draw_datasets(1, 30, seed=1))


@pytest.mark.parametrize(
    "fits, Z_test, y_test, message",
    [
        ("fits", ZT, YT, r"^fits must be the DrawFits of fit_draws, got str$"),
        (FITS, ZT[:, :5], YT, r"^Z_test must have one column per feature of the fits \(48\), got 5$"),
        (FITS, ZT, YT[:10], r"^y_test must have one value per row of Z_test \(30\), got \(10,\)$"),
        (FITS, ZT[None], YT, r"^Z_test must be a 2-D array of numbers, got an array of shape \(1, 30, 48\)"),
        (FITS, np.where(ZT > 2.5, np.nan, ZT), YT, r"^Z_test must contain only finite numbers, got nan at index \("),
        (FITS, ZT, np.full(30, np.nan), r"^y_test must contain only finite numbers, got nan at index 0$"),
        (FITS, ZT[:0], YT[:0], r"^Z_test must have at least 1 row, got 0$"),
    ],
)  # fmt: skip
def test_test_set_errors_name_the_bad_argument(fits, Z_test, y_test, message):
    with pytest.raises(ValueError, match=message):
        lab.test_mse(fits, Z_test, y_test)
    with pytest.raises(ValueError, match=message):
        lab.bias_variance(fits, Z_test, y_test, model="ridge")


def test_bias_variance_needs_a_model_name_and_predict_a_matching_z():
    with pytest.raises(ValueError, match="^model must be a non-empty string, got 3$"):
        lab.bias_variance(FITS, ZT, YT, model=3)
    with pytest.raises(ValueError, match=r"^Z must be \(n_rows, 48\) or \(3, n_rows, 48\), got shape \(30, 5\)$"):
        FITS.predict(ZT[:, :5])
    with pytest.raises(ValueError, match=r"^Z must be \(n_rows, 48\) or \(3, n_rows, 48\), got shape \(2, 20, 48\)$"):
        FITS.predict(Z3[:2])


def test_generator_intercept_leaves_exactly_the_generators_noise():
    frame, true_coef = data.make_regression_data(7)
    residual = frame["y"] - lab.generator_intercept(7) - frame[data.FEATURES] @ true_coef
    # replay the generator's draws to the end: its noise is the last 100 normals
    rng = np.random.default_rng(7)
    rng.standard_normal((100, 6))
    rng.standard_normal((100, 48))
    rng.normal(0.0, 3.0, 48)
    rng.uniform(0, 1, 48)
    noise = rng.normal(0.0, 2.0, 100)
    np.testing.assert_allclose(residual, noise, atol=1e-9)


def test_blocks_split_by_size_hand_computed():
    groups = np.array([0, 0, 1, 1, -1])
    # one draw, three alphas: sizes 3, 3, 1
    coefs = np.array([[[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 1, 0], [0, 0, 0]]], dtype=float)
    out = lab.blocks_split_by_size(coefs, groups, [0, 1])
    # alpha 0 (size 3): block 0 whole, block 1 split; alpha 1 (size 3): block 0 split,
    # block 1 whole; alpha 2 (size 1): block 0 empty (not split), block 1 split
    assert out["n_nonzero"].tolist() == [1, 3]
    assert out["n_models"].tolist() == [1, 2]
    np.testing.assert_allclose(out["share_split"], [0.5, 0.5])
    # a draw with every block whole or empty
    whole = np.array([[[1, 0], [1, 0], [1, 0], [1, 0], [1, 1]]], dtype=float)
    out = lab.blocks_split_by_size(whole, groups, [0, 1])
    np.testing.assert_allclose(out["share_split"], [0.0, 0.0])
    with pytest.raises(ValueError, match="one group per feature"):
        lab.blocks_split_by_size(coefs, groups[:3], [0])
    for blocks, message in [
        ([], "^blocks must have at least 1 value, got 0$"),
        (0, r"^blocks must be a 1-D array of integers, got an array of shape \(\)"),
        (["0"], "^blocks must be a 1-D array of integers, got .* dtype <U1$"),
        ([0, 7], r"^blocks must be group ids found in groups \(not -1, no group\), got \[7\]$"),
        ([-1], r"^blocks must be group ids found in groups \(not -1, no group\), got \[-1\]$"),
    ]:
        with pytest.raises(ValueError, match=message):
            lab.blocks_split_by_size(coefs, groups, blocks)
    with pytest.raises(ValueError, match=r"^coefs must contain only finite numbers, got nan at index \(0, 0, 0\)$"):
        lab.blocks_split_by_size(np.full_like(coefs, np.nan), groups, [0])
    with pytest.raises(ValueError, match="^groups must be a 1-D array of integers, got .* dtype float64$"):
        lab.blocks_split_by_size(coefs, groups + 0.5, [0])


def test_test_mse_is_the_brute_force_mse():
    Z, y = lab.draw_datasets(3, 40, seed=6)
    Zt, yt = lab.draw_datasets(1, 25, seed=7)
    fits = lab.fit_draws(Z, y, [0.1, 1.0], penalty="lasso")
    F = fits.predict(Zt[0])
    np.testing.assert_allclose(
        lab.test_mse(fits, Zt[0], yt[0]), ((yt[0][None, :, None] - F) ** 2).mean(axis=1)
    )
    with pytest.raises(ValueError, match="one value per row"):
        lab.test_mse(fits, Zt[0], yt[0][:3])


