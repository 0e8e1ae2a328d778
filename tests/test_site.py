"""The reader's side of the site, without a browser: served assets, launch buttons, data files,
no raw MyST on the pages.

tools/site_assets.py serves require.js, html-manager and MathJax from the site, writes a
notebook per chapter for Colab and Binder (tests/test_notebooks.py checks those), points the
pages' buttons at them, and publishes every page's results under ``_data/``.
tests/test_browser.py checks the same site in Chromium.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from test_book import toc_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import site_assets  # noqa: E402

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


# imported by chapters, installed in Binder without being listed: regutils comes with the
# pulled notebooks (binder/README.md); IPython is the kernel's own (and a dependency of
# ipywidgets); the reader notebooks import glue from regutils.publish instead of myst_nb
PROVIDED = {"regutils", "IPython", "myst_nb"}


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
        links |= {u.replace("&amp;", "&") for u in links}
        colab = f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/{doc}.ipynb"
        binder = site_assets.binder_url(
            "https://mybinder.org", org, repo, "binder-env", branch, f"tree/{repo}/{doc}.ipynb"
        )
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


# --------------------------------------------------------------------------- results as data

import myst_check  # noqa: E402
import publish_data  # noqa: E402


def glue_output(text=None, **data):
    """A glued output as myst-nb keeps it in ``<docname>.glue.json``."""
    bundle = dict(data)
    if text is not None:
        bundle["text/plain"] = text
    return {"output_type": "display_data", "metadata": {"scrapbook": {}}, "data": bundle}


def test_glued_reprs_are_parsed_as_literals_and_nothing_else():
    cases = {
        "6": 6,
        "0.1275640482150931": 0.1275640482150931,
        "np.float64(0.5)": 0.5,
        "np.int64(-3)": -3,
        "numpy.float32(2.5)": 2.5,
        "np.True_": True,
        "'cpu'": "cpu",
        "np.str_('cuda')": "cuda",
        "[1, 2.5]": [1, 2.5],
        "{'a': 1}": {"a": 1},
    }
    for text, value in cases.items():
        assert publish_data.parse_plain(text) == (True, value), text
    for text in ("<Figure size 640x480 with 1 Axes>", "__import__('os').system('x')", "   a  b\n0  1  2"):
        assert publish_data.parse_plain(text) == (False, None), text


def test_page_json_excludes_figures_and_reserved_names(tmp_path):
    records = [{"page": "p", "delta": 0.1}]
    glue = {
        "best": glue_output("6"),
        "mse": glue_output("np.float64(0.25)"),
        "nan": glue_output("nan"),
        "first": glue_output("<IPython.core.display.Markdown object>", **{"text/markdown": "`x0`"}),
        "fig": glue_output("<Figure size 640x480 with 1 Axes>", **{"image/png": "iVBOR"}),
        "frame": glue_output("   a\n0  1", **{"text/html": "<table></table>"}),
        "comparisons__main": glue_output(json.dumps(records)),
        "table__path": glue_output("alpha,n\n0.1,3"),
    }
    build = tmp_path / "_build"
    (build / "jupyter_execute" / "book").mkdir(parents=True)
    (build / "jupyter_execute" / "book" / "ch.glue.json").write_text(json.dumps(glue))
    index = publish_data.write_data(build, build / "html", ["book/ch", "book/none"])
    data = build / "html" / "_data"
    assert json.loads((data / "ch.json").read_text()) == {
        "best": 6,
        "mse": 0.25,
        "nan": None,
        "first": "`x0`",
    }
    assert json.loads((data / "comparisons.json").read_text()) == records
    assert (data / "path.csv").read_text() == "alpha,n\n0.1,3\n"
    assert index == {"book/ch": {"numbers": "ch.json", "tables": ["path.csv"], "comparisons": 1}}
    assert json.loads((data / "index.json").read_text()) == index


def test_publish_data_and_regutils_agree_on_the_reserved_names():
    from regutils import publish

    assert publish_data.COMPARISONS_PREFIX == publish.COMPARISONS_PREFIX
    assert publish_data.TABLE_PREFIX == publish.TABLE_PREFIX


def test_data_links_name_what_the_page_published():
    html = site_assets.data_links_html(
        {"numbers": "ch.json", "tables": ["path.csv"], "comparisons": 2}, lambda p, r: "../" + p
    )
    assert '<a class="reference external" href="../_data/ch.json">the numbers on this page</a>' in html
    assert 'href="../_data/path.csv"' in html and 'href="../_data/comparisons.json"' in html
    assert site_assets.data_links_html({"numbers": None, "tables": []}, lambda p, r: p) == ""


@pytest.mark.parametrize(
    "markup",
    [
        "<p>lowest at degree {glue:text}`best_degree`</p>",
        '<p><code class="docutils literal"><span class="pre">{glue:text}</span></code>train_device``</p>',
        "<p>:::{dropdown} Solution</p>",
        "<p>see {doc}`experiments` and {cite}`x2020`</p>",
        "<p>```{literalinclude} ../regutils/models.py</p>",
        "<p>{{ substitution }}</p>",
        "<p>lower for (*weight decay* and *all three*)</p>",
        "<p>the module `regutils.stats`</p>",
        '<p><span class="math notranslate">\\(\\texttt{weight\\_decay}\\)</span></p>',
        "<div class=\"math\">\\[\\text{l1\\_ratio}\\]</div>",
    ],
)
def test_the_checker_finds_raw_myst_in_a_page(markup):
    assert myst_check.unrendered_in_html(f"<html><body>{markup}</body></html>")


def test_the_checker_ignores_code_and_math():
    page = """<html><body>
    <div class="highlight"><pre>print(f"{glue:text}`x`")</pre></div>
    <pre>:::{dropdown}</pre>
    <span class="math notranslate">\\(\\frac{1}{2n}\\)</span>
    <span class="math notranslate">\\(\\mathtt{weight\\_decay}\\cdot\\text{lr}\\)</span>
    <div class="math">$$\\operatorname{sign}(w)$$</div>
    <p>a set {k} and {x:g} formatting in prose, a product a * b and 2*3 = 6</p>
    <p>keyword-only <code class="docutils literal">*args</code> and `</p>
    <dt class="sig sig-object py"><span class="sig-name">name_list</span>(names, *, style='*')</dt>
    <script>var a = "{glue}`x`";</script>
    </body></html>"""
    assert myst_check.unrendered_in_html(page) == []


@pytest.mark.slow
@pytest.mark.book
def test_no_page_shows_raw_myst(built_book):
    found = {}
    for doc in toc_files():
        left = myst_check.unrendered_in_html((built_book / "html" / f"{doc}.html").read_text())
        if left:
            found[doc] = left
    assert found == {}, f"unrendered MyST on the site: {found}"


@pytest.mark.slow
@pytest.mark.book
def test_every_page_publishes_its_numbers_and_links_to_them(built_book):
    data = built_book / "html" / "_data"
    index = json.loads((data / "index.json").read_text())
    records = json.loads((data / "comparisons.json").read_text())
    assert isinstance(records, list)
    for doc in toc_files():
        glue = publish_data.read_glue(built_book, doc)
        values, comparisons, tables = publish_data.split_glue(glue)
        html = (built_book / "html" / f"{doc}.html").read_text()
        if not values:
            assert "the numbers on this page" not in html, doc
            continue
        page = json.loads((data / index[doc]["numbers"]).read_text())
        assert page.keys() == values.keys(), doc
        assert f'href="../_data/{index[doc]["numbers"]}"' in html, f"{doc}: no link to its numbers"
        for name in tables:
            assert (data / f"{name}.csv").is_file(), f"{doc}: table {name} not written"
        assert all(r in records for r in comparisons), f"{doc}: comparisons missing"


@pytest.mark.slow
@pytest.mark.book
def test_each_technique_decidedly_lowers_test_error_in_the_noisy_regime(built_book):
    # the promise of the chapter on when regularization decides, read off the published records
    records = json.loads((built_book / "html" / "_data" / "comparisons.json").read_text())
    for technique in ("dropout", "weight decay", "early stopping"):
        decided = [
            r for r in records
            if (r["page"], r["a"], r["b"], r["metric"]) == ("when_it_helps", technique, "unregularized", "test error")
            and r["n_pairs"] >= 5 and r["ci_high"] < 0 and r["p_value"] < 0.05
        ]  # fmt: skip
        assert decided, f"{technique}: no decided test-error record against the unregularized network"


# --------------------------------------------------------------------------- Binder

import binder_env  # noqa: E402


def test_binder_environment_pins_what_the_build_used():
    template = (ROOT / "binder" / "requirements.txt").read_text()
    pinned = binder_env.pinned_requirements(template)
    lines = [line for line in pinned.splitlines() if line and not line.startswith(("#", "-"))]
    assert all(re.fullmatch(r"[\w.-]+==[\w.]+(?:\+cpu)?(?:\s+#.*)?", line) for line in lines), lines
    for name in requirement_names(ROOT / "binder" / "requirements.txt") - {"nbgitpuller"}:
        # the answer key: the versions installed where the book was just built and tested
        installed = importlib.metadata.version(name).split("+")[0]
        assert any(line.lower().startswith(f"{name}=={installed}") for line in lines), name
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pinned
    fake = binder_env.pinned_requirements("torch>=2\nnumpy  # arrays\n", lambda name: "2.14.1+cu121")
    assert fake == "torch==2.14.1+cpu\nnumpy==2.14.1  # arrays\n"
    with pytest.raises(ValueError, match="does not pin it"):
        binder_env.pinned_requirements("surely-not-installed-package>=1\n")


def test_binder_start_script_puts_the_pulled_book_on_the_path(tmp_path):
    binder_env.write_env(tmp_path / "env", "book")
    start = tmp_path / "env" / "start"
    out = subprocess.run(
        [str(start), sys.executable, "-c", "import os; print(os.environ['PYTHONPATH'])"],
        env={"HOME": "/home/reader", "PATH": "/usr/bin:/bin", "PYTHONPATH": "/x"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "/home/reader/book:/x"
    runtime = (tmp_path / "env" / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}"


def test_binder_link_opens_the_stable_environment_and_pulls_the_notebooks():
    from urllib.parse import parse_qs, urlparse

    url = site_assets.binder_url("https://mybinder.org/", "o", "r", "binder-env", "notebooks", "tree/r/book/x.ipynb")
    parts = urlparse(url)
    assert parts.path == "/v2/gh/o/r/binder-env"
    pull = urlparse(parse_qs(parts.query)["urlpath"][0])
    assert pull.path == "git-pull"
    assert parse_qs(pull.query) == {
        "repo": ["https://github.com/o/r"],
        "branch": ["notebooks"],
        "urlpath": ["tree/r/book/x.ipynb"],
    }
