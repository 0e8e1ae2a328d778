"""Safe file writing and fingerprints: atomic writes, sha256 of files, the source hash."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from regutils import fileio
from regutils.fileio import TRAINING_SOURCES, atomic_write_bytes, sha256_file, source_hash

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# atomic_write_bytes


def test_atomic_write_creates_the_file_and_its_folder(tmp_path):
    path = tmp_path / "a" / "b" / "out.bin"
    atomic_write_bytes(path, lambda fh: fh.write(b"hello"))
    assert path.read_bytes() == b"hello"
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["out.bin"]


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.bin"

    def half_then_fail(fh):
        fh.write(b"partial")
        raise RuntimeError("the writer broke")

    with pytest.raises(RuntimeError, match="the writer broke"):
        atomic_write_bytes(path, half_then_fail)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="the writer broke"):
        atomic_write_bytes(path, half_then_fail)
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]


def test_interrupt_during_write_leaves_nothing(tmp_path):
    def interrupted(fh):
        fh.write(b"x" * 1000)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(tmp_path / "out.bin", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_failed_rename_leaves_nothing(tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(tmp_path / "out.bin", lambda fh: fh.write(b"data"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dangling", [False, True])
def test_symlink_is_refused_not_replaced(tmp_path, dangling):
    target = tmp_path / "target.txt"
    if not dangling:
        target.write_bytes(b"the user's file")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with pytest.raises(FileExistsError, match=f"^{link} is a symbolic link \\(to {target}\\); refusing"):
        atomic_write_bytes(link, lambda fh: fh.write(b"generated"))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.exists() is not dangling
    if not dangling:
        assert target.read_bytes() == b"the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["link.txt"] + ([] if dangling else ["target.txt"]))


# ---------------------------------------------------------------------------------------------
# sha256_file


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 7])
def test_sha256_file_matches_hashlib(tmp_path, size):
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_sha256_file_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"No such file or directory: '{tmp_path / 'nothing'}'")):
        sha256_file(tmp_path / "nothing")


# ---------------------------------------------------------------------------------------------
# source_hash


def _expected(package: Path, rels: list[str]) -> str:
    """The documented digest, computed independently: sha256 over sorted path, NUL, bytes."""
    digest = hashlib.sha256()
    for rel in sorted(rels):
        digest.update(rel.encode() + b"\0" + (package / rel).read_bytes())
    return digest.hexdigest()


@pytest.fixture
def pkg(tmp_path):
    package = tmp_path / "pkg"
    (package / "data_files" / "__pycache__").mkdir(parents=True)
    (package / "sub").mkdir()
    (package / "__pycache__").mkdir()
    (package / "a.py").write_text("A = 1\n")
    (package / "b.py").write_text("B = 2\n")
    (package / "sub" / "c.py").write_text("C = 3\n")
    (package / "notes.txt").write_text("not code\n")
    (package / "__pycache__" / "a.cpython-312.pyc").write_bytes(b"\0compiled")
    (package / "data_files" / "table.json").write_text("{}\n")
    (package / "data_files" / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    return package


def test_source_hash_of_every_module(pkg):
    assert source_hash(pkg) == _expected(pkg, ["a.py", "b.py", "sub/c.py"])


def test_source_hash_with_names(pkg):
    assert source_hash(pkg, ["b.py", "sub/c.py"]) == _expected(pkg, ["b.py", "sub/c.py"])
    before = source_hash(pkg, ["b.py"])
    (pkg / "a.py").write_text("A = 10\n")  # not named: no change
    assert source_hash(pkg, ["b.py"]) == before
    (pkg / "b.py").write_text("B = 20\n")
    assert source_hash(pkg, ["b.py"]) != before


def test_source_hash_names_must_exist(pkg):
    with pytest.raises(FileNotFoundError, match=f"^{pkg}: no such source file\\(s\\) gone.py, sub/x.py$"):
        source_hash(pkg, ["a.py", "gone.py", "sub/x.py"])


def test_source_hash_with_data_folder(pkg):
    with_data = source_hash(pkg, data_folder="data_files")
    assert with_data == _expected(pkg, ["a.py", "b.py", "sub/c.py", "data_files/table.json"])
    assert source_hash(pkg, ["a.py"], data_folder="data_files") == _expected(pkg, ["a.py", "data_files/table.json"])
    (pkg / "data_files" / "table.json").write_text('{"changed": 1}\n')
    assert source_hash(pkg, data_folder="data_files") != with_data
    with pytest.raises(FileNotFoundError, match="no_such: no such folder \\(data_folder='no_such'\\)"):
        source_hash(pkg, data_folder="no_such")


def test_source_hash_renaming_a_file_changes_it(pkg):
    before = source_hash(pkg)
    (pkg / "b.py").rename(pkg / "b2.py")
    assert source_hash(pkg) != before


def test_training_sources_all_exist():
    missing = [name for name in TRAINING_SOURCES if not (ROOT / "regutils" / name).is_file()]
    assert missing == []
    assert source_hash(fileio.PACKAGE, TRAINING_SOURCES) == _expected(ROOT / "regutils", list(TRAINING_SOURCES))


def test_source_hash_ignores_where_the_package_lives(pkg, tmp_path):
    copy = tmp_path / "elsewhere" / "pkg"
    shutil.copytree(pkg, copy)
    assert source_hash(copy, data_folder="data_files") == source_hash(pkg, data_folder="data_files")


# ---------------------------------------------------------------------------------------------
# code_hash

MODULE = '''"""Module docstring."""

import math


class Model:
    """Class docstring."""

    scale = 2.0

    def forward(self, x):
        """Method docstring."""
        return math.sqrt(x) * self.scale  # a comment


def train(steps):
    print("first statement, not a docstring")
    total = 0
    for step in range(steps):
        total += step
    "a string statement after the first is code, not a docstring"
    return total
'''


@pytest.mark.parametrize(
    "old, new, same",
    [
        ('"""Module docstring."""', '"""Another module docstring."""', True),
        ('"""Class docstring."""', '"""Another class docstring,\n    over two lines."""', True),
        ('"""Method docstring."""', "'Method docstring, edited.'", True),
        ("  # a comment", "  # another comment", True),
        ("\n\nclass Model", "\n\n\n# a comment line\nclass Model", True),
        ("scale = 2.0", "scale = 3.0", False),
        ("math.sqrt(x)", "math.exp(x)", False),
        ('print("first statement, not a docstring")', 'print("first statement, edited")', False),
        ('"a string statement after the first', '"an edited string statement after the first', False),
        ("import math", "import cmath as math", False),
    ],
    ids=["module-docstring", "class-docstring", "method-docstring", "comment", "blank-and-comment-lines",
         "constant", "call", "first-statement-call", "later-string-statement", "import"],
)
def test_code_hash_covers_the_code_not_its_docstrings_or_comments(tmp_path, old, new, same):
    (tmp_path / "m.py").write_text(MODULE)
    before = fileio.code_hash(tmp_path, ["m.py"])
    assert old in MODULE
    (tmp_path / "m.py").write_text(MODULE.replace(old, new, 1))
    assert (fileio.code_hash(tmp_path, ["m.py"]) == before) is same


def test_code_hash_names_a_missing_module(tmp_path):
    (tmp_path / "m.py").write_text(MODULE)
    message = f"{tmp_path / 'gone.py'}: no such module in {tmp_path}"
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(message)}$"):
        fileio.code_hash(tmp_path, ["m.py", "gone.py"])
