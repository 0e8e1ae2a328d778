"""Results as data: the records and tables a page publishes beside its prose.

A chapter states its numbers in the text through myst-nb ``glue``; the same numbers, and the
comparisons and tables behind them, are also published as files a reader can download
(``_data/<page>.json``, ``_data/comparisons.json``, ``_data/<name>.csv`` on the site).
The functions here glue them under reserved names, without displaying anything; the build
(``tools/publish_data.py``) finds them in the executed notebooks, so they are written out
even when a page's outputs come from the execution cache.

Reserved glue names: ``comparisons__<key>`` holds a JSON list of comparison records,
``table__<name>`` the CSV text of a table. :func:`glue` is myst-nb's ``glue`` for notebooks
that run without myst-nb (the reader notebooks use it). This module imports neither torch nor
myst-nb at import time.
"""

from __future__ import annotations

import json
import math
import re

from regutils.checks import check_bool, check_int, check_real, check_str
from regutils.stats import _record_list, metric_unit

__all__ = [
    "COMPARISON_FIELDS",
    "COMPARISONS_PREFIX",
    "TABLE_PREFIX",
    "comparison_record",
    "glue",
    "publish_comparisons",
    "publish_table",
]

COMPARISONS_PREFIX = "comparisons__"
TABLE_PREFIX = "table__"
# every comparison record has these keys (extra keys are kept as they are)
#: The keys every comparison record holds.
COMPARISON_FIELDS = (
    "page", "data", "metric", "a", "b", "n_pairs",
    "delta", "ci_low", "ci_high", "p_value", "method",
)  # fmt: skip
_TEXT_FIELDS = ("page", "data", "metric", "a", "b", "method")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class _Text:
    """A glued value whose ``text/plain`` output is ``text`` itself, not its ``repr``."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include=None, exclude=None):
        # IPython's pretty-printer would drop the CSV's last newline; give the text verbatim
        return {"text/plain": self.text}


def _check_name(what: str, name) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{what} must be a name of letters, digits, '_', '.', '-', got {name!r}")
    return name


def _item(value):
    """A numpy (or torch) scalar as the Python number it holds; anything else as it is."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def _plain(value):
    """``value`` as JSON can hold it: numpy scalars become Python numbers, NaN becomes None."""
    value = _item(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def comparison_record(record: dict) -> dict:
    """``record`` checked and made JSON-ready; raises ``ValueError`` on a missing or bad field.

    Text fields must be non-empty strings; ``n_pairs`` an integer >= 1; ``delta``, ``ci_low``,
    ``ci_high`` finite numbers with ``ci_low <= delta <= ci_high``; ``p_value`` in [0, 1] or
    None (a method that gives no p-value); ``confidence``, where the record has one, in
    (0, 1). A metric named an error, accuracy or ECE is a fraction in [0, 1] on every page
    (pages show it in percentage points), so its ``delta`` and interval lie in [-1, 1]. Other
    keys are kept as they are, numpy scalars made Python numbers and NaN made None.
    """
    if not isinstance(record, dict):
        raise ValueError(f"a comparison record must be a dict, got {type(record).__name__}")
    missing = [k for k in COMPARISON_FIELDS if k not in record]
    if missing:
        raise ValueError(f"comparison record lacks {', '.join(missing)}: {record!r}")
    out = {k: _plain(v) for k, v in record.items()}
    for key in _TEXT_FIELDS:
        check_str(key, out[key])
    # the numbers are checked as given (a NaN is named as NaN, not as the None JSON makes of it)
    out["n_pairs"] = check_int("n_pairs", _item(record["n_pairs"]), 1)
    for key in ("delta", "ci_low", "ci_high"):
        out[key] = check_real(key, _item(record[key]))
    out["p_value"] = check_real("p_value", _item(record["p_value"]), 0, 1, allow_none=True)
    if "confidence" in out:
        out["confidence"] = check_real("confidence", _item(record["confidence"]), 0, 1, closed="neither")
    if out["ci_low"] > out["ci_high"]:
        raise ValueError(f"ci_low must be <= ci_high, got {out['ci_low']} > {out['ci_high']}")
    if not out["ci_low"] <= out["delta"] <= out["ci_high"]:
        raise ValueError(
            f"delta must lie in its interval [ci_low, ci_high] = [{out['ci_low']}, {out['ci_high']}], "
            f"got {out['delta']}"
        )
    if metric_unit(out["metric"])[0] != 1.0 and max(abs(out[k]) for k in ("delta", "ci_low", "ci_high")) > 1:
        raise ValueError(
            f"metric {out['metric']!r} is a fraction, so delta, ci_low and ci_high lie in [-1, 1]; "
            f"got delta={out['delta']}, interval [{out['ci_low']}, {out['ci_high']}] "
            "(percentage points? divide by 100)"
        )
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"comparison record is not JSON data: {err}") from None
    return out


def glue(name: str, variable, display: bool = True) -> None:
    """``myst_nb.glue`` without myst-nb: the same output, so a notebook runs where only
    ``regutils`` is installed (Colab) and the book's build still reads what it glued.

    ``display=False`` records the value without showing it. With myst-nb installed, its own
    ``glue`` is used. ``name`` must be a non-empty string and ``display`` True or False
    (``ValueError`` otherwise).
    """
    check_str("name", name)
    check_bool("display", display)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        pass
    else:
        return myst_glue(name, variable, display=display)
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    bundle, metadata = format_display_data(variable)
    prefix = "" if display else "application/papermill.record/"
    metadata["scrapbook"] = dict(name=name, mime_prefix=prefix)
    ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)


def _glue(name: str, text: str) -> None:
    glue(name, _Text(text), display=False)


def publish_comparisons(records: list[dict], key: str = "main") -> list[dict]:
    """Publish comparison records; the build adds them to ``_data/comparisons.json``.

    Each record is a dict with at least the keys of :data:`COMPARISON_FIELDS`
    (``page, data, metric, a, b, n_pairs, delta, ci_low, ci_high, p_value, method``):
    ``delta`` is the mean paired difference ``metric(a) - metric(b)`` (``a`` the configuration
    under test, ``b`` the reference), ``[ci_low, ci_high]`` its confidence interval, each
    checked by :func:`comparison_record`. ``records`` is a list (any iterable but a dict or a
    string). ``key`` tells apart several calls on one page. Nothing is displayed, and nothing
    is glued if any record is refused. Returns the checked records.
    """
    _check_name("key", key)
    checked = [comparison_record(r) for r in _record_list(records)]
    _glue(COMPARISONS_PREFIX + key, json.dumps(checked, allow_nan=False))
    return checked


def publish_table(name: str, frame) -> str:
    """Publish a pandas DataFrame; the build writes it to ``_data/<name>.csv``.

    The index is written as the first column(s) when it is named or not a plain range.
    Nothing is displayed. Returns the CSV text.
    """
    _check_name("name", name)
    if not hasattr(frame, "to_csv") or not hasattr(frame, "columns"):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    import pandas as pd

    plain_index = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    text = frame.to_csv(index=not plain_index, lineterminator="\n")
    _glue(TABLE_PREFIX + name, text)
    return text
