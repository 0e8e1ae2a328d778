"""The site's results as data: every page's glued numbers, comparisons and tables as files.

myst-nb keeps what a page glued in ``<build>/jupyter_execute/<docname>.glue.json`` (glue name
-> the output's mime bundle), written whenever the page is read, whether its outputs were
executed now or came from the execution cache. From those files this module writes, under the
site's ``_data/`` folder:

- ``<page>.json``: glue name -> value, for every glued number, string or markdown text; the
  value is parsed from its ``text/plain`` form (Python literals, ``np.float64(…)`` and the
  like); figures and values with no literal form (a DataFrame's repr) are left out;
- ``comparisons.json``: the records every page published with ``ru.publish_comparisons``,
  one list for the whole book;
- ``<name>.csv``: each table published with ``ru.publish_table``;
- ``index.json``: which page published which files.

The reserved glue names (``comparisons__*``, ``table__*``, see :mod:`regutils.publish`) go
only into those files, not into the page's json. No torch, no Sphinx needed.
"""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

COMPARISONS_PREFIX = "comparisons__"  # the same as regutils.publish; checked by the tests
TABLE_PREFIX = "table__"
DATA_DIR = "_data"

# numpy's scalar reprs (numpy >= 2): np.float64(0.5), np.int64(3), np.True_, np.str_('a')
_NUMPY_SCALAR = re.compile(r"\b(?:np|numpy)\.(?:float|int|uint|complex)\d*\((.*)\)$", re.S)
_NUMPY_OTHER = {"np.True_": True, "np.False_": False, "np.nan": float("nan")}


def parse_plain(text: str):
    """``(True, value)`` for a Python literal's ``text/plain`` repr, else ``(False, None)``.

    Only literals are parsed (``ast.literal_eval``): nothing in the text is executed.
    """
    text = text.strip()
    if text in _NUMPY_OTHER:
        return True, _NUMPY_OTHER[text]
    match = _NUMPY_SCALAR.match(text) or re.match(r"(?:np|numpy)\.str_\((.*)\)$", text, re.S)
    if match:
        text = match.group(1)
    if text in ("nan", "inf", "-inf"):
        return True, float(text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return False, None
    return True, value


def glue_value(bundle: dict):
    """``(True, value)`` of one glued output's mime bundle, or ``(False, None)`` to leave out."""
    data = bundle.get("data", {})
    if any(mime.startswith("image/") for mime in data):
        return False, None
    if "text/plain" in data:
        ok, value = parse_plain(data["text/plain"])
        if ok:
            return True, value
    if "text/markdown" in data:
        return True, data["text/markdown"]
    return False, None


def _json_safe(value):
    """JSON has no NaN or infinity: those become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_json_safe(v) for v in value)
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def split_glue(glue: dict) -> tuple[dict, list, dict]:
    """``(values, comparisons, tables)`` of one page's glue data (name -> mime bundle)."""
    values, comparisons, tables = {}, [], {}
    for name, bundle in glue.items():
        text = bundle.get("data", {}).get("text/plain", "")
        if name.startswith(COMPARISONS_PREFIX):
            comparisons += json.loads(text)
        elif name.startswith(TABLE_PREFIX):
            tables[name[len(TABLE_PREFIX) :]] = text if text.endswith("\n") else text + "\n"
        else:
            ok, value = glue_value(bundle)
            if ok:
                values[name] = _json_safe(value)
    return values, comparisons, tables


def page_name(docname: str) -> str:
    """The name of a page's data file: its docname's last part (``book/intro`` -> ``intro``)."""
    return docname.rsplit("/", 1)[-1]


def read_glue(build_dir: Path, docname: str) -> dict:
    """The glue data myst-nb kept for ``docname`` (empty when the page glued nothing)."""
    path = Path(build_dir) / "jupyter_execute" / f"{docname}.glue.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def write_data(build_dir: Path, html_dir: Path, docnames) -> dict:
    """Write ``html_dir/_data/`` from the glue data of ``docnames``; return its index.

    The index (also written as ``_data/index.json``) maps each page that published
    anything to ``{"numbers": "<page>.json" or None, "tables": [...], "comparisons": n}``.
    Two pages publishing a table of the same name is an error.
    """
    out = Path(html_dir) / DATA_DIR
    index, everything, owner = {}, [], {}
    for docname in sorted(docnames):
        values, comparisons, tables = split_glue(read_glue(build_dir, docname))
        if not (values or comparisons or tables):
            continue
        page = page_name(docname)
        if values:
            _write(out / f"{page}.json", json.dumps(values, indent=1, allow_nan=False) + "\n")
        for name, text in tables.items():
            if owner.setdefault(name, docname) != docname:
                raise ValueError(f"table {name!r} published by {owner[name]} and {docname}")
            _write(out / f"{name}.csv", text)
        everything += comparisons
        index[docname] = {
            "numbers": f"{page}.json" if values else None,
            "tables": [f"{name}.csv" for name in sorted(tables)],
            "comparisons": len(comparisons),
        }
    _write(out / "comparisons.json", json.dumps(everything, indent=1, allow_nan=False) + "\n")
    _write(out / "index.json", json.dumps(index, indent=1) + "\n")
    return index
