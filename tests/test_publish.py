"""regutils.publish: records and tables are checked, then glued under the reserved names."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest

import regutils as ru
from regutils import publish

RECORD = dict(
    page="book/dropout",
    data="MNIST subset",
    metric="test error",
    a="p=0",
    b="p=0.5",
    n_pairs=np.int64(5),
    delta=np.float64(-0.012),
    ci_low=-0.02,
    ci_high=-0.004,
    p_value=0.01,
    method="paired t-test over seeds",
)


@pytest.fixture
def glued(monkeypatch):
    """What would be glued: (name, text/plain output, display) triples."""
    calls = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: calls.append((name, repr(value), display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    return calls


def test_comparisons_are_glued_as_json_under_the_reserved_name(glued):
    ru.publish_comparisons([RECORD, {**RECORD, "b": "p=0.2", "extra": "kept"}], key="subset")
    [(name, text, display)] = glued
    assert name == "comparisons__subset" and display is False
    records = json.loads(text)
    assert [r["b"] for r in records] == ["p=0.5", "p=0.2"]
    assert records[0]["n_pairs"] == 5 and records[0]["delta"] == -0.012  # numpy -> plain
    assert records[1]["extra"] == "kept"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"metric": None}, "metric must be a non-empty string"),
        ({"n_pairs": 0}, "n_pairs must be an integer >= 1"),
        ({"n_pairs": 2.5}, "n_pairs must be an integer"),
        ({"delta": float("nan")}, "delta must be a finite number, got nan"),
        ({"ci_high": np.float64("inf")}, "ci_high must be a finite number, got inf"),
        ({"page": "  "}, "page must be a non-empty string, got '  '"),
        ({"delta": -0.03}, "delta must lie in its interval [ci_low, ci_high] = [-0.02, -0.004], got -0.03"),
        ({"confidence": 95}, "confidence must be a finite number in (0, 1), got 95"),
        ({"p_value": 1.5}, "p_value must be a finite number in [0, 1]"),
        ({"ci_low": 0.1}, "ci_low must be <= ci_high"),
        ({"extra": object()}, "not JSON data"),
        (dict(delta=-1.2, ci_low=-2.0, ci_high=-0.4), "'test error' is a fraction"),
        (dict(metric="validation ECE", ci_low=-1.5), "percentage points? divide by 100"),
    ],
)
def test_bad_records_are_refused_before_anything_is_glued(glued, change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ru.publish_comparisons([RECORD, {**RECORD, **change}])
    assert glued == []


def test_a_loss_may_differ_by_more_than_one(glued):
    [record] = ru.publish_comparisons([{**RECORD, "metric": "test loss", "delta": -1.05, "ci_low": -1.13}])
    assert record["delta"] == -1.05


def test_a_missing_field_is_named(glued):
    record = {k: v for k, v in RECORD.items() if k not in ("ci_low", "method")}
    with pytest.raises(ValueError, match="lacks ci_low, method"):
        ru.publish_comparisons([record])
    with pytest.raises(ValueError, match="^records must be a list of comparison records, got dict$"):
        ru.publish_comparisons(RECORD)
    with pytest.raises(ValueError, match="^records must be a list of comparison records, got str$"):
        ru.publish_comparisons("dropout")
    with pytest.raises(ValueError, match="key must be a name"):
        ru.publish_comparisons([RECORD], key="a/b")


@pytest.mark.parametrize(
    "name, display, message",
    [(3, False, "^name must be a non-empty string, got 3$"),
     ("", False, "^name must be a non-empty string, got ''$"),
     ("x", "no", "^display must be True or False, got 'no'$")],
)
def test_glue_checks_its_arguments(glued, name, display, message):
    with pytest.raises(ValueError, match=message):
        publish.glue(name, 1, display=display)
    assert glued == []


def test_a_method_without_a_p_value_publishes_null(glued):
    ru.publish_comparisons([{**RECORD, "p_value": None}])
    assert json.loads(glued[0][1])[0]["p_value"] is None


def test_tables_are_glued_as_csv_that_reads_back(glued):
    frame = pd.DataFrame({"alpha": [0.1, 1.0], "nonzero": [7, 3]})
    ru.publish_table("lasso_path", frame)
    named = pd.DataFrame({"err": [0.5]}, index=pd.Index(["ridge"], name="model"))
    ru.publish_table("errors", named)
    (name1, text1, d1), (name2, text2, d2) = glued
    assert (name1, name2, d1, d2) == ("table__lasso_path", "table__errors", False, False)
    assert list(csv.reader(io.StringIO(text1))) == [["alpha", "nonzero"], ["0.1", "7"], ["1.0", "3"]]
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(text1)), frame)
    assert list(csv.reader(io.StringIO(text2))) == [["model", "err"], ["ridge", "0.5"]]
    with pytest.raises(ValueError, match="frame must be a pandas DataFrame"):
        ru.publish_table("x", [1, 2])


def test_real_glue_emits_the_text_itself_as_text_plain(monkeypatch):
    pytest.importorskip("myst_nb")
    shown = []
    import IPython.display
    import myst_nb.ext.glue

    record = lambda *a, **k: shown.append((a, k))  # noqa: E731
    monkeypatch.setattr(IPython.display, "display", record)
    monkeypatch.setattr(myst_nb.ext.glue, "ipy_display", record)
    ru.publish_table("t", pd.DataFrame({"a": [1]}))
    [((bundle,), kwargs)] = shown
    [(mime, text)] = bundle.items()
    assert mime.endswith("text/plain") and text == "a\n1\n"
    assert kwargs["metadata"]["scrapbook"]["name"] == "table__t"
    assert publish.TABLE_PREFIX == "table__"


def test_glue_without_myst_nb_emits_what_myst_nb_emits(monkeypatch):
    myst_nb = pytest.importorskip("myst_nb")
    import IPython.display

    import myst_nb.ext.glue

    outputs = []
    record = lambda *a, **k: outputs.append((a, k))  # noqa: E731
    monkeypatch.setattr(IPython.display, "display", record)
    monkeypatch.setattr(myst_nb.ext.glue, "ipy_display", record)  # bound when myst-nb loads
    myst_nb.glue("x", 0.25, display=False)
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb now fails
    publish.glue("x", 0.25, display=False)
    publish.glue("y", "shown")
    assert len(outputs) == 3, outputs
    (theirs, ours, shown) = outputs
    assert ours == theirs
    assert shown[0][0] == {"text/plain": "'shown'"} and shown[1]["metadata"]["scrapbook"] == {
        "name": "y",
        "mime_prefix": "",
    }
