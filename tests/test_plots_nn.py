"""regutils.plots_nn: what is drawn matches the numbers given, computed here independently."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from regutils import plots_nn
from regutils.training import History


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def make_history(val_loss, *, stop_reason="completed", best_epoch=None):
    val_loss = list(val_loss)
    n = len(val_loss)
    best = int(np.argmin(val_loss)) + 1 if best_epoch is None else best_epoch
    return History(
        train_loss=[1.0 / (k + 1) for k in range(n)],
        train_acc=[0.5 + 0.04 * k for k in range(n)],
        val_loss=val_loss,
        val_acc=[0.5 + 0.03 * k for k in range(n)],
        best_epoch=best,
        best_val_loss=val_loss[best - 1],
        stopped_epoch=n,
        stop_reason=stop_reason,
    )


def test_learning_curves_draw_both_curves_best_point_and_stop_line():
    h = make_history([0.9, 0.5, 0.4, 0.45, 0.5], stop_reason="early_stopping")
    ax = plots_nn.plot_learning_curves(h, mark_stop=True)
    lines = ax.get_lines()
    train, val, best, stop = lines
    np.testing.assert_allclose(train.get_ydata(), h.train_loss)
    np.testing.assert_allclose(val.get_ydata(), [0.9, 0.5, 0.4, 0.45, 0.5])
    assert list(best.get_xdata()) == [3] and list(best.get_ydata()) == [0.4]
    assert list(stop.get_xdata()) == [5, 5]


def test_learning_curves_error_metric_is_percent_of_wrong_answers():
    h = make_history([0.9, 0.5])
    ax = plots_nn.plot_learning_curves([h, h], labels=["a", "b"], metric="error", mark_best=False)
    assert len(ax.get_lines()) == 4
    # val_acc 0.5 and 0.53 -> 50 % and 47 % error
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [50.0, 47.0])


def test_learning_curves_without_early_stop_has_no_stop_line():
    ax = plots_nn.plot_learning_curves(make_history([0.5, 0.4]), mark_stop=True, mark_best=False)
    assert len(ax.get_lines()) == 2


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(histories=[]), ValueError, "^histories is empty: need at least one History$"),
        (dict(histories=[object()]), ValueError, r"^histories\[0\] must be a regutils.History \(needs .train_loss\), got object$"),
        (dict(histories=object()), ValueError, r"^histories must be a regutils.History \(needs .train_loss\), got object$"),
        (dict(histories=[None, None], labels=["x"]), ValueError,
         r"^histories\[0\] must be a regutils.History \(needs .train_loss\), got NoneType$"),
        (dict(metric="accuracy"), ValueError, "^metric must be 'loss' or 'error', got 'accuracy'$"),
        (dict(labels=["a", "b", "c"]), ValueError, r"^labels needs one entry per history \(1\), got 3$"),
    ],
)
def test_learning_curves_bad_input(kwargs, error, message):
    kwargs = {"histories": [make_history([0.5, 0.4])], **kwargs}
    with pytest.raises(error, match=message):
        plots_nn.plot_learning_curves(**kwargs)


def test_confusion_shows_off_diagonal_counts_and_hides_diagonal():
    cm = np.array([[50, 2, 0], [1, 40, 3], [0, 0, 30]])
    ax = plots_nn.plot_confusion(cm)
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["1", "2", "3"]  # the non-zero errors, nothing else
    image = ax.images[0].get_array()
    assert np.ma.is_masked(image[0, 0]) or np.isnan(image[0, 0])
    assert image[1, 2] == 3
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["0 (50)", "1 (40)", "2 (30)"]


@pytest.mark.parametrize(
    "cm, message",
    [
        (np.zeros((2, 3)), r"^confusion must be a non-empty square matrix, got shape \(2, 3\)$"),
        (np.zeros((0, 0)), r"^confusion must be a non-empty square matrix, got shape \(0, 0\)$"),
        (np.array([[1, -1], [0, 2]]), "^confusion must hold non-negative counts$"),
        (np.array([[1, np.nan], [0, 2]]), r"^confusion must contain only finite numbers, got nan at index \(0, 1\)$"),
        (np.array([["a", "b"], ["c", "d"]]),
         "^confusion must be a 2-D array of numbers, got an array of shape \\(2, 2\\) and dtype <U1$"),
        (np.arange(4), r"^confusion must be a 2-D array of numbers, got an array of shape \(4,\) and dtype int64$"),
    ],
)
def test_confusion_bad_input(cm, message):
    with pytest.raises(ValueError, match=message):
        plots_nn.plot_confusion(cm)


def test_confusion_class_names_length_checked():
    with pytest.raises(ValueError, match="^class_names needs 2 entries, got 1$"):
        plots_nn.plot_confusion(np.eye(2), class_names=["a"])


def test_predictions_grid_marks_wrong_answers(rng):
    images = rng.uniform(size=(5, 28, 28))
    fig = plots_nn.plot_predictions(images, [1, 2, 3, 4, 5], [1, 2, 0, 4, 9], confidence=[0.9] * 5, ncols=3)
    axes = fig.axes
    assert len(axes) == 6  # 2 rows of 3, last one empty
    titles = [a.get_title() for a in axes[:5]]
    assert titles[0] == "1 (90%)"
    assert titles[2] == "0 (90%)\ntrue 3"
    red = [a.title.get_color() == "tab:red" for a in axes[:5]]
    assert red == [False, False, True, False, True]


@pytest.mark.parametrize(
    "images, y_true, y_pred, kwargs, message",
    [
        (np.zeros((2, 28)), [1, 2], [1, 2], {}, r"^images must have shape \(N, height, width\) with N >= 1, got \(2, 28\)$"),
        (np.zeros((0, 4, 4)), [], [], {}, r"^images must have shape \(N, height, width\) with N >= 1, got \(0, 4, 4\)$"),
        (np.zeros((2, 4, 4)), [1], [1, 2], {}, r"^y_true and y_pred need one label per image \(2\)$"),
        (np.zeros((2, 4, 4)), [1, 2], [1, 2], {"confidence": [0.5]}, r"^confidence needs one value per image \(2\)$"),
        (np.zeros((2, 4, 4)), [1, 2], [1, 2], {"ncols": 0}, "^ncols must be an integer >= 1, got 0$"),
        (np.zeros((2, 4, 4)), [1, 2], [1, 2], {"ncols": 2.0}, "^ncols must be an integer >= 1, got 2.0$"),
        (np.full((1, 2, 2), "x"), [1], [1], {},
         r"^images must be an array of numbers, got an array of shape \(1, 2, 2\) and dtype <U1$"),
        (np.zeros((2, 4, 4)), [1, 2], [1.5, 2], {},
         r"^y_pred must be an array of integers, got an array of shape \(2,\) and dtype float64$"),
        (np.zeros((2, 4, 4)), [1, 2], [1, 2], {"confidence": [0.5, np.inf]},
         r"^confidence must contain only finite numbers, got inf at index 1$"),
    ],
)
def test_predictions_bad_input(images, y_true, y_pred, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plots_nn.plot_predictions(images, y_true, y_pred, **kwargs)


def test_weight_histograms_share_bins_and_integrate_to_one(rng):
    w = {"small": rng.normal(0, 0.1, 1000), "large": rng.normal(0, 1.0, (20, 50))}
    bins = 40
    ax = plots_nn.plot_weight_histograms(w, bins=bins)
    assert ax.get_yscale() == "log"
    assert len(ax.patches) == len(w)  # one outline per label (else the loop below checks nothing)
    lo = min(v.min() for v in w.values())
    hi = max(v.max() for v in w.values())
    edges = np.linspace(lo, hi, bins + 1)
    for patch, values in zip(ax.patches, w.values()):
        xy = patch.get_xy()
        # a step outline visits (e0, 0), (e0, h0), (e1, h0), (e1, h1), ...
        np.testing.assert_allclose(np.unique(xy[:, 0]), edges)
        heights = xy[1 : 2 * bins : 2, 1]
        counts, _ = np.histogram(values.ravel(), bins=edges)
        np.testing.assert_allclose(heights, counts / (values.size * np.diff(edges)))
        assert np.sum(heights * np.diff(edges)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "weights, kwargs, message",
    [
        ({}, {}, "^weights is empty: need at least one label -> array$"),
        ({"a": np.array([])}, {}, r"^weights\['a'\] is empty$"),
        ({"a": np.array([1.0, np.nan])}, {}, r"^weights\['a'\] must contain only finite numbers, got nan at index 1$"),
        ({"a": ["x", "y"]}, {}, r"^weights\['a'\] must be an array of numbers, got an array of shape \(2,\) and dtype <U1$"),
        ({"a": np.array([1.0, 2.0])}, {"bins": 0}, "^bins must be an integer >= 1, got 0$"),
    ],
)
def test_weight_histograms_bad_input(weights, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plots_nn.plot_weight_histograms(weights, **kwargs)


def test_shrinkage_filters_sorted_by_eigenvalue():
    lam = np.array([1.0, 0.01, 0.1])
    f = lam / (lam + 0.1)
    ax = plots_nn.plot_shrinkage_filters(lam, {"ridge": f})
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [0.01, 0.1, 1.0])
    np.testing.assert_allclose(line.get_ydata(), [0.01 / 0.11, 0.5, 1.0 / 1.1])


@pytest.mark.parametrize(
    "lam, curves, message",
    [
        (np.array([0.0, 1.0]), {"a": np.zeros(2)}, "^eigvals must be a non-empty 1-d array of positive values$"),
        (np.array([1.0, 2.0]), {}, "^curves is empty$"),
        (np.array([1.0, 2.0]), {"a": np.zeros(3)}, r"^curve 'a' must have the shape of eigvals \(2,\), got \(3,\)$"),
        (np.array([1.0, np.nan]), {"a": np.zeros(2)}, r"^eigvals must contain only finite numbers, got nan at index 1$"),
        (np.array([1.0, 2.0]), {"a": [None, 1]},
         r"^curves\['a'\] must be an array of numbers, got an array of shape \(2,\) and dtype object$"),
    ],
)
def test_shrinkage_filters_bad_input(lam, curves, message):
    with pytest.raises(ValueError, match=message):
        plots_nn.plot_shrinkage_filters(lam, curves)


def test_seed_intervals_draw_the_t_interval_of_the_mean():
    from scipy import stats

    scores = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 5.0]])
    ax = plots_nn.plot_seed_intervals([1, 10], {"a": scores}, xlabel="x", ylabel="y", logx=True)
    (container,) = ax.containers
    line = container.lines[0]
    np.testing.assert_allclose(line.get_ydata(), [2.0, 3.0])
    # the bar of row 0 spans mean ± t_{0.975, 2} · sd / sqrt(3), sd = 1
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    segments = container.lines[2][0].get_segments()
    np.testing.assert_allclose([segments[0][0][1], segments[0][1][1]], [2.0 - half, 2.0 + half])
    assert ax.get_xscale() == "log"


def test_seed_intervals_reference_band_is_its_interval():
    from scipy import stats

    ref = np.array([4.0, 6.0])
    ax = plots_nn.plot_seed_intervals([1], {"a": np.array([[1.0, 2.0]])}, xlabel="x", ylabel="y",
                                      reference=ref, reference_label="none")
    band = ax.patches[0]
    half = stats.t.ppf(0.975, 1) * np.std(ref, ddof=1) / np.sqrt(2)
    if hasattr(band, "get_height"):  # matplotlib >= 3.9 draws axhspan as a Rectangle
        ys = np.array([band.get_y(), band.get_y() + band.get_height()])
    else:
        ys = np.asarray(band.get_xy())[:, 1]
    np.testing.assert_allclose([ys.min(), ys.max()], [5.0 - half, 5.0 + half])


@pytest.mark.parametrize(
    "values, series, message",
    [
        ([], {"a": np.ones((0, 2))}, r"^values must be a non-empty 1-d sequence, got shape \(0,\)$"),
        ([1], {}, r"^series is empty: need at least one name -> \(k, seeds\) array$"),
        ([1, 2], {"a": np.ones((2, 1))}, r"^series 'a' must have shape \(2, seeds >= 2\), got \(2, 1\)$"),
        ([1, 2], {"a": np.ones((3, 2))}, r"^series 'a' must have shape \(2, seeds >= 2\), got \(3, 2\)$"),
        ([0, 1], {"a": np.ones((2, 2))}, "^logx=True needs values > 0$"),
        (["a"], {"a": np.ones((1, 2))}, r"^values must be an array of numbers, got an array of shape \(1,\) and dtype <U1$"),
        ([1], {"a": [[1.0, np.nan]]}, r"^series\['a'\] must contain only finite numbers, got nan at index \(0, 1\)$"),
    ],
)
def test_seed_intervals_bad_input(values, series, message):
    with pytest.raises(ValueError, match=message):
        plots_nn.plot_seed_intervals(values, series, xlabel="x", ylabel="y", logx="logx" in message)


def test_learning_curves_mark_where_watching_early_stopping_would_stop():
    # sweep(stop_early=False): the run went on, early stopping only recorded its choice
    h = make_history([0.9, 0.5, 0.4, 0.45, 0.5, 0.3])
    h.early_stop_epoch, h.early_stop_best_epoch = 5, 3
    ax = plots_nn.plot_learning_curves(h, mark_stop=True)
    train, val, best, stop, restored = ax.get_lines()
    assert list(best.get_xdata()) == [6]  # the lowest validation loss of the whole run
    assert list(stop.get_xdata()) == [5, 5]
    assert list(restored.get_xdata()) == [3] and list(restored.get_ydata()) == [0.4]
    assert restored.get_marker() == "D"
    # without mark_stop nothing about early stopping is drawn
    plain = plots_nn.plot_learning_curves(h, mark_stop=False)
    assert len(plain.get_lines()) == 3


def test_predictions_figsize_is_used(rng):
    images = rng.uniform(size=(16, 28, 28))
    labels = np.arange(16) % 10
    fig = plots_nn.plot_predictions(images, labels, labels, ncols=8, figsize=(6.4, 2.8))
    np.testing.assert_allclose(fig.get_size_inches(), [6.4, 2.8])
    assert len(fig.axes) == 16
    default = plots_nn.plot_predictions(images, labels, labels, ncols=8)
    np.testing.assert_allclose(default.get_size_inches(), [1.15 * 8, 1.35 * 2])


def test_reliability_draws_the_non_empty_bins_of_each_model():
    # hand-made bins: 4 bins, the second empty
    cal_a = dict(
        ece=0.05,
        bin_count=[10, 0, 30, 60],
        bin_confidence=[0.2, None, 0.6, 0.9],
        bin_accuracy=[0.1, None, 0.7, 0.95],
    )
    cal_b = dict(ece=0.0, bin_count=[0, 0, 0, 5], bin_confidence=[None] * 3 + [0.99], bin_accuracy=[None] * 3 + [1.0])
    ax = plots_nn.plot_reliability({"a": cal_a, "b": cal_b})
    diagonal, line_a, line_b = ax.get_lines()
    np.testing.assert_allclose(diagonal.get_xydata(), [[0, 0], [1, 1]])
    np.testing.assert_allclose(line_a.get_xdata(), [0.2, 0.6, 0.9])
    np.testing.assert_allclose(line_a.get_ydata(), [0.1, 0.7, 0.95])
    np.testing.assert_allclose(line_b.get_xydata(), [[0.99, 1.0]])
    sizes = ax.collections[0].get_sizes()
    assert sizes[0] < sizes[1] < sizes[2]  # marker area grows with the bin's count
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["perfect calibration", "a (ECE 5.00 %)", "b (ECE 0.00 %)"]


def test_reliability_draws_what_regutils_calibration_computes(rng):
    from regutils.stats import calibration

    probs = rng.dirichlet(np.ones(3), size=200)
    y = rng.integers(0, 3, size=200)
    cal = calibration(probs, y, n_bins=5)
    line = plots_nn.plot_reliability({"m": cal}).get_lines()[1]
    # independent answer: bin the confidences by hand, (lo, hi] bins
    conf, pred = probs.max(1), probs.argmax(1)
    which = np.clip(np.ceil(conf * 5).astype(int) - 1, 0, 4)
    want = [(conf[which == b].mean(), (pred == y)[which == b].mean()) for b in range(5) if np.any(which == b)]
    np.testing.assert_allclose(line.get_xydata(), want)


@pytest.mark.parametrize(
    "calibrations, message",
    [
        ({}, "^calibrations is empty: need at least one label -> regutils.calibration result$"),
        ({"a": {"ece": 0.1}},
         r"^calibrations\['a'\] is not a regutils.calibration result "
         r"\(missing \['bin_confidence', 'bin_accuracy', 'bin_count'\]\)$"),
    ],
)
def test_reliability_bad_input(calibrations, message):
    with pytest.raises(ValueError, match=message):
        plots_nn.plot_reliability(calibrations)
