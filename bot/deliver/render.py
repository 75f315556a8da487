"""Digest -> Markdown (console, files, the plain-text email part) and HTML (email, files).

Both come from Jinja2 templates in bot/templates. HTML is autoescaped by Jinja2, so a title
holding `<script>` or `<img onerror=...>` is shown as text; Markdown escapes the characters
that would turn a title into a link, an HTML tag or emphasis.
"""

from __future__ import annotations

import re

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.models import Digest

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")
_HTTP = re.compile(r"^https?://[^/\s]", re.IGNORECASE)
_URL_UNSAFE = re.compile(r"[\s<>\"'()|\\`]")

_env = Environment(
    loader=PackageLoader("bot", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def md_escape(text: str) -> str:
    """Backslash-escape what Markdown would read as markup, so the text shows as written."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def safe_url(url: str) -> str:
    """Only http(s) links get through (javascript:, data: link nowhere), with the characters
    that could end a Markdown, HTML or Slack link percent-encoded."""
    url = (url or "").strip()
    if not _HTTP.match(url):
        return ""
    return _URL_UNSAFE.sub(lambda m: f"%{ord(m.group(0)):02X}", url)


_env.filters["md"] = md_escape
_env.filters["safe_url"] = safe_url


def render_markdown(digest: Digest) -> str:
    return _env.get_template("digest.md").render(d=digest)


def render_html(digest: Digest) -> str:
    return _env.get_template("digest.html").render(d=digest)
