"""On-disk cache of training results, so chapters rebuild without retraining.

``fit(..., cache=True)`` and ``sweep(..., cache=True)`` store what they produced — the
:class:`~regutils.History` (or histories) and the trained weights — in one file per run,
named by a key: the sha256 of

* the run's configuration (every argument that changes the result, the model's
  architecture and, for ``fit``, a digest of its *initial* weights),
* ``data.spec`` (which data, which split, which subset), a sha256 of the training and
  validation tensors themselves, and the device type,
* a hash of the training code (:data:`regutils.fileio.TRAINING_SOURCES`), so a change to
  it invalidates every stored result.

A lookup that finds the file returns its contents and the caller skips training. Files are
written to a temporary name in the cache folder and moved into place with ``os.replace``, so
a crash or a concurrent writer never leaves a partial entry.

Every entry is verified before it is returned: the file starts with a header line holding the
sha256 of the rest (computed by :func:`save`), and the loaded entry must have the keys and
shapes its kind needs (:data:`REQUIRED`: a ``fit`` entry a history and a ``state_dict``, a
``sweep`` entry histories, states, chunks, ``wall_time_s`` and ``early_states``, a ``scores``
entry (:func:`regutils.recipes.score_regime`'s table) its ``rows``). A file that fails any
check — truncated, altered on disk, a torch file of another layout — is a miss with a
``RuntimeWarning`` naming it; the caller recomputes and :func:`save` replaces it. A bad entry
is never returned.

Environment
-----------
``REGUTILS_CACHE=0`` (or ``false``/``no``/``off``; ``1/true/yes/on`` or unset: on)
    Turns caching off: ``cache=True`` then trains every time and stores nothing. Any other
    value is a ``ValueError`` (see :func:`regutils.checks.env_flag`).
``REGUTILS_CACHE_DIR``
    Where entries live. Default: ``<repository>/_build/regutils-cache`` when ``regutils``
    runs from the book's checkout (``make clean`` empties it), else ``~/.cache/regutils``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import warnings
import weakref
from pathlib import Path

import torch

from .checks import check_str, env_flag
from .fileio import TRAINING_SOURCES, atomic_write_bytes
from .fileio import code_hash

__all__ = [
    "enabled",
    "cache_dir",
    "source_hash",
    "make_key",
    "lookup",
    "load",
    "save",
    "clear",
    "state_digest",
    "tensors_digest",
    "data_digest",
    "REQUIRED",
]

CACHE_ENV = "REGUTILS_CACHE"
CACHE_DIR_ENV = "REGUTILS_CACHE_DIR"
_PACKAGE = Path(__file__).resolve().parent
_REPO = _PACKAGE.parent

# The layout of an entry file: one header line, then the bytes torch.save wrote. The format
# number is part of every key, so entries of an older layout are never even looked up.
_FORMAT = 2
_MAGIC = b"regutils-cache"

# What each kind's caller reads from an entry (regutils.training.fit, regutils.sweeps.sweep,
# regutils.recipes.score_regime).
#: The keys (and their types) a cached entry of each kind must hold to be returned.
REQUIRED = {
    "fit": ("history", "state_dict"),
    "sweep": ("histories", "states", "chunks", "wall_time_s", "early_states"),
    "scores": ("rows",),  # regutils.recipes.score_regime
}


def enabled() -> bool:
    """False when ``REGUTILS_CACHE`` is ``0``, ``false``, ``no`` or ``off``; True when unset.

    Raises
    ------
    ValueError
        For any other value (a typo must not silently turn the cache on or off).
    """
    return env_flag(CACHE_ENV, default=True)


def cache_dir() -> Path:
    """The cache folder (not created here); see the module docstring for the rules."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    if (_REPO / "_toc.yml").is_file() and (_REPO / "_config.yml").is_file():
        return _REPO / "_build" / "regutils-cache"
    return Path.home() / ".cache" / "regutils"


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """sha256 of the training code (:data:`regutils.fileio.TRAINING_SOURCES`), once per process.

    Only the modules that decide what a trained network is count, and only their code
    (:func:`regutils.fileio.code_hash`: syntax trees without docstrings or comments), so
    editing a figure, a statistics helper, a chapter or a docstring never forces a retrain.
    """
    return code_hash(_PACKAGE, TRAINING_SOURCES)


def _digest(named_tensors) -> str:
    """sha256 of ``(name, tensor)`` pairs in order: each name (``None``: none), dtype, shape
    and the tensor's bytes."""
    digest = hashlib.sha256()
    for name, tensor in named_tensors:
        t = tensor.detach().to("cpu").contiguous()
        label = "" if name is None else f"{name}|"
        digest.update(f"{label}{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def state_digest(module: torch.nn.Module) -> str:
    """sha256 of a module's ``state_dict`` (names, dtypes, shapes and values)."""
    return _digest(module.state_dict().items())


def tensors_digest(tensors) -> str:
    """sha256 of a sequence of tensors (dtypes, shapes and values, in order)."""
    return _digest((None, t) for t in tensors)


_DATA_DIGESTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def data_digest(data) -> str:
    """sha256 of the training and validation tensors of ``data`` (memoized per data object).

    The key covers the data itself rather than the code that loaded it, so a changed loader
    that yields the same tensors keeps its entries, and one that yields different tensors
    can never return a stale network.
    """
    try:
        return _DATA_DIGESTS[data]
    except (KeyError, TypeError):
        pass
    value = _digest((name, getattr(data, name)) for name in ("X_train", "y_train", "X_val", "y_val"))
    try:
        _DATA_DIGESTS[data] = value
    except TypeError:  # not weak-referenceable: recomputed next time
        pass
    return value


def make_key(kind: str, config: dict, data) -> str:
    """Hex key for an entry of ``kind`` (``"fit"``, ``"sweep"``, ``"scores"``) with a JSON-able
    ``config`` on ``data``.

    Raises
    ------
    ValueError
        If ``kind`` is not a non-empty string or ``config`` is not a dict.
    TypeError
        If ``config`` or ``data.spec`` holds something JSON cannot encode.
    """
    check_str("kind", kind)
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict of the run's settings, got {type(config).__name__}")
    payload = {
        "format": _FORMAT,
        "kind": kind,
        "config": config,
        "data": getattr(data, "spec", None),
        "data_digest": data_digest(data),
        "device_type": data.device.type,
        "source": source_hash(),
        "torch": torch.__version__,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


_KEY = re.compile(r"[0-9a-f]{64}")


def _path(key: str) -> Path:
    """The entry file of ``key``; a key that :func:`make_key` cannot have made (and that
    could name a file outside the cache folder) is a ``ValueError``."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"key must be a key of make_key (64 lowercase hexadecimal digits), got {key!r}")
    return cache_dir() / f"{key}.pt"


def lookup(
    kind: str, config: dict, data, *, required: tuple[str, ...] | None = None
) -> tuple[str | None, dict | None]:
    """``(key, entry)`` for a run: ``key`` is None when caching is off, ``entry`` None on a miss.

    A caller trains on a miss and then, if ``key`` is not None, stores the result under it
    with :func:`save`. ``required`` lists the keys the caller reads from the entry (default:
    :data:`REQUIRED` for ``kind``); an entry without them is a miss (see :func:`load`).
    """
    if not enabled():
        return None, None
    key = make_key(kind, config, data)
    return key, load(key, required=REQUIRED.get(kind, ()) if required is None else required)


def load(key: str, *, required: tuple[str, ...] = ()) -> dict | None:
    """The stored entry for ``key`` (tensors on the CPU), or None on a miss.

    A file that exists but fails verification (header, sha256, torch format, the ``required``
    keys and their structure) is a miss too, with a ``RuntimeWarning`` naming the file; it is
    left in place for :func:`save` to replace.
    """
    path = _path(key)
    if not path.is_file():
        return None
    try:
        return _read_entry(path, tuple(required))
    except _BadEntry as exc:
        warnings.warn(
            f"result cache: ignoring {path}: {exc}; the run is retrained and the entry replaced",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def save(key: str, entry: dict) -> Path:
    """Store ``entry`` (plain data and tensors) under ``key`` atomically; return the file.

    The file is a header line ``regutils-cache <format> <sha256 of the rest>`` followed by the
    bytes of ``torch.save``; :func:`load` checks both.
    """
    if not isinstance(entry, dict):
        raise ValueError(f"entry must be a dict, got {type(entry).__name__}")
    path = _path(key)
    buffer = io.BytesIO()
    torch.save(_to_cpu(entry), buffer)
    body = buffer.getvalue()
    header = b"%s %d %s\n" % (_MAGIC, _FORMAT, hashlib.sha256(body).hexdigest().encode())
    atomic_write_bytes(path, lambda fh: (fh.write(header), fh.write(body)))
    return path


class _BadEntry(Exception):
    """An entry file that must not be used (the message says why)."""


def _read_entry(path: Path, required: tuple[str, ...]) -> dict:
    """Read and verify one entry file; raise :class:`_BadEntry` saying what is wrong."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise _BadEntry(f"cannot be read ({exc})") from None
    header, _, body = blob.partition(b"\n")
    fields = header.split(b" ")
    if len(fields) != 3 or fields[0] != _MAGIC:
        raise _BadEntry("not a regutils cache entry (no header line)")
    if fields[1] != str(_FORMAT).encode():
        raise _BadEntry(f"entry format {fields[1].decode(errors='replace')!r}, expected {_FORMAT}")
    if hashlib.sha256(body).hexdigest().encode() != fields[2]:
        raise _BadEntry("sha256 mismatch: the file was truncated or altered after it was written")
    try:
        entry = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable payload is the same miss
        raise _BadEntry(f"torch.load failed ({type(exc).__name__}: {exc})") from None
    _check_structure(entry, required)
    return entry


def _check_structure(entry, required: tuple[str, ...]) -> None:
    """Raise :class:`_BadEntry` unless ``entry`` holds ``required`` with the types callers use."""
    if not isinstance(entry, dict):
        raise _BadEntry(f"holds a {type(entry).__name__}, not a dict")
    missing = [k for k in required if k not in entry]
    if missing:
        raise _BadEntry(f"no {', '.join(map(repr, missing))} key(s) (has {', '.join(map(repr, entry))})")

    def states(value) -> bool:
        return isinstance(value, dict) and all(isinstance(t, torch.Tensor) for t in value.values())

    def dicts(value) -> bool:
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)

    shapes = {
        "history": lambda v: isinstance(v, dict),
        "state_dict": states,
        "histories": dicts,
        "states": lambda v: isinstance(v, list) and all(states(s) for s in v),
        "chunks": lambda v: isinstance(v, list) and all(type(c) is int and c > 0 for c in v),
        "wall_time_s": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "early_states": lambda v: v is None or (isinstance(v, list) and all(states(s) for s in v)),
        "rows": dicts,
    }
    for name in required:
        if name in shapes and not shapes[name](entry[name]):
            raise _BadEntry(f"{name!r} has the wrong structure ({type(entry[name]).__name__})")
    lengths = {k: len(entry[k]) for k in ("histories", "states", "early_states") if k in required and entry[k] is not None}
    if "chunks" in required:
        lengths["sum of chunks"] = sum(entry["chunks"])
    if len(set(lengths.values())) > 1:
        raise _BadEntry(f"inconsistent lengths {lengths}")


def clear() -> int:
    """Delete every entry in :func:`cache_dir` (and the temporary file of a write that was
    interrupted); return how many entries were removed.

    Only the cache's own files are touched: the folder is removed when that leaves it empty,
    so a ``REGUTILS_CACHE_DIR`` pointed at a folder that holds other files keeps them.
    """
    folder = cache_dir()
    if not folder.is_dir():
        return 0
    count = 0
    for p in folder.iterdir():
        entry = p.suffix == ".pt" and _KEY.fullmatch(p.stem) is not None
        partial = p.name.startswith(".") and p.name.endswith(".part") and _KEY.match(p.name[1:]) is not None
        if p.is_file() and not p.is_symlink() and (entry or partial):
            p.unlink()
            count += entry
    if not any(folder.iterdir()):
        folder.rmdir()
    return count


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu")
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
