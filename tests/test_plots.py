"""regutils.plots_linear: each function draws what it is given and rejects mismatched input."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from regutils import plots_linear as plots  # noqa: E402
from regutils.penalties import CoefPath  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture
def path():
    alphas = np.logspace(-2, 1, 5)
    coefs = np.array([[3.0, 2.0, 1.0, 0.0, 0.0], [0.5, 0.2, 0.0, 0.0, 0.0], [-1.0, -0.5, 0.0, 0.0, 0.0]])
    return CoefPath(alphas=alphas, coefs=coefs, intercepts=np.zeros(5), penalty="lasso")


def test_constraint_regions():
    fig = plots.plot_constraint_regions(np.eye(2), [1.5, 0.5], 1.0, {1: [1.0, 0.0], 2: [0.95, 0.32]})
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    # the solution marker is drawn at the given point
    left, right = fig.axes
    for ax, point in ((left, (1.0, 0.0)), (right, (0.95, 0.32))):
        xy = [tuple(line.get_xydata()[0]) for line in ax.lines if line.get_marker() == "o"]
        assert xy == [point]
    # the regions have the given radius: the L1 diamond's corners and the L2 disc
    np.testing.assert_allclose(left.patches[0].get_xy()[:4], [[1, 0], [0, 1], [-1, 0], [0, -1]])
    assert right.patches[0].radius == 1.0
    # the dark contour is the loss (w - c)^T A (w - c) at the solution, by hand:
    # (-0.5)² + (-0.5)² = 0.5 and (-0.55)² + (-0.18)² = 0.3349
    assert list(left.collections[-1].levels) == pytest.approx([0.5])
    assert list(right.collections[-1].levels) == pytest.approx([0.3349])
    with pytest.raises(ValueError, match=r"^solutions must have keys 1 and 2, got \[1\]$"):
        plots.plot_constraint_regions(np.eye(2), [1.5, 0.5], 1.0, {1: [1.0, 0.0]})


def test_shrinkage():
    z = np.linspace(-2, 2, 5)
    ax = plots.plot_shrinkage(z, {"OLS": z, "ridge": z / 2}, threshold=0.5)
    assert isinstance(ax, Axes) and len(ax.lines) == 3  # two curves and the zero line
    np.testing.assert_allclose(ax.lines[1].get_ydata(), z / 2)
    with pytest.raises(ValueError, match=r"^curve 'bad' has shape \(3,\), z has \(5,\)$"):
        plots.plot_shrinkage(z, {"bad": z[:3]})


def test_path_colours_true_support(path):
    ax = plots.plot_path(path, true_coef=np.array([1.0, 0.0, -1.0]), groups=np.array([0, 0, -1]), chosen_alpha=0.1)
    colours = {tuple(line.get_ydata()): line.get_color() for line in ax.lines[:3]}
    assert colours[tuple(path.coefs[1])] == plots.COLORS["null"]
    assert colours[tuple(path.coefs[0])] == plots.BLOCK_COLORS[0]
    assert colours[tuple(path.coefs[2])] == "black"
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match=r"^path must be a CoefPath \(from regutils.penalties.coef_path\), got ndarray$"):
        plots.plot_path(np.zeros((3, 5)))


def test_mse_curves_and_dual_axis(path):
    curve = np.linspace(1, 2, 5)
    ax = plots.plot_mse_curves(path.alphas, train=curve, cv_mean=curve + 1, cv_se=0.1 * curve, test=curve + 2, chosen_alpha=0.1)
    assert len(ax.get_legend().get_texts()) == 4
    for line, want in zip(ax.lines[:3], (curve, curve + 1, curve + 2)):
        np.testing.assert_allclose(line.get_xydata(), np.column_stack([path.alphas, want]))
    assert ax.lines[3].get_xdata()[0] == 0.1
    # the CV band spans mean ± one standard error at every alpha: 2 ± 0.1 … 3 ± 0.2
    band = ax.collections[0].get_paths()[0].vertices
    edges = [(band[np.isclose(band[:, 0], a), 1].min(), band[np.isclose(band[:, 0], a), 1].max()) for a in path.alphas]
    np.testing.assert_allclose(edges, [(1.9, 2.1), (2.125, 2.375), (2.35, 2.65), (2.575, 2.925), (2.8, 3.2)])
    ax = plots.plot_coef_and_mse(path, {"training": curve, "CV": curve + 1}, chosen_alpha=0.1, mse_ylim=(0, 5))
    assert ax.right_ax.get_ylim() == (0, 5) and ax.get_ylabel() == "|coefficient|"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.abs(path.coefs[0]))
    with pytest.raises(ValueError, match=r"mse\['CV'\] has shape \(2,\), the path has \(5,\) alphas"):
        plots.plot_coef_and_mse(path, {"CV": curve[:2]})


def test_coef_comparison():
    ax = plots.plot_coef_comparison({"Ridge": [1.0, 0.5, 0.2], "Lasso": [1.0, 0.0, 0.0]}, true_coef=[1, 0, 0], groups=[0, 0, -1])
    # hollow markers for the exact zeros: lasso has two
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [3, 0, 1, 2]
    with pytest.raises(ValueError, match="^coefs is empty$"):
        plots.plot_coef_comparison({})
    with pytest.raises(ValueError, match=r"coefs\['B'\] has shape \(2,\), expected \(3,\)"):
        plots.plot_coef_comparison({"A": [1.0, 0.0, 0.0], "B": [1.0, 0.0]})


def test_path_frame(path):
    fig = plots.plot_path_frame(path, 2, mse={"training": np.arange(5.0)})
    left, right = fig.axes
    heights = [p.get_height() for p in left.patches]
    np.testing.assert_allclose(heights, path.coefs[:, 2])
    assert "1 non-zero" in left.get_title()
    assert right.lines[-1].get_xdata()[0] == pytest.approx(path.alphas[2])
    with pytest.raises(ValueError, match=r"k must index path.alphas \(0..4\), got 5"):
        plots.plot_path_frame(path, 5, mse={})


def test_bias_variance():
    import pandas as pd

    table = pd.DataFrame({
        "alpha": [0.1, 1.0, 10.0], "bias2": [0.0, 1.0, 4.0], "variance": [3.0, 1.0, 0.5],
        "expected_mse": [7.0, 6.0, 8.5], "noise": [4.0, 4.0, 4.0],
    })
    ax = plots.plot_bias_variance(table, title="Ridge")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), table["expected_mse"])
    np.testing.assert_allclose(ax.lines[2].get_ydata(), table["variance"])
    assert ax.lines[3].get_ydata()[0] == 4.0  # the noise floor
    assert ax.lines[4].get_xdata()[0] == 1.0  # the lowest expected MSE is at alpha 1
    with pytest.raises(ValueError, match=r"^table lacks column\(s\) bias2, noise$"):
        plots.plot_bias_variance(table.drop(columns=["noise", "bias2"]))


def test_selection_frequency():
    freqs = {"Lasso": [1.0, 0.5, 0.0], "Elastic net": [1.0, 1.0, 0.2]}
    ax = plots.plot_selection_frequency(freqs, true_coef=[1.0, 1.0, 0.0], groups=[0, 0, -1])
    heights = [bar.get_height() for bars in ax.containers for bar in bars]
    np.testing.assert_allclose(heights, [1.0, 0.5, 0.0, 1.0, 1.0, 0.2])
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 1])  # the true support
    with pytest.raises(ValueError, match="^freqs is empty$"):
        plots.plot_selection_frequency({})
    with pytest.raises(ValueError, match=r"^freqs\['B'\] must be 3 values in \[0, 1\]$"):
        plots.plot_selection_frequency({"A": [1.0, 0.0, 0.0], "B": [1.0, 2.0, 0.0]})
    with pytest.raises(ValueError, match=r"^freqs\['B'\] must be 3 values in \[0, 1\]$"):
        plots.plot_selection_frequency({"A": [1.0, 0.0, 0.0], "B": [1.0, 0.0]})


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: plots.plot_constraint_regions(np.eye(2), [1.5, 0.5], 1.0, [[1.0, 0.0], [0.9, 0.3]]), ValueError,
         r"^solutions must be a dict of norm order -> minimizer, got list$"),
        (lambda: plots.plot_constraint_regions(np.eye(3), [1.5, 0.5], 1.0, {}), ValueError,
         r"^A must be 2 x 2 and center of length 2 \(the plane of two weights\), got \(3, 3\) and \(2,\)$"),
        (lambda: plots.plot_constraint_regions(None, [1.5, 0.5], 1.0, {}), ValueError,
         r"^A must be a 2-D array of numbers, got an array of shape \(\) and dtype object$"),
        (lambda: plots.plot_constraint_regions(np.eye(2), [1.5, 0.5], -1.0, {}), ValueError,
         "^radius must be a finite number > 0, got -1.0$"),
        (lambda: plots.plot_shrinkage([0.0, 1.0], None), ValueError,
         "^curves must be a dict of label -> coefficients, got NoneType$"),
        (lambda: plots.plot_coef_comparison([[1.0, 0.0]]), ValueError,
         "^coefs must be a dict of name -> one value per feature, got list$"),
        (lambda: plots.plot_selection_frequency(None), ValueError,
         "^freqs must be a dict of name -> one value per feature, got NoneType$"),
        (lambda: plots.plot_path_frame(_path(), 0, mse=[np.ones(5)]), ValueError,
         "^mse must be a dict of label -> MSE per alpha, got list$"),
        (lambda: plots.plot_bias_variance({"alpha": [1.0]}), ValueError,
         r"^table must be a pandas DataFrame \(one model's rows of ru.bias_variance\), got dict$"),
    ],
)
def test_figures_name_an_argument_of_the_wrong_kind(call, error, message):
    with pytest.raises(error, match=message):
        call()


def _path():
    alphas = np.logspace(-2, 1, 5)
    return CoefPath(alphas=alphas, coefs=np.ones((3, 5)), intercepts=np.zeros(5), penalty="lasso")


_CURVE = np.linspace(1.0, 2.0, 5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plots.plot_shrinkage(["a", "b"], {"ridge": [0.0, 1.0]}),
         r"^z must be a 1-D array of numbers, got an array of shape \(2,\) and dtype <U1$"),
        (lambda: plots.plot_shrinkage([0.0, 1.0], {"ridge": [0.0, np.nan]}),
         r"^curves\['ridge'\] must contain only finite numbers, got nan at index 1$"),
        (lambda: plots.plot_shrinkage([0.0, 1.0], {"lasso": [0.0, 0.5]}, threshold=-1),
         "^threshold must be a finite number >= 0 or None, got -1$"),
        (lambda: plots.plot_constraint_regions(np.eye(2), [1.5, 0.5], 1.0, {1: [1.0, 0.0, 0.0], 2: [0.9, 0.3]}),
         r"^solutions\[1\] must be a point of the plane \(2 values\), got shape \(3,\)$"),
        (lambda: plots.plot_mse_curves(_path().alphas, train=_CURVE, cv_mean=_CURVE[:3]),
         r"^cv_mean has shape \(3,\), the alphas have \(5,\)$"),
        (lambda: plots.plot_mse_curves(_path().alphas, train=_CURVE, cv_mean=_CURVE, test=["x"] * 5),
         r"^test must be a 1-D array of numbers, got an array of shape \(5,\) and dtype <U1$"),
        (lambda: plots.plot_mse_curves(_path().alphas, train=_CURVE, cv_mean=_CURVE, chosen_alpha=0.0),
         "^chosen_alpha must be a finite number > 0 or None, got 0.0$"),
        (lambda: plots.plot_path(_path(), true_coef=[1.0, 0.0]),
         r"^true_coef needs one entry per feature \(3\), got 2$"),
        (lambda: plots.plot_path(_path(), groups=[0.5, 0.0, -1.0]),
         r"^groups must be a 1-D array of integers, got an array of shape \(3,\) and dtype float64$"),
        (lambda: plots.plot_coef_and_mse(_path(), {"CV": [np.inf] * 5}),
         r"^mse\['CV'\] must contain only finite numbers, got inf at index 0$"),
        (lambda: plots.plot_path_frame(_path(), 1.0, mse={}),
         "^k must be an integer, got 1.0$"),
        (lambda: plots.plot_coef_comparison({"A": [1.0, 0.0]}, groups=[0, 0, 0]),
         r"^groups needs one entry per feature \(2\), got 3$"),
        (lambda: plots.plot_coef_comparison({"A": "ab"}),
         r"^coefs\['A'\] must be a 1-D array of numbers, got an array of shape \(\) and dtype <U2$"),
        (lambda: plots.plot_selection_frequency({"A": [1.0, 0.0]}, true_coef=[1.0, None]),
         r"^true_coef must be a 1-D array of numbers, got an array of shape \(2,\) and dtype object$"),
    ],
)
def test_figures_name_a_bad_array_or_number(call, message):
    with pytest.raises(ValueError, match=message):
        call()
