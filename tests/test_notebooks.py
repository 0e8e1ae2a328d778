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
        parts={},  # not the book's _toc.yml
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


def rendered_text(markdown: str) -> str:
    """What a reader sees of ``markdown``: CommonMark (markdown-it, as Jupyter renders it), as text."""
    import html

    from markdown_it import MarkdownIt

    return html.unescape(re.sub(r"<[^>]+>", "", MarkdownIt("commonmark").render(markdown))).strip()


def test_citations_decode_latex_in_names_and_keep_markdown_escapes(tmp_path):
    ctx = context()
    assert myst_translate.translate(ctx, "{cite}`meinshausen2010stability`") == "(Meinshausen and Bühlmann, 2010)"
    bib = tmp_path / "x.bib"
    bib.write_text(
        "@article{m2008, author = {van der Maaten, Laurens and Hinton, Geoffrey}, year = {2008},\n"
        "  title = {Stars *and* x_1}, journal = {J}}\n"
    )
    ctx = context(bibliography=myst_translate.read_bibliography([bib]))
    # the site's author-year style writes the "von" part: van der Maaten and Hinton, 2008
    assert myst_translate.translate(ctx, "{cite:t}`m2008`") == "van der Maaten and Hinton (2008)"
    assert "Stars *and* x_1" in rendered_text(myst_translate.references(ctx))  # shown as written


def test_a_bibliography_after_a_list_does_not_continue_it():
    from markdown_it import MarkdownIt

    ctx = context()
    myst_translate.translate(ctx, "{cite}`hoerl1970ridge`")
    cell = myst_translate.translate(ctx, "- one\n- two\n\n```{bibliography}\n```")
    cell = myst_translate.place_references(cell, myst_translate.references(ctx))
    lists = [t for t in MarkdownIt("commonmark").parse(cell) if t.type == "bullet_list_open"]
    assert len(lists) == 2 and "**References**" in cell  # two lists, one of the references
    headed = myst_translate.place_references("## References\n\n" + myst_translate.REFERENCES, "- a ref")
    assert headed == "## References\n\n- a ref"


@pytest.mark.parametrize("value", ["a *b* c", "__init__", "<b>not bold</b>", "`a`", "weight_decay=3"])
def test_glued_text_is_shown_as_it_is(value):
    ctx = context(glue={"v": glued(repr(value))})
    text = myst_translate.translate(ctx, "It is {glue:text}`v`.")
    assert rendered_text(text) == f"It is {value}."  # the answer key: a CommonMark renderer
    assert "\\" not in myst_translate.translate(context(glue={"v": glued("'weight_decay'")}), "{glue:}`v`")


def test_dollars_in_glued_text_start_no_math():
    # Jupyter and Colab read $…$ as math before markdown; an escaped \$ is a dollar
    text = myst_translate.translate(context(glue={"v": glued("'from $5 to $6'")}), "{glue:text}`v`")
    assert text == "from \\$5 to \\$6"


def test_admonitions_read_as_myst_reads_them():
    from docutils.core import publish_doctree
    from myst_parser.parsers.docutils_ import Parser

    source = "```{note} First line\nsecond line.\n```"
    # the answer key: myst-parser itself: a note has no title, the first line is its body
    tree = publish_doctree(source, parser=Parser(), settings_overrides={"report_level": 5})
    assert tree.children[0].tagname == "note"
    assert myst_translate.translate(context(), source) == "> **Note**\n>\n> " + tree.children[0].astext().replace(
        "\n", "\n> "
    )
    solution = myst_translate.translate(context(), ":::{solution} ex-1\n:class: dropdown\n:label: sol-1\nDone.\n:::")
    assert solution.startswith('<a id="sol-1"></a>\n\n<details>\n<summary>Solution</summary>')
    dropdown = myst_translate.translate(context(), ":::{dropdown} Why `p` *matters*\nBecause.\n:::")
    assert "<summary>Why <code>p</code> <em>matters</em></summary>" in dropdown  # HTML: no markdown there


def test_labelled_equations_are_numbered_and_linked():
    ctx = context(fignumbers={"eq-ridge": "2", "eq-lasso": "3"}, labels={})
    text = myst_translate.translate(
        ctx,
        "$$\nL = \\lVert r\\rVert^2\n$$ (eq-ridge)\n\n"
        "```{math}\n:label: eq-lasso\n\\begin{align} a &= b \\end{align}\n```\n\n"
        "By {eq}`eq-ridge` and {eq}`eq-lasso`.",
    )
    assert '<a id="eq-ridge"></a>\n\n$$\nL = \\lVert r\\rVert^2 \\tag{2}\n$$' in text
    assert '<a id="eq-lasso"></a>\n\n$$\n\\begin{align} a &= b \\end{align}\n$$' in text  # numbers itself
    assert "By [(2)](#eq-ridge) and [(3)](#eq-lasso)." in text
    assert myst_check.unrendered_in_markdown(text) == []


def test_references_to_pages_without_a_notebook_keep_their_anchor():
    ctx = context(labels={"api-cache": ("book/api", "api-cache", "The cache")})
    assert myst_translate.translate(ctx, "{ref}`api-cache`") == (
        "[The cache](https://someone.github.io/book/book/api.html#api-cache)"
    )


def test_table_of_contents_under_the_parts_captions(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: book/intro\nparts:\n  - caption: Linear\n    chapters:\n"
        "      - file: book/chapter\n      - file: book/other\n  - caption: Appendix\n"
        "    chapters:\n      - file: book/api\n"
    )
    parts = myst_translate.toc_parts(toc)
    assert parts == {"book/chapter": "Linear", "book/other": "Linear", "book/api": "Appendix"}
    toc_md = myst_translate.translate(context(docname="book/intro", parts=parts), "```{tableofcontents}\n```")
    assert toc_md == (
        "**Linear**\n\n- [A chapter](chapter.ipynb)\n- [Other](other.ipynb)\n\n"
        "**Appendix**\n\n- [API](https://someone.github.io/book/book/api.html)"
    )


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


def code_cells(*sources):
    """Code cells; a source starting with "#remove" is tagged remove-cell."""
    return [
        nbformat.v4.new_code_cell(src, metadata={"tags": ["remove-cell"]} if src.startswith("#remove") else {})
        for src in sources
    ]


@pytest.mark.parametrize(
    "cells, removed",
    [
        # a later cell that binds a name before reading it does not need the earlier one
        (["#remove\nr, k = 1, 2", "for r in range(3):\n    print(r)", "print([k for k in 'ab'])"], {0}),
        (["#remove\nx = 1", "x = 2\nprint(x)", "def f(x):\n    return x"], {0}),
        (["#remove\ntotal = 0", "total += 1"], set()),  # += reads the name first
        # a name bound in one branch, or in a loop that may not run, may come from before
        (["#remove\nx = 1", "if flag:\n    x = 2\nprint(x)"], set()),
        (["#remove\nx = 1", "if flag:\n    x = 2\nelse:\n    x = 3\nprint(x)"], {0}),
        (["#remove\nlast = 0", "for r in rows:\n    last = r\nprint(last)"], set()),
        (["#remove\nn = 0", "try:\n    n = f()\nexcept ValueError:\n    pass\nprint(n)"], set()),
        (["results = {}", "#remove\nresults['a'] = 1", "print(results['a'])"], set()),  # changes it
        (["#remove\nrows = []", "#remove\nrows.append(1)", "print(rows)"], set()),
        (["net = f()", "#remove\nnet.requires_grad_(False)", "net(1)"], set()),  # torch in place
        (["import numpy as np", "#remove\nnp.add(1, 2)", "print(np.pi)"], {1}),  # a module's function
        # a function reads its globals when called, after the cell that defines them
        (["def say():\n    return WORDS[0]", "#remove\nWORDS = ['one']", "say()"], set()),
        (["#remove\nfrom typing import Sequence", "def f(x: Sequence) -> None:\n    pass"], set()),
        (["#remove\nn = 3", "%time m = n"], set()),  # a magic's code is a string: kept
        (["#remove\nn = 3", "y = [n for _ in range(2)]"], set()),  # read inside a comprehension
        (["#remove\nn = 3", "#remove\nm = 4", "print(m)"], {0}),
        # a draw from a global generator changes every later draw; seeding starts afresh
        (["#remove\nx = torch.randn(3)", "y = torch.randn(3)"], set()),
        (["#remove\nx = torch.randn(3)", "torch.manual_seed(0)\ny = torch.rand(3)"], {0}),
        (["#remove\nnp.random.shuffle(a)", "b = np.random.normal(size=3)"], set()),
        (["#remove\nrng = np.random.default_rng(0)", "b = np.random.default_rng(1).normal()"], {0}),
        (["#remove\nz = random.random()", "def f():\n    return random.choice('ab')"], set()),
        (["#remove\nx = torch.randn(3)", "y = torch.zeros(3)"], {0}),
    ],
)
def test_removed_cells_are_those_no_later_cell_reads(cells, removed):
    assert reader_notebooks.removed_cells(code_cells(*cells)) == removed


def run_install_cell(source, monkeypatch, *, installed: bool, colab: bool) -> list:
    """Run an install cell where ``regutils`` is (not) installed, in (or outside) Colab; the
    calls it makes: ``("pip", argv)`` and ``"widgets"``."""
    import importlib.util

    calls = []
    find_spec = importlib.util.find_spec
    missing = set() if installed else {"regutils"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else find_spec(name, *a))
    monkeypatch.setattr(subprocess, "run", lambda argv, **k: calls.append(("pip", argv, k)))
    if colab:
        google = types.ModuleType("google")
        google.colab = types.ModuleType("google.colab")
        google.colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widgets"))
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    else:
        monkeypatch.setitem(sys.modules, "google.colab", None)  # import google.colab fails
    exec(compile(source, "install-cell", "exec"), {})
    return calls


@pytest.mark.parametrize("colab", [True, False], ids=["colab", "download"])
def test_install_cell_installs_the_pinned_commit_where_regutils_is_missing(monkeypatch, colab):
    source = reader().cells[0].source
    # Binder or a clone of the book: regutils is there, nothing is installed
    assert run_install_cell(source, monkeypatch, installed=True, colab=colab) == []
    # Colab, or the site's .ipynb download run elsewhere: regutils is missing
    [(pip, argv, kwargs)] = run_install_cell(source, monkeypatch, installed=False, colab=colab)
    assert argv[1:4] == ["-m", "pip", "install"]
    assert argv[-1] == f"regutils @ git+https://github.com/someone/book@{SHA}"  # no myst-nb
    assert kwargs == {"check": True}
    with pytest.raises(ValueError, match="not a commit"):
        reader_notebooks.pinned_requirement("someone", "book", "notebooks")


def test_sliders_enable_colab_widgets_and_networks_ask_for_a_gpu(monkeypatch):
    nb = executed(CHAPTER.replace("x = 1", "x = 1\nhistory = ru.fit(model, data)"))
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "m", "version_major": 2, "version_minor": 0}}
    nb.cells[1].outputs.append(nbformat.v4.new_output("display_data", data={**widget, "text/plain": "w"}))
    out = reader(nb)
    assert out.metadata["accelerator"] == "GPU" and out.metadata["colab"]["gpuType"] == "T4"
    assert run_install_cell(out.cells[0].source, monkeypatch, installed=True, colab=True) == ["widgets"]
    assert run_install_cell(out.cells[0].source, monkeypatch, installed=True, colab=False) == []
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


def markdown_of(nb) -> str:
    """The markdown cells of ``nb`` without their fenced code."""
    cells = [c.source for c in nb.cells if c.cell_type == "markdown"]
    return "\n\n".join(re.sub(r"^```.*?^```", "", c, flags=re.S | re.M) for c in cells)


def site_figures_and_citations(html: str):
    """On a built page: (figure id, number) in order, the author-year citations, the captions
    of the table of contents."""
    from collections import Counter

    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    numbered = [(f, f.select_one(".caption-number")) for f in soup.select("figure")]
    figures = [
        (f.get("id") or f.find_parent(id=True)["id"], number.get_text().split()[-1].rstrip("."))
        for f, number in numbered
        if number
    ]
    cited = [s.get_text().strip("[]") for s in soup.select("span.bibtex-citation")]
    citations = Counter(item for text in cited for item in re.split(r"(?<=\d{4}), ", text))
    captions = [c.get_text().strip() for c in soup.select("article .toctree-wrapper p.caption")]
    return figures, citations, captions


def notebook_figures_and_citations(nb):
    """The same three read off a reader notebook's markdown."""
    from collections import Counter

    md = markdown_of(nb)
    figures = re.findall(r'<a id="([^"]+)"></a>\s*\*\*Figure ([\d.]+)\.\*\*', md)
    parenthetical = re.findall(r"\(([^()]*?, \d{4})\)", md)
    citations = Counter(i for text in parenthetical for i in text.split("; ") if re.fullmatch(r"\D+, \d{4}", i))
    captions = re.findall(r"^\*\*([^*]+)\*\*$", md, re.M)
    return figures, citations, captions


@pytest.mark.slow
@pytest.mark.book
def test_reader_notebooks_number_cite_and_list_as_the_site_does(built_book):
    from markdown_it import MarkdownIt

    references = {text for _, text in myst_translate.read_bibliography([BIB]).values()}
    for doc in reader_docs(built_book):
        nb = nbformat.read(built_book / "notebooks" / f"{doc}.ipynb", as_version=4)
        figures, citations, captions = site_figures_and_citations((built_book / "html" / f"{doc}.html").read_text())
        ours = notebook_figures_and_citations(nb)
        # the answer key is the page: figure numbers, citations (names LaTeX-decoded) and parts
        assert ours[0] == figures, f"{doc}: figures and their numbers differ from the page's"
        assert ours[1] == citations, f"{doc}: citations differ from the page's"
        assert set(captions) <= set(ours[2]), f"{doc}: the contents lack the page's captions {captions}"
        # a reference list is a list of its own, not the last items of the list before it
        for cell in (c.source for c in nb.cells if c.cell_type == "markdown"):
            lines, items = cell.splitlines(), []
            for token in MarkdownIt("commonmark").parse(cell):
                if token.type in ("bullet_list_open", "ordered_list_open") and token.level == 0:
                    items.append([])
                elif token.type == "list_item_open" and token.level == 1:
                    items[-1].append(lines[token.map[0]][2:] in references)
            assert all(len(set(kinds)) == 1 for kinds in items), f"{doc}: references continue a list"


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
