"""The codebase's own rules, checked: short functions, chapters that fit the page and reach
the package one way."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_CODE_LINES = 60  # per function, docstring, blank lines and comments excluded
MAX_CELL_WIDTH = 88  # characters: wider code boxes scroll sideways on the site
CHAPTERS = sorted((ROOT / "book").glob("*.md"))
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)


def code_lines(node: ast.AST, lines: list[str]) -> int:
    body = node.body
    first = body[0]
    start = first.lineno
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        start = body[1].lineno if len(body) > 1 else node.end_lineno + 1
    return sum(1 for line in lines[start - 1 : node.end_lineno] if line.strip() and not line.strip().startswith("#"))


def functions():
    for path in sorted([*(ROOT / "regutils").glob("*.py"), *(ROOT / "tools").glob("*.py")]):
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", code_lines(node, lines)


def test_code_lines_counts_a_known_function():
    source = 'def f(x):\n    """Doc."""\n    # a comment\n\n    y = x\n    return y\n'
    (node,) = ast.parse(source).body
    assert code_lines(node, source.splitlines()) == 2


def test_no_function_is_longer_than_the_limit():
    long = {name: n for name, n in functions() if n > MAX_CODE_LINES}
    assert not long, f"functions over {MAX_CODE_LINES} code lines: {long}"


def cells(path: Path):
    for match in CELL.finditer(path.read_text()):
        yield path.read_text()[: match.start()].count("\n") + 1, match.group(1)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_code_fits_the_page(chapter):
    wide = []
    for start, body in cells(chapter):
        for k, line in enumerate(body.splitlines(), start=1):
            if len(line) > MAX_CELL_WIDTH:
                wide.append(f"line {start + k}: {len(line)} characters")
    assert not wide, f"{chapter.name}: code lines over {MAX_CELL_WIDTH} characters: {wide}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_reaches_the_package_one_way(chapter):
    other = []
    for start, body in cells(chapter):
        for k, line in enumerate(body.splitlines(), start=1):
            if re.match(r"\s*(from\s+regutils\b|import\s+regutils\.|import\s+regutils\s*$)", line):
                other.append(f"line {start + k}: {line.strip()}")
    assert not other, f"{chapter.name}: use `import regutils as ru`, then `ru.…`: {other}"
