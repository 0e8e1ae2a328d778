"""The reader's side of the site, without a browser: served assets, notebooks, launch buttons.

tools/site_assets.py serves require.js, html-manager and MathJax from the site, writes a
notebook per chapter for Colab and Binder, and points the pages' buttons at them.
tests/test_browser.py checks the same site in Chromium.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml
from test_book import toc_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import site_assets  # noqa: E402

CHAPTER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter

![a figure](figures/curve.png) and ![remote](https://example.org/x.png)

```{figure} figures/other.png
A caption.
```

```{code-cell} ipython3
import regutils as ru
x = 1
```

```{code-cell} ipython3
print(x)
```
"""


def chapter(tmp_path, text=CHAPTER):
    path = tmp_path / "book" / "chapter.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def notebook(path):
    return site_assets.colab_notebook(
        path, docname="book/chapter", org="someone", repo="book", branch="notebooks"
    )


def test_notebook_starts_with_a_hidden_install_cell_then_the_chapter(tmp_path):
    nb = notebook(chapter(tmp_path))
    nbformat.validate(nb)
    install, *cells = nb.cells
    assert install.cell_type == "code" and install.metadata["tags"] == ["remove-cell"]
    assert [c.source for c in cells if c.cell_type == "code"] == [
        "import regutils as ru\nx = 1",
        "print(x)",
    ]
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "jupytext" not in nb.metadata and nb.metadata["kernelspec"]["name"] == "python3"


def test_install_cell_installs_from_the_branch_only_in_colab(tmp_path, monkeypatch):
    source = notebook(chapter(tmp_path)).cells[0].source
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append((a, k)))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "install-cell", "exec"), {})
    assert calls == []  # not in Colab: regutils is installed already
    google = types.ModuleType("google")
    google.colab = types.ModuleType("google.colab")
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    exec(compile(source, "install-cell", "exec"), {})
    [(args, kwargs)] = calls
    assert args[0][1:4] == ["-m", "pip", "install"]
    assert args[0][-1] == "regutils @ git+https://github.com/someone/book@notebooks"
    # a chapter that glues numbers into its text needs myst-nb, which Colab lacks
    glued = CHAPTER.replace("x = 1", "from myst_nb import glue\nx = 1")
    calls.clear()
    exec(compile(notebook(chapter(tmp_path, glued)).cells[0].source, "install-cell", "exec"), {})
    [(args, kwargs)] = calls
    assert args[0][-2:] == ["regutils @ git+https://github.com/someone/book@notebooks", "myst-nb"]
    assert kwargs == {"check": True}


def test_relative_images_point_at_the_branch_on_github(tmp_path):
    text = "\n".join(c.source for c in notebook(chapter(tmp_path)).cells)
    base = "https://raw.githubusercontent.com/someone/book/notebooks/book"
    assert f"![a figure]({base}/figures/curve.png)" in text
    assert f"```{{figure}} {base}/figures/other.png" in text
    assert "![remote](https://example.org/x.png)" in text
    html = site_assets.absolute_images('<img alt="a" src="f.png">', "https://h/b")
    assert html == '<img alt="a" src="https://h/b/f.png">'


def test_only_chapters_that_train_a_network_ask_colab_for_a_gpu(tmp_path):
    plain = notebook(chapter(tmp_path))
    assert "accelerator" not in plain.metadata and "gpuType" not in plain.metadata["colab"]
    trains = CHAPTER.replace("x = 1", "history = ru.fit(model, data)")
    nb = notebook(chapter(tmp_path, trains))
    assert nb.metadata["accelerator"] == "GPU" and nb.metadata["colab"]["gpuType"] == "T4"
    # torch alone (a linear model in a few lines) is not a network to train on a GPU
    torch_only = CHAPTER.replace("x = 1", "import torch\nx = torch.zeros(3)")
    assert "accelerator" not in notebook(chapter(tmp_path, torch_only)).metadata


def test_without_node_modules_the_site_uses_the_same_versions_from_a_cdn(tmp_path):
    assert site_assets.vendored_files(tmp_path) is None
    pins = json.loads((ROOT / "package.json").read_text())["dependencies"]
    widgets, mathjax = site_assets.script_urls(False, pins)
    urls = [*widgets, mathjax]
    for name, version in pins.items():
        assert any(f"/{name}@{version}/" in url for url in urls), name
    assert site_assets.WIDGETS_SETUP_JS in widgets  # still served: it points at the CDN copy


def test_lockfile_holds_the_pinned_versions():
    pins = json.loads((ROOT / "package.json").read_text())["dependencies"]
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for name, version in pins.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly"
        assert lock[f"node_modules/{name}"]["version"] == version
    assert pins["@jupyter-widgets/html-manager"].startswith("1.")  # ipywidgets 8
    assert pins["mathjax"].startswith("3.")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("manager", [None, "https://cdn.example/@jupyter-widgets/html-manager@1"])
def test_widgets_setup_script_is_valid_javascript(tmp_path, manager):
    script = tmp_path / "setup.js"
    script.write_text(site_assets.widgets_setup_source(manager))
    subprocess.run(["node", "--check", str(script)], check=True)


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[<>=!~\[ ;@]", line)[0].lower().replace("_", "-"))
    return names


# imported by chapters, installed in Binder without being listed: binder/postBuild installs
# regutils; IPython is the kernel's own (and a dependency of ipywidgets)
PROVIDED = {"regutils", "IPython"}


def test_binder_has_cpu_torch_at_the_pinned_versions_and_what_chapters_import():
    binder = (ROOT / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in binder
    for name in ("torch", "torchvision"):
        pinned = re.search(rf"^{name}==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
        assert f"{name}=={pinned.group(1)}+cpu" in binder.splitlines()
    names = requirement_names(ROOT / "binder" / "requirements.txt")
    distributions = importlib.metadata.packages_distributions()
    for doc in toc_files():
        text = (ROOT / f"{doc}.md").read_text()
        for cell in re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, re.S):
            for module in re.findall(r"^\s*(?:import|from)\s+(\w+)", cell, re.M):
                if module in sys.stdlib_module_names or module in PROVIDED:
                    continue
                dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
                assert dists & names, f"{doc} imports {module}; binder/requirements.txt lacks it"


def notebook_docs(built_book):
    return [d for d in toc_files() if (built_book / "jupyter_execute" / f"{d}.ipynb").exists()]


@pytest.mark.slow
@pytest.mark.book
def test_every_chapter_has_its_notebook_and_working_buttons(built_book):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    org, repo = site_assets.github_parts(config["repository"]["url"])
    branch = config["sphinx"]["config"]["notebooks_branch"]
    html_dir = built_book / "html"
    for doc in notebook_docs(built_book):
        generated = built_book / "notebooks" / f"{doc}.ipynb"
        assert generated.is_file(), f"{doc}: no notebook for Colab"
        nbformat.validate(nbformat.read(generated, as_version=4))
        html = (html_dir / f"{doc}.html").read_text()
        links = set(re.findall(r'href="([^"]+)"', html))
        colab = f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/{doc}.ipynb"
        binder = f"https://mybinder.org/v2/gh/{org}/{repo}/{branch}?urlpath=tree/{doc}.ipynb"
        assert colab in links and binder in links, f"{doc}: launch buttons point elsewhere"
        for suffix in (".ipynb", ".md"):  # the download menu
            [download] = [u for u in links if u.endswith(f"_sources/{doc}{suffix}")]
            assert (html_dir / doc).parent.joinpath(download).resolve().is_file(), download
        assert "initThebe" not in html, f"{doc}: a live-code button that cannot work"


@pytest.mark.slow
@pytest.mark.book
def test_pages_load_scripts_only_from_the_site(built_book):
    html_dir = built_book / "html"
    for doc in toc_files():
        html = (html_dir / f"{doc}.html").read_text()
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", html):
            url = re.search(r'(?:src|href)="([^"]+)"', tag)
            if url and ("<script" in tag or 'rel="stylesheet"' in tag):
                assert not re.match(r"(?:https?:)?//", url.group(1)), f"{doc}: loads {url.group(1)}"
        assert html.count("const THEBE_JS_URL") <= 1, f"{doc}: a script is included twice"
    widgets, mathjax = site_assets.script_urls(True, {})
    for rel in [*widgets, mathjax]:
        assert (html_dir / "_static" / rel).is_file(), rel
