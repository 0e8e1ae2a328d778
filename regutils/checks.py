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

_FALSE_WORDS = frozenset({"0", "false", "no", "off"})
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


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
            raise ValueError(f"Interval kind must be 'int' or 'real', got {self.kind!r}")
        if self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"Interval closed must be both/left/right/neither, got {self.closed!r}")

    def contains(self, x) -> bool:
        if self.kind == "int" and not is_int(x):
            return False
        if not is_real(x) or not math.isfinite(x):
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
        lo, hi = self.low, self.high
        if lo is None and hi is None:
            return what
        if hi is None:
            return f"{what} {'>=' if self.closed in ('both', 'left') else '>'} {lo:g}"
        if lo is None:
            return f"{what} {'<=' if self.closed in ('both', 'right') else '<'} {hi:g}"
        brackets = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}[self.closed]
        return f"{what} in {brackets[0]}{lo:g}, {hi:g}{brackets[1]}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (compared with ``==``; ``bool`` never matches an int option)."""

    values: tuple

    def contains(self, x) -> bool:
        return any(x == v and type(x) is type(v) or (x is None and v is None) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


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
    raise ValueError(f"{name} must be {wanted}, got {value!r}")


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
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


def env_flag(variable: str, default: bool = True) -> bool:
    """Read a yes/no environment variable.

    Unset or empty gives ``default``; ``0/false/no/off`` give False and ``1/true/yes/on`` give
    True (any case, surrounding spaces ignored). Anything else is a ``ValueError`` naming the
    variable, so a typo never silently flips a setting.
    """
    raw = os.environ.get(variable, "").strip().lower()
    if not raw:
        return default
    if raw in _FALSE_WORDS:
        return False
    if raw in _TRUE_WORDS:
        return True
    raise ValueError(
        f"{variable}={os.environ[variable]!r}: expected one of "
        f"{', '.join(sorted(_FALSE_WORDS | _TRUE_WORDS))}"
    )
