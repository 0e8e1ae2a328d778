"""The argument checks: one wording for every message, ints that are not bools, finite reals, bounds."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest

from regutils import checks
from regutils.checks import (
    Interval,
    Options,
    check,
    check_array,
    check_bool,
    check_int,
    check_options,
    check_real,
    check_str,
    env_flag,
    is_int,
    is_real,
)


def raises(message):
    """The whole message must be exactly ``message``."""
    return pytest.raises(ValueError, match="^" + re.escape(message) + "$")


# ---------------------------------------------------------------------------------------------
# type predicates


@pytest.mark.parametrize("x", [0, -3, 10**30, np.int8(1), np.int64(7), np.uint16(2)])
def test_integers(x):
    assert is_int(x) and is_real(x)


@pytest.mark.parametrize("x", [True, False, np.bool_(True)])
def test_booleans_are_neither_ints_nor_reals(x):
    assert not is_int(x) and not is_real(x)


@pytest.mark.parametrize("x", [0.5, np.float32(1.5), Fraction(1, 3), float("nan"), float("inf")])
def test_reals_that_are_not_ints(x):
    assert is_real(x) and not is_int(x)


@pytest.mark.parametrize("x", ["1", None, 1j, [1], np.array([1])])
def test_not_numbers(x):
    assert not is_int(x) and not is_real(x)


# ---------------------------------------------------------------------------------------------
# check_int


def test_check_int_returns_a_python_int():
    value = check_int("n", np.int64(5), 1, 10)
    assert value == 5 and type(value) is int
    assert check_int("n", None, allow_none=True) is None
    assert check_int("n", 10**400) == 10**400  # unbounded: no overflow converting to float


@pytest.mark.parametrize(
    "value, low, high, message",
    [
        (True, None, None, "n must be an integer, got True"),
        (np.bool_(False), 0, None, "n must be an integer >= 0, got np.False_"),
        (2.0, None, None, "n must be an integer, got 2.0"),
        ("3", None, None, "n must be an integer, got '3'"),
        (None, 0, None, "n must be an integer >= 0, got None"),
        (0, 1, None, "n must be an integer >= 1, got 0"),
        (11, None, 10, "n must be an integer <= 10, got 11"),
        (0, 1, 47_040_016, "n must be an integer in [1, 47040016], got 0"),
        (10**400, 0, 5, "n must be an integer in [0, 5], got " + "1" + "0" * 39 + "…" + "0" * 40),
    ],
)
def test_check_int_messages(value, low, high, message):
    with raises(message):
        check_int("n", value, low, high)


def test_check_int_allow_none_says_so():
    with raises("n_val must be an integer in [1, 5] or None, got 0"):
        check_int("n_val", 0, 1, 5, allow_none=True)


# ---------------------------------------------------------------------------------------------
# check_real: finite, bounds, open and closed ends


def test_check_real_returns_a_python_float():
    value = check_real("lr", np.float32(0.5), 0, closed="neither")
    assert value == 0.5 and type(value) is float
    assert check_real("p", 1, 0, 1) == 1.0  # an int is a real number
    assert check_real("p", Fraction(1, 4), 0, 1) == 0.25


@pytest.mark.parametrize(
    "value, message",
    [
        (float("nan"), "x must be a finite number, got nan"),
        (float("inf"), "x must be a finite number, got inf"),
        (-math.inf, "x must be a finite number, got -inf"),
        (np.float64("nan"), "x must be a finite number, got np.float64(nan)"),
        (True, "x must be a finite number, got True"),
        ("0.1", "x must be a finite number, got '0.1'"),
        (1j, "x must be a finite number, got 1j"),
    ],
)
def test_check_real_rejects_non_finite_and_non_numbers(value, message):
    with raises(message):
        check_real("x", value)


def test_check_real_refuses_an_integer_too_large_for_a_float():
    # finite as an int, but float(10**400) overflows: the check says so instead of crashing
    with raises("x must be a finite number, got " + "1" + "0" * 39 + "…" + "0" * 40):
        check_real("x", 10**400)
    assert check_real("x", 10**300) == 1e300


@pytest.mark.parametrize(
    "closed, inside, outside, text",
    [
        ("both", [0, 0.5, 1], [-1e-12, 1.0000001], "[0, 1]"),
        ("left", [0, 0.999], [1, -0.1], "[0, 1)"),
        ("right", [1, 1e-9], [0, 1.1], "(0, 1]"),
        ("neither", [0.5, 1e-300], [0, 1], "(0, 1)"),
    ],
)
def test_open_and_closed_ends(closed, inside, outside, text):
    for x in inside:
        assert check_real("p", x, 0, 1, closed=closed) == x
    for x in outside:
        with raises(f"p must be a finite number in {text}, got {x!r}"):
            check_real("p", x, 0, 1, closed=closed)


@pytest.mark.parametrize(
    "low, high, closed, value, message",
    [
        (0, None, "both", -1, "a must be a finite number >= 0, got -1"),
        (0, None, "neither", 0, "a must be a finite number > 0, got 0"),
        (0, None, "right", 0.0, "a must be a finite number > 0, got 0.0"),
        (None, 1, "both", 2, "a must be a finite number <= 1, got 2"),
        (None, 1, "left", 1, "a must be a finite number < 1, got 1"),
        (0.001, None, "both", 0.0005, "a must be a finite number >= 0.001, got 0.0005"),
        (1e-12, 0.1, "both", 1, "a must be a finite number in [1e-12, 0.1], got 1"),
    ],
)
def test_one_sided_and_fractional_bounds(low, high, closed, value, message):
    with raises(message):
        check_real("a", value, low, high, closed=closed)


def test_bad_intervals_are_refused():
    with raises("Interval kind must be one of 'int', 'real', got 'float'"):
        Interval("float")
    with raises("Interval closed must be one of 'both', 'left', 'right', 'neither', got 'open'"):
        Interval("real", 0, 1, closed="open")
    with raises("Interval low must be <= high, got low=2, high=1"):
        Interval("int", 2, 1)
    with raises("Interval low must be a number or None, got nan"):
        Interval("real", float("nan"))


# ---------------------------------------------------------------------------------------------
# check, Options, check_options


def test_check_with_several_constraints_lists_them_all():
    constraint = (Interval("int", 1, None), Options(("auto",)))
    assert check("batch_size", "auto", *constraint) == "auto"
    assert check("batch_size", 64, *constraint) == 64
    with raises("batch_size must be an integer >= 1 or one of 'auto', got 'full'"):
        check("batch_size", "full", *constraint)
    with raises("batch_size must be an integer >= 1 or one of 'auto' or None, got 0"):
        check("batch_size", 0, *constraint, allow_none=True)


def test_options_with_none():
    options = (None, "cosine", "step")
    assert check_options("lr_schedule", None, options) is None
    assert check_options("lr_schedule", "step", options) == "step"
    with raises("lr_schedule must be one of None, 'cosine', 'step', got 'Cosine'"):
        check_options("lr_schedule", "Cosine", options)
    with raises("p must be one of 'a', got None"):
        check_options("p", None, ("a",))


def test_options_never_confuse_bools_ints_and_strings():
    assert check_options("k", np.int64(1), (1, 2)) == 1  # a numpy int is the int 1
    assert check_options("k", np.str_("fp32"), ("fp32", "bf16")) == "fp32"
    with raises("k must be one of 1, 2, got True"):
        check_options("k", True, (1, 2))
    with raises("k must be one of True, False, got 1"):
        check_options("k", 1, (True, False))
    with raises("k must be one of 1, 2, got 2.0"):
        check_options("k", 2.0, (1, 2))
    with raises("k must be one of '1', got 1"):
        check_options("k", 1, ("1",))
    with raises("k must be one of 1, got array([1, 1])"):
        check_options("k", np.array([1, 1]), (1,))  # elementwise == must not crash the check


def test_constraints_themselves_are_checked():
    with raises("options must be a collection of allowed values, got 'abc'"):
        check_options("penalty", "a", "abc")  # a string is not a list of options
    with raises("options must be a collection of allowed values, got None"):
        check_options("penalty", "a", None)
    with raises("Options values must be a non-empty tuple, got ()"):
        check_options("penalty", "a", [])
    with raises("check needs one or more Interval or Options constraints, got ()"):
        check("n", 3)
    with raises("check needs one or more Interval or Options constraints, got (3,)"):
        check("n", 3, 3)


# ---------------------------------------------------------------------------------------------
# check_str


def test_check_str():
    assert check_str("page", "dropout") == "dropout"
    assert check_str("unit", "", allow_empty=True) == ""
    for value in ("", "   ", None, 3, ["a"]):
        with raises(f"page must be a non-empty string, got {value!r}"):
            check_str("page", value)
    with raises("unit must be a string, got 3"):
        check_str("unit", 3, allow_empty=True)


# ---------------------------------------------------------------------------------------------
# check_array


def test_check_array_converts_to_float64_or_int64():
    torch = pytest.importorskip("torch")
    out = check_array("a", torch.tensor([1.0, 2.5], requires_grad=True), ndim=1)
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.5]
    assert check_array("a", [[1, 2]], ndim=2).dtype == np.float64
    groups = check_array("g", np.array([0, 1], dtype=np.uint8), integer=True)
    assert groups.dtype == np.int64 and groups.tolist() == [0, 1]
    assert check_array("g", [], ndim=1, integer=True).shape == (0,)


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        ([[1.0, 2.0]], dict(ndim=1), "a must be a 1-D array of numbers, got an array of shape (1, 2) and dtype float64"),
        ([True, False], {}, "a must be an array of numbers, got an array of shape (2,) and dtype bool"),
        (["1", "2"], {}, "a must be an array of numbers, got an array of shape (2,) and dtype <U1"),
        ([1.0, None], {}, "a must be an array of numbers, got an array of shape (2,) and dtype object"),
        ([[1.0], [1.0, 2.0]], {}, "a must be an array of numbers, got [[1.0], [1.0, 2.0]]"),
        ([0.5, 1.5], dict(integer=True), "a must be an array of integers, got an array of shape (2,) and dtype float64"),
        ([1.0], dict(min_len=2), "a must have at least 2 values, got 1"),
        ([], dict(ndim=1, min_len=1), "a must have at least 1 value, got 0"),
        (np.zeros((1, 3)), dict(ndim=2, min_len=2), "a must have at least 2 rows, got 1"),
        ([1.0, math.nan], {}, "a must contain only finite numbers, got nan at index 1"),
        ([[1.0, 2.0], [-math.inf, 0.0]], {}, "a must contain only finite numbers, got -inf at index (1, 0)"),
        (math.inf, {}, "a must contain only finite numbers, got inf"),
    ],
)  # fmt: skip
def test_check_array_messages(value, kwargs, message):
    with raises(message):
        check_array("a", value, **kwargs)


# ---------------------------------------------------------------------------------------------
# check_bool


def test_check_bool():
    assert check_bool("flag", np.bool_(True)) is True
    assert check_bool("flag", False) is False
    for value in (1, 0, "True", None, 1.0):
        with raises(f"flag must be True or False, got {value!r}"):
            check_bool("flag", value)


def test_long_values_are_shortened():
    with pytest.raises(ValueError) as info:
        check_bool("flag", "x" * 1000)
    assert len(str(info.value)) < 120 and "…" in str(info.value)


# ---------------------------------------------------------------------------------------------
# env_flag


@pytest.mark.parametrize(
    "raw, expected",
    [("0", False), ("false", False), ("NO", False), (" off ", False),
     ("1", True), ("True", True), ("yes", True), ("on", True)],
)
def test_env_flag_words(monkeypatch, raw, expected):
    monkeypatch.setenv("REGUTILS_TEST_FLAG", raw)
    assert env_flag("REGUTILS_TEST_FLAG") is expected
    assert env_flag("REGUTILS_TEST_FLAG", default=not expected) is expected


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_env_flag_unset_or_empty_gives_the_default(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv("REGUTILS_TEST_FLAG", raising=False)
    else:
        monkeypatch.setenv("REGUTILS_TEST_FLAG", raw)
    assert env_flag("REGUTILS_TEST_FLAG") is True
    assert env_flag("REGUTILS_TEST_FLAG", default=False) is False


@pytest.mark.parametrize("raw", ["2", "nein", "of", "y", "t", "0.0", "disable"])
def test_env_flag_bad_values_name_the_variable(monkeypatch, raw):
    monkeypatch.setenv("REGUTILS_TEST_FLAG", raw)
    with raises(
        f"REGUTILS_TEST_FLAG must be one of 0, false, no, off, 1, true, yes, on (or unset), got {raw!r}"
    ):
        env_flag("REGUTILS_TEST_FLAG")


def test_env_flag_default_must_be_a_bool():
    with raises("default must be True or False, got 'yes'"):
        env_flag("REGUTILS_TEST_FLAG", default="yes")


@pytest.mark.parametrize("variable", [3, "", None])
def test_env_flag_variable_must_be_a_name(variable):
    with raises(f"variable must be a non-empty string, got {variable!r}"):
        env_flag(variable)


def test_module_exports():
    assert set(checks.__all__) == {
        "Interval", "Options", "check", "check_int", "check_real", "check_options",
        "check_bool", "check_str", "check_array", "env_flag", "is_int", "is_real",
    }
