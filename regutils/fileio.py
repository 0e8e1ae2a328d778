"""Files written safely and fingerprinted: atomic writes, sha256 digests, the source hash.

The data layer, the result cache and the build tool (``tools/build_book.py``) all need these;
this module imports nothing heavier than the standard library, so the build tool can use it
without importing torch.
"""

from __future__ import annotations

import ast
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["atomic_write_bytes", "sha256_file", "source_hash", "code_hash", "TRAINING_SOURCES"]

PACKAGE = Path(__file__).resolve().parent

# The modules whose code decides what a trained network is. The result cache keys trained
# runs on these only (and on a digest of the data tensors themselves, not on the loader), so
# editing a figure or a chapter helper never forces a retrain; any change here does.
#: The training modules whose code keys the result cache (see :func:`code_hash`).
TRAINING_SOURCES = (
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

    The temporary file is flushed to disk and moved into place with ``os.replace`` only after
    ``write`` returned, so a failure (or a crash) never leaves a partial file at ``path``, and
    an existing file there is kept until the new one is complete; the temporary file is
    removed on any error. A symbolic link at ``path`` (even a dangling one) is refused with a
    ``FileExistsError`` rather than replaced: the link's target is the user's file.
    """
    path = Path(path)
    if path.is_symlink():
        raise FileExistsError(
            f"{path} is a symbolic link (to {os.readlink(path)}); refusing to replace it with a file"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())  # the bytes are on disk before the name points at them
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

    ``names`` restricts it to those paths relative to ``package`` (e.g. :data:`TRAINING_SOURCES`);
    ``None`` takes every ``.py`` file below ``package``. ``data_folder`` (e.g. ``"data_files"``)
    adds every file below that subfolder. ``__pycache__`` folders never count.

    Raises
    ------
    FileNotFoundError
        If a file in ``names`` or the ``data_folder`` does not exist: a renamed module must not
        silently drop out of the hash.
    """
    package = Path(package)
    files = {p for p in package.rglob("*.py") if "__pycache__" not in p.parts}
    if names is not None:
        wanted = set(names)
        files = {p for p in files if p.relative_to(package).as_posix() in wanted}
        missing = sorted(wanted - {p.relative_to(package).as_posix() for p in files})
        if missing:
            raise FileNotFoundError(f"{package}: no such source file(s) {', '.join(missing)}")
    if data_folder is not None:
        folder = package / data_folder
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder (data_folder={data_folder!r})")
        files |= {f for f in folder.rglob("*") if f.is_file() and "__pycache__" not in f.parts}
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def code_hash(package: str | os.PathLike = PACKAGE, names: Iterable[str] = TRAINING_SOURCES) -> str:
    """sha256 over the *code* of the modules ``names`` of ``package``: their syntax trees
    without docstrings and comments.

    The result cache keys trained networks on this, so fixing a docstring or a comment of the
    training code keeps every cached network, while any change to what the code does
    retrains. A missing module raises ``FileNotFoundError``.
    """
    package = Path(package)
    digest = hashlib.sha256()
    for name in sorted(names):
        path = package / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such module in {package}")
        tree = _without_docstrings(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(ast.dump(tree, include_attributes=False).encode())
    return digest.hexdigest()
