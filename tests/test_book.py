"""The whole book builds, with the README's flags, and every page in _toc.yml has its figures."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return files


def test_makefile_builds_with_the_strict_flags():
    # the README's `make book` runs tools/build_book.py, which passes these flags
    assert "tools/build_book.py" in (ROOT / "Makefile").read_text()
    assert build_book.FLAGS == ["-n", "-W", "--keep-going"]


def test_cache_is_emptied_when_regutils_changes(tmp_path, monkeypatch):
    build = tmp_path / "_build"
    cache = build / ".jupyter_cache"
    cache.mkdir(parents=True)
    (cache / "entry").write_text("old output")
    # first build with this source: no stamp yet, so the cache cannot be trusted
    assert build_book.invalidate_stale_cache(build) is True
    assert not cache.exists()
    cache.mkdir()
    (cache / "entry").write_text("fresh output")
    assert build_book.invalidate_stale_cache(build) is False  # same source: kept
    assert (cache / "entry").exists()
    monkeypatch.setattr(build_book, "source_hash", lambda: "a different source")
    assert build_book.invalidate_stale_cache(build) is True
    assert not cache.exists()


def test_source_hash_sees_every_module(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    (pkg / "data_files").mkdir()
    (pkg / "data_files" / "bench.json").write_text("{}\n")
    first = build_book.source_hash(pkg)
    (pkg / "sub" / "b.py").write_text("y = 3\n")
    second = build_book.source_hash(pkg)
    assert second != first
    (pkg / "data_files" / "bench.json").write_text('{"a": 1}\n')  # chapters read these
    assert build_book.source_hash(pkg) != second


@pytest.mark.slow
@pytest.mark.book
def test_every_toc_page_is_built_with_its_figures(built_book):
    html_dir = built_book / "html"
    for doc in toc_files():
        page = html_dir / f"{doc}.html"
        assert page.is_file(), f"{doc} is in _toc.yml but {page} was not built"
        html = page.read_text()
        notebook = built_book / "jupyter_execute" / f"{doc}.ipynb"
        if not notebook.exists():
            continue  # a page without code cells
        nb = json.loads(notebook.read_text())
        n_images = sum(
            1
            for cell in nb["cells"]
            if cell["cell_type"] == "code"
            for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})
        )
        sources = re.findall(r'<img[^>]+src="([^"]+)"', html)
        local = [s for s in sources if not s.startswith(("http:", "https:", "data:"))]
        assert len(local) >= n_images, f"{doc}: {n_images} figures executed, {len(local)} images on the page"
        for src in local:
            assert (page.parent / src).resolve().is_file(), f"{doc}: image {src} is missing"
        assert "Traceback" not in html, f"{doc}: a traceback is shown on the page"


def test_cpu_note_reads_the_bf16_flags(tmp_path):
    with_bf16 = tmp_path / "a"
    with_bf16.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_bf16\n")
    without = tmp_path / "b"
    without.write_text("processor : 0\nflags : fpu avx avx2\n")
    assert "natively" in build_book.cpu_precision_note(with_bf16)
    assert "no native bfloat16" in build_book.cpu_precision_note(without)
    assert "unknown" in build_book.cpu_precision_note(tmp_path / "missing")


def test_a_changed_regutils_rebuilds_every_page(tmp_path, monkeypatch):
    """Sphinx re-reads only changed pages; after a regutils change the build passes --all."""
    calls = []
    monkeypatch.setattr(build_book.subprocess, "call", lambda cmd, cwd: calls.append(cmd) or 0)
    monkeypatch.setattr(build_book, "source_hash", lambda: "one source")
    (tmp_path / "_build" / ".jupyter_cache").mkdir(parents=True)
    assert build_book.main(["--path-output", str(tmp_path)]) == 0  # no stamp yet: stale
    assert "--all" in calls[-1]
    assert build_book.main(["--path-output", str(tmp_path)]) == 0  # same source
    assert "--all" not in calls[-1]
    monkeypatch.setattr(build_book, "source_hash", lambda: "another source")
    assert build_book.main(["--path-output", str(tmp_path)]) == 0
    assert "--all" in calls[-1] and all(f in calls[-1] for f in build_book.FLAGS)
