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

**Every chapter has a reader's notebook, for Colab, Binder and the download.** At
``build-finished`` each chapter's executed notebook (``<build>/jupyter_execute/``, fresh or from
the execution cache) becomes the reader's notebook (tools/reader_notebooks.py: numbers filled
in, outputs kept, MyST translated, hidden cells hidden, an install cell pinned to the commit
the site was built from). Colab opens only ``.ipynb`` files, from GitHub, and a generated
``.ipynb`` beside its ``.md`` source would make Sphinx find two files for one document, so the
build writes them to ``_build/notebooks/<docname>.ipynb``; the publishing workflow pushes them
to the ``notebooks_branch`` branch, where the page's Colab and Binder buttons point. The same
file replaces the page's ``.ipynb`` download (``_sources/<docname>.ipynb``). Relative image
paths are made absolute (raw GitHub at the build's commit) so that images load anywhere.

**Every page's results are data.** At ``build-finished`` tools/publish_data.py writes the glued
numbers, comparisons and tables of every page under ``_data/``; each page that published any
ends with a line linking to them ("The numbers on this page").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, urlencode

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


def build_commit(root: Path = ROOT) -> str:
    """The commit the site is built from: ``GITHUB_SHA`` in CI, else the checkout's HEAD.

    Without either (a source tree outside git), the release tag ``v<version>`` of regutils.
    """
    sha = os.environ.get("GITHUB_SHA", "").strip()
    if re.fullmatch(r"[0-9a-f]{40}", sha):
        return sha
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        version = re.search(r'^version = "([^"]+)"', (root / "pyproject.toml").read_text(), re.M)
        return f"v{version.group(1)}"


def site_url(app) -> str:
    """Where the site is published: ``html_baseurl``, else the repository's GitHub Pages."""
    if app.config.html_baseurl:
        return app.config.html_baseurl.rstrip("/") + "/"
    org, repo = github_parts(app.config.html_theme_options.get("repository_url", ""))
    return f"https://{org}.github.io/{repo}/"


def book_order(env) -> list[str]:
    """Every document in the order of the book's table of contents."""
    order, seen = [], set()

    def walk(doc):
        if doc in seen:
            return
        seen.add(doc)
        order.append(doc)
        for child in env.toctree_includes.get(doc, []):
            walk(child)

    walk(env.config.root_doc)
    return order + sorted(set(env.found_docs) - seen)


def notebook_docs(app) -> list[str]:
    """The chapters that are notebooks (have a kernel) and were executed, in book order."""
    build = Path(app.outdir).parent
    return [
        doc
        for doc in book_order(app.env)
        if "kernelspec" in app.env.metadata.get(doc, {})
        and (build / "jupyter_execute" / f"{doc}.ipynb").is_file()
    ]


def translation_context(app, docname: str, notebooks: list[str]):
    """A :class:`myst_translate.Context` for ``docname``, filled from the Sphinx environment."""
    import myst_translate
    import publish_data

    env, build = app.env, Path(app.outdir).parent
    if not hasattr(app, "reader_bibliography"):
        files = [Path(app.srcdir) / f for f in getattr(app.config, "bibtex_bibfiles", [])]
        app.reader_bibliography = myst_translate.read_bibliography(files)
    labels = {k: v for k, v in env.domaindata["std"]["labels"].items() if v[0]}
    numbers = {}
    for doc, kinds in getattr(env, "toc_fignumbers", {}).items():
        for kind in ("figure", "table", "code-block"):
            for ident, number in kinds.get(kind, {}).items():
                numbers[ident] = ".".join(map(str, number))
    for label, (doc, number) in env.domaindata.get("math", {}).get("objects", {}).items():
        numbers.setdefault(label, str(number))
    return myst_translate.Context(
        docname=docname,
        glue=publish_data.read_glue(build, docname),
        glue_of=lambda doc: publish_data.read_glue(build, doc),
        titles={d: env.titles[d].astext() for d in book_order(env) if d in env.titles},
        notebooks=set(notebooks),
        labels=labels,
        fignumbers=numbers,
        site_url=site_url(app),
        bibliography=app.reader_bibliography,
        source_dir=Path(env.doc2path(docname)).parent,
    )


def execution_cache(app) -> Path | None:
    """myst-nb's execution cache folder, when pages are executed through it."""
    if app.config.nb_execution_mode != "cache":
        return None
    path = app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache"
    return Path(app.srcdir, path)


def write_notebooks(app, exception) -> None:
    """Write each chapter's reader notebook to ``_build/notebooks/`` and over the download."""
    if exception is not None or app.builder is None or app.builder.format != "html":
        return
    import nbformat
    import reader_notebooks

    org, repo = github_parts(app.config.html_theme_options.get("repository_url", ""))
    commit = build_commit()
    requirement = reader_notebooks.pinned_requirement(org, repo, commit)
    build, docs = Path(app.outdir).parent, notebook_docs(app)
    for docname in docs:
        executed = reader_notebooks.executed_notebook(build, docname, execution_cache(app))
        ctx = translation_context(app, docname, docs)
        nb = reader_notebooks.reader_notebook(
            executed, ctx, requirement=requirement, commit=commit, colab_name=Path(docname).name + ".ipynb"
        )
        folder = docname.rsplit("/", 1)[0] if "/" in docname else ""
        base = f"https://raw.githubusercontent.com/{org}/{repo}/{commit}/{folder}".rstrip("/")
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = absolute_images(cell.source, base)
        text = nbformat.writes(nb) + "\n"
        for target in (build / "notebooks" / f"{docname}.ipynb", Path(app.outdir) / "_sources" / f"{docname}.ipynb"):
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_text() != text:
                target.write_text(text)


def binder_url(binderhub: str, org: str, repo: str, env_branch: str, branch: str, path: str) -> str:
    """A Binder link: the image of ``env_branch``, with ``branch`` pulled in by nbgitpuller.

    The environment branch changes only when the pinned packages do (tools/binder_env.py), so
    its image stays built across deploys; nbgitpuller clones ``branch`` into ``~/<repo>`` at
    launch and opens ``path`` (relative to the server's root).
    """
    pull = urlencode({"repo": f"https://github.com/{org}/{repo}", "branch": branch, "urlpath": path})
    return f"{binderhub.rstrip('/')}/v2/gh/{org}/{repo}/{env_branch}?" + urlencode(
        {"urlpath": f"git-pull?{pull}"}
    )


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
                ui = {"classic": "tree", "jupyterlab": "lab/tree"}[
                    launch.get("notebook_interface", "classic")
                ]
                button["url"] = binder_url(
                    launch["binderhub_url"], org, repo, app.config.binder_env_branch, branch, f"{ui}/{repo}/{notebook}"
                )


# --------------------------------------------------------------------------- results as data


def write_data(app, exception) -> None:
    """Write ``_data/`` (tools/publish_data.py) from every page's glue data."""
    if exception is not None or app.builder is None or app.builder.format != "html":
        return
    import publish_data

    publish_data.write_data(Path(app.outdir).parent, app.outdir, app.env.found_docs)


def data_links_html(files: dict, pathto) -> str:
    """The line at the end of a page that links to the data it published."""
    links = []
    if files.get("numbers"):
        url = pathto(f"_data/{files['numbers']}", 1)
        links.append(f'<a class="reference external" href="{url}">the numbers on this page</a> (JSON)')
    for name in files.get("tables", []):
        url = pathto(f"_data/{name}", 1)
        links.append(f'<a class="reference external" href="{url}">{name}</a>')
    if files.get("comparisons"):
        url = pathto("_data/comparisons.json", 1)
        links.append(f'<a class="reference external" href="{url}">its comparisons</a> (in the book\'s JSON)')
    if not links:
        return ""
    return f'\n<p class="page-data">Data: {", ".join(links)}.</p>\n'


def link_page_data(app, pagename, templatename, context, doctree) -> None:
    """End each page that glued numbers, tables or comparisons with links to them."""
    if "body" not in context or doctree is None:
        return
    import publish_data

    values, comparisons, tables = publish_data.split_glue(
        publish_data.read_glue(Path(app.outdir).parent, pagename)
    )
    files = {
        "numbers": f"{publish_data.page_name(pagename)}.json" if values else None,
        "tables": [f"{name}.csv" for name in sorted(tables)],
        "comparisons": len(comparisons),
    }
    context["body"] += data_links_html(files, context["pathto"])


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
    # the branch whose binder/ files mybinder.org builds its image from (tools/binder_env.py)
    app.add_config_value("binder_env_branch", "binder-env", "html", str)
    app.site_assets = None
    app.connect("config-inited", use_served_assets)
    app.connect("build-finished", copy_assets)
    app.connect("build-finished", write_data)
    app.connect("build-finished", write_notebooks)
    app.connect("html-page-context", link_page_data)
    # after sphinx-book-theme has built the buttons (priority 501)
    app.connect("html-page-context", point_launch_buttons, priority=600)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
