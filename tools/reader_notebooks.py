"""The reader's notebook of a chapter: what Colab, Binder and the site's .ipynb download give.

One function, :func:`reader_notebook`, turns a chapter's executed notebook
(:func:`executed_notebook`: ``<build>/jupyter_execute/<docname>.ipynb``, with the outputs
merged in from the execution cache when they came from there; no chapter is executed again)
into the notebook a reader gets:

- the outputs are kept (figures, tables, widget state), and each figure's caption, which on
  the site comes from the cell's ``mystnb.figure`` metadata, follows it as a markdown cell,
  numbered as on the site;
- the markdown is translated from MyST (tools/myst_translate.py): glued values filled in with
  myst-nb's formatting rules, citations as author–year text with the reference list at the end,
  dropdowns as ``<details>``, and so on; a short note under the install cell says that the
  numbers come from the published build;
- hidden cells are hidden the notebook way: ``hide-input``/``remove-input`` hide the source
  (``metadata.jupyter.source_hidden``; in Colab, the form view of a ``# @title`` line),
  ``hide-output``/``remove-output`` the outputs; ``remove-cell`` cells are dropped, unless a
  later cell uses a name they define (then they stay, hidden);
- ``from myst_nb import glue`` becomes ``from regutils.publish import glue`` (the same output,
  without Sphinx), so Colab needs nothing but ``regutils``;
- the first cell installs ``regutils`` in Colab, pinned to the commit the site was built from,
  and enables Colab's custom widget manager where the chapter has a slider; a chapter that
  trains a network asks Colab for a GPU.

The same file is written to ``_build/notebooks/<docname>.ipynb`` (pushed to the notebooks
branch for Colab and Binder) and over ``_build/html/_sources/<docname>.ipynb`` (the download).
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Sequence
from pathlib import Path

import myst_translate
from myst_translate import REFERENCES, Context, translate

# A chapter that calls one of these trains a network on MNIST: its notebook asks Colab for a GPU.
NETWORK_API = ("fit", "sweep", "MLP", "load_mnist")
NETWORK_CALL = re.compile(r"\b(?:ru|regutils)\.(?:%s)\b" % "|".join(NETWORK_API))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MYST_NB_GLUE = re.compile(r"^(\s*)from myst_nb import glue\b", re.M)
HIDDEN_TITLE = "# @title Code hidden on the site (double-click to show)"

# Modules chapters import that neither Colab nor regutils' own dependencies provide, and the
# distributions that do (none at present: myst-nb's glue is rewritten, see above).
COLAB_EXTRAS: dict[str, str] = {}


def imported_modules(nb) -> set[str]:
    """Top-level names of the modules the code cells of ``nb`` import."""
    pattern = re.compile(r"^\s*(?:import|from)\s+(\w+)", re.M)
    return {m for c in nb.cells if c.cell_type == "code" for m in pattern.findall(c.source)}


def trains_a_network(nb) -> bool:
    """Whether a code cell of ``nb`` calls the part of ``regutils`` that trains networks."""
    return any(c.cell_type == "code" and NETWORK_CALL.search(c.source) for c in nb.cells)


def has_widgets(nb) -> bool:
    """Whether ``nb`` shows an ipywidget (a slider) in an output."""
    return any(
        WIDGET_MIME in output.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def install_cell_source(requirement: str, extras: Sequence[str] = (), widgets: bool = False) -> str:
    """The first cell: in Colab, pip-install ``requirement`` and ``extras``; elsewhere nothing."""
    packages = [requirement, *extras]
    lines = [
        "# Colab: install this book's `regutils` package, at the version the book was built with.",
        "# Elsewhere (Binder, a local clone) it is installed already, and this cell does nothing.",
        "try:",
        "    import google.colab  # noqa: F401",
        "except ImportError:",
        "    pass",
        "else:",
        "    import subprocess",
        "    import sys",
        "",
        f"    packages = {packages!r}",
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *packages], check=True)',
    ]
    if widgets:
        lines += [
            "    from google.colab import output",
            "",
            "    output.enable_custom_widget_manager()  # the sliders are ipywidgets 8 widgets",
        ]
    return "\n".join(lines)


def pinned_requirement(org: str, repo: str, commit: str) -> str:
    """``regutils`` from GitHub at ``commit`` (a sha or tag: never a moving branch)."""
    if not re.fullmatch(r"[0-9a-f]{40}|v?\d+(?:\.\d+)*", commit):
        raise ValueError(f"not a commit sha or release tag: {commit!r}")
    return f"regutils @ git+https://github.com/{org}/{repo}@{commit}"


# --------------------------------------------------------------------------- the executed chapter


def _hidden_glue(output) -> bool:
    """A ``glue(..., display=False)`` record: on the site it shows nowhere."""
    return bool(output.get("metadata", {}).get("scrapbook", {}).get("mime_prefix"))


def executed_notebook(build_dir: Path, docname: str, cache_dir: Path | None = None):
    """The chapter as the build executed it: ``jupyter_execute/<docname>.ipynb``, with outputs.

    When a page's outputs come from the execution cache, myst-nb renders them but writes the
    notebook without them; they are then merged in from the cache (``cache_dir``, the
    jupyter-cache folder), as myst-nb merged them for the page. Glue records that the page
    does not show (``display=False``) are dropped, as myst-nb drops them.
    """
    import nbformat

    nb = nbformat.read(Path(build_dir) / "jupyter_execute" / f"{docname}.ipynb", as_version=4)
    has_outputs = any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    if cache_dir is not None and Path(cache_dir).is_dir() and not has_outputs:
        from jupyter_cache import get_cache

        try:
            _, nb = get_cache(str(cache_dir)).merge_match_into_notebook(nb)
        except KeyError:
            pass  # not in the cache: the notebook as written
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not _hidden_glue(o)]
    return nb


# --------------------------------------------------------------------------- code cells


def _code_names(source: str) -> tuple[set[str], set[str]] | None:
    """``(defined, used)`` names of a code cell; None when it cannot be parsed."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ImportError, ValueError):
        return None
    defined, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return defined, used


def removed_cells(cells) -> set[int]:
    """Indices of the ``remove-cell`` code cells that no later kept cell needs."""
    needed, removed = set(), set()
    for i in range(len(cells) - 1, -1, -1):
        cell = cells[i]
        if cell.cell_type != "code":
            continue
        names = _code_names(cell.source)
        tags = cell.metadata.get("tags", [])
        if "remove-cell" in tags and names is not None and not (names[0] & needed):
            removed.add(i)
            continue
        needed |= names[1] if names else set()
    return removed


def hide(cell, source: bool = False, outputs: bool = False) -> None:
    """Hide a cell's source and/or outputs in Jupyter (and its source in Colab's form view)."""
    if source or outputs:
        jupyter = cell.metadata.setdefault("jupyter", {})
    if source:
        jupyter["source_hidden"] = True
        cell.metadata["cellView"] = "form"
        if not cell.source.startswith("# @title"):
            cell.source = f"{HIDDEN_TITLE}\n{cell.source}"
    if outputs:
        jupyter["outputs_hidden"] = True


def reader_code_cell(cell) -> None:
    """Hide what the site hides, and glue without myst-nb."""
    tags = set(cell.metadata.get("tags", []))
    cell.source = MYST_NB_GLUE.sub(r"\1from regutils.publish import glue", cell.source)
    hide(
        cell,
        source=bool(tags & {"hide-input", "remove-input", "remove-cell", "hide-cell"}),
        outputs=bool(tags & {"hide-output", "remove-output", "remove-cell", "hide-cell"}),
    )


def caption_cell(ctx: Context, cell):
    """The markdown cell that shows a figure cell's caption (``mystnb.figure``), or None."""
    import nbformat

    figure = cell.metadata.get("mystnb", {}).get("figure", {})
    if not figure.get("caption"):
        return None
    name = figure.get("name")
    number = ctx.fignumbers.get(name) if name else None
    caption = translate(ctx, figure["caption"])
    text = f"**Figure {number}.** {caption}" if number else caption
    if name:
        text = f'<a id="{name}"></a>\n\n{text}'
    return nbformat.v4.new_markdown_cell(text)


# --------------------------------------------------------------------------- the notebook


def build_note(ctx: Context, commit: str) -> str:
    """The note under the install cell: where the outputs and numbers come from."""
    page = f"{ctx.site_url}{ctx.docname}.html" if ctx.site_url else f"{ctx.docname}.html"
    title = ctx.titles.get(ctx.docname, ctx.docname)
    return (
        f"*This notebook is the chapter [{title}]({page}) as the book's build executed it, "
        f"at commit `{commit[:12]}`: the outputs and the numbers in the text are that build's. "
        "Running the cells computes them again.*"
    )


def _references_cell(ctx: Context):
    import nbformat

    return nbformat.v4.new_markdown_cell("## References\n\n" + REFERENCES)


def translate_cells(ctx: Context, cells) -> list:
    """The chapter's cells for the reader: MyST translated, hidden cells hidden, captions added."""
    removed = removed_cells(cells)
    out = []
    for i, cell in enumerate(cells):
        if i in removed:
            continue
        if cell.cell_type == "markdown":
            cell.source = translate(ctx, cell.source)
            cell.metadata.pop("mystnb", None)
            out.append(cell)
        elif cell.cell_type == "code":
            reader_code_cell(cell)
            out.append(cell)
            caption = caption_cell(ctx, cell)
            if caption is not None:
                out.append(caption)
        else:
            out.append(cell)
    if ctx.cited and not any(REFERENCES in c.source for c in out if c.cell_type == "markdown"):
        out.append(_references_cell(ctx))
    listing = myst_translate.references(ctx)
    for cell in out:
        if cell.cell_type == "markdown" and REFERENCES in cell.source:
            cell.source = cell.source.replace(REFERENCES, listing)
    return out


def number_figures(ctx: Context, cells) -> None:
    """Figures the site did not number (a partial build) get this notebook's own order."""
    for cell in cells:
        name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
        if name and name not in ctx.fignumbers:
            ctx.fignumbers[name] = str(len(ctx.fignumbers) + 1)


def reader_notebook(executed, ctx: Context, *, requirement: str, commit: str, colab_name: str):
    """The reader's notebook of the executed chapter ``executed`` (not modified)."""
    import nbformat

    nb = copy.deepcopy(executed)
    prefix = re.search(r":keyprefix:\s*(\S+)", "\n".join(c.source for c in nb.cells))
    ctx.keyprefix = prefix.group(1) if prefix else ""
    number_figures(ctx, nb.cells)
    widgets = has_widgets(nb)
    extras = sorted(COLAB_EXTRAS[m] for m in imported_modules(nb) & COLAB_EXTRAS.keys())
    cells = translate_cells(ctx, nb.cells)
    install = nbformat.v4.new_code_cell(
        install_cell_source(requirement, extras, widgets), metadata={"tags": ["remove-cell"]}
    )
    note = nbformat.v4.new_markdown_cell(build_note(ctx, commit))
    nb.cells = [install, note, *cells]
    for key in ("jupytext", "source_map"):
        nb.metadata.pop(key, None)
    colab = {"name": colab_name, "provenance": []}
    if trains_a_network(nb):
        nb.metadata["accelerator"] = "GPU"
        colab["gpuType"] = "T4"
    nb.metadata["colab"] = colab
    for i, cell in enumerate(nb.cells):  # stable ids: the file changes only when the chapter does
        cell["id"] = f"cell-{i}"
    nbformat.validate(nb)
    return nb
