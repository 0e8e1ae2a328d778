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
  later cell reads a name they define before defining it itself (then they stay, hidden);
- ``from myst_nb import glue`` becomes ``from regutils.publish import glue`` (the same output,
  without Sphinx), so Colab needs nothing but ``regutils``;
- the first cell installs ``regutils`` where it is missing (Colab, or the notebook downloaded
  on its own), pinned to the commit the site was built from, and enables Colab's custom widget
  manager where the chapter has a slider; a chapter that trains a network asks Colab for a GPU.

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

# Methods that change their object in place (list, dict, set); torch's in-place methods are
# told by their trailing "_" (add_, requires_grad_).
IN_PLACE = frozenset(
    "append extend insert remove pop clear sort reverse update setdefault popitem add discard".split()
)

# Calls that draw from (or seed) a library's global random generator, by dotted name. A
# cell that draws changes what every later draw gets, as a cell that appends to a list
# changes the list: the generator is a name ("<torch rng>") that such a call reads and
# changes, and that seeding binds.
GLOBAL_RNG = {
    "torch": ("<torch rng>", "manual_seed", frozenset(
        "rand randn randint randperm normal bernoulli multinomial poisson rand_like randn_like"
        " randint_like".split())),
    "np.random": ("<numpy rng>", "seed", None),  # every function but the generator classes
    "numpy.random": ("<numpy rng>", "seed", None),
    "random": ("<random rng>", "seed", frozenset(
        "random randint randrange choice choices shuffle sample uniform gauss normalvariate"
        " getrandbits".split())),
}
NUMPY_GENERATORS = frozenset(
    "default_rng Generator RandomState SeedSequence BitGenerator PCG64 PCG64DXSM MT19937 Philox"
    " SFC64".split()
)


def _global_rng(func) -> tuple[str, bool] | None:
    """``(generator name, seeds?)`` when ``func`` is a global-generator call, else None."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name) or not parts:
        return None
    *owner, attr = [func.id, *reversed(parts)]
    entry = GLOBAL_RNG.get(".".join(owner))
    if entry is None:
        return None
    name, seed, draws = entry
    if attr == seed:
        return name, True
    if (attr in draws) if draws is not None else attr not in NUMPY_GENERATORS:
        return name, False
    return None


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
    """The first cell: pip-install ``requirement`` and ``extras`` where ``regutils`` is missing
    (Colab, or the notebook downloaded on its own), and in Colab, where the chapter has a
    slider, turn on Colab's widget manager; where ``regutils`` is installed (Binder, a clone
    of the book) it installs nothing."""
    packages = [requirement, *extras]
    lines = [
        "# Installs this book's `regutils` package, at the version the book was built with, where",
        "# it is missing (Colab, or this notebook downloaded on its own); where it is installed",
        "# already (Binder, a clone of the book) this cell installs nothing.",
        "import importlib.util",
        "import subprocess",
        "import sys",
        "",
        'if importlib.util.find_spec("regutils") is None:',
        f"    packages = {packages!r}",
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *packages], check=True)',
        "    importlib.invalidate_caches()",
    ]
    if widgets:
        lines += [
            "try:",
            "    from google.colab import output",
            "except ImportError:",
            "    pass  # Jupyter shows the sliders as they are",
            "else:",
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


class _Names(ast.NodeVisitor):
    """One pass over a block of code in the order Python runs it: the names it binds
    (``bound``), those it reads before binding them (``free``), and the globals that its
    functions read whenever they are called (``late``).

    ``x[k] = …``, ``x.a = …`` and ``x += …`` read ``x`` and change it: they count as both.
    So does a call of a method that changes its object in place (``x.append(…)``, torch's
    ``x.add_(…)``): those names are also in ``changed``, and a module's name (``imported``)
    is never changed that way (``np.add`` is a function). A draw from a library's global
    random generator (``torch.randn``, ``np.random.normal``) reads and changes that generator
    (:data:`GLOBAL_RNG`), and seeding it binds it. A comprehension's variables stay inside it;
    so do a function's parameters and locals. Other side effects (draws inside a library
    call, such as a dropout layer in training mode; files) are not seen.
    """

    def __init__(self, bound=()):
        self.bound, self.free, self.late = set(bound), set(), set()
        self.changed, self.imported = set(), set()

    def read(self, name: str) -> None:
        if name not in self.bound:
            self.free.add(name)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.read(node.id)
        else:
            self.bound.add(node.id)

    def bind(self, target) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind(element)
        elif isinstance(target, ast.Starred):
            self.bind(target.value)
        elif isinstance(target, ast.Name):
            self.bound.add(target.id)
        else:  # a subscript or attribute: the object it belongs to is read, then changed
            self.visit(target)
            base = target
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                self.bound.add(base.id)

    def visit_Assign(self, node):
        self.visit(node.value)
        for target in node.targets:
            self.bind(target)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)
        self.bind(node.target)

    def visit_AugAssign(self, node):
        if isinstance(node.target, ast.Name):
            self.read(node.target.id)
        self.visit(node.value)
        self.bind(node.target)

    def visit_NamedExpr(self, node):
        self.visit(node.value)
        self.bind(node.target)

    def _branches(self, *branches) -> None:
        """Blocks of which one runs: a name is bound after them only if each of them binds it
        (a loop's body, which may not run at all, is one block beside an empty one)."""
        before, after = set(self.bound), []
        for block in branches:
            self.bound = set(before)
            for statement in block:
                self.visit(statement)
            after.append(self.bound)
        self.bound = before | set.intersection(*after)

    def visit_If(self, node):
        self.visit(node.test)
        self._branches(node.body, node.orelse)

    def visit_While(self, node):
        self.visit(node.test)
        self._branches(node.body + node.orelse, [])

    def visit_For(self, node):
        self.visit(node.iter)
        before = set(self.bound)
        self.bind(node.target)  # at each pass; a loop that does not run binds not even that
        self._branches(node.body + node.orelse, [])
        self.bound = before

    visit_AsyncFor = visit_For

    def visit_Try(self, node):
        self._branches(node.body + node.orelse, *([handler] for handler in node.handlers))
        for statement in node.finalbody:
            self.visit(statement)

    visit_TryStar = visit_Try

    def visit_withitem(self, node):
        self.visit(node.context_expr)
        if node.optional_vars is not None:
            self.bind(node.optional_vars)

    def visit_ExceptHandler(self, node):
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.bound.add(node.name)
        for statement in node.body:
            self.visit(statement)

    def visit_Import(self, node):
        names = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        self.bound |= names
        self.imported |= names

    visit_ImportFrom = visit_Import

    def visit_Call(self, node):
        self.generic_visit(node)
        rng = _global_rng(node.func)
        if rng is not None:
            name, seeds = rng
            if seeds:
                self.bound.add(name)
            else:
                self.read(name)
                self.changed.add(name)
        method = node.func
        if isinstance(method, ast.Attribute) and isinstance(method.value, ast.Name):
            if method.attr in IN_PLACE or re.fullmatch(r"[a-z]\w*[a-z0-9]_", method.attr):
                self.changed.add(method.value.id)

    def _inner(self, inner: "_Names") -> None:
        self.free |= {name for name in inner.free if name not in self.bound}
        self.late |= inner.late
        self.changed |= inner.changed - inner.bound

    def _function(self, node) -> None:
        args = node.args
        annotations = [a.annotation for a in ast.walk(args) if isinstance(a, ast.arg) and a.annotation]
        for expr in [*args.defaults, *filter(None, args.kw_defaults), *getattr(node, "decorator_list", [])]:
            self.visit(expr)
        for expr in [*annotations, getattr(node, "returns", None)]:
            if expr is not None:
                self.visit(expr)
        body = node.body if isinstance(node.body, list) else [node.body]
        nodes = [n for statement in body for n in ast.walk(statement)]
        declared = {name for n in nodes if isinstance(n, (ast.Global, ast.Nonlocal)) for name in n.names}
        local = {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        params = {a.arg for a in ast.walk(args) if isinstance(a, ast.arg)}
        inner = _Names(params | (local - declared))
        for statement in body:
            inner.visit(statement)
        self.late |= inner.free | inner.late
        self._inner(inner)

    def visit_FunctionDef(self, node):
        self._function(node)
        self.bound.add(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = _function

    def visit_ClassDef(self, node):
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        inner = _Names()
        for statement in node.body:
            inner.visit(statement)
        self._inner(inner)
        self.bound.add(node.name)

    def _comprehension(self, generators, results) -> None:
        self.visit(generators[0].iter)  # the first iterable is evaluated outside
        inner = _Names()
        for i, generator in enumerate(generators):
            if i:
                inner.visit(generator.iter)
            inner.bind(generator.target)
            for condition in generator.ifs:
                inner.visit(condition)
        for result in results:
            inner.visit(result)
        self._inner(inner)

    def visit_ListComp(self, node):
        self._comprehension(node.generators, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        self._comprehension(node.generators, [node.key, node.value])


def _code_names(source: str) -> _Names | None:
    """The names a code cell binds and reads (:class:`_Names`); None when it cannot be
    analysed: it does not parse, or it runs an IPython magic, whose code is a string."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ImportError, ValueError):
        return None
    if any(isinstance(n, ast.Name) and n.id == "get_ipython" for n in ast.walk(tree)):
        return None
    names = _Names()
    for statement in tree.body:
        names.visit(statement)
    return names


def removed_cells(cells) -> set[int]:
    """Indices of the ``remove-cell`` code cells that no kept cell needs.

    A later kept cell needs a cell when it reads a name that the cell binds (or changes)
    before it is sure to have bound it itself; a function of any cell needs the globals it
    reads. A cell that cannot be analysed is kept, and keeps every ``remove-cell`` before it.
    """
    code = {i: _code_names(c.source) for i, c in enumerate(cells) if c.cell_type == "code"}
    analysed = [names for names in code.values() if names is not None]
    late = set().union(*(names.late for names in analysed))
    modules = set().union(*(names.imported for names in analysed))
    needed, need_all, removed = set(), False, set()
    for i in sorted(code, reverse=True):
        names = code[i]
        removable = "remove-cell" in cells[i].metadata.get("tags", []) and names is not None
        if removable and not need_all and not (names.bound | (names.changed - modules)) & (needed | late):
            removed.add(i)
            continue
        if names is None:
            need_all = True
        else:
            needed |= names.free
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
            cell.source = myst_translate.place_references(cell.source, listing)
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
