"""Figures of comparison records (:mod:`regutils.stats`): paired differences with their intervals.

A record says how much configuration ``a`` changed a metric against reference ``b``
(``delta`` = mean of ``a − b`` over paired seeds, with ``ci_low``/``ci_high``). These figures
draw that difference (negative = the technique lowered the metric) with its 95 % interval,
the same sign the pages quote, one line per technique, against a covariate such as the
training-set size. They take records and
return the matplotlib Axes; they never train.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    as percentage points). The y-label names the records' metric.

    Raises
    ------
    ValueError
        If ``records`` is empty, a record lacks ``a``, ``metric``, ``delta``, ``ci_low`` or
        ``ci_high``, or the records measure different metrics.
    """
    import matplotlib.pyplot as plt

    if len(records) == 0:
        raise ValueError("records is empty")
    for i, r in enumerate(records):
        missing = {"a", "metric", "delta", "ci_low", "ci_high"} - set(r)
        if missing:
            raise ValueError(f"records[{i}] has no {', '.join(sorted(missing))}")
    metrics = sorted({r["metric"] for r in records})
    if len(metrics) > 1:
        raise ValueError(f"records measure different metrics ({', '.join(metrics)}): draw one at a time")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    labels = list(dict.fromkeys(r["a"] for r in records))
    offsets = {label: (k - (len(labels) - 1) / 2) * 0.04 for k, label in enumerate(labels)}
    for label in labels:
        rows = sorted((r for r in records if r["a"] == label), key=x)
        xs = [x(r) * (10 ** offsets[label] if logx else 1) for r in rows]
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
