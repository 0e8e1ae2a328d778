"""On-disk cache of training results, so chapters rebuild without retraining.

``fit(..., cache=True)`` and ``sweep(..., cache=True)`` store what they produced — the
:class:`~regutils.History` (or histories) and the trained weights — in one file per run,
named by a key: the sha256 of

* the run's configuration (every argument that changes the result, the model's
  architecture and, for ``fit``, a digest of its *initial* weights),
* ``data.spec`` (which data, which split, which subset) and the device type,
* a hash of the training code (:data:`regutils.fileio.TRAINING_SOURCES`), so a change to
  it invalidates every stored result.

A lookup that finds the file returns its contents and the caller skips training. Files are
written to a temporary name in the cache folder and moved into place with ``os.replace``, so
a crash or a concurrent writer never leaves a partial entry; an unreadable entry counts as a
miss and is overwritten.

Environment
-----------
``REGUTILS_CACHE=0`` (or ``false``/``no``/``off``)
    Turns caching off: ``cache=True`` then trains every time and stores nothing.
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
import shutil
from pathlib import Path

import torch

from .fileio import TRAINING_SOURCES, atomic_write_bytes
from .fileio import source_hash as _source_hash

__all__ = ["enabled", "cache_dir", "source_hash", "make_key", "lookup", "load", "save", "clear", "state_digest"]

CACHE_ENV = "REGUTILS_CACHE"
CACHE_DIR_ENV = "REGUTILS_CACHE_DIR"
_PACKAGE = Path(__file__).resolve().parent
_REPO = _PACKAGE.parent


def enabled() -> bool:
    """False when ``REGUTILS_CACHE`` is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get(CACHE_ENV, "").strip().lower() not in {"0", "false", "no", "off"}


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

    Only the modules that decide what a trained network is count, so editing a figure, a
    statistics helper or a chapter never forces a retrain.
    """
    return _source_hash(_PACKAGE, TRAINING_SOURCES)


def state_digest(module: torch.nn.Module) -> str:
    """sha256 of a module's ``state_dict`` (names, dtypes, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def make_key(kind: str, config: dict, data) -> str:
    """Hex key for a run of ``kind`` (``"fit"``, ``"sweep"``) with a JSON-able ``config`` on ``data``.

    Raises
    ------
    TypeError
        If ``config`` or ``data.spec`` holds something JSON cannot encode.
    """
    payload = {
        "kind": kind,
        "config": config,
        "data": getattr(data, "spec", None),
        "device_type": data.device.type,
        "source": source_hash(),
        "torch": torch.__version__,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _path(key: str) -> Path:
    return cache_dir() / f"{key}.pt"


def lookup(kind: str, config: dict, data) -> tuple[str | None, dict | None]:
    """``(key, entry)`` for a run: ``key`` is None when caching is off, ``entry`` None on a miss.

    A caller trains on a miss and then, if ``key`` is not None, stores the result under it
    with :func:`save`.
    """
    if not enabled():
        return None, None
    key = make_key(kind, config, data)
    return key, load(key)


def load(key: str) -> dict | None:
    """The stored entry for ``key`` (tensors on the CPU), or None on a miss or an unreadable file."""
    path = _path(key)
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a truncated or foreign file is a miss; save() replaces it
        return None


def save(key: str, entry: dict) -> Path:
    """Store ``entry`` (plain data and tensors) under ``key`` atomically; return the file."""
    path = _path(key)
    buffer = io.BytesIO()
    torch.save(_to_cpu(entry), buffer)
    atomic_write_bytes(path, lambda fh: fh.write(buffer.getvalue()))
    return path


def clear() -> int:
    """Delete every entry in :func:`cache_dir`; return how many files were removed."""
    folder = cache_dir()
    if not folder.is_dir():
        return 0
    count = sum(1 for p in folder.iterdir() if p.is_file())
    shutil.rmtree(folder)
    return count


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu")
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
