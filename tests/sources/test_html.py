"""The one HTML-to-text function the collectors share."""

from __future__ import annotations

from sources.html import html_text, plain_text


def test_plain_text_drops_tags_scripts_and_styles_and_decodes_entities() -> None:
    markup = (
        "<p>State&nbsp;space <b>models</b> &amp; scans<script>alert('x')</script>"
        "<style>p{color:red}</style> , done .</p><p>Next &#x1F600;</p>"
    )
    assert plain_text(markup) == "State space models & scans, done. Next 😀"


def test_plain_text_survives_broken_markup() -> None:
    assert plain_text("<p>unclosed <b>bold <i>and <a href='x'>link") == "unclosed bold and link"
    assert plain_text("a < b and c > d") == "a < b and c > d"
    assert plain_text("") == ""


def test_html_text_keeps_blocks_apart_and_reports_anchors() -> None:
    text, anchors = html_text(
        '<div>See <a href="/abs/2405.00001">this paper</a></div><p>and <a>no link</a></p>',
        "https://arxiv.org/list/",
    )
    assert text.split() == ["See", "this", "paper", "and", "no", "link"]
    assert "\n" in text
    [(href, label, start, end)] = anchors
    assert (href, label) == ("https://arxiv.org/abs/2405.00001", "this paper")
    assert text[start:end] == "this paper"


def test_unresolvable_href_is_no_link() -> None:
    text, anchors = html_text('<a href="http://[oops">x</a>', "https://a.example/")
    assert (text, anchors) == ("x", [])
