"""MyST markdown translated into the markdown Jupyter and Colab render.

The site renders MyST with Sphinx; a notebook opened in Jupyter, Colab or Binder renders plain
markdown (CommonMark with HTML and ``$`` math). :func:`translate` turns a markdown cell's MyST
into that: glued values filled in, roles into text and links, directives into HTML or
markdown. Everything a cell needs from the rest of the book (glue data, titles, labels, figure
numbers, the bibliography) comes in one :class:`Context`, which the build fills from the Sphinx
environment (tools/site_assets.py; the parts' captions come from ``_toc.yml``) and a test can
fill by hand.

Roles: ``{glue}``/``{glue:text}``/``{glue:md}``/``{glue:math}`` (myst-nb's formatting rules: the
format spec after the last ``:``; glued text is escaped so that markdown shows it verbatim, as
the site does), ``{cite}``/``{cite:p}``/``{cite:t}`` (author–year), ``{doc}`` (the sibling
notebook), ``{ref}``, ``{numref}`` ("Figure N"), ``{eq}`` ("(N)", linked), ``{math}``,
``{py:*}`` (code, linked to the API page), ``{term}``, ``{abbr}``, ``{sub}``, ``{sup}``;
any other role keeps its text. Directives: dropdowns, admonitions, ``{literalinclude}`` (with
``:pyobject:``), ``{bibliography}``, ``{tableofcontents}``, ``{figure}``/``{image}``,
``{math}``, ``{code-block}``, ``{glue:*}``, ``{margin}``/``{sidebar}``; any other directive
keeps its body. Label targets ``(name)=`` become HTML anchors; a labelled equation
(``{math}`` with ``:label:``, or ``$$ … $$ (name)``) gets an anchor and its number as a
``\tag``; ``%`` comments are dropped.
"""

from __future__ import annotations

import ast
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]

# the admonitions that take no argument, and the title each shows
UNTITLED = {
    "note": "Note", "warning": "Warning", "tip": "Tip", "hint": "Hint", "important": "Important",
    "caution": "Caution", "attention": "Attention", "danger": "Danger", "error": "Error",
    "seealso": "See also",
}  # fmt: skip
ADMONITIONS = {*UNTITLED, "admonition", "margin", "sidebar", "exercise", "solution"}
DROPDOWNS = {"dropdown", "toggle"}


def toc_parts(toc: Path = ROOT / "_toc.yml") -> dict:
    """docname -> the caption of its part in the book's table of contents (``parts:``)."""
    import yaml

    data = yaml.safe_load(toc.read_text()) if toc.is_file() else None
    return {
        chapter["file"]: part["caption"]
        for part in (data or {}).get("parts", [])
        if part.get("caption")
        for chapter in part.get("chapters", [])
        if "file" in chapter
    }


@dataclass
class Context:
    """What translating one chapter needs from the rest of the book."""

    docname: str = "book/chapter"
    glue: dict = field(default_factory=dict)  # name -> glued output (mime bundle)
    glue_of: Callable[[str], dict] = lambda docname: {}  # another page's glue data
    titles: dict = field(default_factory=dict)  # docname -> title
    parts: dict = field(default_factory=toc_parts)  # docname -> its part's caption
    notebooks: set = field(default_factory=set)  # docnames that have a reader notebook
    labels: dict = field(default_factory=dict)  # label -> (docname, anchor, title)
    fignumbers: dict = field(default_factory=dict)  # label -> "1.2"
    site_url: str = ""  # the published site, ending in "/"
    bibliography: dict = field(default_factory=dict)  # key -> (author-year text, reference md)
    source_dir: Path = ROOT / "book"  # for relative paths in directives
    cited: list = field(default_factory=list)  # keys cited so far, in order
    keyprefix: str = ""  # a {bibliography} :keyprefix: of this chapter


# --------------------------------------------------------------------------- glue


def _format_plain(text: str, fmt: str) -> str:
    """myst-nb's ``format_plain_text``, reading numpy scalar reprs (``np.float64(…)``) too."""
    from publish_data import parse_plain

    ok, value = parse_plain(text)
    if not ok:
        value = text
    if fmt == "":
        return str(value)
    kind = fmt[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, fmt)


def glue_data(ctx: Context, key: str) -> dict:
    """The mime bundle glued under ``key`` (``path::key`` reads another page)."""
    if "::" in key:
        doc, key = key.split("::", 1)
        docname = str(Path(ctx.docname).parent / doc).removesuffix(".md").removesuffix(".ipynb")
        glue = ctx.glue_of(docname)
    else:
        glue = ctx.glue
    if key not in glue:
        raise KeyError(f"{ctx.docname}: nothing glued under {key!r}")
    return glue[key].get("data", glue[key])


# what turns plain text into markdown: escapes, code, emphasis, strikethrough, math, HTML,
# table cells (brackets make a link only with a target, which glued text does not have); a
# "_" between two letters or digits (weight_decay) emphasizes nothing in CommonMark
_MARKDOWN_CHARS = re.compile(r"[\\`*~$<|]|(?<![^\W_])_|_(?![^\W_])")


def plain_text(text: str) -> str:
    """``text`` escaped so that markdown shows it as it is, as the site shows ``{glue:text}``."""
    return _MARKDOWN_CHARS.sub(lambda m: "\\" + m.group(0), text)


def glue_text(ctx: Context, content: str, kind: str) -> str:
    """The markdown a glue role becomes: ``kind`` is text, md, math or any (myst-nb's rules)."""
    if kind == "text":  # `key:format_spec`, the spec after the last colon
        key, fmt = content.rsplit(":", 1) if ":" in content.replace("::", "") else (content, "s")
        return plain_text(_format_plain(glue_data(ctx, key)["text/plain"], fmt))
    key = content.rsplit(":", 1)[0] if kind == "md" and ":" in content.replace("::", "") else content
    data = glue_data(ctx, key)
    if kind == "math" or (kind == "any" and "text/latex" in data and "text/markdown" not in data):
        return "$" + data["text/latex"].strip().strip("$") + "$"
    if "text/markdown" in data:
        return data["text/markdown"].strip()
    if kind == "md":
        raise KeyError(f"{ctx.docname}: {key!r} has no text/markdown")
    return plain_text(_format_plain(data["text/plain"], ""))


# --------------------------------------------------------------------------- citations


def read_bibliography(bibfiles) -> dict:
    """key -> (author–year text, reference as markdown) for every entry of ``bibfiles``.

    Parsed with pybtex, as sphinxcontrib-bibtex parses them for the site; the references are
    formatted with pybtex's ``plain`` style into markdown.
    """
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin
    from pybtex.richtext import Text
    from pybtex.style.names import name_part
    from pybtex.style.template import join

    style = find_plugin("pybtex.style.formatting", "plain")()
    backend = find_plugin("pybtex.backends", "markdown")()
    out = {}
    for bibfile in bibfiles:
        data = parse_file(str(bibfile))
        for entry in style.format_entries(data.entries.values()):
            source = data.entries[entry.key]
            people = source.persons.get("author") or source.persons.get("editor") or []
            # "von" and last names, LaTeX decoded (B{\"u}hlmann is Bühlmann), as the site's
            # author–year style writes them
            names = [
                join[name_part(tie=True)[p.rich_prelast_names], name_part[p.rich_last_names]]
                .format()
                .render_as("text")
                for p in people
            ]
            title = Text.from_latex(source.fields.get("title", entry.key)).render_as("text")
            who = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else (
                f"{names[0]} et al." if names else title
            )
            # the markdown backend escapes every "." "-" "(" ")"; only those escapes go
            text = re.sub(r"\\([.()-])", r"\1", entry.text.render(backend))
            out[entry.key] = (f"{who}, {source.fields.get('year', 'n.d.')}", " ".join(text.split("\n")))
    return out


def _bib_key(ctx: Context, key: str) -> str:
    key = key.strip()
    for candidate in (key, key.removeprefix(ctx.keyprefix), re.sub(r"^[\w]+?-", "", key, 1)):
        if candidate in ctx.bibliography:
            return candidate
    raise KeyError(f"{ctx.docname}: {key!r} is not in the bibliography")


def cite(ctx: Context, content: str, kind: str) -> str:
    """``{cite}``/``{cite:p}`` -> "(Author, Year; …)", ``{cite:t}`` -> "Author (Year)"."""
    keys = [_bib_key(ctx, k) for k in content.split(",")]
    for key in keys:
        if key not in ctx.cited:
            ctx.cited.append(key)
    parts = [ctx.bibliography[k][0] for k in keys]
    if kind in ("t", "ts"):
        return "; ".join(f"{who} ({year})" for who, year in (p.rsplit(", ", 1) for p in parts))
    return "(" + "; ".join(parts) + ")"


def references(ctx: Context) -> str:
    """The reference list of the cited entries, sorted as the site sorts them (by author)."""
    if not ctx.cited:
        return ""
    keys = sorted(ctx.cited, key=lambda k: ctx.bibliography[k][0].lower())
    return "\n".join(f"- {ctx.bibliography[k][1]}" for k in keys)


def place_references(markdown: str, listing: str) -> str:
    """``markdown`` with the reference ``listing`` where its {bibliography} stood.

    Unless a heading introduces it, the list gets a **References** line: on its own, a list
    after another list in the same cell would continue it (CommonMark joins the two).
    """
    before = markdown.split(REFERENCES, 1)[0].rstrip()
    if listing and not re.search(r"(?:^|\n)#{1,6}[ \t][^\n]*\Z", before):
        listing = "**References**\n\n" + listing
    return markdown.replace(REFERENCES, listing)


# --------------------------------------------------------------------------- roles

ROLE = re.compile(r"\{([A-Za-z][\w.+-]*(?::[\w.+-]*)*)\}`([^`]*)`")
_EXPLICIT = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)  # `text <target>`


def _split_target(content: str) -> tuple[str | None, str]:
    match = _EXPLICIT.match(content.strip())
    return (match.group(1), match.group(2)) if match else (None, content.strip())


def doc_link(ctx: Context, target: str, text: str | None = None, anchor: str = "") -> str:
    """A link to another chapter (at ``anchor``): its reader notebook beside this one, else its
    page on the site."""
    target = target.removesuffix(".md").removesuffix(".ipynb")
    base = Path(ctx.docname).parent
    docname = target.lstrip("/") if target.startswith("/") else (base / target).as_posix()
    docname = re.sub(r"(^|/)[^/]+/\.\./", r"\1", docname)
    title = text or ctx.titles.get(docname, Path(docname).name.replace("_", " "))
    fragment = f"#{anchor}" if anchor else ""
    if docname in ctx.notebooks:
        rel = Path(docname).relative_to(base) if docname.startswith(f"{base}/") else Path(docname)
        return f"[{title}]({rel.as_posix()}.ipynb{fragment})"
    return f"[{title}]({ctx.site_url}{docname}.html{fragment})"


def ref_link(ctx: Context, label: str, text: str | None, numbered: bool) -> str:
    """``{ref}``/``{numref}``: the label's title (or "Figure N"), linked to where it lives."""
    docname, anchor, title = ctx.labels.get(label, (ctx.docname, label, label))
    if numbered:
        number = ctx.fignumbers.get(label, "?")
        title = (text or "Figure %s").replace("%s", number).replace("{number}", number)
    else:
        title = text or title
    if docname == ctx.docname:
        return f"[{title}](#{anchor})"
    return doc_link(ctx, "/" + docname, title, anchor)


def python_ref(ctx: Context, kind: str, content: str) -> str:
    """``{py:func}`` and friends: the name as code, linked to the API page for ``regutils``."""
    text, target = _split_target(content)
    target = target.lstrip("~!.")
    shown = text or (target.rsplit(".", 1)[-1] if content.strip().startswith("~") else target)
    shown = f"`{shown}()`" if kind in ("func", "meth") and not text else f"`{shown}`"
    if target.startswith("regutils") and ctx.site_url:
        return f"[{shown}]({ctx.site_url}book/api.html#{target})"
    return shown


def role(ctx: Context, name: str, content: str) -> str:
    """The markdown that the role ``{name}`content``` becomes."""
    domain, _, kind = name.rpartition(":")
    if name in ("glue", "glue:", "glue:any", "glue:text", "glue:md", "glue:math"):
        return glue_text(ctx, content, kind if domain and kind else "any")
    if name in ("cite", "cite:p", "cite:t", "cite:ps", "cite:ts"):
        return cite(ctx, content, kind if domain else "p")
    text, target = _split_target(content)
    if name == "doc":
        return doc_link(ctx, target, text)
    if name in ("ref", "numref"):
        return ref_link(ctx, target, text, numbered=name == "numref")
    if name == "eq":  # "(N)", linked to the equation (display_math writes its anchor)
        return ref_link(ctx, target, text or "(%s)", numbered=True)
    if name == "math":
        return f"${content}$"
    if domain == "py" or name in ("func", "class", "meth", "mod", "attr", "obj"):
        return python_ref(ctx, kind or name, content)
    if name in ("sub", "sup"):
        return f"<{name}>{html.escape(content)}</{name}>"
    if name == "abbr":
        return re.sub(r"\s*\(.*\)$", "", content)
    if name in ("code", "samp", "file", "kbd", "command", "envvar"):
        return f"`{content}`"
    if name == "download":
        return f"[{text or Path(target).name}]({target})"
    return text or content  # term, index, … : the text itself


_INLINE = re.compile(
    r"(?P<role>\{[A-Za-z][\w.+-]*(?::[\w.+-]*)*\}`[^`]*`)"  # a role, before its backticks look like code
    r"|(?P<tick>`+)[^`].*?(?<!`)(?P=tick)(?!`)"  # inline code
    r"|\$\$.*?\$\$|(?<!\\)\$[^$\n]+\$",  # math
    re.S,
)


def translate_roles(ctx: Context, text: str) -> str:
    """``text`` with every role replaced; inline code and math are left alone."""

    def one(match):
        if not match.group("role"):
            return match.group(0)
        name, content = ROLE.fullmatch(match.group("role")).groups()
        return role(ctx, name, content)

    return _INLINE.sub(one, text)


# --------------------------------------------------------------------------- directives

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})(?:\{(?P<name>[^}\s]+)\})?[ \t]*(?P<arg>.*)$")
_OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")
REFERENCES = "<!-- references -->"  # where a {bibliography} stood; filled in per notebook


@dataclass
class Directive:
    name: str
    arg: str
    options: dict
    body: str


def _closing(lines: list[str], start: int, fence: str) -> int:
    """Index of the line that closes ``fence`` opened before ``start`` (or len(lines))."""
    close = re.compile(r"^[ \t]*%s{%d,}[ \t]*$" % (re.escape(fence[0]), len(fence)))
    for i in range(start, len(lines)):
        if close.match(lines[i]):
            return i
    return len(lines)


def _parse_body(name: str, arg: str, lines: list[str]) -> Directive:
    options, i = {}, 0
    if lines and lines[0].strip() == "---":  # YAML options block
        import yaml

        end = next((j for j in range(1, len(lines)) if lines[j].strip() == "---"), 0)
        options, i = yaml.safe_load("\n".join(lines[1:end])) or {}, end + 1
    while i < len(lines) and _OPTION.match(lines[i].strip()):
        key, value = _OPTION.match(lines[i].strip()).groups()
        options[key], i = value.strip(), i + 1
    return Directive(name, arg.strip(), options, "\n".join(lines[i:]).strip("\n"))


def translate(ctx: Context, markdown: str) -> str:
    """A markdown cell's MyST as the markdown Jupyter renders."""
    lines, out, text = markdown.split("\n"), [], []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            text.append(lines[i])
            i += 1
            continue
        end = _closing(lines, i + 1, match.group("fence"))
        out.append(_text(ctx, "\n".join(text)))
        text = []
        if match.group("name"):
            d = _parse_body(match.group("name"), match.group("arg"), lines[i + 1 : end])
            out.append(_indent(directive(ctx, d), match.group("indent")))
        else:  # a code block: verbatim
            out.append("\n".join(lines[i : end + 1]))
        i = end + 1
    out.append(_text(ctx, "\n".join(text)))
    return "\n".join(part for part in out if part is not None).strip("\n")


def _indent(text: str, indent: str) -> str:
    return "\n".join(indent + line if line else line for line in text.split("\n"))


# $$ … $$ (label): dollarmath's labelled equation
_LABELLED_MATH = re.compile(r"^([ \t]*)\$\$((?:(?!\$\$).)*)\$\$[ \t]*\(([\w.:-]+)\)[ \t]*$", re.M | re.S)


def _text(ctx: Context, text: str) -> str | None:
    """Plain MyST text: targets become anchors, comments go, labelled equations are numbered,
    roles are translated."""
    if not text:
        return None if text == "" else text
    text = re.sub(r"^[ \t]*\(([\w.:-]+)\)=[ \t]*$", r'<a id="\1"></a>', text, flags=re.M)
    text = re.sub(r"^%.*\n?", "", text, flags=re.M)
    text = _LABELLED_MATH.sub(lambda m: _indent(display_math(ctx, m.group(2), m.group(3)), m.group(1)), text)
    return translate_roles(ctx, text)


def _blockquote(title: str, body: str) -> str:
    lines = [f"> **{title}**" if title else None, ">" if title and body else None]
    lines += [f"> {line}".rstrip() for line in body.split("\n")] if body else []
    return "\n".join(line for line in lines if line is not None)


def _details(summary: str, body: str) -> str:
    """A dropdown; its summary is HTML, where markdown is not read, so it is rendered here."""
    from markdown_it import MarkdownIt

    summary = MarkdownIt("commonmark").renderInline(summary)
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def figure(ctx: Context, d: Directive, image_md: str) -> str:
    """A figure as an anchor, the image, and its caption, numbered as on the site."""
    name = d.options.get("name")
    caption = translate(ctx, d.body) if d.body else ""
    number = ctx.fignumbers.get(name) if name else None
    if number and caption:
        caption = f"**Figure {number}.** {caption}"
    parts = [f'<a id="{name}"></a>' if name else None, image_md, caption]
    return "\n\n".join(p for p in parts if p)


def directive(ctx: Context, d: Directive) -> str:
    """The markdown a directive becomes (its body translated too)."""
    name = d.name
    if name in DROPDOWNS or name in ADMONITIONS:
        label = d.options.get("name") or d.options.get("label")
        return (f'<a id="{label}"></a>\n\n' if label else "") + box(ctx, d)
    if name == "literalinclude":
        return literalinclude(ctx, d)
    if name == "bibliography":
        ctx.keyprefix = d.options.get("keyprefix", ctx.keyprefix)
        return REFERENCES
    if name == "tableofcontents":
        return table_of_contents(ctx)
    if name in ("figure", "image"):
        alt = d.options.get("alt", "")
        return figure(ctx, d, f"![{alt}]({d.arg})") if name == "figure" else f"![{alt}]({d.arg})"
    if name in ("math", "glue:math"):
        label = d.options.get("label") or d.options.get("name")
        body = d.body if name == "math" else glue_data(ctx, d.arg)["text/latex"].strip().strip("$")
        return display_math(ctx, body, label)
    if name in ("code-block", "code", "sourcecode", "eval-rst"):
        language = "rst" if name == "eval-rst" else d.arg or ""
        return f"```{language}\n{d.body}\n```"
    if name in ("glue", "glue:", "glue:any", "glue:figure", "glue:md"):
        return glue_block(ctx, d)
    return translate(ctx, d.body)


def box(ctx: Context, d: Directive) -> str:
    """A dropdown (or an admonition of class dropdown) as ``<details>``, any other admonition
    as a blockquote under its title."""
    name, body = d.name, d.body
    if name in UNTITLED:  # no argument: text after the name is the body's first line
        title, body = UNTITLED[name], "\n".join(filter(None, [d.arg, d.body]))
    elif name == "solution":  # sphinx-exercise: the argument is the exercise's label
        title = "Solution"
    elif name == "admonition" or (name in DROPDOWNS and d.arg):
        title = d.arg
    else:
        title = "Show" if name in DROPDOWNS else name.capitalize() + (f": {d.arg}" if d.arg else "")
    if name in DROPDOWNS or "dropdown" in d.options.get("class", ""):
        return _details(translate_roles(ctx, title), translate(ctx, body))
    return _blockquote(translate_roles(ctx, title), translate(ctx, body))


# environments that number their own lines: a \tag around them is an error in MathJax
_NUMBERING = re.compile(r"\\(?:tag|label)\b|\\begin\{(?:equation|align|gather|multline|flalign|alignat)\}")


def display_math(ctx: Context, body: str, label: str | None) -> str:
    """``$$body$$``; a labelled equation gets its anchor and, as on the site, its number."""
    number = ctx.fignumbers.get(label) if label else None
    if number and not _NUMBERING.search(body):
        body = f"{body.rstrip()} \\tag{{{number}}}"
    return (f'<a id="{label}"></a>\n\n' if label else "") + f"$$\n{body.strip(chr(10))}\n$$"


def glue_block(ctx: Context, d: Directive) -> str:
    """A glued output pasted as a block: an image (inline PNG), markdown or text."""
    data = glue_data(ctx, d.arg)
    png = data.get("image/png")
    if png:
        image = f"![{d.options.get('alt', '')}](data:image/png;base64,{''.join(png.split())})"
        return figure(ctx, d, image) if d.name == "glue:figure" else image
    if "text/markdown" in data:
        return data["text/markdown"]
    return f"```\n{data.get('text/plain', '')}\n```"


def table_of_contents(ctx: Context) -> str:
    """The other chapters as lists of links (``titles`` is in book order), one under each part's
    caption, as the site shows them."""
    blocks: list[list[str]] = []
    for doc in (doc for doc in ctx.titles if doc != ctx.docname):
        part = ctx.parts.get(doc)
        if not blocks or part != blocks[-1][0]:
            blocks.append([part])
        blocks[-1].append(f"- {doc_link(ctx, '/' + doc)}")
    captioned = [([f"**{part}**", ""] if part else []) + links for part, *links in blocks]
    return "\n\n".join("\n".join(lines) for lines in captioned)


def python_object_source(source: str, qualname: str) -> str:
    """The source of the function or class ``qualname`` (``Class.method`` too) in ``source``."""
    nodes = ast.parse(source).body
    node = None
    for part in qualname.split("."):
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        node = next((n for n in nodes if isinstance(n, kinds) and n.name == part), None)
        if node is None:
            raise KeyError(f"no {qualname!r} in the included file")
        nodes = node.body
    lines = source.split("\n")
    start = min([node.lineno] + [dec.lineno for dec in node.decorator_list]) - 1
    return "\n".join(lines[start : node.end_lineno])


def _line_numbers(spec: str) -> list[int]:
    numbers = []
    for part in spec.split(","):
        low, _, high = part.strip().partition("-")
        numbers += range(int(low), int(high or low) + 1)
    return numbers


def literalinclude(ctx: Context, d: Directive) -> str:
    """The included file (or its ``:pyobject:``, ``:lines:``) inlined as a code block."""
    path = (ctx.source_dir / d.arg).resolve()
    text = path.read_text()
    if "pyobject" in d.options:
        text = python_object_source(text, d.options["pyobject"])
    if "lines" in d.options:
        lines = text.split("\n")
        text = "\n".join(lines[n - 1] for n in _line_numbers(d.options["lines"]) if n <= len(lines))
    if "start-after" in d.options:
        text = text.split(d.options["start-after"], 1)[-1].lstrip("\n")
    if "end-before" in d.options:
        text = text.split(d.options["end-before"], 1)[0].rstrip()
    language = d.options.get("language", "python" if path.suffix == ".py" else "")
    try:
        where = path.relative_to(ROOT).as_posix()
    except ValueError:
        where = path.name
    caption = d.options.get("caption") or f"From `{where}`"
    what = f"`{d.options['pyobject']}` in " if "pyobject" in d.options and not d.options.get("caption") else ""
    if what:
        caption = f"{what}`{where}`:"
    return f"{caption}\n\n```{language}\n{text.rstrip()}\n```"
