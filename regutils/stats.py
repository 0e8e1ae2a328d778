"""Comparison statistics: is configuration A better than B, by how much, and how sure are we.

Every comparison the book reports goes through here and comes out as one *record*, a flat
dict of JSON-able values with the same keys whatever the test behind it:

``page, data, metric, a, b, n_pairs, delta, ci_low, ci_high, confidence, p_value, method``

``delta`` is always ``a`` minus ``b`` (for an error rate, negative means A is better), and the
interval ``[ci_low, ci_high]`` is a ``confidence`` (default 95 %) interval for it.

- :func:`paired_comparison`: per-seed results of two configurations trained with the same
  seeds (same initialization, same batch order), compared by the paired t-test. Pairing
  removes the seed-to-seed variation both configurations share.
- :func:`mcnemar` and :func:`mcnemar_record`: two trained models scored on the same test
  images, compared by the exact McNemar test on the images where exactly one is right.
- :func:`calibration`: expected calibration error and the numbers for a reliability diagram.
- :func:`summarize_seeds`: mean over seeds with a t-interval half-width, for error bars that
  are intervals rather than standard deviations; :func:`seeds_needed`: how many seeds would
  make such an interval exclude zero, if the differences kept their mean and spread.
- :func:`holm`, :func:`family_decisions` and :func:`family_sentence`: p-values adjusted for
  testing a family of comparisons at once (Holm's step-down method), what each record still
  decides after it, and that in words, for a page that draws one conclusion from several
  tests.
- :func:`comparison_table`: records as a table for the pages.
- :func:`decision`, :func:`verdict` and :func:`describe`: a record in words, so that a page's sentences are
  read off its records and stay true on any machine the book is built on;
  :func:`names_by_decision`: several records' names grouped by what each decides.
- :func:`floor_to`, :func:`ceil_to` and :func:`ceil_significant`: a number rounded in the
  direction that keeps a printed bound true ("at least 0.12" is rounded down, "at most 3e-07"
  up), exactly, in decimal.

Only numpy and scipy are imported here (pandas on first use of :func:`comparison_table`); torch
tensors are accepted anywhere an array is and converted on the CPU.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

import numpy as np
from scipy import stats as _st

from .checks import _describe_array, _show, _to_numpy, check_array, check_int, check_real, check_str

__all__ = [
    "paired_comparison",
    "mcnemar",
    "mcnemar_record",
    "calibration",
    "summarize_seeds",
    "seeds_needed",
    "holm",
    "family_decisions",
    "family_sentence",
    "names_by_decision",
    "comparison_table",
    "metric_unit",
    "units_table",
    "decision",
    "verdict",
    "describe",
    "name_list",
    "floor_to",
    "ceil_to",
    "ceil_significant",
]

# record key -> column heading of comparison_table
_COLUMNS = {
    "page": "page",
    "data": "data",
    "metric": "metric",
    "a": "A",
    "b": "B",
    "n_pairs": "pairs",
    "delta": "A − B",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "confidence": "CI level",
    "p_value": "p-value",
    "method": "test",
}
RECORD_KEYS = tuple(_COLUMNS)
# metrics that are fractions in [0, 1] (pages show their differences in percentage points)
_FRACTION_METRIC = re.compile(r"\b(?:error|accuracy|ECE)\b", re.I)

# Rows of ``probs`` must sum to 1 within this: float32 softmax is off by ~1e-7, so this only
# catches logits or unnormalized scores passed by mistake.
PROB_SUM_ATOL = 1e-4


# --------------------------------------------------------------------------- argument checks


def _bool_vector(name: str, x) -> np.ndarray:
    """``x`` as a non-empty 1-D boolean array."""
    arr = _to_numpy(x)
    if arr.ndim != 1 or arr.dtype != np.bool_:
        raise ValueError(f"{name} must be a 1-D boolean array, got {_describe_array(arr)}")
    if len(arr) == 0:
        raise ValueError(f"{name} must have at least 1 value, got 0")
    return arr


def _same_length(name: str, arr: np.ndarray, other: str, ref: np.ndarray) -> None:
    if len(arr) != len(ref):
        raise ValueError(f"{name} must have the same length as {other} ({len(ref)}), got {len(arr)}")


def _confidence(confidence) -> float:
    return check_real("confidence", confidence, 0, 1, closed="neither")


def _t_quantile(confidence: float, df: int) -> float:
    """The two-sided ``confidence`` critical value of Student's t with ``df`` degrees of freedom."""
    return float(_st.t.ppf((1 + confidence) / 2, df))


# --------------------------------------------------------------------------- seeds


def paired_comparison(a, b, *, page, data, metric, a_label, b_label, confidence=0.95, pairs="seeds") -> dict:
    """Compare two configurations run with the same seeds: paired t-test and t-interval.

    With ``d_i = a_i - b_i`` for seeds ``i = 1..n``, mean ``d̄`` and standard deviation
    ``s_d = sqrt(Σ (d_i - d̄)² / (n - 1))``:

    - ``delta = d̄``
    - ``[ci_low, ci_high] = d̄ ∓ t_{(1+c)/2, n-1} · s_d / sqrt(n)``, ``c = confidence``
    - ``p_value = 2 · P(T_{n-1} ≥ |d̄| / (s_d / sqrt(n)))``

    which is :func:`scipy.stats.ttest_rel` (two-sided) and its confidence interval.

    Parameters
    ----------
    a, b
        The metric for configurations A and B, one value per seed; index ``i`` is seed ``i`` in
        both (same initialization and batch order), which is what makes the test paired.
        Lists, numpy arrays or torch tensors.
    page, data, metric
        Where the comparison is shown, which data set, which metric (e.g. ``"test error"``);
        copied into the record.
    a_label, b_label
        Names of the two configurations; stored as the record's ``a`` and ``b``.
    confidence
        Level of the interval, in (0, 1).
    pairs
        What index ``i`` runs over, named in the record's ``method``: ``"seeds"`` (the default,
        ``"paired t-test over seeds"``), or e.g. ``"training sets"`` or ``"test rows"`` when
        the pairs are two models' scores on the same draws or rows.

    Returns
    -------
    dict
        The record ``page, data, metric, a, b, n_pairs, delta, ci_low, ci_high, confidence,
        p_value, method`` of Python ``str``/``int``/``float`` values (``json.dumps`` works).
        When every difference is the same (``s_d = 0``; the t statistic is undefined) the
        interval collapses to ``[delta, delta]`` and ``p_value`` is ``0.0`` if ``delta != 0``
        and ``1.0`` if ``delta == 0``: no seed disagrees about the sign and size of the effect.

    Raises
    ------
    ValueError
        If ``a`` or ``b`` is not 1-D numeric, holds a NaN or infinity, has fewer than 2
        values, or the two lengths differ; if a label is not a non-empty string; if
        ``confidence`` is not in (0, 1); if ``pairs`` is not a non-empty string.
    """
    labels = _record_labels(page, data, metric, a_label, b_label)
    confidence = _confidence(confidence)
    check_str("pairs", pairs)
    a = check_array("a", a, ndim=1, min_len=2)
    b = check_array("b", b, ndim=1, min_len=1)
    _same_length("b", b, "a", a)
    d = a - b
    n = len(d)
    delta = float(d.mean())
    if np.all(d == d[0]):
        low = high = delta
        p_value = 0.0 if delta != 0 else 1.0
    else:
        se = float(d.std(ddof=1)) / math.sqrt(n)
        half = _t_quantile(confidence, n - 1) * se
        low, high = delta - half, delta + half
        p_value = float(2 * _st.t.sf(abs(delta) / se, n - 1))
    return _record(labels, n, delta, low, high, confidence, p_value, f"paired t-test over {pairs}")


def summarize_seeds(values, confidence=0.95) -> dict:
    """Mean over seeds with the half-width of its t-interval (an error bar that is an interval).

    With ``n`` values, mean ``x̄`` and ``sd = sqrt(Σ (x_i - x̄)² / (n - 1))``:
    ``half_width = t_{(1+c)/2, n-1} · sd / sqrt(n)``, so ``x̄ ± half_width`` is the usual
    ``c = confidence`` t-interval for the mean.

    Parameters
    ----------
    values
        One number per seed (list, numpy array or torch tensor), at least 2.
    confidence
        Level of the interval, in (0, 1).

    Returns
    -------
    dict
        ``mean``, ``sd``, ``n``, ``half_width``, ``confidence`` as Python numbers.

    Raises
    ------
    ValueError
        If ``values`` is not 1-D numeric, holds a NaN or infinity, or has fewer than 2
        values; if ``confidence`` is not in (0, 1).
    """
    confidence = _confidence(confidence)
    x = check_array("values", values, ndim=1, min_len=2)
    n = len(x)
    sd = float(x.std(ddof=1))
    return {
        "mean": float(x.mean()),
        "sd": sd,
        "n": n,
        "half_width": _half_width(sd, n, confidence),
        "confidence": confidence,
    }


def _half_width(sd: float, n: int, confidence: float) -> float:
    """Half-width of the ``confidence`` t-interval for a mean of ``n`` values of spread ``sd``."""
    return _t_quantile(confidence, n - 1) * sd / math.sqrt(n)


def seeds_needed(differences, confidence=0.95, max_seeds: int = 1_000_000) -> int | None:
    """Smallest number of seeds whose t-interval would exclude zero, at this mean and spread.

    A planning estimate for a paired comparison: with ``d̄`` and ``sd`` the mean and standard
    deviation of the per-seed ``differences``, the smallest ``n >= 2`` with
    ``t_{(1+c)/2, n-1} · sd / sqrt(n) < |d̄|``. The spread estimated from a few seeds is itself
    uncertain, and running more seeds *because* a comparison was not decided and testing again
    is not the same experiment as planning them (the chance of a false "decided" grows with
    every look), so the number is for planning the next experiment.

    Parameters
    ----------
    differences
        One paired difference per seed (at least 2).
    confidence
        Level of the interval, in (0, 1).
    max_seeds
        Largest ``n`` considered.

    Returns
    -------
    int or None
        The number of seeds, or None if the mean difference is 0 or no ``n`` up to
        ``max_seeds`` suffices.

    Raises
    ------
    ValueError
        If ``differences`` is not 1-D numeric, holds a NaN or infinity, or has fewer than 2
        values; if ``confidence`` is not in (0, 1); if ``max_seeds`` is not an integer >= 2.
    """
    confidence = _confidence(confidence)
    max_seeds = check_int("max_seeds", max_seeds, 2)
    d = check_array("differences", differences, ndim=1, min_len=2)
    mean, sd = abs(float(d.mean())), float(d.std(ddof=1))

    # the half-width falls with n: bisect for the first n below |d̄| (none when d̄ = 0;
    # n = 2 when sd = 0)
    def below(n):
        return _half_width(sd, n, confidence) < mean

    if not below(max_seeds):
        return None
    low, high = 1, max_seeds  # below(high) holds; low = 1 stands for "not yet"
    while high - low > 1:
        mid = (low + high) // 2
        if below(mid):
            high = mid
        else:
            low = mid
    return high


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (Holm 1979), in the order given.

    A page that reads one conclusion off several tests ("decided at 3 of the 4 steps") makes
    several chances of a false "decided". With the ``m`` p-values sorted, ``p_(1) <= ... <=
    p_(m)``, the adjusted values are ``max_{j <= i} min(1, (m - j + 1) p_(j))``; rejecting
    where an adjusted value is below ``alpha`` keeps the chance of *any* false rejection in
    the family at most ``alpha``, whatever the tests' dependence. Uniformly more powerful
    than Bonferroni's ``m p``.

    Raises
    ------
    ValueError
        If ``p_values`` is not a non-empty 1-D array of numbers in [0, 1].
    """
    p = check_array("p_values", p_values, ndim=1, min_len=1)
    bad = np.flatnonzero((p < 0) | (p > 1))
    if bad.size:
        raise ValueError(f"p_values must lie in [0, 1], got {float(p[bad[0]])!r} at index {bad[0]}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    steps = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(steps)
    return adjusted


def family_decisions(records, confidence=0.95) -> list[str]:
    """:func:`decision` of each record when the records are read together as one family.

    A record keeps its decision (``"lower"`` or ``"higher"``) if its :func:`holm`-adjusted
    p-value, over all ``records``, is below ``1 - confidence``; otherwise it becomes ``"not
    decided"``. Each record's own interval controls the chance of a false "decided" for that
    comparison alone; this controls it for the whole family.

    Raises
    ------
    ValueError
        If ``records`` is not a list (a dict, a string, not iterable) or is empty, or holds
        something that is not a comparison record as :func:`decision` reads one; if
        ``confidence`` is not in (0, 1).
    """
    confidence = _confidence(confidence)
    records = _record_list(records)
    if not records:
        raise ValueError("records must hold at least one comparison record, got none")
    words = [decision(_check_record(r, f"records[{i}]")) for i, r in enumerate(records)]
    adjusted = holm([r["p_value"] for r in records])
    return [w if q < 1 - confidence else "not decided" for w, q in zip(words, adjusted)]


# --------------------------------------------------------------------------- test images


def mcnemar(correct_a, correct_b) -> dict:
    """Exact McNemar test of two classifiers scored on the same test images.

    Of the ``n`` images, ``n01`` are wrong for A and right for B and ``n10`` right for A and
    wrong for B. Under the null hypothesis (equal error rates) each of the ``m = n01 + n10``
    discordant images is equally likely to go either way, so ``min(n01, n10)`` is
    Binomial(m, 1/2) and the two-sided exact p-value is

    ``p_value = min(1, 2 · P(Binomial(m, 1/2) ≤ min(n01, n10)))``, and ``1`` when ``m = 0``.

    This equals :func:`scipy.stats.binomtest` (two-sided, ``p=0.5``) on the discordant pairs and
    ``statsmodels.stats.contingency_tables.mcnemar(table, exact=True)``.

    Parameters
    ----------
    correct_a, correct_b
        Boolean arrays of the same length (numpy or torch): image ``i`` was classified
        correctly by model A / model B.

    Returns
    -------
    dict
        ``n``, ``n01``, ``n10``, ``errors_a``, ``errors_b`` (ints), ``delta`` = error rate of A
        minus error rate of B ``= (n01 - n10) / n``, and ``p_value`` (floats).

    Raises
    ------
    ValueError
        If either argument is not a non-empty 1-D boolean array, or the lengths differ.
    """
    ca = _bool_vector("correct_a", correct_a)
    cb = _bool_vector("correct_b", correct_b)
    _same_length("correct_b", cb, "correct_a", ca)
    n = len(ca)
    n01 = int(np.count_nonzero(~ca & cb))
    n10 = int(np.count_nonzero(ca & ~cb))
    m = n01 + n10
    p_value = 1.0 if m == 0 else min(1.0, float(2 * _st.binom.cdf(min(n01, n10), m, 0.5)))
    return {
        "n": n,
        "n01": n01,
        "n10": n10,
        "errors_a": int(n - np.count_nonzero(ca)),
        "errors_b": int(n - np.count_nonzero(cb)),
        "delta": (n01 - n10) / n,
        "p_value": p_value,
    }


def mcnemar_record(
    correct_a, correct_b, *, page, data, metric="test error", a_label, b_label, confidence=0.95
) -> dict:
    """:func:`mcnemar` as a comparison record, with the exact interval that matches its test.

    ``delta = (n01 - n10) / n = m (2 π̂ - 1) / n`` with ``m = n01 + n10`` discordant images and
    ``π̂ = n01 / m`` the share of them that A gets wrong. Given ``m``, ``n01`` is
    Binomial(m, π), and the interval is the exact (Clopper–Pearson) interval for ``π``
    mapped through ``m (2 π - 1) / n``:

    ``π_low = Beta_{(1-c)/2}(n01, n10 + 1)``, ``π_high = Beta_{(1+c)/2}(n01 + 1, n10)``

    (``0`` and ``1`` at the ends). It is the inversion of the exact test itself, so the
    interval excludes 0 exactly when ``p_value < 1 - c``: the record cannot decide what the
    test does not, however few the discordant images. It is conditional on ``m``: with no
    discordant image it is ``[0, 0]`` (these images cannot tell A from B at all).

    Parameters
    ----------
    correct_a, correct_b
        As in :func:`mcnemar`.
    page, data, metric, a_label, b_label, confidence
        As in :func:`paired_comparison`; ``metric`` defaults to ``"test error"``.

    Returns
    -------
    dict
        The record of :func:`paired_comparison` (``n_pairs`` = number of test images,
        ``p_value`` from the exact McNemar test) plus ``n01`` and ``n10``.

    Raises
    ------
    ValueError
        As :func:`mcnemar`, and for labels or ``confidence`` as :func:`paired_comparison`.
    """
    labels = _record_labels(page, data, metric, a_label, b_label)
    confidence = _confidence(confidence)
    test = mcnemar(correct_a, correct_b)
    n, n01, n10 = test["n"], test["n01"], test["n10"]
    m = n01 + n10
    if m == 0:
        low = high = 0.0
    else:  # Clopper–Pearson for the share of discordant images that A gets wrong
        tail = (1 - confidence) / 2
        pi_low = float(_st.beta.ppf(tail, n01, n10 + 1)) if n01 > 0 else 0.0
        pi_high = float(_st.beta.ppf(1 - tail, n01 + 1, n10)) if n10 > 0 else 1.0
        low, high = m * (2 * pi_low - 1) / n, m * (2 * pi_high - 1) / n
    delta = test["delta"]
    low, high = min(low, delta), max(high, delta)  # delta is inside; guard the rounding
    method = "exact McNemar test; exact (Clopper–Pearson) interval on the discordant images"
    record = _record(labels, n, delta, low, high, confidence, test["p_value"], method)
    record.update(n01=test["n01"], n10=test["n10"])
    return record


# --------------------------------------------------------------------------- calibration


def calibration(probs, y, n_bins=15) -> dict:
    """Expected calibration error (Guo et al., 2017) and the bins of a reliability diagram.

    Each image's confidence is its largest predicted probability ``p̂_i = max_k probs[i, k]``
    and its prediction ``argmax_k probs[i, k]`` (the first class on ties). Bin ``b = 1..M``
    (``M = n_bins``) holds the images with ``p̂_i`` in ``((b-1)/M, b/M]`` (the first bin also
    takes ``p̂_i = 0``), and

    ``ECE = Σ_b |B_b| / n · |acc(B_b) - conf(B_b)|``

    where ``acc(B_b)`` is the fraction of correct predictions and ``conf(B_b)`` the mean
    confidence in bin ``b``; empty bins contribute nothing.

    Parameters
    ----------
    probs
        ``[n, classes]`` predicted probabilities (numpy or torch); entries in [0, 1], every row
        summing to 1 within ``PROB_SUM_ATOL`` (apply softmax to logits first).
    y
        ``[n]`` integer labels in ``0..classes-1``.
    n_bins
        Number of equal-width confidence bins ``M`` (Guo et al. use 15).

    Returns
    -------
    dict
        ``ece`` (float), ``accuracy`` and ``mean_confidence`` over all images (floats), ``n``,
        ``n_bins``, and per-bin lists for the diagram: ``bin_edges`` (``M + 1`` floats),
        ``bin_count`` (ints), ``bin_confidence`` and ``bin_accuracy`` (floats, ``None`` for an
        empty bin).

    Raises
    ------
    ValueError
        If ``probs`` is not a non-empty 2-D array of finite probabilities whose rows sum to 1,
        ``y`` is not 1-D integer labels in range with one per row, or ``n_bins`` is not an
        integer >= 1.
    """
    n_bins = check_int("n_bins", n_bins, 1)
    p = _probabilities(probs)
    labels = _labels(y, p)
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # searchsorted(side="left") puts an edge value in the bin it closes: bins are (lo, hi].
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    conf_sum = np.bincount(which, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(which, weights=correct, minlength=n_bins)
    ece = float(np.abs(acc_sum - conf_sum).sum() / len(p))  # = Σ |B|/n · |acc - conf|
    filled = count > 0
    return {
        "ece": ece,
        "accuracy": float(correct.mean()),
        "mean_confidence": float(confidence.mean()),
        "n": len(p),
        "n_bins": n_bins,
        "bin_edges": edges.tolist(),
        "bin_count": count.tolist(),
        "bin_confidence": [float(s / c) if f else None for s, c, f in zip(conf_sum, count, filled)],
        "bin_accuracy": [float(s / c) if f else None for s, c, f in zip(acc_sum, count, filled)],
    }


def _probabilities(probs) -> np.ndarray:
    p = _to_numpy(probs)
    if p.ndim != 2 or p.dtype.kind not in "iuf" or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"probs must be a non-empty 2-D array [n, classes] of numbers, got {_describe_array(p)}")
    p = p.astype(np.float64)
    bad = np.argwhere(~np.isfinite(p))
    if bad.size:
        (i, k), value = bad[0], float(p[tuple(bad[0])])
        raise ValueError(f"probs must hold probabilities in [0, 1], got {value!r} at row {i}, column {k}")
    if p.min() < 0 or p.max() > 1:
        raise ValueError(
            f"probs must hold probabilities in [0, 1], got values from {float(p.min())!r} to {float(p.max())!r}"
        )
    worst = int(np.argmax(np.abs(p.sum(axis=1) - 1)))
    if abs(p[worst].sum() - 1) > PROB_SUM_ATOL:
        raise ValueError(
            f"probs must have rows summing to 1 (within {PROB_SUM_ATOL:g}; apply softmax to logits), "
            f"got row {worst} summing to {float(p[worst].sum())!r}"
        )
    return p


def _labels(y, p: np.ndarray) -> np.ndarray:
    labels = _to_numpy(y)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"y must be a 1-D array of integer labels, got {_describe_array(labels)}")
    _same_length("y", labels, "probs", p)
    if labels.min() < 0 or labels.max() >= p.shape[1]:
        raise ValueError(
            f"y must hold labels in 0..{p.shape[1] - 1} (one per column of probs), "
            f"got values from {labels.min()} to {labels.max()}"
        )
    return labels


# --------------------------------------------------------------------------- records


def _record_labels(page, data, metric, a_label, b_label) -> dict:
    return {
        "page": check_str("page", page),
        "data": check_str("data", data),
        "metric": check_str("metric", metric),
        "a": check_str("a_label", a_label),
        "b": check_str("b_label", b_label),
    }


def _record(labels, n, delta, low, high, confidence, p_value, method) -> dict:
    values = dict(
        n_pairs=int(n),
        delta=float(delta),
        ci_low=float(low),
        ci_high=float(high),
        confidence=float(confidence),
        p_value=float(p_value),
        method=method,
    )
    return {**labels, **values}


def _record_list(records, name: str = "records", what: str = "comparison records") -> list:
    """``records`` as a list: any iterable but a dict or a string (a single record, or a name,
    passed where a list was meant); else ``ValueError``:
    ``"records must be a list of comparison records, got dict"``."""
    if isinstance(records, (dict, str)) or not hasattr(records, "__iter__"):
        raise ValueError(f"{name} must be a list of {what}, got {type(records).__name__}")
    return list(records)


def comparison_table(records) -> "pandas.DataFrame":  # noqa: F821 (pandas is imported on use)
    """Comparison records as a table, one row per record, in the order given.

    Columns: ``page, data, metric, A, B, pairs, A − B, CI low, CI high, CI level, p-value,
    test`` (from the record keys ``page … method``); the numbers stay numbers, so a page can
    format or glue them. Keys beyond the common ones (``n01``, ``n10``) are left out.

    Parameters
    ----------
    records
        A list of dicts as returned by :func:`paired_comparison` or :func:`mcnemar_record`
        (any iterable of them but a dict or a string); an empty list gives an empty table with
        the same columns.

    Raises
    ------
    ValueError
        If ``records`` is a dict, a string or not iterable, or an entry is not a dict with every
        record key.
    """
    import pandas as pd

    records = _record_list(records)
    for i, record in enumerate(records):
        wanted = f"records[{i}] must be a comparison record (a dict with keys {', '.join(RECORD_KEYS)})"
        if not isinstance(record, dict):
            raise ValueError(f"{wanted}, got {type(record).__name__}")
        missing = [k for k in RECORD_KEYS if k not in record]
        if missing:
            raise ValueError(f"{wanted}, got one missing {', '.join(missing)}")
    rows = [{_COLUMNS[k]: record[k] for k in RECORD_KEYS} for record in records]
    return pd.DataFrame(rows, columns=list(_COLUMNS.values()))


def metric_unit(metric: str) -> tuple[float, str]:
    """How a page shows a difference in ``metric``: ``(scale, unit)``.

    Errors, accuracies and ECE are fractions in every record and are shown in percentage
    points, ``(100.0, "percentage points")``; a loss is cross-entropy, ``(1.0, "nats")``;
    anything else is shown as it is, ``(1.0, "")``.
    """
    check_str("metric", metric)
    if _FRACTION_METRIC.search(metric):
        return 100.0, "percentage points"
    return 1.0, "nats" if re.search(r"\bloss\b", metric, re.I) else ""


def units_table(records) -> "pandas.DataFrame":  # noqa: F821
    """Comparison records as a page shows them: one row per record, indexed by
    ``"<metric> (<unit>)"``, with columns ``A, B, pairs, A − B, CI low, CI high, p-value`` and
    the differences in each metric's unit (:func:`metric_unit`). The records keep fractions.
    A ``data`` column comes first where the records differ in their training data.

    Raises
    ------
    ValueError
        As :func:`comparison_table`.
    """
    table = comparison_table(records).drop(columns=["page", "CI level", "test"])
    if table["data"].nunique() <= 1:
        table = table.drop(columns="data")
    scales, units = zip(*map(metric_unit, table["metric"])) if len(table) else ((), ())
    for column in ("A − B", "CI low", "CI high"):
        table[column] = table[column] * list(scales)
    table.index = [f"{m} ({u})" if u else m for m, u in zip(table.pop("metric"), units)]
    return table


# --------------------------------------------------------------------------- records in words


def _check_record(record, name: str = "record", *, p_value: bool = True) -> dict:
    """``record`` if it is a comparison record as :func:`decision` reads one; else ``ValueError``.

    A dict whose ``delta``, ``ci_low`` and ``ci_high`` are finite numbers with
    ``ci_low <= delta <= ci_high`` and whose ``p_value`` is in [0, 1] (not needed if
    ``p_value=False``). ``name`` is how the messages call it (``"records[2]"`` for one of a
    list): ``"record['p_value'] must be a finite number in [0, 1], got 1.5"``.
    """
    if not isinstance(record, dict):
        raise ValueError(f"{name} must be a comparison record (a dict), got {type(record).__name__}")
    keys = ("delta", "ci_low", "ci_high", "p_value") if p_value else ("delta", "ci_low", "ci_high")
    missing = [k for k in keys if k not in record]
    if missing:
        raise ValueError(f"{name} must be a comparison record, got one missing {', '.join(missing)}")
    for key in ("delta", "ci_low", "ci_high"):
        check_real(f"{name}[{key!r}]", record[key])
    if p_value:
        check_real(f"{name}['p_value']", record["p_value"], 0, 1)
    if not record["ci_low"] <= record["delta"] <= record["ci_high"]:
        raise ValueError(
            f"{name}'s interval [{record['ci_low']}, {record['ci_high']}] must contain its "
            f"delta {record['delta']}"
        )
    return record


def decision(record) -> str:
    """What a comparison record decides about ``a − b``, in one word.

    ``"lower"`` when the whole interval is below zero (A is decidedly lower than B),
    ``"higher"`` when it is above zero, ``"not decided"`` when it contains zero. An interval
    that touches zero counts as containing it. The p-value must agree: a record whose
    ``p_value`` is not below ``1 - confidence`` (the record's ``confidence``, default 0.95)
    decides nothing. For the records of :func:`paired_comparison` and :func:`mcnemar_record`
    the two always agree (each interval inverts its own test); the check guards records
    built any other way.

    Raises
    ------
    ValueError
        If ``record`` is not a dict with finite ``delta``, ``ci_low`` and ``ci_high`` and a
        ``p_value`` in [0, 1], or its interval does not contain its ``delta``.
    """
    record = _check_record(record)
    level = check_real("record['confidence']", record.get("confidence", 0.95), 0, 1, closed="neither")
    if record["p_value"] >= 1 - level:
        return "not decided"
    if record["ci_high"] < 0:
        return "lower"
    if record["ci_low"] > 0:
        return "higher"
    return "not decided"


#: The words of :func:`decision`, in the order a page lists them.
DECISIONS = ("lower", "higher", "not decided")
_VERDICTS = {"lower": "decidedly lower", "higher": "decidedly higher", "not decided": "not decided"}


def verdict(record) -> str:
    """:func:`decision` as a page says it: ``"decidedly lower"``, ``"decidedly higher"`` or ``"not decided"``.

    Raises
    ------
    ValueError
        As :func:`decision`.
    """
    return _VERDICTS[decision(record)]


def describe(record, *, scale=None, fmt=".2f", unit=None) -> str:
    """A record's difference, interval and p-value as text: ``-3.72 [-5.22, -2.23] percentage points, p = 0.0023``.

    ``delta``, ``ci_low`` and ``ci_high`` are multiplied by ``scale`` (100 turns an error
    fraction into percentage points) and written with the format spec ``fmt``, the difference
    with its sign; the p-value has two significant digits. A ``unit`` follows the interval.
    By default ``scale`` and ``unit`` are those of the record's ``metric``
    (:func:`metric_unit`: an error in percentage points, a loss in nats), or ``1`` and no unit
    for a record without one; either can be given instead.

    Raises
    ------
    ValueError
        As :func:`decision`; also if ``scale`` is not a positive finite number, ``fmt`` is not
        a float format spec, ``unit`` is not a string, or the record's ``metric`` (needed for a
        default) is not a non-empty string.
    """
    record = _check_record(record)
    if scale is None or unit is None:
        own_scale, own_unit = metric_unit(record["metric"]) if "metric" in record else (1.0, "")
        scale = own_scale if scale is None else scale
        unit = own_unit if unit is None else unit
    scale = check_real("scale", scale, 0, None, closed="right")
    unit = check_str("unit", unit, allow_empty=True)
    try:
        delta = format(scale * record["delta"], "+" + fmt.lstrip("+"))
        low, high = (format(scale * record[k], fmt) for k in ("ci_low", "ci_high"))
    except (AttributeError, TypeError, ValueError):  # not a string, or not a float format spec
        raise ValueError(f"fmt must be a format spec such as '.2f', got {fmt!r}") from None
    unit = f" {unit}" if unit else ""
    return f"{delta} [{low}, {high}]{unit}, p = {record['p_value']:#.2g}"


def name_list(names, *, empty="none", style="*") -> str:
    """Names as an English list in markdown: ``*a*``, ``*a* and *b*``, ``*a*, *b* and *c*``.

    ``style`` is put on both sides of every name (``"*"`` for emphasis, ``""`` for none);
    an empty list gives ``empty``.

    Raises
    ------
    ValueError
        If ``names`` is not a list or tuple of non-empty strings, or ``style`` or ``empty`` is
        not a string.
    """
    if not isinstance(names, (list, tuple)):
        raise ValueError(f"names must be a list of strings, got {type(names).__name__}")
    for i, name in enumerate(names):
        check_str(f"names[{i}]", name)
    check_str("style", style, allow_empty=True)
    check_str("empty", empty, allow_empty=True)
    marked = [f"{style}{n}{style}" for n in names]
    if not marked:
        return empty
    return marked[0] if len(marked) == 1 else ", ".join(marked[:-1]) + " and " + marked[-1]


def _named_records(named_records) -> list:
    """``named_records`` as a non-empty list of checked ``(name, record)`` pairs."""
    pairs = _record_list(named_records, "named_records", "(name, record) pairs")
    if not pairs:
        raise ValueError("named_records must hold at least one (name, record) pair, got none")
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"named_records[{i}] must be a (name, record) pair, got {_show(pair)}")
        check_str(f"named_records[{i}][0]", pair[0])
        _check_record(pair[1], f"named_records[{i}][1]")
    return pairs


def names_by_decision(named_records) -> dict:
    """The names of ``(name, record)`` pairs grouped by what each record decides on its own.

    A dict with the three words of :func:`decision` as keys, in the order of ``DECISIONS``
    (``"lower"``, ``"higher"``, ``"not decided"``), each holding the names of its records in
    their order; a word no record has holds an empty list. For a page that writes "a and b
    are decidedly lower; c is not decided".

    Raises
    ------
    ValueError
        As :func:`family_sentence`.
    """
    groups = {word: [] for word in DECISIONS}
    for name, record in _named_records(named_records):
        groups[decision(record)].append(name)
    return groups


def family_sentence(named_records, confidence=0.95) -> str:
    """What a family of comparisons still decides after :func:`family_decisions`, in words.

    ``named_records`` are ``(name, record)`` pairs; the sentence names the records that stay
    decided and those that were decided on their own but not in the family: ``"Read together
    as one family of 8 comparisons, with Holm's adjustment, a and b stay decided; c does
    not."``, or ``"…, none stays decided, although c is decided on its own."``

    Raises
    ------
    ValueError
        As :func:`family_decisions`, and if an entry is not a ``(name, record)`` pair whose
        name is a non-empty string.
    """
    pairs = _named_records(named_records)
    words = family_decisions([r for _, r in pairs], confidence)
    kept = [name for (name, _), w in zip(pairs, words) if w != "not decided"]
    dropped = [name for (name, r), w in zip(pairs, words)
               if w == "not decided" and decision(r) != "not decided"]
    count = f"{len(pairs)} comparison{'' if len(pairs) == 1 else 's'}"
    text = f"Read together as one family of {count}, with Holm's adjustment, "
    one = len(dropped) == 1
    if kept:
        text += name_list(kept, style="") + (" stays" if len(kept) == 1 else " stay") + " decided"
        if dropped:
            text += "; " + name_list(dropped, style="") + (" does" if one else " do") + " not"
    else:
        text += "none stays decided"
        if dropped:
            text += (", although " + name_list(dropped, style="")
                     + (" is decided on its own" if one else " are decided on their own"))
    return text + "."


# --------------------------------------------------------------------------- printed bounds


def _as_decimal(x: float) -> Decimal:
    """``x`` as the decimal it stands for: the shortest one that reads back as ``x``
    (``repr``). ``0.2`` is 0.2, not the binary value just above it that stores it, so a
    bound on a quantity that is exactly 0.2 stays 0.20; ``0.1 + 0.2`` is
    0.30000000000000004, above 0.3."""
    return Decimal(repr(float(x)))


def _rounded(x: Decimal, quantum: Decimal, rounding: str) -> float:
    """The float of the decimal ``x`` rounded to a multiple of ``quantum``.

    The rounding is done in decimal, on every digit of ``x``, so the result never lies on the
    wrong side of it. Scaling first does not guarantee that: for ``x = 1460.3999999999999``
    (the float just below 1460.4), ``x * 100`` rounds to 146040.0, and
    ``math.floor(x * 100) / 100`` is 1460.4, above ``x``.
    """
    with localcontext() as ctx:
        ctx.prec = 400  # every digit a float's repr has before the point, and 15 after it
        return float(x.quantize(quantum, rounding=rounding))


def floor_to(x, digits: int) -> float:
    """``x`` rounded down to ``digits`` decimals: printed with ``digits`` decimals, a lower
    bound stays true ("at least 0.28" for 0.2899). ``x`` counts as the decimal it prints as
    in full (its ``repr``): ``floor_to(0.29, 2)`` is 0.29. A quantity that is exact in
    decimal (a count over a number of images) keeps its value when computed with one
    division (``100 * k / n``); a difference of two such floats may not.

    Raises
    ------
    ValueError
        If ``x`` is not a finite real number or ``digits`` is not an integer in ``[0, 15]``.
    """
    x = check_real("x", x)
    digits = check_int("digits", digits, 0, 15)
    return _rounded(_as_decimal(x), Decimal(1).scaleb(-digits), ROUND_FLOOR)


def ceil_to(x, digits: int) -> float:
    """``x`` rounded up to ``digits`` decimals: printed with ``digits`` decimals, an upper
    bound stays true ("at most 0.29" for 0.2801; 0.2 stays 0.2). ``x`` is read as in
    :func:`floor_to`.

    Raises
    ------
    ValueError
        As :func:`floor_to`.
    """
    x = check_real("x", x)
    digits = check_int("digits", digits, 0, 15)
    return _rounded(_as_decimal(x), Decimal(1).scaleb(-digits), ROUND_CEILING)


def ceil_significant(x, figures: int = 1) -> float:
    """``x`` rounded up to ``figures`` significant digits: printed in scientific notation with
    ``figures - 1`` decimals (``':.0e'`` for one figure), an upper bound stays true
    ("at most 3e-07" for 2.4e-07; 9.5e-07 becomes 1e-06). ``x`` is read as in
    :func:`floor_to`.

    Raises
    ------
    ValueError
        If ``x`` is not a finite positive number (zero has no significant digits: bound it
        from below first, e.g. ``max(gap, 1e-16)``) or ``figures`` is not an integer in
        ``[1, 15]``.
    """
    x = check_real("x", x, 0, None, closed="right")
    figures = check_int("figures", figures, 1, 15)
    exact = _as_decimal(x)
    return _rounded(exact, Decimal(1).scaleb(exact.adjusted() - figures + 1), ROUND_CEILING)
