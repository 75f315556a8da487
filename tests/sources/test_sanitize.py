"""Hostile text at the sources' boundary: one bad item never fails a feed, a batch or the store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.store import Store
from sources.feeds import FeedSpec, parse_feed
from sources.ids import parse_arxiv_id
from sources.models import Mention, Paper
from sources.sanitize import clean_char_refs, clean_text, is_clean
from sources.snapshot import parse_line

ANY_TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates included

BLOG = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Notes</title><link>https://notes.example.org/</link>
<item><title>Broken &#55296; title</title><link>https://notes.example.org/p/1</link>
<description>&lt;p&gt;We read &lt;a href="https://arxiv.org/abs/2405.00001"&gt;this &#55296;
paper&lt;/a&gt; closely.&lt;/p&gt;</description><guid>p1</guid></item>
<item><title>Fine post</title><link>https://notes.example.org/p/2</link>
<description>See arXiv:2405.00002 for details.</description><guid>p2</guid></item>
</channel></rss>
"""

ARXIV_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" version="2.0"><channel><title>cs.LG</title>
<link>http://rss.arxiv.org/rss/cs.LG</link>
<item><title>Absurd Version</title><link>https://arxiv.org/abs/2601.01001</link>
<description>arXiv:2601.01001v{v} Announce Type: new Abstract: Too many digits.</description>
<guid isPermaLink="false">oai:arXiv.org:2601.01001v{v}</guid><category>cs.LG</category>
<pubDate>Tue, 06 Jan 2026 00:00:00 -0500</pubDate><arxiv:announce_type>new</arxiv:announce_type>
</item>
<item><title>Ordinary</title><link>https://arxiv.org/abs/2601.01002</link>
<description>arXiv:2601.01002v2 Announce Type: new Abstract: Fine.</description>
<guid isPermaLink="false">oai:arXiv.org:2601.01002v2</guid><category>cs.LG</category>
<pubDate>Tue, 06 Jan 2026 00:00:00 -0500</pubDate><arxiv:announce_type>new</arxiv:announce_type>
</item></channel></rss>
"""


@pytest.mark.parametrize(
    ("raw", "multiline", "clean"),
    [
        ("plain title", False, "plain title"),
        ("lone \ud800 surrogate", False, "lone \ufffd surrogate"),
        ("nul\x00 and bell\x07 and esc\x1b[2J", False, "nul and bell and esc"),
        (
            "Ada\x1b[8m Lovelace \x1b]8;;https://evil.example/\x07click\x1b]8;;\x1b\\",
            False,
            "Ada Lovelace click",
        ),
        ("8-bit \x9b31mred\x9d0;title\x07 end", False, "8-bit red end"),
        ("two\nlines\tand tab", True, "two\nlines\tand tab"),
        ("two\nlines\tand tab", False, "two lines and tab"),
        ("bidi \u202egnp.exe\u202c", False, "bidi gnp.exe"),
        ("C1 \x85\x80 control", False, "C1  control"),
        ("Schrödinger – 量子", False, "Schrödinger – 量子"),
    ],
)
def test_clean_text(raw: str, multiline: bool, clean: str) -> None:
    assert clean_text(raw, multiline=multiline) == clean


@given(ANY_TEXT)
def test_cleaned_text_always_encodes_as_utf8(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")
    assert "\x00" not in cleaned and clean_text(cleaned) == cleaned


@given(ANY_TEXT)
def test_the_quick_check_agrees_with_cleaning(text: str) -> None:
    assert is_clean((), (text,)) == (clean_text(text) == text)
    assert is_clean((text, "plain")) == (clean_text(text, multiline=False) == text)


def test_a_lone_surrogate_in_a_blog_post_fails_neither_the_feed_nor_the_store(
    store: Store,
) -> None:
    batch = parse_feed(BLOG.encode(), FeedSpec("notes", "https://notes.example.org/rss"))

    assert sorted(m.paper_id for m in batch.mentions) == ["2405.00001", "2405.00002"]
    broken = next(m for m in batch.mentions if m.paper_id == "2405.00001")
    assert "\ufffd" in broken.context and broken.title_hint == "this \ufffd paper"
    assert store.papers.add_mentions(batch.mentions) == 2
    assert len(store.papers.mentions_of(["2405.00001"])["2405.00001"]) == 1


def test_an_absurd_arxiv_rss_version_drops_the_version_not_the_feed() -> None:
    xml = ARXIV_RSS.replace("{v}", "9" * 5000)
    spec = FeedSpec("cs.LG", "https://rss.arxiv.org/rss/cs.LG", kind="arxiv-rss")
    batch = parse_feed(xml.encode(), spec)

    assert [(p.id, p.version) for p in batch.papers] == [("2601.01001", None), ("2601.01002", 2)]
    assert batch.papers[0].announced == datetime(2026, 1, 6, tzinfo=UTC)
    assert parse_arxiv_id("2601.01001v12") is not None


def test_papers_and_mentions_are_cleaned_when_made(store: Store) -> None:
    paper = Paper(
        id="2405.00009",
        url="https://arxiv.org/abs/2405.00009",
        title="Title\x00 with\nNUL \ud800",
        abstract="Line one\nline two\x1b]0;pwned\x07",
        authors=("Ada\x00 Quill",),
        doi="10.1/x\x00",
    )
    assert (paper.title, paper.abstract, paper.authors, paper.doi) == (
        "Title with NUL \ufffd",
        "Line one\nline two",
        ("Ada Quill",),
        "10.1/x",
    )
    store.papers.upsert([paper])
    assert store.papers.get("2405.00009") == paper
    mention = Mention("2405.00009", "reddit", "c1\x00", context="a\x00b\nc", who="u/x\u202e")
    assert (mention.external_id, mention.context, mention.who) == ("c1", "ab\nc", "u/x")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (b"<t>a &#55296; b</t>", b"<t>a &#65533; b</t>"),
        (b"<t>&#xD800;&#xdfff;</t>", b"<t>&#65533;&#65533;</t>"),
        (b"<t>nul&#0;bell&#7;&#x1B;</t>", b"<t>nulbell</t>"),
        (b"<t>&#233;&#x1F600;&#10;&#9;</t>", b"<t>&#233;&#x1F600;&#10;&#9;</t>"),
        (b"<t>&#99999999;</t>", b"<t>&#65533;</t>"),
    ],
)
def test_character_references_that_no_text_may_hold_are_fixed_in_the_bytes(
    raw: bytes, clean: bytes
) -> None:
    assert clean_char_refs(raw) == clean


def test_a_snapshot_record_with_a_lone_surrogate_imports(store: Store) -> None:
    line = (
        '{"id": "2405.00010", "title": "Bad \\ud800 escape", "abstract": "Text\\u0000 here.",'
        ' "authors": "A. Quill", "categories": "cs.LG",'
        ' "versions": [{"version": "v1", "created": "Mon, 6 May 2024 10:00:00 GMT"}]}'
    )
    paper = parse_line(line)
    assert (paper.title, paper.abstract) == ("Bad \ufffd escape", "Text here.")
    assert store.papers.upsert([paper]).new == 1
