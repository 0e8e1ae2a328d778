"""The reader's notebooks (Colab, Binder, the .ipynb download): numbers filled in, outputs kept,
MyST translated, hidden cells hidden, the install pinned; the short chapters run against a
non-editable install of regutils.

tools/reader_notebooks.py builds them from the executed chapters; tools/myst_translate.py
translates the MyST; tools/myst_check.py counts what is left (the site tests use it too).
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
from test_book import toc_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402
import myst_check  # noqa: E402
import myst_translate  # noqa: E402
import reader_notebooks  # noqa: E402
import site_assets  # noqa: E402

SHA = "0123456789abcdef0123456789abcdef01234567"
REQUIREMENT = reader_notebooks.pinned_requirement("someone", "book", SHA)
BIB = ROOT / "references.bib"


def glued(text=None, **data):
    bundle = dict(data)
    if text is not None:
        bundle["text/plain"] = text
    return {"output_type": "display_data", "metadata": {}, "data": bundle}


def context(**changes):
    values = dict(
        docname="book/chapter",
        glue={
            "best": glued("6"),
            "mse": glued("np.float64(0.1275640482150931)"),
            "speed": glued("10491.75043867872"),
            "device": glued("'cpu'"),
            "first": glued("<IPython.core.display.Markdown object>", **{"text/markdown": "`x0`, `x2`"}),
        },
        titles={"book/intro": "Regularizing", "book/chapter": "A chapter", "book/other": "Other", "book/api": "API"},
        notebooks={"book/intro", "book/chapter", "book/other"},
        labels={"fig-curve": ("book/chapter", "fig-curve", "A curve"), "fig-far": ("book/other", "fig-far", "Far")},
        fignumbers={"fig-curve": "3", "fig-far": "7"},
        site_url="https://someone.github.io/book/",
        bibliography=myst_translate.read_bibliography([BIB]),
    )
    values.update(changes)
    return myst_translate.Context(**values)


# --------------------------------------------------------------------------- MyST -> markdown


@pytest.mark.parametrize(
    "myst, markdown",
    [
        ("degree {glue:text}`best`.", "degree 6."),
        ("MSE {glue:text}`mse:.3f`", "MSE 0.128"),  # numpy's repr, myst-nb's format spec
        ("{glue:text}`speed:,.0f` samples/s", "10,492 samples/s"),
        ("on {glue:text}`device`", "on cpu"),
        ("{glue:}`best` rows", "6 rows"),
        ("first {glue:md}`first`.", "first `x0`, `x2`."),
        ("see {doc}`other`", "see [Other](other.ipynb)"),
        ("see {doc}`the API <api>`", "see [the API](https://someone.github.io/book/book/api.html)"),
        ("in {numref}`fig-curve`", "in [Figure 3](#fig-curve)"),
        ("in {numref}`fig-far`", "in [Figure 7](other.ipynb#fig-far)"),
        ("{py:func}`regutils.fit`", "[`regutils.fit()`](https://someone.github.io/book/book/api.html#regutils.fit)"),
        ("`{glue:text}` stays code, $\\{x\\}$ stays math", "`{glue:text}` stays code, $\\{x\\}$ stays math"),
    ],
)
def test_roles_become_markdown(myst, markdown):
    assert myst_translate.translate(context(), myst) == markdown


def test_citations_are_author_year_with_the_references_at_the_end():
    ctx = context(keyprefix="np-")
    text = myst_translate.translate(ctx, "Ridge {cite}`np-hoerl1970ridge`, lasso {cite:t}`tibshirani1996lasso`.")
    assert text == "Ridge (Hoerl and Kennard, 1970), lasso Tibshirani (1996)."
    refs = myst_translate.references(ctx)
    # the answer key is the .bib file itself
    assert refs.splitlines()[0].startswith("- Arthur E. Hoerl and Robert W. Kennard.")
    assert "*Technometrics*, 12(1):55–67, 1970" in refs and "Robert Tibshirani." in refs


def test_dropdowns_admonitions_and_figures():
    ctx = context()
    text = myst_translate.translate(
        ctx,
        ":::{dropdown} Solution\nIt is {glue:text}`best`.\n\n```python\nx = 1\n```\n:::\n\n"
        "```{admonition} Two bugs\n:class: warning\n\nFirst line.\nSecond.\n```\n\n"
        "```{note}\nShort.\n```\n\n"
        "```{figure} figures/curve.png\n:name: fig-curve\n\nA {glue:text}`best` curve.\n```",
    )
    assert "<details>\n<summary>Solution</summary>\n\nIt is 6.\n\n```python\nx = 1\n```\n\n</details>" in text
    assert "> **Two bugs**\n>\n> First line.\n> Second." in text
    assert "> **Note**\n>\n> Short." in text
    assert '<a id="fig-curve"></a>\n\n![](figures/curve.png)\n\n**Figure 3.** A 6 curve.' in text
    assert myst_check.unrendered_in_markdown(text) == []


def test_literalinclude_inlines_the_tested_source():
    from regutils import penalties

    text = myst_translate.translate(
        context(source_dir=ROOT / "book"),
        "```{literalinclude} ../regutils/penalties.py\n:pyobject: soft_threshold\n```",
    )
    code = re.search(r"```python\n(.*)\n```", text, re.S).group(1)
    assert code == inspect.getsource(penalties.soft_threshold).rstrip()  # the answer key: inspect
    assert text.startswith("`soft_threshold` in `regutils/penalties.py`:")


def test_table_of_contents_and_bibliography_directives():
    ctx = context(docname="book/intro")
    toc = myst_translate.translate(ctx, "```{tableofcontents}\n```")
    assert toc == (
        "- [A chapter](chapter.ipynb)\n- [Other](other.ipynb)\n"
        "- [API](https://someone.github.io/book/book/api.html)"
    )
    assert myst_translate.translate(ctx, "```{bibliography}\n:keyprefix: in-\n```") == myst_translate.REFERENCES
    assert ctx.keyprefix == "in-"


def test_the_checker_counts_what_is_left():
    raw = (
        "Lowest at {glue:text}`best`.\n\n:::{dropdown} Solution\ntext\n:::\n\n(fig-x)=\n"
        "{cite}`a` and {{ sub }}\n\n```python\nprint(f'{glue:text}`x`')\n```\n$\\frac{1}{2}$"
        " $\\texttt{l1\\_ratio}$ $\\mathtt{l1\\_ratio}$"
    )
    found = myst_check.unrendered_in_markdown(raw)
    assert found == [
        ":::{dropdown} Solution", ":::", "(fig-x)=", "{{ sub }}", "{glue:text}`best`", "{cite}`a`",
        "\\texttt{l1\\_ratio}",
    ]


# --------------------------------------------------------------------------- the notebook

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

![a figure](figures/curve.png) and a number {glue:text}`best`.

```{code-cell} ipython3
import regutils as ru
from myst_nb import glue
x = 1
```

```{code-cell} ipython3
:tags: [remove-cell]

helper = x + 1
glue("best", 6, display=False)
assert x == 1
```

```{code-cell} ipython3
:tags: [remove-cell]

unused = 2
glue("other", 7, display=False)
```

```{code-cell} ipython3
:tags: [hide-input]
:mystnb:
:  figure:
:    caption: A {glue:text}`best` curve.
:    name: fig-curve

print(helper)
```

Done, see {numref}`fig-curve` {cite}`hoerl1970ridge`.
"""

PNG = base64.b64encode(b"\x89PNG fake").decode()


def executed(text=CHAPTER):
    """The chapter as myst-nb leaves it in jupyter_execute/: outputs kept, glue outputs removed."""
    import jupytext

    nb = jupytext.reads(text, fmt="md:myst")
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    code[3].outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    return nb


def reader(nb=None, **ctx):
    nb = executed() if nb is None else nb
    return reader_notebooks.reader_notebook(nb, context(**ctx), requirement=REQUIREMENT, commit=SHA, colab_name="chapter.ipynb")


def test_reader_notebook_keeps_outputs_fills_numbers_and_translates():
    source = executed()
    nb = reader(source)
    nbformat.validate(nb)
    install, note, *cells = nb.cells
    assert install.cell_type == "code" and install.metadata["tags"] == ["remove-cell"]
    assert note.cell_type == "markdown" and SHA[:12] in note.source
    markdown = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert "a number 6." in markdown and "**Figure 3.** A 6 curve." in markdown
    assert "Done, see [Figure 3](#fig-curve) (Hoerl and Kennard, 1970)." in markdown
    assert "## References\n\n- Arthur E. Hoerl" in markdown  # cited, so listed
    outputs = [c.outputs for c in cells if c.cell_type == "code" and c.outputs]
    assert outputs == [c.outputs for c in source.cells if c.cell_type == "code" and c.outputs]
    assert myst_check.unrendered_in_markdown(markdown) == []
    assert source.cells[1].source.startswith("import regutils")  # the input is not modified
    assert "jupytext" not in nb.metadata and nb.metadata["kernelspec"]["name"] == "python3"


def test_hidden_cells_are_hidden_and_removed_cells_removed_unless_needed():
    code = [c for c in reader().cells[1:] if c.cell_type == "code"]
    first, needed, figure = code
    assert "from regutils.publish import glue" in first.source  # no myst-nb needed to run it
    assert "myst_nb" not in "".join(c.source for c in code)
    assert "helper = x + 1" in needed.source  # the figure cell prints `helper`: kept, hidden
    assert needed.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
    assert not any("unused = 2" in c.source for c in code)  # nobody needs it: removed
    assert figure.metadata["jupyter"] == {"source_hidden": True}
    assert figure.metadata["cellView"] == "form" and figure.source.startswith("# @title")
    assert "jupyter" not in first.metadata


def test_install_cell_installs_the_pinned_commit_only_in_colab(monkeypatch):
    source = reader().cells[0].source
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
    assert args[0][-1] == f"regutils @ git+https://github.com/someone/book@{SHA}"  # no myst-nb
    assert kwargs == {"check": True}
    with pytest.raises(ValueError, match="not a commit"):
        reader_notebooks.pinned_requirement("someone", "book", "notebooks")


def test_sliders_enable_colab_widgets_and_networks_ask_for_a_gpu(monkeypatch):
    nb = executed(CHAPTER.replace("x = 1", "x = 1\nhistory = ru.fit(model, data)"))
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "m", "version_major": 2, "version_minor": 0}}
    nb.cells[1].outputs.append(nbformat.v4.new_output("display_data", data={**widget, "text/plain": "w"}))
    out = reader(nb)
    assert out.metadata["accelerator"] == "GPU" and out.metadata["colab"]["gpuType"] == "T4"
    assert "output.enable_custom_widget_manager()" in out.cells[0].source
    plain = reader()
    assert "accelerator" not in plain.metadata and "gpuType" not in plain.metadata["colab"]
    assert "enable_custom_widget_manager" not in plain.cells[0].source
    # torch alone (a linear model in a few lines) is not a network to train on a GPU
    torch_only = reader(executed(CHAPTER.replace("x = 1", "import torch\nx = torch.zeros(3)")))
    assert "accelerator" not in torch_only.metadata


def test_relative_images_become_absolute():
    base = "https://raw.githubusercontent.com/someone/book/" + SHA + "/book"
    text = site_assets.absolute_images("![a](figures/c.png) ![r](https://example.org/x.png)", base)
    assert text == f"![a]({base}/figures/c.png) ![r](https://example.org/x.png)"
    html = site_assets.absolute_images('<img alt="a" src="f.png">', "https://h/b")
    assert html == '<img alt="a" src="https://h/b/f.png">'


def test_source_hash_sees_the_data_files_chapters_read(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "data_files").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "data_files" / "bench_cpu.json").write_text('{"ratio": 2.0}\n')
    first = build_book.source_hash(pkg)
    (pkg / "data_files" / "bench_cpu.json").write_text('{"ratio": 2.1}\n')
    assert build_book.source_hash(pkg) != first


# --------------------------------------------------------------------------- on the built book

# chapters that run in seconds to a minute on a CPU: their reader notebooks are executed
SHORT_CHAPTERS = ["book/intro", "book/norm_penalties", "book/sparsity", "book/performance"]


def reader_docs(built_book):
    return [d for d in toc_files() if (built_book / "jupyter_execute" / f"{d}.ipynb").exists()]


def unrendered_in_notebook(nb) -> list[str]:
    return [u for c in nb.cells if c.cell_type == "markdown" for u in myst_check.unrendered_in_markdown(c.source)]


@pytest.mark.slow
@pytest.mark.book
def test_reader_notebooks_are_the_download_and_have_no_raw_myst(built_book):
    found = {}
    for doc in reader_docs(built_book):
        notebook = built_book / "notebooks" / f"{doc}.ipynb"
        download = built_book / "html" / "_sources" / f"{doc}.ipynb"
        assert notebook.read_text() == download.read_text(), f"{doc}: the download is another file"
        nb = nbformat.read(notebook, as_version=4)
        nbformat.validate(nb)
        left = unrendered_in_notebook(nb)
        if left:
            found[doc] = left
        assert re.search(r"regutils @ git\+https://github\.com/[^@]+@[0-9a-f]{40}'", nb.cells[0].source), doc
    assert found == {}, f"unrendered MyST in the reader notebooks: {found}"


def site_outputs(html: str) -> tuple[int, int]:
    """(code cells with outputs, images in them) on a built page."""
    from bs4 import BeautifulSoup

    outputs = BeautifulSoup(html, "html.parser").select("div.cell_output")
    return len(outputs), sum(len(o.find_all("img")) for o in outputs)


def notebook_outputs(nb) -> tuple[int, int]:
    """(code cells with outputs, PNG images in them) of the cells the site shows outputs of."""
    cells = [
        c
        for c in nb.cells[1:]  # not the install cell
        if c.cell_type == "code" and c.outputs and not {"remove-cell", "remove-output"} & set(c.metadata.get("tags", []))
    ]
    return len(cells), sum("image/png" in o.get("data", {}) for c in cells for o in c.outputs)


@pytest.mark.slow
@pytest.mark.book
def test_every_output_on_the_site_is_in_the_reader_notebook(built_book):
    for doc in reader_docs(built_book):
        # the answer key is the page itself, whether its outputs were executed now or cached
        on_site = site_outputs((built_book / "html" / f"{doc}.html").read_text())
        nb = nbformat.read(built_book / "notebooks" / f"{doc}.ipynb", as_version=4)
        assert notebook_outputs(nb) == on_site, f"{doc}: (cells with outputs, images) differ"
        if any(WIDGET in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs):
            assert nb.metadata.get("widgets"), f"{doc}: widget state lost"


WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="session")
def installed_regutils(tmp_path_factory):
    """regutils installed the ordinary way (not editable) into a folder of its own."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (source / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run(["cp", "-r", str(ROOT / "regutils"), str(source / "regutils")], check=True)
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert (target / "regutils" / "data_files" / "bench_cpu.json").is_file()
    return target


@pytest.mark.slow
@pytest.mark.book
@pytest.mark.parametrize("doc", SHORT_CHAPTERS)
def test_short_chapters_run_from_the_reader_notebook(built_book, installed_regutils, tmp_path, monkeypatch, doc):
    from nbclient import NotebookClient

    nb = nbformat.read(built_book / "notebooks" / f"{doc}.ipynb", as_version=4)
    nb.cells[0].source = "pass  # the install cell: no network here"
    nb.cells.append(nbformat.v4.new_code_cell("import regutils\nprint(regutils.__file__)"))
    # the kernel imports the installed copy, ahead of the checkout's editable install
    monkeypatch.setenv("PYTHONPATH", str(installed_regutils))
    monkeypatch.setenv("REGUTILS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REGUTILS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REGUTILS_PROGRESS", "0")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    where = nb.cells[-1].outputs[0]["text"].strip()
    assert Path(where).is_relative_to(installed_regutils), where


def test_outputs_come_from_the_execution_cache_when_the_written_notebook_lacks_them(tmp_path):
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    ran = executed()
    hidden = {"application/papermill.record/text/plain": "6"}
    ran.cells[2].outputs = [
        nbformat.v4.new_output("display_data", data=hidden, metadata={"scrapbook": {"name": "best", "mime_prefix": "application/papermill.record/"}})
    ]
    cache = get_cache(str(tmp_path / "cache"))
    cache.cache_notebook_bundle(CacheBundleIn(ran, "book/chapter.md"), check_validity=False)
    # what myst-nb writes for a page whose outputs came from the cache: the cells, no outputs
    written = nbformat.from_dict(json.loads(json.dumps(ran)))
    for cell in written.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    (tmp_path / "jupyter_execute" / "book").mkdir(parents=True)
    nbformat.write(written, tmp_path / "jupyter_execute" / "book" / "chapter.ipynb")
    nb = reader_notebooks.executed_notebook(tmp_path, "book/chapter", tmp_path / "cache")
    outputs = [c.outputs for c in nb.cells if c.cell_type == "code"]
    assert outputs[0] == ran.cells[1].outputs and outputs[3] == ran.cells[4].outputs
    assert outputs[1] == []  # the glue record the page does not show
    without_cache = reader_notebooks.executed_notebook(tmp_path, "book/chapter", None)
    assert not any(c.outputs for c in without_cache.cells if c.cell_type == "code")
