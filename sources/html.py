"""HTML to plain text, for every collector that reads HTML (feed summaries, blog posts).

One parser (the standard library's, which never fails on broken markup): script and style
bodies dropped, entities decoded, block elements become line breaks, and each `<a href>` is
reported with the span of its text so a caller can tell which words linked where.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

# (href resolved against the base URL, anchor text, start, end) in the returned text.
Anchor = tuple[str, str, int, int]

_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "blockquote",
    "pre",
    "section",
    "article",
    "table",
    "hr",
    "figure",
    "figcaption",
}


class _TextAndAnchors(HTMLParser):
    def __init__(self, base_url: str):
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.parts: list[str] = []
        self.length = 0
        self.anchors: list[Anchor] = []
        self._open: list[tuple[str, int]] = []
        self._skip = 0

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self._emit("\n")
        if tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            try:
                href = urljoin(self.base_url, href) if href else ""
            except ValueError:  # e.g. `http://[oops`: not a link anyone can follow
                href = ""
            self._open.append((href, self.length))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self._emit("\n")
        if tag == "a" and self._open:
            href, start = self._open.pop()
            if href:
                self.anchors.append((href, "".join(self.parts)[start:], start, self.length))

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._emit(data)


def html_text(markup: str, base_url: str = "") -> tuple[str, list[Anchor]]:
    """The text of `markup` (line breaks where blocks end) and its links, in document order."""
    parser = _TextAndAnchors(base_url)
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts), parser.anchors


def plain_text(markup: str) -> str:
    """The words of an HTML snippet on one line, with no space before `.`, `,` and the like."""
    words = " ".join(html_text(markup)[0].split())
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", words)


_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?])")
