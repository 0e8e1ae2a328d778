"""regutils.plots_comparisons: reductions with their intervals, drawn from records."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import regutils as ru


def record(a, n, delta, lo, hi):
    return {"a": a, "data": f"n_train={n}", "delta": delta, "ci_low": lo, "ci_high": hi}


def test_reductions_are_negated_deltas_with_their_intervals():
    records = [record("dropout", 1000, -0.03, -0.05, -0.01), record("dropout", 4000, -0.01, -0.02, 0.0),
               record("early stopping", 1000, -0.07, -0.08, -0.06)]
    ax = ru.plot_reductions(records, x=lambda r: int(r["data"].split("=")[1]), xlabel="n")
    containers = {c.get_label(): c for c in ax.containers}
    assert set(containers) == {"dropout", "early stopping"}
    line, _, (bars,) = containers["dropout"].lines
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), [3.0, 1.0])
    np.testing.assert_allclose(np.asarray(line.get_xdata(), float), [1000, 4000])
    # the error bar of the first dropout point spans 1 to 5 points, the second 0 to 2
    np.testing.assert_allclose(sorted(bars.get_segments()[0][:, 1]), [1.0, 5.0])
    np.testing.assert_allclose(sorted(bars.get_segments()[1][:, 1]), [0.0, 2.0])
    assert ax.get_ylabel().startswith("reduction in test error")


def test_bad_records_are_named():
    with pytest.raises(ValueError, match="records is empty"):
        ru.plot_reductions([], x=lambda r: 0, xlabel="n")
    with pytest.raises(ValueError, match=r"records\[0\] has no ci_high, ci_low"):
        ru.plot_reductions([{"a": "x", "delta": 0.1}], x=lambda r: 0, xlabel="n")
