"""Making stored text safe for each place midlist writes it: one function per output format.

Text from papers, feeds and comments is hostile until shown otherwise. `clean` drops what no
output should carry (terminal escape sequences, C0/C1 controls, bidi overrides, NUL, lone
surrogates); every format function below cleans first, then escapes its own markup:

- `terminal`  rich tables and CLI lines (controls stripped; pass the result as `Text`, not markup)
- `markdown`  Markdown digests and exports (backslash-escapes what would become markup)
- `mrkdwn`    Slack's mrkdwn (`&`, `<`, `>`, so no `<!channel>` or forged `<url|label>`)
- `html`      HTML fragments built outside Jinja2's autoescaping (Anki cards)
- `bibtex`    BibTeX text fields (LaTeX specials escaped); `bibtex_verbatim` for doi/url/eprint
- `json_text` JSON already dumped: C1, bidi and lone surrogates become `\\uXXXX` escapes
- `safe_url`  only http(s) links, with characters that could end a link percent-encoded
"""

from __future__ import annotations

import html as _html
import json
import re
from typing import Any
from urllib.parse import quote

from sources.sanitize import clean_text

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_SURROGATE = re.compile(r"[\ud800-\udfff]")

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile(r"[\\{}&%$#_~^]")
# In doi/url/eprint (printed verbatim by \url and \doi) only what could close the field or
# start a command is encoded; `%`, `#` and `&` are part of real URLs and stay.
_VERBATIM_UNSAFE = re.compile(r"[{}\\\s]")
_JSON_UNSAFE = re.compile(rf"[\x7f-\x9f{_BIDI}\ud800-\udfff]")

_HTTP = re.compile(r"^https?://[^/\s]", re.IGNORECASE)
_URL_UNSAFE = re.compile(rf"[\s<>\"'()|\\`{{}}\x00-\x1f\x7f-\x9f{_BIDI}]")


def clean(text: str, *, one_line: bool = False) -> str:
    """`text` without escape sequences, controls, bidi overrides or lone surrogates.

    The sources' cleaning step (stored text has had it already; this is for anything else),
    plus carriage returns, which would let a line overwrite itself on a terminal. Newlines and
    tabs stay unless `one_line`, where they become spaces; a lone surrogate becomes U+FFFD.
    """
    return clean_text(text, multiline=not one_line).replace("\r", "")


def terminal(text: str) -> str:
    """For a terminal: nothing that moves the cursor, retitles the window or hides a link."""
    return clean(text)


def markdown(text: str) -> str:
    """Backslash-escape what Markdown would read as markup, so the text shows as written."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text))


def mrkdwn(text: str) -> str:
    """Slack mrkdwn: after this, `<!channel>` and `<url|label>` are shown, not acted on."""
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html(text: str) -> str:
    """An HTML text node or attribute value."""
    return _html.escape(clean(text))


def bibtex(text: str) -> str:
    """A BibTeX text field: LaTeX specials escaped, so braces always balance."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], clean(text, one_line=True))


def bibtex_verbatim(text: str) -> str:
    """A doi, url or eprint field: braces, backslashes and spaces percent-encoded."""
    return _VERBATIM_UNSAFE.sub(_percent, clean(text, one_line=True).strip())


def json_text(dumped: str) -> str:
    """JSON from `json.dumps(..., ensure_ascii=False)` with C1 controls, bidi overrides and lone
    surrogates written as `\\uXXXX` escapes: the same data, safe to print and to encode."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", dumped)


def dumps(value: Any, indent: int | None = 2) -> str:
    """`json.dumps` for output a person may read in a terminal (see `json_text`)."""
    return json_text(json.dumps(value, ensure_ascii=False, indent=indent))


def safe_url(url: str) -> str:
    """Only http(s) links get through (javascript:, data: link nowhere), with the characters
    that could end a Markdown, HTML, Slack or BibTeX link percent-encoded."""
    url = _SURROGATE.sub("", (url or "").strip())
    if not _HTTP.match(url):
        return ""
    return _URL_UNSAFE.sub(_percent, url)


def _percent(m: re.Match[str]) -> str:
    return quote(m.group(0), safe="")
