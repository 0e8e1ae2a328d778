"""regutils.plots_comparisons: differences with their intervals, drawn from records."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import regutils as ru


def record(a, n, delta, lo, hi, metric="test error"):
    return {"a": a, "data": f"n_train={n}", "metric": metric, "delta": delta, "ci_low": lo, "ci_high": hi}


def n_train(r):
    return int(r["data"].split("=")[1])


def test_differences_are_drawn_with_their_intervals():
    records = [record("dropout", 1000, -0.03, -0.05, -0.01), record("dropout", 4000, -0.01, -0.02, 0.0),
               record("early stopping", 1000, -0.07, -0.08, -0.06)]
    ax = ru.plot_differences(records, x=n_train, xlabel="n")
    containers = {c.get_label(): c for c in ax.containers}
    assert set(containers) == {"dropout", "early stopping"}
    line, _, (bars,) = containers["dropout"].lines
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), [-3.0, -1.0])
    np.testing.assert_allclose(np.asarray(line.get_xdata(), float), [1000, 4000])
    # the error bar of the first dropout point spans -5 to -1 points, the second -2 to 0
    np.testing.assert_allclose(sorted(bars.get_segments()[0][:, 1]), [-5.0, -1.0])
    np.testing.assert_allclose(sorted(bars.get_segments()[1][:, 1]), [-2.0, 0.0])
    assert ax.get_ylabel() == "test error, with minus without (percentage points)"


def test_bad_records_are_named():
    with pytest.raises(ValueError, match="records is empty"):
        ru.plot_differences([], x=n_train, xlabel="n")
    with pytest.raises(ValueError, match=r"records\[0\] has no ci_high, ci_low, metric"):
        ru.plot_differences([{"a": "x", "delta": 0.1}], x=n_train, xlabel="n")
    mixed = [record("a", 1, 0.1, 0.0, 0.2), record("a", 2, 0.1, 0.0, 0.2, metric="test loss")]
    with pytest.raises(ValueError, match=r"different metrics \(test error, test loss\)"):
        ru.plot_differences(mixed, x=n_train, xlabel="n")
