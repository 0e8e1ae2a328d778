"""Sphinx extension for the reader's side of the site; `_config.yml` loads it from ``tools/``.

Two jobs:

**The site serves its own scripts, styles and fonts.** By default MyST-NB loads require.js and
``@jupyter-widgets/html-manager`` from CDNs, and Sphinx loads MathJax from one; offline, or
during an outage, the widgets vanish and the math stays TeX. The npm packages in
``package.json`` (installed into ``node_modules/`` by ``make setup``) hold those files. At
``config-inited`` this extension points ``nb_ipywidgets_js`` and ``mathjax_path`` (both relative
to ``_static/``) at ``_static/vendor/...``; at ``build-finished`` it copies the files there.
They are copied into the *output*, not into the book's own ``_static/`` folder, because Jupyter
Book adds every script in that folder to every page, and a script both there and in
``nb_ipywidgets_js`` loads twice (each widget then renders twice). Without ``node_modules/``
the defaults (CDNs) stay, and the build says so in a message (not a warning: the book is built
with ``-W``).

A small generated script (``vendor/widgets-setup.js``) runs between require.js and
``embed-amd.js``: it maps html-manager's require.js module path to where the package is served
(html-manager finds its fonts relative to that), and gives MathJax 3 the ``MathJax.Hub.Queue``
of MathJax 2 that the widget views call to typeset their labels.

**Every chapter has a notebook for Colab and Binder.** Colab opens only ``.ipynb`` files, from
GitHub. A generated ``.ipynb`` beside its ``.md`` source would make Sphinx find two files for one
document, so the build writes them to ``_build/notebooks/<docname>.ipynb`` instead, and the
publishing workflow pushes them, on top of the published commit, to the ``notebooks_branch``
branch (``book/<chapter>.ipynb`` beside ``book/<chapter>.md``). The page's Colab and Binder
buttons are pointed at that branch. Each generated notebook starts with a cell (tagged
``remove-cell``; it exists only in the generated notebook) that installs ``regutils`` from that
branch when it runs in Colab; chapters that train a network ask Colab for a GPU; relative image
paths are made absolute so that images load in Colab too.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
VENDOR = "vendor"  # the folder under _static/ that receives the copied files

HTML_MANAGER = "@jupyter-widgets/html-manager"
REQUIRE_JS = f"{VENDOR}/require.js"
WIDGETS_SETUP_JS = f"{VENDOR}/widgets-setup.js"  # generated, see widgets_setup_source()
EMBED_AMD_JS = f"{VENDOR}/{HTML_MANAGER}/dist/embed-amd.js"
MATHJAX_JS = f"{VENDOR}/mathjax/tex-mml-chtml.js"  # the bundle Sphinx's own default names
CDN = "https://cdn.jsdelivr.net/npm"
FONT_SUFFIXES = {".woff2", ".woff", ".ttf", ".eot", ".svg"}
# MathJax loads its extensions, fonts and menu components on demand relative to the bundle, so
# its whole es5/ folder is served, except the other combined bundles, which nothing loads.
MATHJAX_UNUSED = {
    "mml-chtml.js",
    "mml-svg.js",
    "node-main.js",
    "tex-chtml.js",
    "tex-chtml-full.js",
    "tex-chtml-full-speech.js",
    "tex-svg.js",
    "tex-svg-full.js",
    "tex-mml-svg.js",
}

# A chapter that calls one of these trains a network on MNIST: its notebook asks Colab for a GPU.
NETWORK_API = ("fit", "sweep", "MLP", "load_mnist")
NETWORK_CALL = re.compile(r"\b(?:ru|regutils)\.(?:%s)\b" % "|".join(NETWORK_API))


# --------------------------------------------------------------------------- vendored assets


def pinned_versions(package_json: Path = ROOT / "package.json") -> dict[str, str]:
    """The exact npm versions ``package.json`` pins (readable without npm: the CDN fallback)."""
    return json.loads(package_json.read_text())["dependencies"]


def vendored_files(node_modules: Path = NODE_MODULES) -> dict[str, Path] | None:
    """Map each path under ``_static/`` to the installed file it is copied from.

    Returns None when any of the three npm packages is not installed.
    """
    require = node_modules / "requirejs" / "require.js"
    manager = node_modules / HTML_MANAGER / "dist"
    mathjax = node_modules / "mathjax" / "es5"
    if not (require.is_file() and (manager / "embed-amd.js").is_file() and mathjax.is_dir()):
        return None
    files = {REQUIRE_JS: require, EMBED_AMD_JS: manager / "embed-amd.js"}
    for font in sorted(manager.iterdir()):
        if font.suffix in FONT_SUFFIXES:
            files[f"{VENDOR}/{HTML_MANAGER}/dist/{font.name}"] = font
    for path in sorted(mathjax.rglob("*")):
        rel = path.relative_to(mathjax).as_posix()
        if path.is_file() and rel not in MATHJAX_UNUSED:
            files[f"{VENDOR}/mathjax/{rel}"] = path
    return files


def widgets_setup_source(manager_url: str | None) -> str:
    """The script that runs after require.js and before html-manager's ``embed-amd.js``.

    ``manager_url`` is where the html-manager package is served; None means beside this script.
    """
    target = "null" if manager_url is None else json.dumps(manager_url)
    return f"""\
// Generated by tools/site_assets.py; loaded after require.js, before embed-amd.js.
(function () {{
  // html-manager finds its fonts relative to the require.js URL of its own module
  // "@jupyter-widgets/html-manager/dist/libembed-amd"; without this mapping that URL is
  // relative to the page, and the fonts are not found.
  var manager = {target} || document.currentScript.src.replace(/[^/]*$/, "") + "{HTML_MANAGER}";
  window.requirejs.config({{paths: {{"{HTML_MANAGER}": manager}}}});

  // Widget labels are typeset with MathJax 2's MathJax.Hub.Queue, which MathJax 3 (the one
  // Sphinx loads) does not have: without this, rendering a widget throws a TypeError.
  function queue(job) {{
    var mathjax = window.MathJax;
    if (mathjax && mathjax.typesetPromise && mathjax.startup) {{
      mathjax.startup.promise.then(function () {{ return mathjax.typesetPromise([job[2]]); }});
    }}
  }}
  var config = window.MathJax = window.MathJax || {{}};
  config.Hub = {{Queue: queue}};
  // MathJax 3 replaces window.MathJax when it starts; put the shim back on the new object.
  var startup = config.startup = config.startup || {{}};
  var ready = startup.ready;
  startup.ready = function () {{
    if (ready) {{ ready(); }} else {{ window.MathJax.startup.defaultReady(); }}
    window.MathJax.Hub = {{Queue: queue}};
  }};
}})();
"""


def script_urls(served: bool, versions: dict[str, str]) -> tuple[dict[str, dict], str]:
    """``(nb_ipywidgets_js, mathjax_path)``: the served copies, or the same versions on a CDN."""
    if served:
        return {REQUIRE_JS: {}, WIDGETS_SETUP_JS: {}, EMBED_AMD_JS: {}}, MATHJAX_JS
    manager = f"{CDN}/{HTML_MANAGER}@{versions[HTML_MANAGER]}"
    widgets = {
        f"{CDN}/requirejs@{versions['requirejs']}/require.js": {"crossorigin": "anonymous"},
        WIDGETS_SETUP_JS: {},
        f"{manager}/dist/embed-amd.js": {"crossorigin": "anonymous"},
    }
    return widgets, f"{CDN}/mathjax@{versions['mathjax']}/es5/tex-mml-chtml.js"


def copy_vendored(files: dict[str, Path] | None, static: Path, versions: dict[str, str]) -> None:
    """Copy ``files`` (from :func:`vendored_files`) under ``static``; write the setup script.

    With ``files`` None (no ``node_modules/``) only the setup script is written, pointing
    require.js at the CDN copy of html-manager.
    """
    for rel, source in (files or {}).items():
        target = static / rel
        if target.exists() and target.stat().st_size == source.stat().st_size and (
            target.stat().st_mtime >= source.stat().st_mtime
        ):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    manager = None if files else f"{CDN}/{HTML_MANAGER}@{versions[HTML_MANAGER]}"
    (static / WIDGETS_SETUP_JS).parent.mkdir(parents=True, exist_ok=True)
    (static / WIDGETS_SETUP_JS).write_text(widgets_setup_source(manager))


# --------------------------------------------------------------------------- notebooks


def github_parts(repository_url: str) -> tuple[str, str]:
    """``(org, repo)`` of a ``https://github.com/org/repo`` URL."""
    match = re.match(r"https?://github\.com/([^/]+)/([^/#?]+?)(?:\.git)?/?$", repository_url)
    if not match:
        raise ValueError(f"not a GitHub repository URL: {repository_url!r}")
    return match.group(1), match.group(2)


# Modules chapters import that Colab does not have, and the distributions that provide them
# (regutils brings the rest of what the chapters need, or Colab has it already).
COLAB_EXTRAS = {"myst_nb": "myst-nb"}  # `from myst_nb import glue`


def install_cell_source(org: str, repo: str, branch: str, extras: Sequence[str] = ()) -> str:
    """The first cell: in Colab, pip-install regutils from ``branch`` and ``extras``."""
    packages = [f"regutils @ git+https://github.com/{org}/{repo}@{branch}", *extras]
    return (
        "# Colab: install this book's `regutils` package. Elsewhere (Binder, a local clone) it is\n"
        "# installed already, and this cell does nothing.\n"
        "try:\n"
        "    import google.colab  # noqa: F401\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    import subprocess\n"
        "    import sys\n"
        "\n"
        f"    packages = {packages!r}\n"
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *packages], check=True)'
    )


def imported_modules(nb) -> set[str]:
    """Top-level names of the modules the code cells of ``nb`` import."""
    pattern = re.compile(r"^\s*(?:import|from)\s+(\w+)", re.M)
    return {m for c in nb.cells if c.cell_type == "code" for m in pattern.findall(c.source)}


_IMAGE_PATTERNS = (
    re.compile(r"(!\[[^\]]*\]\()([^)\s]+)"),  # ![alt](path)
    re.compile(r"(<img\b[^>]*?\bsrc=[\"'])([^\"']+)"),  # <img src="path">
    re.compile(r"^((?:```|:::)\{(?:figure|image)\}\s+)(\S+)", re.M),  # ```{figure} path
)


def absolute_images(markdown: str, base_url: str) -> str:
    """``markdown`` with every relative image path made absolute against ``base_url``."""

    def fix(match):
        path = match.group(2)
        if re.match(r"^(?:[a-z][a-z0-9+.-]*:|/|#)", path, re.I):
            return match.group(0)
        return match.group(1) + base_url.rstrip("/") + "/" + quote(path)

    for pattern in _IMAGE_PATTERNS:
        markdown = pattern.sub(fix, markdown)
    return markdown


def trains_a_network(nb) -> bool:
    """Whether a code cell of ``nb`` calls the part of ``regutils`` that trains networks."""
    return any(
        cell.cell_type == "code" and NETWORK_CALL.search(cell.source) for cell in nb.cells
    )


def colab_notebook(source: Path, *, docname: str, org: str, repo: str, branch: str):
    """The notebook for Colab/Binder of the MyST markdown chapter ``source`` (no outputs).

    Its first cell installs ``regutils`` from ``branch`` in Colab (tagged ``remove-cell``);
    image paths point at ``branch`` on GitHub; a chapter that trains a network asks for a GPU.
    """
    import jupytext
    import nbformat

    nb = jupytext.read(source, fmt="md:myst")
    folder = docname.rsplit("/", 1)[0] if "/" in docname else ""
    base = f"https://raw.githubusercontent.com/{org}/{repo}/{branch}/{folder}".rstrip("/")
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = absolute_images(cell.source, base)
    extras = sorted(COLAB_EXTRAS[m] for m in imported_modules(nb) & COLAB_EXTRAS.keys())
    install = nbformat.v4.new_code_cell(
        install_cell_source(org, repo, branch, extras), metadata={"tags": ["remove-cell"]}
    )
    nb.cells.insert(0, install)
    nb.metadata.pop("jupytext", None)
    colab = {"name": Path(docname).name + ".ipynb", "provenance": []}
    if trains_a_network(nb):
        nb.metadata["accelerator"] = "GPU"
        colab["gpuType"] = "T4"
    nb.metadata["colab"] = colab
    for i, cell in enumerate(nb.cells):  # stable ids: the file changes only when the chapter does
        cell["id"] = f"cell-{i}"
    nbformat.validate(nb)
    return nb


def write_notebooks(app, exception) -> None:
    if exception is not None or app.builder is None or app.builder.format != "html":
        return
    import nbformat

    org, repo = github_parts(app.config.html_theme_options.get("repository_url", ""))
    out = Path(app.outdir).parent / "notebooks"
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        if source.suffix != ".md" or "kernelspec" not in app.env.metadata.get(docname, {}):
            continue
        nb = colab_notebook(
            source, docname=docname, org=org, repo=repo, branch=app.config.notebooks_branch
        )
        target = out / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        text = nbformat.writes(nb) + "\n"
        if not target.exists() or target.read_text() != text:
            target.write_text(text)


def point_launch_buttons(app, pagename, templatename, context, doctree) -> None:
    """Send the page's Colab and Binder buttons to its notebook on ``notebooks_branch``."""
    theme = app.config.html_theme_options
    repository_url = theme.get("repository_url")
    if not repository_url:
        return
    org, repo = github_parts(repository_url)
    branch = app.config.notebooks_branch
    launch = theme.get("launch_buttons", {})
    notebook = f"{pagename}.ipynb"
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                colab = launch["colab_url"].rstrip("/")
                button["url"] = f"{colab}/github/{org}/{repo}/blob/{branch}/{notebook}"
            elif button.get("text") == "Binder":
                binder = launch["binderhub_url"].rstrip("/")
                ui = {"classic": "tree", "jupyterlab": "lab/tree"}[
                    launch.get("notebook_interface", "classic")
                ]
                button["url"] = f"{binder}/v2/gh/{org}/{repo}/{branch}?urlpath={ui}/{notebook}"


# --------------------------------------------------------------------------- wiring


def use_served_assets(app, config) -> None:
    from sphinx.util import logging

    app.site_assets = vendored_files()
    if app.site_assets is None:
        logging.getLogger(__name__).info(
            "site_assets: node_modules/ is not installed (`make setup` installs it with npm); "
            "the site loads require.js, the widget manager and MathJax from a CDN instead, so "
            "its widgets and math need internet"
        )
    config.nb_ipywidgets_js, config.mathjax_path = script_urls(
        app.site_assets is not None, pinned_versions()
    )


def copy_assets(app, exception) -> None:
    if exception is None and app.builder is not None and app.builder.format == "html":
        copy_vendored(app.site_assets, Path(app.outdir) / "_static", pinned_versions())


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of identical scripts on a page.

    sphinx-thebe's and sphinx-togglebutton's inline configuration scripts reach each page
    twice (once with filename None, once with ""); sphinx-thebe's declares a ``const``, and
    a ``const`` declared twice throws in the browser.
    """
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # an inline script's filename is None or "", depending on who added it
        key = (script.filename or None, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.add_config_value("notebooks_branch", "notebooks", "html", str)
    app.site_assets = None
    app.connect("config-inited", use_served_assets)
    app.connect("build-finished", copy_assets)
    app.connect("build-finished", write_notebooks)
    # after sphinx-book-theme has built the buttons (priority 501)
    app.connect("html-page-context", point_launch_buttons, priority=600)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
