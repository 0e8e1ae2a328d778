"""Argument checks: one way to validate a public function's arguments, one wording for every message.

In the spirit of scikit-learn's ``_parameter_constraints``: a constraint is data
(:class:`Interval`, :class:`Options`), and :func:`check` enforces any of them with the same
message, ``"<name> must be <constraint>, got <value>"``. Integers never accept ``True``/``False``
(``bool`` is a subclass of ``int`` in Python, and ``n_train=True`` is always a mistake), and
real numbers must be finite unless an interval says otherwise.

This module imports neither torch nor pandas, so the data layer, the figures and the build
tools can all use it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

__all__ = [
    "Interval",
    "Options",
    "check",
    "check_int",
    "check_real",
    "check_options",
    "check_bool",
    "env_flag",
    "is_int",
    "is_real",
]

_WORDS = ("0", "false", "no", "off", "1", "true", "yes", "on")
_FALSE_WORDS = frozenset(_WORDS[:4])
_TRUE_WORDS = frozenset(_WORDS[4:])


def is_int(x) -> bool:
    """True for Python and numpy integers, False for ``bool``."""
    return isinstance(x, Integral) and not isinstance(x, bool)


def is_real(x) -> bool:
    """True for Python and numpy real numbers (integers included), False for ``bool``."""
    return isinstance(x, Real) and not isinstance(x, bool)


@dataclass(frozen=True)
class Interval:
    """Numbers between ``low`` and ``high`` (``None``: unbounded on that side).

    ``kind`` is ``"int"`` (integers only) or ``"real"`` (any finite real number; integers
    included). ``closed`` says which ends belong to the interval: ``"both"``, ``"left"``,
    ``"right"`` or ``"neither"``.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __post_init__(self):
        if self.kind not in ("int", "real"):
            raise ValueError(f"Interval kind must be one of 'int', 'real', got {self.kind!r}")
        if self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(
                f"Interval closed must be one of 'both', 'left', 'right', 'neither', got {self.closed!r}"
            )
        for end in ("low", "high"):
            bound = getattr(self, end)
            if bound is not None and (not is_real(bound) or math.isnan(bound)):
                raise ValueError(f"Interval {end} must be a number or None, got {bound!r}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"Interval low must be <= high, got low={self.low!r}, high={self.high!r}")

    def contains(self, x) -> bool:
        if self.kind == "int" and not is_int(x):
            return False
        if not is_real(x) or (not is_int(x) and not math.isfinite(x)):  # isfinite(10**400) overflows
            return False
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and (x < self.low or (x == self.low and not left)):
            return False
        if self.high is not None and (x > self.high or (x == self.high and not right)):
            return False
        return True

    def __str__(self) -> str:
        what = "an integer" if self.kind == "int" else "a finite number"
        lo, hi = _bound(self.low), _bound(self.high)
        if lo is None and hi is None:
            return what
        if hi is None:
            return f"{what} {'>=' if self.closed in ('both', 'left') else '>'} {lo}"
        if lo is None:
            return f"{what} {'<=' if self.closed in ('both', 'right') else '<'} {hi}"
        brackets = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}[self.closed]
        return f"{what} in {brackets[0]}{lo}, {hi}{brackets[1]}"


def _bound(x) -> str | None:
    """An interval end as a reader writes it: ``47040016`` (not ``4.704e+07``), ``0.001``, ``inf``."""
    if x is None:
        return None
    if math.isfinite(x) and float(x).is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(float(x))


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values, compared with ``==``.

    ``True``/``False`` match only a ``bool`` option (never ``1``/``0``), an integer option only
    an integer (numpy's included; ``2.0`` is not ``2``), a string only a string, and ``None``
    only ``None``.
    """

    values: tuple

    def contains(self, x) -> bool:
        return any(_same_option(x, v) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


def _same_option(x, v) -> bool:
    if x is None or v is None:
        return x is v
    if _is_bool(x) != _is_bool(v) or isinstance(x, str) != isinstance(v, str):
        return False
    if is_int(v) and not is_int(x):  # ord=2.0 is not the integer option 2
        return False
    try:
        return bool(x == v)
    except (TypeError, ValueError):  # e.g. an array, whose == is elementwise
        return False


def _is_bool(x) -> bool:
    # numpy's boolean scalar is ``numpy.bool_`` (numpy < 2) or ``numpy.bool`` (numpy >= 2);
    # compared by name so this module need not import numpy
    return isinstance(x, bool) or (type(x).__module__ == "numpy" and type(x).__name__ in ("bool", "bool_"))


def check(name: str, value: Any, *constraints, allow_none: bool = False):
    """Return ``value`` if it satisfies any of ``constraints``; else raise ``ValueError``.

    The message is ``"<name> must be <c1> or <c2>…, got <value!r>"``, the same wording
    everywhere in the package.
    """
    if value is None and allow_none:
        return value
    if any(c.contains(value) for c in constraints):
        return value
    wanted = " or ".join(str(c) for c in constraints)
    if allow_none:
        wanted += " or None"
    raise ValueError(f"{name} must be {wanted}, got {_show(value)}")


def _show(value, limit: int = 80) -> str:
    """``repr(value)``, shortened in the middle if longer than ``limit`` (a whole array is noise)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit // 2]}…{text[-limit // 2 :]}"


def check_int(name: str, value, low: int | None = None, high: int | None = None, *, allow_none: bool = False):
    """``value`` as a Python ``int`` in ``[low, high]`` (``None`` passes if ``allow_none``)."""
    check(name, value, Interval("int", low, high), allow_none=allow_none)
    return None if value is None else int(value)


def check_real(
    name: str,
    value,
    low: float | None = None,
    high: float | None = None,
    *,
    closed: str = "both",
    allow_none: bool = False,
):
    """``value`` as a Python ``float``, finite and inside the interval (``None`` passes if ``allow_none``)."""
    check(name, value, Interval("real", low, high, closed), allow_none=allow_none)
    return None if value is None else float(value)


def check_options(name: str, value, options) -> Any:
    """``value`` if it is one of ``options``."""
    return check(name, value, Options(tuple(options)))


def check_bool(name: str, value) -> bool:
    """``value`` if it is ``True`` or ``False`` (numpy booleans accepted)."""
    if _is_bool(value):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {_show(value)}")


def env_flag(variable: str, default: bool = True) -> bool:
    """Read a yes/no environment variable.

    Unset or empty gives ``default``; ``0/false/no/off`` give False and ``1/true/yes/on`` give
    True (any case, surrounding spaces ignored). Anything else is a ``ValueError`` naming the
    variable, so a typo never silently flips a setting:
    ``"REGUTILS_CACHE must be one of 0, false, no, off, 1, true, yes, on (or unset), got 'nope'"``.
    """
    check_bool("default", default)
    value = os.environ.get(variable, "")
    raw = value.strip().lower()
    if not raw:
        return default
    if raw in _FALSE_WORDS:
        return False
    if raw in _TRUE_WORDS:
        return True
    raise ValueError(f"{variable} must be one of {', '.join(_WORDS)} (or unset), got {value!r}")
