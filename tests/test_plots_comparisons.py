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
    with pytest.raises(ValueError, match="^records must hold at least one comparison record, got none$"):
        ru.plot_differences([], x=n_train, xlabel="n")
    with pytest.raises(ValueError, match=r"^records\[0\] must be a comparison record, got one missing ci_low, ci_high$"):
        ru.plot_differences([{"a": "x", "delta": 0.1}], x=n_train, xlabel="n")
    mixed = [record("a", 1, 0.1, 0.0, 0.2), record("a", 2, 0.1, 0.0, 0.2, metric="test loss")]
    with pytest.raises(ValueError, match=r"different metrics \(test error, test loss\)"):
        ru.plot_differences(mixed, x=n_train, xlabel="n")


GOOD = [record("dropout", 1000, -0.03, -0.05, -0.01)]


@pytest.mark.parametrize(
    "records, kwargs, message",
    [
        (None, {}, r"^records must be a list of comparison records, got NoneType$"),
        (GOOD[0], {}, r"^records must be a list of comparison records, got dict$"),
        ([3], {}, r"^records\[0\] must be a comparison record \(a dict\), got int$"),
        ([record("a", 1, float("nan"), 0.0, 0.2)], {}, r"^records\[0\]\['delta'\] must be a finite number, got nan$"),
        ([record("a", 1, "0.1", 0.0, 0.2)], {}, r"^records\[0\]\['delta'\] must be a finite number, got '0.1'$"),
        ([record("a", 1, 0.3, 0.0, 0.2)], {}, r"^records\[0\]'s interval \[0.0, 0.2\] must contain its delta 0.3$"),
        ([record("", 1, 0.1, 0.0, 0.2)], {}, r"^records\[0\]\['a'\] must be a non-empty string, got ''$"),
        ([record("a", 1, 0.1, 0.0, 0.2, metric=3)], {}, r"^records\[0\]\['metric'\] must be a non-empty string, got 3$"),
        (GOOD, dict(x=3), r"^x must be a function of a record, such as lambda r: r\['n_pairs'\], got 3$"),
        (GOOD, dict(x=lambda r: "many"), r"^x\(records\[0\]\) must be a finite number, got 'many'$"),
        (GOOD, dict(x=lambda r: 0, logx=True), r"^x\(records\[0\]\) must be a finite number > 0, got 0$"),
        (GOOD, dict(logx="yes"), r"^logx must be True or False, got 'yes'$"),
        (GOOD, dict(scale=0), r"^scale must be a finite number > 0, got 0$"),
        (GOOD, dict(scale="100"), r"^scale must be a finite number > 0, got '100'$"),
        (GOOD, dict(xlabel=None), r"^xlabel must be a non-empty string, got None$"),
        (GOOD, dict(unit=1), r"^unit must be a string, got 1$"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(records, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ru.plot_differences(records, **{"x": n_train, "xlabel": "n", **kwargs})
