"""Hostile text through every output format: terminal, Markdown, BibTeX, Anki, JSON, mrkdwn.

The hostile paper carries terminal escape sequences (clear screen, retitle the window, a hidden
OSC 8 hyperlink), 8-bit CSI, bidi overrides, NUL and Anki's field separator, rich markup and
BibTeX-closing braces; its DOI tries to add a `note` field to the BibTeX entry.
"""

from __future__ import annotations

import json
import re
import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import bibtexparser
import pytest

from bot import escape
from bot.export import to_bibtex, to_json, to_markdown, write_anki
from bot.store import Store
from bot.store.queue import QueueItem
from sources.models import Paper
from tests.conftest import ConfigFile, run_cli

HOSTILE_TITLE = (
    "Grasping\x1b[2J\x1b[H \x1b]0;pwned\x07robots \x1b]8;;https://evil.example/\x07click"
    "\x1b]8;;\x1b\\ \x9b31m\u202eexe.txt\u202c\x00 [/x] [bold]{oops}\x1f % # & \\ _"
)
HOSTILE = Paper(
    id="2405.00007",
    title=HOSTILE_TITLE,
    abstract="We grasp\x1b[31m things. \u2066Isolated\u2069 text\x07 here.",
    authors=("Ada\x1b[8m Lovelace", "Mallory } and {Eve"),
    categories=("cs.RO",),
    url="https://arxiv.org/abs/2405.00007",
    published=datetime(2024, 5, 7, tzinfo=UTC),
    doi="10.1234/x}, note = {injected",
)
# What no output may carry raw: ESC, 8-bit CSI/OSC, BEL, NUL, Anki's separator, bidi controls.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def item(paper: Paper = HOSTILE, niche: str = "robotics") -> QueueItem:
    return QueueItem(niche, "saved", datetime(2024, 6, 1, tzinfo=UTC), paper)


# ---- clean ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a\x1b[2Jb", "ab"),
        ("a\x1b[38;5;196mred\x1b[0m", "ared"),
        ("\x1b]0;title\x07after", "after"),
        ("\x1b]8;;https://evil/\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("a\x9b2Jb", "ab"),
        ("a\x9d0;t\x9cb", "ab"),
        ("bell\x07 nul\x00 del\x7f c1\x85", "bell nul del c1"),
        ("\u202eabc\u202c \u2067x\u2069 \u200fy", "abc x y"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("keeps\nnew\tlines", "keeps\nnew\tlines"),
        ("carriage\rreturn", "carriagereturn"),
        ("unterminated \x1b]0;title", "unterminated "),
        ("ESC at the end\x1b", "ESC at the end"),
        ("Ünïcödé ∑ 日本 😀", "Ünïcödé ∑ 日本 😀"),
    ],
)
def test_clean_drops_sequences_controls_bidi_and_surrogates(text: str, expected: str) -> None:
    assert escape.clean(text) == expected


def test_clean_one_line_turns_line_breaks_into_spaces() -> None:
    assert escape.clean("a\nb\tc\rd", one_line=True) == "a b c d"


def test_every_format_function_cleans_first() -> None:
    for fn in (escape.terminal, escape.markdown, escape.mrkdwn, escape.html, escape.bibtex):
        assert not FORBIDDEN.search(fn(HOSTILE_TITLE)), fn.__name__


def test_mrkdwn_cannot_ping_or_link() -> None:
    assert escape.mrkdwn("<!channel> <https://x|y> & co") == (
        "&lt;!channel&gt; &lt;https://x|y&gt; &amp; co"
    )


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://x.example/a{b}\\c", "https://x.example/a%7Bb%7D%5Cc"),
        ("https://x.example/\x1b[2J", "https://x.example/%1B[2J"),
        ("https://x.example/\u202eab", "https://x.example/%E2%80%AEab"),
        ("https://x.example/\ud800", "https://x.example/"),
        ("javascript:alert(1)", ""),
    ],
)
def test_safe_url_encodes_what_could_end_a_link(url: str, expected: str) -> None:
    assert escape.safe_url(url) == expected


# ---- exports ----------------------------------------------------------------------------------


def test_bibtex_doi_cannot_add_a_field_and_every_value_is_escaped() -> None:
    text = to_bibtex([item()])
    assert not FORBIDDEN.search(text)
    library = bibtexparser.parse_string(text)
    assert library.failed_blocks == []
    [entry] = library.entries
    fields = {f.key: f.value for f in entry.fields}
    assert set(fields) == {
        "title",
        "author",
        "year",
        "month",
        "eprint",
        "archivePrefix",
        "primaryClass",
        "doi",
        "url",
    }
    assert fields["doi"] == "10.1234/x%7D,%20note%20=%20%7Binjected"
    assert fields["author"] == r"Ada Lovelace and Mallory \} and \{Eve"
    assert r"\{oops\}" in fields["title"] and r"\% \# \& \textbackslash{} \_" in fields["title"]
    assert "[/x]" in fields["title"]  # BibTeX has no use for rich markup: kept as written


@pytest.mark.parametrize(
    "doi",
    ["10.1/a}", "10.1/a{", "10.1/a\\", "10.1/}}}", "10.1/a%b#c&d", "10.1/a\nnote = {x}"],
)
def test_bibtex_parses_back_for_any_doi(doi: str) -> None:
    paper = Paper(id="2405.00008", title="T", doi=doi)
    library = bibtexparser.parse_string(to_bibtex([item(paper)]))
    assert library.failed_blocks == []
    [entry] = library.entries
    assert "note" not in entry.fields_dict
    assert entry["title"] == "{T}"


def test_markdown_export_is_clean_and_escaped() -> None:
    text = to_markdown([item()])
    assert not FORBIDDEN.search(text)
    head = text.splitlines()[2]
    assert head.startswith(r"- [Grasping robots click exe.txt \[/x\] \[bold\]{oops} % \# & \\ \_]")
    assert "(https://arxiv.org/abs/2405.00007)" in head
    assert "> We grasp things. Isolated text here." in text


def test_json_export_keeps_the_data_and_prints_no_raw_controls() -> None:
    text = to_json([item()])
    assert not FORBIDDEN.search(text)
    [record] = json.loads(text)
    assert record["title"] == HOSTILE.title  # JSON is for scripts: the data, escaped not lost
    assert record["doi"] == HOSTILE.doi


def test_json_export_encodes_lone_surrogates() -> None:
    paper = Paper(id="2405.00009", title="lone \ud800 half")
    text = to_json([item(paper)])
    text.encode("utf-8")  # would raise UnicodeEncodeError on a raw surrogate
    assert json.loads(text)[0]["title"] == "lone \ufffd half"  # replaced as the paper was made


def test_anki_fields_cannot_be_split_or_carry_controls(tmp_path: Path) -> None:
    target = tmp_path / "deck.apkg"
    assert write_anki([item(niche="robo\x1b[2Jtics")], target) == 1
    with zipfile.ZipFile(target) as zf:
        zf.extract("collection.anki2", tmp_path)
    db = sqlite3.connect(tmp_path / "collection.anki2")
    try:
        [(fields, tags)] = db.execute("SELECT flds, tags FROM notes").fetchall()
        decks = json.loads(db.execute("SELECT decks FROM col").fetchone()[0])
    finally:
        db.close()
    parts = fields.split("\x1f")
    assert len(parts) == 4  # the title's \x1f did not add a field
    assert not any(FORBIDDEN.search(p) for p in parts)
    assert parts[0].startswith("Grasping robots click exe.txt [/x] [bold]{oops} % # &amp;")
    assert not FORBIDDEN.search(tags)
    assert "midlist::robotics" in {d["name"] for d in decks.values()}


# ---- terminal ---------------------------------------------------------------------------------


@pytest.fixture
def hostile_config(tmp_path: Path, config_file: ConfigFile) -> Path:
    store = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    try:
        store.papers.upsert([HOSTILE])
        store.queue.enqueue("robotics", [HOSTILE.id])
    finally:
        store.close()
    return config_file(
        niches=[{"name": "robotics", "keywords": ["grasping robots"], "band": "top"}]
    )


@pytest.mark.parametrize(
    "args",
    [
        ["queue", "list"],
        ["query", "grasping robots", "--band", "top"],
        ["query", "grasping robots", "--band", "top", "--json"],
        ["export", "--format", "markdown"],
        ["export", "--format", "bibtex"],
        ["export", "--format", "json"],
    ],
    ids=lambda a: " ".join(a),
)
def test_terminal_output_carries_no_escape_sequences(hostile_config: Path, args: list[str]) -> None:
    result = run_cli(hostile_config, *args)
    assert result.exit_code == 0, result.output
    assert "Grasping" in result.output
    assert not FORBIDDEN.search(result.output), repr(result.output)


# ---- digests ------------------------------------------------------------------------------------


def test_slack_digest_carries_no_controls_and_pings_nobody() -> None:
    from bot.deliver.slack import render_messages
    from tests.bot.test_slack import LINK, all_mrkdwn, digest_of

    paper = Paper(
        id="2405.00010",
        title=HOSTILE_TITLE + " <!channel> <https://evil.example|trust me>",
        abstract=HOSTILE.abstract,
        authors=HOSTILE.authors,
        url="https://arxiv.org/abs/2405.00010",
        published=datetime(2026, 11, 18, tzinfo=UTC),
    )
    [message] = render_messages(digest_of([paper]), buttons=True)
    text = json.dumps([message.text, message.blocks], ensure_ascii=False)
    assert not FORBIDDEN.search(text)
    mrkdwn = "\n".join(all_mrkdwn(message.blocks))
    assert "&lt;!channel&gt;" in mrkdwn
    assert LINK.findall(mrkdwn) == [
        "https://arxiv.org/abs/2405.00010|Grasping robots click exe.txt [/x] [bold]{oops} % # &amp; \\ _ &lt;!channel&gt; &lt;https://evil.example|trust me&gt;"
    ]


def test_markdown_digest_carries_no_controls() -> None:
    from bot.deliver.render import render_markdown
    from tests.bot.test_slack import digest_of

    paper = Paper(id="2405.00011", title=HOSTILE_TITLE, abstract=HOSTILE.abstract)
    text = render_markdown(digest_of([paper]))
    assert "Grasping" in text
    assert not FORBIDDEN.search(text)
