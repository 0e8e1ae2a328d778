"""regutils.stats against independent answers: scipy's paired t-test and t distribution, scipy's
and statsmodels' exact McNemar test, hand-computed calibration bins."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as st

import regutils as ru
from regutils import stats

LABELS = dict(page="dropout", data="MNIST", metric="test error", a_label="dropout 0.5", b_label="no dropout")


def assert_json_record(record: dict) -> None:
    """Every value is a plain Python str/int/float and the record survives a JSON round trip."""
    assert all(type(v) in (str, int, float) for v in record.values()), {k: type(v) for k, v in record.items()}
    assert json.loads(json.dumps(record)) == record


# --------------------------------------------------------------------------- paired_comparison


@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_paired_comparison_matches_scipy_ttest_rel(rng, confidence):
    a = rng.normal(0.02, 0.003, 7)
    b = a + rng.normal(0.001, 0.002, 7)
    record = stats.paired_comparison(a, b, **LABELS, confidence=confidence)
    ref = st.ttest_rel(a, b)
    ci = ref.confidence_interval(confidence_level=confidence)
    assert record["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert record["delta"] == pytest.approx(np.mean(a - b), rel=1e-12)
    assert (record["ci_low"], record["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)
    # the same interval from the t quantile written out
    d = a - b
    half = st.t.ppf((1 + confidence) / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    assert record["ci_high"] - record["ci_low"] == pytest.approx(2 * half, rel=1e-10)
    assert record["n_pairs"] == 7
    assert record["confidence"] == confidence
    assert record["method"] == "paired t-test over seeds"
    by_rows = stats.paired_comparison(a, b, **LABELS, pairs="test rows")
    assert by_rows["method"] == "paired t-test over test rows" and by_rows["delta"] == record["delta"]
    assert (record["page"], record["data"], record["metric"], record["a"], record["b"]) == (
        "dropout", "MNIST", "test error", "dropout 0.5", "no dropout"
    )  # fmt: skip
    assert_json_record(record)


def test_paired_comparison_is_paired_not_independent():
    # a large shared seed effect, a small consistent difference: only pairing sees it
    seed_effect = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    a = seed_effect + np.array([0.10, 0.11, 0.09, 0.10, 0.12])
    record = stats.paired_comparison(a, seed_effect, **LABELS)
    assert record["p_value"] < 1e-4
    assert st.ttest_ind(a, seed_effect).pvalue > 0.5
    assert record["p_value"] == pytest.approx(st.ttest_rel(a, seed_effect).pvalue, rel=1e-10)


def test_paired_comparison_swapping_flips_the_sign(rng):
    a, b = rng.normal(size=5), rng.normal(size=5)
    ab = stats.paired_comparison(a, b, **LABELS)
    ba = stats.paired_comparison(b, a, **LABELS)
    assert ba["delta"] == pytest.approx(-ab["delta"])
    assert (ba["ci_low"], ba["ci_high"]) == pytest.approx((-ab["ci_high"], -ab["ci_low"]))
    assert ba["p_value"] == pytest.approx(ab["p_value"])


def test_paired_comparison_accepts_lists_and_integers():
    record = stats.paired_comparison([3, 5, 4], [1, 2, 2], **LABELS)
    assert record["delta"] == pytest.approx(7 / 3)
    assert record["p_value"] == pytest.approx(st.ttest_rel([3, 5, 4], [1, 2, 2]).pvalue)


@pytest.mark.parametrize(
    "a, b, delta, p_value",
    [([1.0, 2.0, 3.0], [0.5, 1.5, 2.5], 0.5, 0.0), ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 0.0, 1.0)],
)
def test_paired_comparison_identical_differences(a, b, delta, p_value):
    record = stats.paired_comparison(a, b, **LABELS)
    assert record["delta"] == delta
    assert record["ci_low"] == record["ci_high"] == delta
    assert record["p_value"] == p_value
    assert_json_record(record)


def test_paired_comparison_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    a = torch.tensor([0.021, 0.019, 0.024, 0.020], requires_grad=True)
    b = torch.tensor([0.023, 0.022, 0.025, 0.021], dtype=torch.float64)
    record = stats.paired_comparison(a, b, **LABELS)
    ref = st.ttest_rel(a.detach().numpy().astype(np.float64), b.numpy())
    assert record["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)


@pytest.mark.parametrize(
    "a, b, message",
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0], r"^b must have the same length as a \(3\), got 2$"),
        ([1.0], [2.0], r"^a must have at least 2 values, got 1$"),
        ([], [], r"^a must have at least 2 values, got 0$"),
        ([1.0, np.nan], [1.0, 2.0], r"^a must contain only finite numbers, got nan at index 1$"),
        ([1.0, 2.0], [np.inf, 2.0], r"^b must contain only finite numbers, got inf at index 0$"),
        ([[1.0, 2.0]], [[1.0, 2.0]], r"^a must be a 1-D array of numbers, got an array of shape \(1, 2\)"),
        ([1.0, 2.0], ["x", "y"], r"^b must be a 1-D array of numbers, got .* dtype <U1$"),
        ([True, False], [1.0, 2.0], r"^a must be a 1-D array of numbers, got .* dtype bool$"),
    ],
)
def test_paired_comparison_rejects_bad_values(a, b, message):
    with pytest.raises(ValueError, match=message):
        stats.paired_comparison(a, b, **LABELS)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("confidence", 1.0, r"^confidence must be a finite number in \(0, 1\), got 1.0$"),
        ("confidence", 0, r"^confidence must be a finite number in \(0, 1\), got 0$"),
        ("confidence", "95%", r"^confidence must be a finite number in \(0, 1\), got '95%'$"),
        ("page", "", r"^page must be a non-empty string, got ''$"),
        ("data", None, r"^data must be a non-empty string, got None$"),
        ("metric", 3, r"^metric must be a non-empty string, got 3$"),
        ("a_label", "  ", r"^a_label must be a non-empty string, got '  '$"),
        ("b_label", ["x"], r"^b_label must be a non-empty string, got \['x'\]$"),
        ("pairs", "", r"^pairs must be a non-empty string, got ''$"),
        ("pairs", "  ", r"^pairs must be a non-empty string, got '  '$"),
        ("pairs", 3, r"^pairs must be a non-empty string, got 3$"),
    ],
)
def test_paired_comparison_rejects_bad_arguments(name, value, message):
    kwargs = {**LABELS, name: value}
    with pytest.raises(ValueError, match=message):
        stats.paired_comparison([1.0, 2.0, 4.0], [1.5, 2.0, 3.0], **kwargs)


# --------------------------------------------------------------------------- summarize_seeds


@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_summarize_seeds_matches_scipy_t_interval(rng, confidence):
    x = rng.normal(0.98, 0.004, 5)
    summary = stats.summarize_seeds(x, confidence=confidence)
    low, high = st.t.interval(confidence, len(x) - 1, loc=np.mean(x), scale=st.sem(x))
    assert summary["mean"] == pytest.approx(np.mean(x), rel=1e-12)
    assert summary["sd"] == pytest.approx(np.std(x, ddof=1), rel=1e-12)
    assert summary["n"] == 5
    assert summary["half_width"] == pytest.approx((high - low) / 2, rel=1e-10)
    assert summary["confidence"] == confidence
    assert_json_record(summary)


def test_summarize_seeds_hand_computed():
    # values 1, 2, 3: mean 2, sd 1; with 2 degrees of freedom the t quantile has the closed
    # form t_q = (2q - 1) / sqrt(2 q (1 - q)), here q = 0.975
    summary = stats.summarize_seeds([1, 2, 3])
    assert (summary["mean"], summary["sd"]) == (2.0, 1.0)
    t = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    assert summary["half_width"] == pytest.approx(t / math.sqrt(3), rel=1e-12)


@pytest.mark.parametrize(
    "values, kwargs, message",
    [
        ([0.5], {}, r"^values must have at least 2 values, got 1$"),
        ([0.5, float("nan")], {}, r"^values must contain only finite numbers, got nan at index 1$"),
        (np.ones((2, 2)), {}, r"^values must be a 1-D array of numbers, got an array of shape \(2, 2\)"),
        ([1.0, 2.0], {"confidence": 95}, r"^confidence must be a finite number in \(0, 1\), got 95$"),
    ],
)
def test_summarize_seeds_rejects_bad_input(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        stats.summarize_seeds(values, **kwargs)


# --------------------------------------------------------------------------- seeds_needed


def first_n_by_scan(d, confidence=0.95):
    """The smallest n whose t half-width at d's spread is below |mean|, by a plain scan."""
    mean, sd = abs(np.mean(d)), np.std(d, ddof=1)
    n = 2
    while st.t.ppf((1 + confidence) / 2, n - 1) * sd / math.sqrt(n) >= mean:
        n += 1
    return n


@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_seeds_needed_matches_a_scan_with_scipys_t(rng, confidence):
    for _ in range(20):
        d = rng.normal(rng.uniform(-1, 1), rng.uniform(0.1, 3), int(rng.integers(2, 8)))
        assert stats.seeds_needed(d, confidence) == first_n_by_scan(d, confidence)


def test_seeds_needed_agrees_with_the_paired_interval(rng):
    # the comparison over the seeds in hand decides exactly when they are enough
    for _ in range(30):
        a = rng.normal(0, 1, 5)
        b = a + rng.normal(0.5, 1, 5)
        record = stats.paired_comparison(a, b, **LABELS)
        decided = stats.decision(record) != "not decided"
        assert (stats.seeds_needed(a - b) <= 5) == decided


def test_seeds_needed_edge_cases():
    assert stats.seeds_needed([1.0, -1.0]) is None  # no difference to detect
    assert stats.seeds_needed([0.3, 0.3, 0.3]) == 2  # no spread: any interval excludes zero
    assert stats.seeds_needed([1.0, -0.9], max_seeds=10) is None  # more than 10 would be needed


@pytest.mark.parametrize(
    "values, kwargs, message",
    [
        ([0.5], {}, r"^differences must have at least 2 values, got 1$"),
        ([0.5, float("inf")], {}, r"^differences must contain only finite numbers, got inf at index 1$"),
        ([1.0, 2.0], {"confidence": 1}, r"^confidence must be a finite number in \(0, 1\), got 1$"),
        ([1.0, 2.0], {"max_seeds": 1}, r"^max_seeds must be an integer >= 2, got 1$"),
    ],
)
def test_seeds_needed_rejects_bad_input(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        stats.seeds_needed(values, **kwargs)


# --------------------------------------------------------------------------- holm


def test_holm_matches_statsmodels(rng):
    from statsmodels.stats.multitest import multipletests

    for m in (1, 2, 4, 9):
        for _ in range(10):
            p = rng.uniform(0, 0.2, m) ** rng.uniform(0.5, 2)
            reject, expected, _, _ = multipletests(p, alpha=0.05, method="holm")
            adjusted = stats.holm(p)
            np.testing.assert_allclose(adjusted, expected, rtol=1e-12)
            assert np.array_equal(adjusted < 0.05, reject)


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04: 3 x 0.01, 2 x 0.02, then max(0.04, previous) - in the given order
    np.testing.assert_allclose(stats.holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    np.testing.assert_allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1


def record_with(p_value, delta):
    """A record whose interval excludes 0 on the side of ``delta`` (decided on its own)."""
    low, high = (delta - 0.5, delta / 2) if delta < 0 else (delta / 2, delta + 0.5)
    return dict(delta=delta, ci_low=low, ci_high=high, p_value=p_value)


def test_family_decisions_keep_only_what_survives_holm():
    # each decided on its own; Holm: 4 x 0.001, then 3 x 0.03 = 0.09, 0.09, then 0.5
    family = [record_with(0.03, -1.0), record_with(0.001, 2.0), record_with(0.04, -1.0),
              dict(delta=0.1, ci_low=-1.0, ci_high=1.2, p_value=0.5)]
    assert [stats.decision(r) for r in family] == ["lower", "higher", "lower", "not decided"]
    assert stats.family_decisions(family) == ["not decided", "higher", "not decided", "not decided"]
    # 0.01, 0.02, 0.04 -> 0.03, 0.04, 0.04: all stay decided
    small = [record_with(q, -1.0) for q in (0.02, 0.01, 0.04)]
    assert stats.family_decisions(small) == ["lower"] * 3
    # a stricter level drops them
    assert stats.family_decisions(small, confidence=0.99) == ["not decided"] * 3


def test_family_sentence_names_what_stays_and_what_drops():
    # the first family above: only the 0.001 record survives; two decided ones drop
    family = [("a", record_with(0.03, -1.0)), ("b", record_with(0.001, 2.0)),
              ("c", record_with(0.04, -1.0)),
              ("d", dict(delta=0.1, ci_low=-1.0, ci_high=1.2, p_value=0.5))]
    assert stats.family_sentence(family) == (
        "Read together as one family of 4 comparisons, with Holm's adjustment, b stays "
        "decided; a and c do not.")
    small = [(n, record_with(q, -1.0)) for n, q in (("x", 0.02), ("y", 0.01))]
    assert stats.family_sentence(small) == (
        "Read together as one family of 2 comparisons, with Holm's adjustment, x and y stay "
        "decided.")
    assert stats.family_sentence([("z", record_with(0.02, -1.0))], confidence=0.99) == (
        "Read together as one family of 1 comparison, with Holm's adjustment, none stays "
        "decided, although z is decided on its own.")
    pair = [(n, record_with(q, -1.0)) for n, q in (("u", 0.03), ("v", 0.04))]
    assert stats.family_sentence(pair) == (
        "Read together as one family of 2 comparisons, with Holm's adjustment, none stays "
        "decided, although u and v are decided on their own.")
    undecided = [("w", dict(delta=0.1, ci_low=-1.0, ci_high=1.2, p_value=0.5))]
    assert stats.family_sentence(undecided) == (
        "Read together as one family of 1 comparison, with Holm's adjustment, none stays "
        "decided.")


def test_names_by_decision_groups_in_the_order_of_decisions():
    family = [("a", record_with(0.03, -1.0)), ("b", record_with(0.001, 2.0)),
              ("c", record_with(0.04, -1.0)),
              ("d", dict(delta=0.1, ci_low=-1.0, ci_high=1.2, p_value=0.5))]
    groups = stats.names_by_decision(family)
    assert groups == {"lower": ["a", "c"], "higher": ["b"], "not decided": ["d"]}
    assert list(groups) == list(stats.DECISIONS)
    # each record read on its own (no Holm), and a generator is accepted
    assert stats.names_by_decision((n, r) for n, r in family[3:]) == {
        "lower": [], "higher": [], "not decided": ["d"]}


GOOD = record_with(0.01, -1.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: stats.family_sentence([]), r"^named_records must hold at least one \(name, record\) pair, got none$"),
        (lambda: stats.family_sentence(None), r"^named_records must be a list of \(name, record\) pairs, got NoneType$"),
        (lambda: stats.family_sentence({"a": GOOD}), r"^named_records must be a list of \(name, record\) pairs, got dict$"),
        (lambda: stats.family_sentence([GOOD]), r"^named_records\[0\] must be a \(name, record\) pair, got \{'delta'"),
        (lambda: stats.family_sentence([("a", GOOD, 3)]), r"^named_records\[0\] must be a \(name, record\) pair, got \('a'"),
        (lambda: stats.family_sentence([("", GOOD)]), r"^named_records\[0\]\[0\] must be a non-empty string, got ''$"),
        (lambda: stats.family_sentence([(1, GOOD)]), r"^named_records\[0\]\[0\] must be a non-empty string, got 1$"),
        (lambda: stats.family_sentence([("a", 0.01)]), r"^named_records\[0\]\[1\] must be a comparison record \(a dict\), got float$"),
        (lambda: stats.names_by_decision([]), r"^named_records must hold at least one \(name, record\) pair, got none$"),
        (lambda: stats.names_by_decision([("a", {"delta": 1.0})]), r"^named_records\[0\]\[1\] must be a comparison record, got one missing"),
        (lambda: stats.family_decisions([]), "^records must hold at least one comparison record, got none$"),
        (lambda: stats.family_decisions(None), "^records must be a list of comparison records, got NoneType$"),
        (lambda: stats.family_decisions(GOOD), "^records must be a list of comparison records, got dict$"),
        (lambda: stats.family_decisions([{"delta": 1.0}]), r"^records\[0\] must be a comparison record, got one missing ci_low, ci_high, p_value$"),
        (lambda: stats.family_decisions([GOOD, record_with(1.5, -1.0)]), r"^records\[1\]\['p_value'\] must be a finite number in \[0, 1\], got 1.5$"),
    ],
)  # fmt: skip
def test_families_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "values, message",
    [
        ([], r"^p_values must have at least 1 value, got 0$"),
        ([-0.1, 0.5], r"^p_values must lie in \[0, 1\], got -0.1 at index 0$"),
        ([True, False], r"^p_values must be a 1-D array of numbers, got .* dtype bool$"),
        ([0.1, 1.5], r"^p_values must lie in \[0, 1\], got 1.5 at index 1$"),
        ([0.1, float("nan")], r"^p_values must contain only finite numbers, got nan at index 1$"),
        ([[0.1]], r"^p_values must be a 1-D array of numbers, got an array of shape \(1, 1\)"),
    ],
)
def test_holm_rejects_bad_input(values, message):
    with pytest.raises(ValueError, match=message):
        stats.holm(values)


# --------------------------------------------------------------------------- McNemar


def mcnemar_table(ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """2×2 table, rows A right/wrong, columns B right/wrong (statsmodels' layout)."""
    return np.array([[np.sum(ca & cb), np.sum(ca & ~cb)], [np.sum(~ca & cb), np.sum(~ca & ~cb)]])


def test_mcnemar_hand_computed():
    ca = np.array([True, True, False, False, True])
    cb = np.array([True, False, True, True, True])
    # image 1: A right, B wrong (n10); images 2, 3: A wrong, B right (n01)
    # p = 2 P(Bin(3, 1/2) <= 1) = 2 (1 + 3) / 8 = 1
    assert stats.mcnemar(ca, cb) == {
        "n": 5, "n01": 2, "n10": 1, "errors_a": 2, "errors_b": 1, "delta": 0.2, "p_value": 1.0,
    }  # fmt: skip


def test_mcnemar_one_sided_discordance():
    # ten discordant images, all won by B: p = 2 / 2**10
    ca = np.array([False] * 10 + [True] * 90)
    cb = np.ones(100, dtype=bool)
    result = stats.mcnemar(ca, cb)
    assert (result["n01"], result["n10"]) == (10, 0)
    assert result["p_value"] == pytest.approx(2 / 2**10, rel=1e-12)
    assert result["delta"] == pytest.approx(0.1)


def test_mcnemar_without_discordant_images_has_p_one():
    ca = np.array([True, False, True])
    result = stats.mcnemar(ca, ca.copy())
    assert (result["n01"], result["n10"], result["delta"], result["p_value"]) == (0, 0, 0.0, 1.0)


@pytest.mark.parametrize("p_b", [0.97, 0.95, 0.9])
def test_mcnemar_matches_scipy_binomtest(rng, p_b):
    ca = rng.random(2000) < 0.96
    cb = np.where(rng.random(2000) < 0.9, ca, rng.random(2000) < p_b)
    result = stats.mcnemar(ca, cb)
    n01, n10 = int(np.sum(~ca & cb)), int(np.sum(ca & ~cb))
    assert (result["n01"], result["n10"]) == (n01, n10)
    assert result["errors_a"] == int(np.sum(~ca)) and result["errors_b"] == int(np.sum(~cb))
    assert result["delta"] == pytest.approx(np.mean(~ca) - np.mean(~cb), abs=1e-15)
    assert result["p_value"] == pytest.approx(st.binomtest(n01, n01 + n10, 0.5).pvalue, rel=1e-10)


@pytest.mark.parametrize("p_b", [0.97, 0.95, 0.9, 0.96])
def test_mcnemar_matches_statsmodels(rng, p_b):
    tables = pytest.importorskip("statsmodels.stats.contingency_tables")
    ca = rng.random(500) < 0.96
    cb = np.where(rng.random(500) < 0.8, ca, rng.random(500) < p_b)
    ref = tables.mcnemar(mcnemar_table(ca, cb), exact=True)
    assert stats.mcnemar(ca, cb)["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)


def test_mcnemar_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    ca = torch.tensor([True, False, False, True])
    cb = torch.tensor([True, True, True, True])
    assert stats.mcnemar(ca, cb)["n01"] == 2


@pytest.mark.parametrize(
    "ca, cb, message",
    [
        ([True, False], [True], r"^correct_b must have the same length as correct_a \(2\), got 1$"),
        (np.zeros(0, bool), np.zeros(0, bool), r"^correct_a must have at least 1 value, got 0$"),
        ([1, 0], [True, False], r"^correct_a must be a 1-D boolean array, got .* dtype int64$"),
        ([True, False], [[True, False]], r"^correct_b must be a 1-D boolean array, got an array of shape \(1, 2\)"),
    ],
)
def test_mcnemar_rejects_bad_input(ca, cb, message):
    with pytest.raises(ValueError, match=message):
        stats.mcnemar(ca, cb)
    with pytest.raises(ValueError, match=message):
        stats.mcnemar_record(ca, cb, **LABELS)


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_mcnemar_record_exact_interval(rng, confidence):
    ca = rng.random(3000) < 0.97
    cb = np.where(rng.random(3000) < 0.95, ca, rng.random(3000) < 0.98)
    record = stats.mcnemar_record(ca, cb, **LABELS, confidence=confidence)
    n01, n10 = int(np.sum(~ca & cb)), int(np.sum(ca & ~cb))
    m = n01 + n10
    # scipy's exact (Clopper-Pearson) interval for the share of discordant images A gets
    # wrong, mapped to the difference in error rates m (2 pi - 1) / n
    ci = st.binomtest(n01, m).proportion_ci(confidence, method="exact")
    expected = (m * (2 * ci.low - 1) / 3000, m * (2 * ci.high - 1) / 3000)
    assert (record["ci_low"], record["ci_high"]) == pytest.approx(expected, rel=1e-9)
    assert record["delta"] == pytest.approx(((~ca).astype(float) - (~cb)).mean(), abs=1e-15)
    assert record["p_value"] == stats.mcnemar(ca, cb)["p_value"]
    assert record["n_pairs"] == 3000
    assert (record["n01"], record["n10"]) == (n01, n10)
    assert "McNemar" in record["method"] and "Clopper" in record["method"]
    assert set(record) == set(stats.RECORD_KEYS) | {"n01", "n10"}
    assert_json_record(record)


def test_mcnemar_record_hand_computed():
    # n = 100, n01 = 10, n10 = 4: delta = 0.06; Clopper-Pearson from the beta quantiles
    ca = np.array([False] * 10 + [True] * 4 + [True] * 86)
    cb = np.array([True] * 10 + [False] * 4 + [True] * 86)
    record = stats.mcnemar_record(ca, cb, **LABELS)
    pi_low, pi_high = st.beta.ppf(0.025, 10, 5), st.beta.ppf(0.975, 11, 4)
    assert record["delta"] == pytest.approx(0.06)
    expected = (14 * (2 * pi_low - 1) / 100, 14 * (2 * pi_high - 1) / 100)
    assert (record["ci_low"], record["ci_high"]) == pytest.approx(expected, rel=1e-10)
    # exact: 2 P(Bin(14, 1/2) <= 4) = 2 (1 + 14 + 91 + 364 + 1001) / 2**14
    assert record["p_value"] == pytest.approx(2 * 1471 / 2**14, rel=1e-12)
    assert record["metric"] == "test error"


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_mcnemar_record_interval_agrees_with_its_test(confidence):
    # for every split of up to 30 discordant images (and every all-one-way split), the
    # interval excludes 0 exactly when the exact test decides at 1 - confidence
    for m in range(0, 31):
        for n01 in range(m + 1):
            ca = np.array([False] * n01 + [True] * (m - n01) + [True] * 50)
            cb = np.array([True] * n01 + [False] * (m - n01) + [True] * 50)
            r = stats.mcnemar_record(ca, cb, **LABELS, confidence=confidence)
            assert r["ci_low"] <= r["delta"] <= r["ci_high"]
            excludes_zero = r["ci_low"] > 0 or r["ci_high"] < 0
            assert excludes_zero == (r["p_value"] < 1 - confidence), (m, n01, r)


def test_mcnemar_record_without_discordant_images():
    ca = np.array([True, False, True])
    r = stats.mcnemar_record(ca, ca.copy(), **LABELS)
    assert (r["delta"], r["ci_low"], r["ci_high"], r["p_value"]) == (0.0, 0.0, 0.0, 1.0)
    assert stats.decision(r) == "not decided"


def test_mcnemar_record_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"^a_label must be a non-empty string, got None$"):
        stats.mcnemar_record([True], [False], **{**LABELS, "a_label": None})
    with pytest.raises(ValueError, match=r"^confidence must be a finite number in \(0, 1\), got -0.5$"):
        stats.mcnemar_record([True], [False], **LABELS, confidence=-0.5)


# --------------------------------------------------------------------------- calibration

# Hand-computed, two bins (0, 0.5] and (0.5, 1]:
#   row  probs       y  confidence  prediction  correct  bin
#   0    0.9  0.1    0  0.9         0           yes      2
#   1    0.2  0.8    0  0.8         1           no       2
#   2    0.7  0.3    0  0.7         0           yes      2
#   3    0.5  0.5    1  0.5         0 (tie)     no       1 (0.5 closes bin 1)
# bin 1: 1 image, conf 0.5, acc 0; bin 2: 3 images, conf 0.8, acc 2/3
# ECE = 1/4 · |0 - 0.5| + 3/4 · |2/3 - 0.8| = 0.125 + 0.1 = 0.225
HAND_PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.5, 0.5]])
HAND_Y = np.array([0, 0, 0, 1])


def test_calibration_hand_computed():
    result = stats.calibration(HAND_PROBS, HAND_Y, n_bins=2)
    assert result["ece"] == pytest.approx(0.225, abs=1e-12)
    assert result["bin_edges"] == [0.0, 0.5, 1.0]
    assert result["bin_count"] == [1, 3]
    assert result["bin_confidence"] == pytest.approx([0.5, 0.8])
    assert result["bin_accuracy"] == pytest.approx([0.0, 2 / 3])
    assert result["accuracy"] == 0.5
    assert result["mean_confidence"] == pytest.approx(0.725)
    assert (result["n"], result["n_bins"]) == (4, 2)
    json.dumps(result)


def test_calibration_empty_bins_are_none_and_one_bin_is_the_gap():
    # 4 bins: (0, .25], (.25, .5], (.5, .75], (.75, 1]; the confidences fall in bins 2, 3 and 4
    result = stats.calibration(HAND_PROBS, HAND_Y, n_bins=4)
    assert result["bin_count"] == [0, 1, 1, 2]
    assert result["bin_confidence"][0] is None and result["bin_accuracy"][0] is None
    # 1/4 · |0 - .5| + 1/4 · |1 - .7| + 2/4 · |1/2 - .85| = .125 + .075 + .175
    assert result["ece"] == pytest.approx(0.375, abs=1e-12)
    # one bin: ECE = |accuracy - mean confidence| = |0.5 - 0.725|
    assert stats.calibration(HAND_PROBS, HAND_Y, n_bins=1)["ece"] == pytest.approx(0.225, abs=1e-12)


def test_calibration_perfectly_confident_and_right_is_zero():
    probs = np.eye(3)[[0, 2, 1, 1]]
    assert stats.calibration(probs, np.array([0, 2, 1, 1]))["ece"] == 0.0


def test_calibration_matches_a_loop_over_bins(rng):
    logits = rng.normal(size=(500, 10)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.integers(0, 10, 500)
    result = stats.calibration(probs.astype(np.float32), y, n_bins=15)
    conf, correct = probs.max(axis=1), probs.argmax(axis=1) == y
    ece = 0.0
    for b in range(15):
        in_bin = (conf > b / 15) & (conf <= (b + 1) / 15)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
            assert result["bin_accuracy"][b] == pytest.approx(correct[in_bin].mean())
        assert result["bin_count"][b] == in_bin.sum()
    assert result["ece"] == pytest.approx(ece, rel=1e-5)


def test_calibration_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    result = stats.calibration(torch.tensor(HAND_PROBS), torch.tensor(HAND_Y), n_bins=2)
    assert result["ece"] == pytest.approx(0.225, abs=1e-12)


@pytest.mark.parametrize(
    "probs, y, n_bins, message",
    [
        (HAND_PROBS[:, 0], HAND_Y, 2, r"^probs must be a non-empty 2-D array \[n, classes\] of numbers, got .* shape \(4,\)"),
        (np.zeros((0, 2)), np.zeros(0, int), 2, r"^probs must be a non-empty 2-D array .* shape \(0, 2\)"),
        (HAND_PROBS * 2 - 0.5, HAND_Y, 2, r"^probs must hold probabilities in \[0, 1\], got values from -0.3 to 1.3$"),
        (np.where(HAND_PROBS == 0.9, np.nan, HAND_PROBS), HAND_Y, 2, r"^probs must hold probabilities in \[0, 1\], got nan at row 0, column 0$"),
        (HAND_PROBS * 0.9, HAND_Y, 2, r"^probs must have rows summing to 1 \(within 0.0001; apply softmax to logits\), got row 0 summing to 0.9"),
        (HAND_PROBS, HAND_Y[:3], 2, r"^y must have the same length as probs \(4\), got 3$"),
        (HAND_PROBS, HAND_Y.astype(float), 2, r"^y must be a 1-D array of integer labels, got .* dtype float64$"),
        (HAND_PROBS, np.array([0, 0, 2, 1]), 2, r"^y must hold labels in 0..1 \(one per column of probs\), got values from 0 to 2$"),
        (HAND_PROBS, np.array([0, -1, 0, 1]), 2, r"^y must hold labels in 0..1 .*, got values from -1 to 1$"),
        (HAND_PROBS, HAND_Y, 0, r"^n_bins must be an integer >= 1, got 0$"),
        (HAND_PROBS, HAND_Y, 2.0, r"^n_bins must be an integer >= 1, got 2.0$"),
        (HAND_PROBS, HAND_Y, True, r"^n_bins must be an integer >= 1, got True$"),
    ],
)  # fmt: skip
def test_calibration_rejects_bad_input(probs, y, n_bins, message):
    with pytest.raises(ValueError, match=message):
        stats.calibration(probs, y, n_bins=n_bins)


# --------------------------------------------------------------------------- comparison_table


def test_comparison_table_one_row_per_record():
    first = stats.paired_comparison([0.02, 0.03, 0.025], [0.03, 0.035, 0.03], **LABELS)
    ca = np.array([True] * 95 + [False] * 5)
    cb = np.array([True] * 90 + [False] * 10)
    second = stats.mcnemar_record(ca, cb, **{**LABELS, "page": "weight_decay"})
    table = stats.comparison_table([first, second])
    assert list(table.columns) == [
        "page", "data", "metric", "A", "B", "pairs", "A − B", "CI low", "CI high", "CI level", "p-value", "test",
    ]  # fmt: skip
    assert list(table["page"]) == ["dropout", "weight_decay"]
    assert list(table["pairs"]) == [3, 100]
    assert table["A − B"].tolist() == [first["delta"], second["delta"]]
    assert table["p-value"].tolist() == [first["p_value"], second["p_value"]]
    assert table.loc[1, "test"] == second["method"]


def test_comparison_table_of_nothing_is_empty_with_the_columns():
    table = stats.comparison_table([])
    assert len(table) == 0 and len(table.columns) == 12


@pytest.mark.parametrize(
    "records, message",
    [
        ({"page": "x"}, r"^records must be a list of comparison records, got dict$"),
        (None, r"^records must be a list of comparison records, got NoneType$"),
        ("records", r"^records must be a list of comparison records, got str$"),
        ([{"page": "x"}], r"^records\[0\] must be a comparison record \(a dict with keys page, .*\), got one missing data, metric, a, b,"),
        (["not a record"], r"^records\[0\] must be a comparison record .*, got str$"),
    ],
)
def test_comparison_table_rejects_bad_input(records, message):
    with pytest.raises(ValueError, match=message):
        stats.comparison_table(records)


@pytest.mark.parametrize(
    "metric, expected",
    [
        ("test error", (100.0, "percentage points")),
        ("validation error of the restored weights", (100.0, "percentage points")),
        ("test ECE", (100.0, "percentage points")),
        ("training accuracy", (100.0, "percentage points")),
        ("test loss", (1.0, "nats")),
        ("epochs", (1.0, "")),
        ("errors per class", (1.0, "")),  # a count, not the word "error"
    ],
)
def test_metric_unit(metric, expected):
    assert stats.metric_unit(metric) == expected


def test_metric_unit_rejects_a_non_name():
    with pytest.raises(ValueError, match=r"^metric must be a non-empty string, got None$"):
        stats.metric_unit(None)


def test_units_table_shows_errors_in_points_and_losses_in_nats():
    error = stats.paired_comparison([0.02, 0.03, 0.025], [0.03, 0.035, 0.03], **LABELS)
    loss = stats.paired_comparison([0.5, 0.6, 0.55], [0.7, 0.75, 0.8], **{**LABELS, "metric": "test loss"})
    table = stats.units_table([error, loss])
    assert list(table.index) == ["test error (percentage points)", "test loss (nats)"]
    assert list(table.columns) == ["A", "B", "pairs", "A − B", "CI low", "CI high", "p-value"]
    np.testing.assert_allclose(table["A − B"], [100 * error["delta"], loss["delta"]])
    np.testing.assert_allclose(table["CI high"], [100 * error["ci_high"], loss["ci_high"]])
    assert error["delta"] == pytest.approx(-0.0066666, rel=1e-4)  # the record keeps the fraction
    assert len(stats.units_table([])) == 0
    other = {**error, "data": "n_train=1000"}
    assert list(stats.units_table([error, other]).columns)[:2] == ["data", "A"]  # data differ: shown


# --------------------------------------------------------------------------- the package


def test_exports():
    for name in stats.__all__:
        assert getattr(ru, name) is getattr(stats, name)


def test_import_needs_neither_torch_nor_pandas():
    code = "import sys, regutils.stats; print('torch' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# --------------------------------------------------------------------------- records in words


def _rec(delta, low, high, p=None):
    """A record; its p-value agrees with the interval unless given (0.01 or 0.5)."""
    if p is None:
        p = 0.01 if low > 0 or high < 0 else 0.5
    return {"delta": delta, "ci_low": low, "ci_high": high, "p_value": p}


@pytest.mark.parametrize(
    "low, high, word",
    [(-0.3, -0.1, "lower"), (0.1, 0.3, "higher"), (-0.1, 0.3, "not decided"), (0.0, 0.3, "not decided"), (-0.3, 0.0, "not decided")],
)
def test_decision_reads_the_interval(low, high, word):
    assert stats.decision(_rec((low + high) / 2, low, high)) == word


def test_decision_needs_the_p_value_too():
    # McNemar, 0 against 5 discordant images of 10,000: the exact test does not decide
    # (p = 2 / 2**5 = 0.0625) and neither does its interval
    correct_a = np.ones(10_000, dtype=bool)
    correct_b = correct_a.copy()
    correct_b[:5] = False
    record = stats.mcnemar_record(correct_a, correct_b, page="p", data="d", a_label="A", b_label="B")
    assert record["ci_low"] < 0 < record["ci_high"] and record["p_value"] == pytest.approx(0.0625)
    assert stats.decision(record) == "not decided"
    # a record whose interval excludes 0 but whose p-value does not decide, decides nothing
    assert stats.decision(_rec(-0.2, -0.3, -0.1, p=0.0625)) == "not decided"
    assert stats.decision(_rec(-0.2, -0.3, -0.1, p=0.049)) == "lower"
    assert stats.decision(dict(_rec(-0.2, -0.3, -0.1, p=0.049), confidence=0.99)) == "not decided"


def test_decision_agrees_with_a_real_paired_comparison():
    a, b = np.array([1.0, 1.1, 0.9, 1.05]), np.array([1.5, 1.7, 1.4, 1.6])
    record = stats.paired_comparison(a, b, page="p", data="d", metric="m", a_label="A", b_label="B")
    assert record["ci_high"] < 0 and stats.decision(record) == "lower"
    assert stats.decision(stats.paired_comparison(b, a, page="p", data="d", metric="m", a_label="B", b_label="A")) == "higher"


def test_describe_scales_signs_and_rounds():
    record = _rec(-0.00031, -0.0004, -0.0002, p=0.0041)
    assert stats.describe(record, scale=100) == "-0.03 [-0.04, -0.02], p = 0.0041"
    assert stats.describe(record, fmt=".4f") == "-0.0003 [-0.0004, -0.0002], p = 0.0041"
    assert stats.describe(_rec(0.5, -1, 2, p=0.73), fmt=".1f") == "+0.5 [-1.0, 2.0], p = 0.73"
    in_points = stats.describe(record, scale=100, unit="percentage points")
    assert in_points == "-0.03 [-0.04, -0.02] percentage points, p = 0.0041"


def test_describe_takes_scale_and_unit_from_the_records_metric():
    record = _rec(-0.0372, -0.0522, -0.0223, p=0.0023)
    error = dict(record, metric="test error")
    assert stats.describe(error) == "-3.72 [-5.22, -2.23] percentage points, p = 0.0023"
    # the same as spelled out through metric_unit
    scale, unit = stats.metric_unit("test error")
    assert stats.describe(error) == stats.describe(record, scale=scale, unit=unit)
    loss = dict(_rec(-0.0304, -0.0485, -0.0123, p=0.019), metric="test loss")
    assert stats.describe(loss, fmt=".4f") == "-0.0304 [-0.0485, -0.0123] nats, p = 0.019"
    mse = dict(_rec(0.5, -1, 2, p=0.73), metric="test MSE")
    assert stats.describe(mse, fmt=".1f") == "+0.5 [-1.0, 2.0], p = 0.73"
    # either default can be overridden on its own
    assert stats.describe(error, unit="pp") == "-3.72 [-5.22, -2.23] pp, p = 0.0023"
    assert stats.describe(error, scale=1, fmt=".4f", unit="") == "-0.0372 [-0.0522, -0.0223], p = 0.0023"


def test_name_list_is_an_english_list():
    assert stats.name_list([]) == "none"
    assert stats.name_list([], empty="no configuration") == "no configuration"
    assert stats.name_list(["a"]) == "*a*"
    assert stats.name_list(["a", "b"]) == "*a* and *b*"
    assert stats.name_list(("a", "b", "c"), style="") == "a, b and c"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: stats.decision([1, 2]), r"^record must be a comparison record \(a dict\), got list$"),
        (lambda: stats.decision({"delta": 0.1}), r"^record must be a comparison record, got one missing ci_low, ci_high, p_value$"),
        (lambda: stats.decision(_rec(float("nan"), 0, 1)), r"^record\['delta'\] must be a finite number, got nan$"),
        (lambda: stats.decision(_rec(True, 0, 1)), r"^record\['delta'\] must be a finite number, got True$"),
        (lambda: stats.decision(_rec(2.0, 0, 1)), r"^record's interval \[0, 1\] must contain its delta 2.0$"),
        (lambda: stats.describe(_rec(0.5, 0, 1), scale=0), r"^scale must be a finite number > 0, got 0$"),
        (lambda: stats.describe(_rec(0.5, 0, 1), fmt="d"), r"^fmt must be a format spec such as '.2f', got 'd'$"),
        (lambda: stats.describe(_rec(0.5, 0, 1), fmt=2), r"^fmt must be a format spec such as '.2f', got 2$"),
        (lambda: stats.decision(_rec(0.5, 0, 1, p=2.0)), r"^record\['p_value'\] must be a finite number in \[0, 1\], got 2.0$"),
        (lambda: stats.decision(_rec(0.5, 0, 1, p=-0.1)), r"^record\['p_value'\] must be a finite number in \[0, 1\], got -0.1$"),
        (lambda: stats.describe(_rec(0.5, 0, 1), unit=3), r"^unit must be a string, got 3$"),
        (lambda: stats.describe(_rec(0.5, 0, 1), fmt=b".2f"), r"^fmt must be a format spec such as '.2f', got b'.2f'$"),
        (lambda: stats.name_list(["a"], style=None), r"^style must be a string, got None$"),
        (lambda: stats.name_list([], empty=0), r"^empty must be a string, got 0$"),
        (lambda: stats.metric_unit("  "), r"^metric must be a non-empty string, got '  '$"),
        (lambda: stats.describe(dict(_rec(0.5, 0, 1), metric=5)), r"^metric must be a non-empty string, got 5$"),
        (lambda: stats.name_list("ab"), r"^names must be a list of strings, got str$"),
        (lambda: stats.name_list(["a", ""]), r"^names\[1\] must be a non-empty string, got ''$"),
    ],
)
def test_records_in_words_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_records_of_numpy_numbers_are_read():
    # a record built from numpy results (float32 included) reads like one of Python floats
    record = {k: np.float32(v) for k, v in _rec(-0.2, -0.3, -0.1, p=0.01).items()}
    assert stats.decision(record) == "lower"
    assert stats.family_decisions(iter([record, _rec(0.2, 0.1, 0.3, p=0.01)])) == ["lower", "higher"]


def test_verdict_is_the_decision_in_a_pages_words():
    assert [stats.verdict(_rec((lo + hi) / 2, lo, hi)) for lo, hi in [(-3, -1), (1, 3), (-1, 1)]] == [
        "decidedly lower", "decidedly higher", "not decided",
    ]  # fmt: skip
    assert {stats.decision(_rec((lo + hi) / 2, lo, hi)) for lo, hi in [(-3, -1), (1, 3), (-1, 1)]} == set(stats.DECISIONS)
    with pytest.raises(ValueError, match=r"^record must be a comparison record \(a dict\), got list$"):
        stats.verdict([1, 2])


# ---------------------------------------------------------------------------------------------
# printed bounds: checked exactly with fractions.Fraction, an independent exact arithmetic


def test_bounds_round_in_the_safe_direction_exactly():
    from fractions import Fraction

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 3, 400), rng.uniform(0, 1, 400), [0.29, 0.3, 2.675, 1e-9]])
    for digits in (0, 1, 2, 3):
        step = Fraction(1, 10**digits)
        for x in values:
            exact = Fraction(repr(float(x)))  # the decimal the float prints as in full
            low, high = stats.floor_to(x, digits), stats.ceil_to(x, digits)
            assert Fraction(repr(low)) <= exact <= Fraction(repr(high))
            # printed with `digits` decimals, each is the bound's exact decimal, one step apart at most
            shown_low = Fraction(format(low, f".{digits}f"))
            shown_high = Fraction(format(high, f".{digits}f"))
            assert shown_low <= exact <= shown_high
            assert exact - shown_low < step and shown_high - exact < step
            assert shown_low % step == 0 and shown_high % step == 0
    # a float counts as its shortest decimal: 0.29 is stored just below 0.29 and 0.2 just
    # above 0.2, yet both are bounds of themselves; 0.1 + 0.2 prints as 0.30000000000000004
    assert stats.floor_to(0.29, 2) == 0.29 and stats.ceil_to(0.29, 2) == 0.29
    assert stats.floor_to(0.2, 2) == 0.2 and stats.ceil_to(0.2, 2) == 0.2
    assert stats.floor_to(100 * 1996 / 2000, 1) == 99.8  # a count over images, one division
    assert stats.ceil_to(0.1 + 0.2, 1) == 0.4 and stats.floor_to(0.1 + 0.2, 1) == 0.3
    assert stats.floor_to(-1.25, 1) == -1.3 and stats.ceil_to(-1.25, 1) == -1.2
    assert stats.ceil_to(1e300, 2) == 1e300  # no decimal context overflow
    # scaling first rounds the product: math.floor(x * 100) / 100 gives 1460.4 > x here
    x = math.nextafter(1460.4, 0)
    assert math.floor(x * 100) / 100 > x
    assert stats.floor_to(x, 2) == 1460.39 and stats.ceil_to(x, 2) == 1460.4


def test_ceil_significant_bounds_from_above_with_the_digits_shown():
    from fractions import Fraction

    cases = {2.4e-7: "3e-07", 3e-7: "3e-07", 9.5e-7: "1e-06", 1.0: "1e+00", 123.0: "2e+02"}
    for x, shown in cases.items():
        bound = stats.ceil_significant(x)
        assert format(bound, ".0e") == shown
        assert Fraction(shown) >= Fraction(repr(x))
    assert format(stats.ceil_significant(0.012345, 3), ".2e") == "1.24e-02"
    rng = np.random.default_rng(1)
    for x in 10.0 ** rng.uniform(-16, 3, 300):
        for figures in (1, 2):
            shown = format(stats.ceil_significant(x, figures), f".{figures - 1}e")
            exact = Fraction(repr(float(x)))
            assert exact <= Fraction(shown) <= exact * (1 + Fraction(10, 10**figures))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: stats.floor_to(float("nan"), 2), r"^x must be a finite number, got nan$"),
        (lambda: stats.ceil_to("0.3", 2), r"^x must be a finite number, got '0.3'$"),
        (lambda: stats.floor_to(0.3, -1), r"^digits must be an integer in \[0, 15\], got -1$"),
        (lambda: stats.ceil_to(0.3, 1.0), r"^digits must be an integer in \[0, 15\], got 1.0$"),
        (lambda: stats.ceil_significant(0.0), r"^x must be a finite number > 0, got 0.0$"),
        (lambda: stats.ceil_significant(-1e-3), r"^x must be a finite number > 0, got -0.001$"),
        (lambda: stats.ceil_significant(1e-3, 0), r"^figures must be an integer in \[1, 15\], got 0$"),
    ],
)
def test_bounds_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
