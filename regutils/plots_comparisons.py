"""Figures of comparison records (:mod:`regutils.stats`): paired differences with their intervals.

A record says how much configuration ``a`` changed a metric against reference ``b``
(``delta`` = mean of ``a − b`` over paired seeds, with ``ci_low``/``ci_high``). These figures
draw that difference (negative = the technique lowered the metric) with its confidence
interval, the same sign the pages quote, one line per technique, against a covariate such as
the training-set size. They take records and return the matplotlib Axes; they never train.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .checks import check_bool, check_real, check_str
from .stats import _check_record, _record_list

__all__ = ["plot_differences"]


def plot_differences(
    records: Sequence[dict],
    *,
    x: Callable[[dict], float],
    xlabel: str,
    scale: float = 100.0,
    unit: str = "percentage points",
    logx: bool = False,
    ax=None,
):
    """Each record's difference ``delta`` (A − B), with its interval, against ``x(record)``.

    One line and colour per distinct ``record["a"]``, points ordered by ``x``; error bars
    from ``ci_low`` to ``ci_high``; a dashed line at zero (no effect), so a technique that
    lowers the metric lies below it. Values are multiplied by ``scale`` (100: fractions shown
    as percentage points). The y-label names the records' metric and ``unit``. With
    ``logx=True`` the x axis is logarithmic and each technique's points are shifted by a
    small factor so that their error bars do not overlap.

    Raises
    ------
    ValueError
        If ``records`` is not a list of at least one record; a record is not a dict with
        non-empty strings ``a`` and ``metric`` and finite ``delta``, ``ci_low``, ``ci_high``
        with ``ci_low <= delta <= ci_high``; the records measure different metrics; ``x`` is
        not a function giving each record a finite number (> 0 with ``logx``); ``scale`` is
        not a finite number > 0, ``xlabel`` not a non-empty string, ``unit`` not a string or
        ``logx`` not True or False.
    """
    import matplotlib.pyplot as plt

    records = _record_list(records)
    if not records:
        raise ValueError("records must hold at least one comparison record, got none")
    for i, r in enumerate(records):
        _check_record(r, f"records[{i}]", p_value=False)
        check_str(f"records[{i}]['a']", r.get("a"))
        check_str(f"records[{i}]['metric']", r.get("metric"))
    metrics = sorted({r["metric"] for r in records})
    if len(metrics) > 1:
        raise ValueError(f"records measure different metrics ({', '.join(metrics)}): draw one at a time")
    scale = check_real("scale", scale, 0, None, closed="neither")
    check_str("xlabel", xlabel)
    check_str("unit", unit, allow_empty=True)
    logx = check_bool("logx", logx)
    if not callable(x):
        raise ValueError(f"x must be a function of a record, such as lambda r: r['n_pairs'], got {x!r}")
    low, closed = (0, "neither") if logx else (None, "both")  # a log axis needs x > 0
    at = [check_real(f"x(records[{i}])", x(r), low, None, closed=closed) for i, r in enumerate(records)]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    labels = list(dict.fromkeys(r["a"] for r in records))
    offsets = {label: (k - (len(labels) - 1) / 2) * 0.04 for k, label in enumerate(labels)}
    for label in labels:
        order = sorted((k for k, r in enumerate(records) if r["a"] == label), key=at.__getitem__)
        rows = [records[k] for k in order]
        xs = [at[k] * (10 ** offsets[label] if logx else 1) for k in order]
        ys = [scale * r["delta"] for r in rows]
        below = [y - scale * r["ci_low"] for y, r in zip(ys, rows)]
        above = [scale * r["ci_high"] - y for y, r in zip(ys, rows)]
        ax.errorbar(xs, ys, yerr=[below, above], marker="o", capsize=4, label=label)
    ax.axhline(0.0, color="0.4", linestyle="--", linewidth=1)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metrics[0]}, with minus without ({unit})")
    ax.legend(frameon=False)
    return ax
