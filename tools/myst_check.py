r"""Find MyST that reached a reader unrendered: roles, directive fences, targets, substitutions.

One checker for the two places a reader sees the book's text: the built HTML pages
(:func:`unrendered_in_html`) and the markdown cells of the reader notebooks
(:func:`unrendered_in_markdown`). Both return the offending constructs as strings, so a test
can assert that the list is empty and show what it found.

What counts, outside code blocks and math:

- a role, ``{name}`text` `` (any name), or a role name alone, ``{glue:text}``, when the name
  (or its domain, before a colon) is one of :data:`KNOWN_NAMES` or :data:`DOMAINS` (a role whose
  backticks were mangled leaves its name behind, as ``{glue:text}`train_device` `` inside
  double backticks does), while ``{x:g}`` in a format string is left alone;
- a directive fence, a line opening with ```` ```{name} ```` or ``:::{name}``, or a bare
  ``:::`` line that closes one;
- a label target, a line ``(name)=``;
- a substitution, ``{{ name }}``;
- on a built page only, markdown markup shown as text: ``*emphasis*`` or ```code``` (a glued
  text value holding markdown, which ``{glue:text}`` shows verbatim; ``{glue:md}`` renders it).

And inside math: a LaTeX escape such as ``\_`` in a text-mode box (``\texttt{weight\_decay}``,
``\text{…}``), which MathJax without its ``textmacros`` package, and Jupyter's MathJax, show
with the backslash (math mode, ``\mathtt{weight\_decay}``, renders it everywhere).
"""

from __future__ import annotations

import re

# roles and directives of MyST, Sphinx, myst-nb, sphinx-design and sphinxcontrib-bibtex that a
# chapter may use; a bare {name} of one of these in text is a leftover
KNOWN_NAMES = frozenset(
    """
    glue cite doc ref numref eq math term download abbr sub sup kbd code-cell eval-rst
    dropdown admonition note warning tip hint important caution attention danger error seealso
    literalinclude bibliography tableofcontents toctree figure image margin sidebar card
    tab-set tab-item grid grid-item exercise solution solution-start solution-end index
    """.split()
)
# Sphinx domains, whose roles are written {domain:role}
DOMAINS = frozenset({"py", "std", "c", "cpp", "js", "rst", "math", "prf", "bib", "sd"})
_NAME = r"[A-Za-z][\w.+-]*(?::[\w.+-]*)*"
ROLE = re.compile(r"\{(%s)\}`[^`\n]*`" % _NAME)
BARE_NAME = re.compile(r"\{(%s)\}" % _NAME)
FENCE = re.compile(r"^[ \t>]*(?:`{3,}|~{3,}|:{3,})\{(%s)\}.*$|^[ \t>]*:{3,}[ \t]*$" % _NAME, re.M)
TARGET = re.compile(r"^[ \t]*\([\w.:-]+\)=[ \t]*$", re.M)
SUBSTITUTION = re.compile(r"\{\{\s*[\w.]+\s*\}\}")

# \_ \% \& \# \$ inside \text{…}, \texttt{…}, \mbox{…} and the like
TEXT_MODE_ESCAPE = re.compile(r"\\(?:text[a-z]*|mbox)\{[^{}]*\\[_%&#$][^{}]*\}")

_CODE_FENCE = re.compile(r"^([ \t>]*)(`{3,}|~{3,})(?!\{)[^\n]*\n.*?^\1?\2[ \t]*$", re.M | re.S)
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<!\s)\$(?!\d)")
_MATH_IN_TEXT = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]", re.S)  # MathJax's delimiters in HTML text


def unrendered(text: str) -> list[str]:
    """The MyST constructs in ``text`` (plain text: code blocks and math already removed)."""
    found: list[str] = []

    def keep(match):
        found.append(match.group(0).strip())
        return " "

    for pattern in (FENCE, TARGET, SUBSTITUTION, ROLE):  # each construct counts once
        text = pattern.sub(keep, text)
    found += [
        m.group(0)
        for m in BARE_NAME.finditer(text)
        if m.group(1).split(":")[0] in KNOWN_NAMES | DOMAINS
    ]
    return found


def math_escapes(math: str) -> list[str]:
    """The text-mode boxes in LaTeX ``math`` that hold an escape MathJax would show verbatim."""
    return TEXT_MODE_ESCAPE.findall(math)


def unrendered_in_markdown(markdown: str) -> list[str]:
    """The MyST constructs in a Jupyter markdown cell outside fenced code and math, and the
    :func:`math_escapes` of its math."""
    text = _CODE_FENCE.sub("", markdown)
    found = [e for m in _DISPLAY_MATH.findall(text) for e in math_escapes(m)]
    text = _DISPLAY_MATH.sub("", text)
    found += [e for m in _INLINE_MATH.findall(text) for e in math_escapes(m)]
    return unrendered(_INLINE_MATH.sub("", text)) + found


_SKIPPED_TAGS = ("pre", "script", "style", "textarea", "svg")


def html_texts(html: str) -> tuple[str, str, str]:
    """The visible text of an HTML page, without code blocks, scripts and typeset math; the
    same without inline code and API signatures either, whose asterisks and backticks are
    meant; and the LaTeX of its math. The page is parsed once for all three."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(_SKIPPED_TAGS):
        tag.decompose()
    math = "\n".join(tag.get_text("") for tag in soup.select(".math"))
    for tag in soup.select(".highlight, .math, .MathJax, mjx-container"):
        tag.decompose()
    text = soup.get_text("")
    for tag in soup.select("code, .sig"):
        tag.decompose()
    return text, soup.get_text(""), math


# markdown markup as visible text: *emphasis* (not a lone * or a product a * b) and `code`
MARKUP = re.compile(r"(?<![\w*])\*(?![\s*])[^*\n]{1,80}?(?<![\s*])\*(?![\w*])|`[^`\n]+`")


def unrendered_in_html(html: str) -> list[str]:
    """The MyST constructs and markdown markup left in the visible text of a built page, and
    the :func:`math_escapes` of its math."""
    text, prose, math = html_texts(html)
    math = "\n".join([math, *_DISPLAY_MATH.findall(text), *_MATH_IN_TEXT.findall(text)])
    text, prose = _without_math(text), _without_math(prose)
    found = unrendered(text) + [m.group(0) for m in MARKUP.finditer(prose)]
    return found + math_escapes(math)


def _without_math(text: str) -> str:
    return _MATH_IN_TEXT.sub("", _DISPLAY_MATH.sub("", text))
