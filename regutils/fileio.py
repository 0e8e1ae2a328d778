"""Files written safely and fingerprinted: atomic writes, sha256 digests, the source hash.

The data layer, the result cache and the build tool (``tools/build_book.py``) all need these;
this module imports nothing heavier than the standard library, so the build tool can use it
without importing torch.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["atomic_write_bytes", "sha256_file", "source_hash", "TRAINING_SOURCES"]

PACKAGE = Path(__file__).resolve().parent

# The modules whose code decides what a trained network is. The result cache keys trained
# runs on these only, so editing a figure or a chapter helper never forces a retrain; any
# change here does.
TRAINING_SOURCES = (
    "cache.py",
    "data.py",
    "early_stopping.py",
    "evaluation.py",
    "hardware.py",
    "models.py",
    "stacked.py",
    "sweeps.py",
    "training.py",
)


def atomic_write_bytes(path: str | os.PathLike, write: Callable) -> None:
    """Create ``path`` through a temporary file in its folder; ``write(fileobj)`` fills it.

    The temporary file is moved into place with ``os.replace`` only after ``write`` returned,
    so a failure (or a crash) never leaves a partial file at ``path``; the temporary file is
    removed on any error. A symbolic link at ``path`` is refused rather than replaced.
    """
    path = Path(path)
    if path.is_symlink():
        raise FileExistsError(f"{path} is a symbolic link; refusing to replace it with a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; these are ordinary data files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_hash(
    package: str | os.PathLike = PACKAGE,
    names: Iterable[str] | None = None,
    data_folder: str | None = None,
) -> str:
    """sha256 over the relative path and bytes of ``.py`` files of ``package``, sorted by path.

    ``names`` restricts it to those file names (e.g. :data:`TRAINING_SOURCES`); ``None`` takes
    every ``.py`` file below ``package``. ``data_folder`` (e.g. ``"data_files"``) adds every
    file below that subfolder.
    """
    package = Path(package)
    wanted = None if names is None else set(names)
    files = list(package.rglob("*.py"))
    if data_folder is not None:
        files += [f for f in (package / data_folder).rglob("*") if f.is_file()]
    digest = hashlib.sha256()
    for path in sorted(files):
        rel = path.relative_to(package).as_posix()
        if wanted is not None and rel not in wanted and path.suffix == ".py":
            continue
        digest.update(rel.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()
