"""Argument checks: one way to validate a public function's arguments, one wording for every message.

In the spirit of scikit-learn's ``_parameter_constraints``: a constraint is data
(:class:`Interval`, :class:`Options`), and :func:`check` enforces any of them with the same
message, ``"<name> must be <constraint>, got <value>"``. Integers never accept ``True``/``False``
(``bool`` is a subclass of ``int`` in Python, and ``n_train=True`` is always a mistake), and
real numbers must be finite. :func:`check_str` does the same for text and :func:`check_array`
for arrays of numbers (lists, numpy arrays, torch tensors): its shape, its length and that
every entry is finite.

This module imports neither torch nor pandas (numpy only inside :func:`check_array`), so the
data layer, the figures and the build tools can all use it.
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
    "check_str",
    "check_array",
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
        if not is_real(x) or (self.kind == "real" and not _finite_float(x)):
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


def _finite_float(x) -> bool:
    """``x`` is a finite float once converted (``10**400``, an exact integer, is not)."""
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def _bound(x) -> str | None:
    """An interval end as a reader writes it: ``47040016`` (not ``4.704e+07``), ``0.001``, ``inf``."""
    if x is None:
        return None
    if math.isfinite(x) and float(x).is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(float(x))


@dataclass(frozen=True)
class Options:
    """One of a fixed, non-empty set of values (a tuple), compared with ``==``.

    ``True``/``False`` match only a ``bool`` option (never ``1``/``0``), an integer option only
    an integer (numpy's included; ``2.0`` is not ``2``), a string only a string, and ``None``
    only ``None``.
    """

    values: tuple

    def __post_init__(self):
        if not isinstance(self.values, tuple) or not self.values:
            raise ValueError(f"Options values must be a non-empty tuple, got {self.values!r}")

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
    """Return ``value`` if it satisfies any of ``constraints`` (one or more :class:`Interval`
    or :class:`Options`); else raise ``ValueError``.

    The message is ``"<name> must be <c1> or <c2>…, got <value!r>"``, the same wording
    everywhere in the package.
    """
    if not constraints or not all(isinstance(c, (Interval, Options)) for c in constraints):
        raise ValueError(f"check needs one or more Interval or Options constraints, got {constraints!r}")
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
    """``value`` if it is one of ``options`` (a list, tuple or other collection, not a string)."""
    if isinstance(options, str) or not hasattr(options, "__iter__"):
        raise ValueError(f"options must be a collection of allowed values, got {options!r}")
    return check(name, value, Options(tuple(options)))


def check_bool(name: str, value) -> bool:
    """``value`` if it is ``True`` or ``False`` (numpy booleans accepted)."""
    if _is_bool(value):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {_show(value)}")


def check_str(name: str, value, *, allow_empty: bool = False) -> str:
    """``value`` if it is a string with more than spaces in it (any string if ``allow_empty``).

    The message is ``"<name> must be a non-empty string, got <value!r>"`` (``"a string"`` if
    ``allow_empty``).
    """
    if isinstance(value, str) and (allow_empty or value.strip()):
        return value
    raise ValueError(f"{name} must be {'a string' if allow_empty else 'a non-empty string'}, got {_show(value)}")


def _describe_array(arr) -> str:
    """How a message names an array that has the wrong shape or type."""
    return f"an array of shape {arr.shape} and dtype {arr.dtype}"


def _to_numpy(x):
    """``x`` as a numpy array; a torch tensor is detached and moved to the CPU first."""
    import numpy as np

    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    return np.asarray(x)


def check_array(name: str, value, *, ndim: int | None = None, min_len: int = 0, integer: bool = False):
    """``value`` as a numpy array of finite numbers: float64, or int64 if ``integer``.

    Lists, numpy arrays, pandas objects and torch tensors (detached, moved to the CPU) are
    accepted; booleans and strings are not numbers. ``ndim`` is the number of dimensions
    required (``None``: any), ``min_len`` the least length along the first axis. A
    ``ValueError`` names ``name`` and what is wrong, in one of three messages:
    ``"y must be a 1-D array of numbers, got an array of shape (2, 3) and dtype float64"``,
    ``"a must have at least 2 values, got 1"`` (``rows`` for an array of more than one
    dimension), ``"X must contain only finite numbers, got nan at index (4, 0)"``.
    """
    import numpy as np  # imported here: the rest of the module needs no numpy

    what = "integers" if integer else "numbers"
    wanted = f"a {ndim}-D array of {what}" if ndim is not None else f"an array of {what}"
    try:
        arr = _to_numpy(value)
    except (TypeError, ValueError):  # a ragged list, a tensor numpy cannot hold
        raise ValueError(f"{name} must be {wanted}, got {_show(value)}") from None
    numeric = arr.dtype.kind in ("iu" if integer else "iuf") or (arr.size == 0 and arr.dtype.kind == "f")
    if not numeric or (ndim is not None and arr.ndim != ndim):
        raise ValueError(f"{name} must be {wanted}, got {_describe_array(arr)}")
    if arr.ndim and len(arr) < min_len:
        unit = "value" if arr.ndim == 1 else "row"
        raise ValueError(f"{name} must have at least {min_len} {unit}{'' if min_len == 1 else 's'}, got {len(arr)}")
    arr = arr.astype(np.int64 if integer else np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0]) if arr.ndim else ()
        at = f" at index {where[0] if len(where) == 1 else where}" if where else ""
        raise ValueError(f"{name} must contain only finite numbers, got {float(arr[where])!r}{at}")
    return arr


def env_flag(variable: str, default: bool = True) -> bool:
    """Read a yes/no environment variable.

    Unset or empty gives ``default``; ``0/false/no/off`` give False and ``1/true/yes/on`` give
    True (any case, surrounding spaces ignored). Anything else is a ``ValueError`` naming the
    variable, so a typo never silently flips a setting:
    ``"REGUTILS_CACHE must be one of 0, false, no, off, 1, true, yes, on (or unset), got 'nope'"``.
    """
    check_str("variable", variable)
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
