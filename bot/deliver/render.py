"""Digest -> Markdown (console, files, the plain-text email part) and HTML (email, files).

Both come from Jinja2 templates in bot/templates. HTML is autoescaped by Jinja2, so a title
holding `<script>` or `<img onerror=...>` is shown as text; Markdown escapes the characters
that would turn a title into a link, an HTML tag or emphasis.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.escape import markdown as md_escape
from bot.escape import safe_url
from bot.models import Digest

_env = Environment(
    loader=PackageLoader("bot", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


_env.filters["md"] = md_escape
_env.filters["safe_url"] = safe_url
__all__ = ["md_escape", "render_html", "render_markdown", "safe_url"]


def render_markdown(digest: Digest) -> str:
    return _env.get_template("digest.md").render(d=digest)


def render_html(digest: Digest) -> str:
    return _env.get_template("digest.html").render(d=digest)
