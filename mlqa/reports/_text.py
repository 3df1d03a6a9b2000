"""User-controlled text made inert for the formats it is written in.

Column names and values, check ids, messages and reasons come from data, configs and
third-party checks; a report must show them, never act on them. `clean` removes what no
text format can carry (characters XML 1.0 forbids: C0 controls other than tab and line
breaks, U+FFFE/U+FFFF, lone surrogates, which UTF-8 cannot even encode); `md` escapes
Markdown and HTML for one line of summary.md (a table cell or a list item); `md_code` shows a
check id as code when it is plain and as escaped text when it is not.
"""
from __future__ import annotations

import re
from typing import Any

#: what XML 1.0 (and UTF-8) cannot carry
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
#: Markdown punctuation that could start emphasis, code, a link, a table cell or strike-through
#: (an underscore inside a word, as in `max_psi`, cannot)
_MD_PUNCT = re.compile(r"([\\`*\[\]|~]|(?<!\w)_|_(?!\w))")
_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029\x85]+\s*")
_PLAIN_ID = re.compile(r"[\w.:\[\]-]+")
REPLACEMENT = "\ufffd"


def clean(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (each becomes U+FFFD)."""
    return _FORBIDDEN.sub(REPLACEMENT, text)


def clean_tree(obj: Any) -> Any:
    """`clean` applied to every string and dict key of a JSON-like tree."""
    if isinstance(obj, str):
        return clean(obj)
    if isinstance(obj, dict):
        return {clean_tree(k): clean_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_tree(v) for v in obj]
    return obj


def md(text: Any) -> str:
    """One line of Markdown that shows `text` as written: HTML is escaped as entities
    (`<script>` shows as text), Markdown punctuation is backslash-escaped (no link, code,
    emphasis or extra table cell), line breaks fold into spaces."""
    s = clean("" if text is None else str(text))
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _BREAKS.sub(" ", s)
    return _MD_PUNCT.sub(r"\\\1", s)


def md_code(text: Any) -> str:
    """A check id as inline code when it is plain (`suite.name[instance]`), else as
    escaped text (a code span cannot escape a backtick or a pipe)."""
    s = "" if text is None else str(text)
    return f"`{s}`" if _PLAIN_ID.fullmatch(s) else md(s)
