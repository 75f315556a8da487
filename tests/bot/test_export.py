"""Exports are valid in their own formats: BibTeX parses, the .apkg is a zip holding an Anki collection."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import bibtexparser
import pytest

from bot import escape
from bot.export import (
    QUESTION,
    citation_keys,
    key_idea,
    to_bibtex,
    to_markdown,
    write_anki,
)
from bot.store import Store
from bot.store.queue import QueueItem
from sources.models import Paper
from tests.bot.test_queue import PAPERS, filled, write_config
from tests.conftest import ConfigFile, run_cli

__all__ = ["filled"]  # the fixture, used by name


def _items(store: Store) -> list[QueueItem]:
    store.queue.mark("strings", "hep-th/9901001", "saved")
    return store.queue.list()


def test_bibtex_parses_with_fields_and_escapes(filled: Store) -> None:
    library = bibtexparser.parse_string(to_bibtex(_items(filled)))
    assert library.failed_blocks == []
    entries = {e.key: e for e in library.entries}
    assert set(entries) == {"lovelace2024grasping", "hopper2024legged", "witten1999strings"}
    first = entries["lovelace2024grasping"]
    assert first.entry_type == "misc"
    assert first["eprint"] == "2405.00001"
    assert first["archivePrefix"] == "arXiv"
    assert first["primaryClass"] == "cs.RO"
    assert first["doi"] == "10.1000/xyz123"
    assert first["url"] == "https://arxiv.org/abs/2405.00001"
    assert first["title"] == r"{Grasping \& Pushing with 100\% of the \{Fingers\}: A\_Study}"
    assert first["author"] == "Ada Lovelace and José Núñez"
    assert entries["witten1999strings"]["eprint"] == "hep-th/9901001"
    assert entries["witten1999strings"]["url"] == "https://arxiv.org/abs/hep-th/9901001"


def test_latex_escape_covers_every_special_character() -> None:
    assert escape.bibtex(r"a\b{c}&%$#_~^") == (
        r"a\textbackslash{}b\{c\}\&\%\$\#\_\textasciitilde{}\textasciicircum{}"
    )


def test_citation_keys_unique_and_independent_of_order() -> None:
    twins = [
        Paper(
            id="2401.00001",
            title="The Same Title",
            authors=("Ann Lee",),
            published=PAPERS[0].published,
        ),
        Paper(
            id="2401.00002",
            title="The Same Title",
            authors=("Ann Lee",),
            published=PAPERS[0].published,
        ),
        Paper(id="doi:10.1/x", title="", authors=()),
    ]
    keys = citation_keys(twins)
    assert keys == {
        "2401.00001": "lee2024same_240100001",
        "2401.00002": "lee2024same_240100002",
        "doi:10.1/x": "anon",
    }
    assert citation_keys(list(reversed(twins))) == keys


def test_key_idea_takes_two_sentences_and_skips_abbreviations() -> None:
    text = "We use e.g. soft fingers. It works\non $5 hardware. A third sentence."
    assert key_idea(text) == "We use e.g. soft fingers. It works on $5 hardware."
    assert key_idea("word " * 200).endswith("…")
    assert len(key_idea("word " * 200)) <= 400


def test_anki_package_is_a_zip_with_one_card_per_paper(filled: Store, tmp_path: Path) -> None:
    target = tmp_path / "deck.apkg"
    assert write_anki(_items(filled), target) == 3
    with zipfile.ZipFile(target) as zf:
        assert "collection.anki2" in zf.namelist()
        zf.extract("collection.anki2", tmp_path)
    db = sqlite3.connect(tmp_path / "collection.anki2")
    try:
        notes = [row[0].split("\x1f") for row in db.execute("SELECT flds FROM notes ORDER BY sfld")]
        cards = db.execute("SELECT COUNT(*) FROM cards").fetchone()[0]
        decks = db.execute("SELECT decks FROM col").fetchone()[0]
    finally:
        db.close()
    assert cards == 3
    by_title = {n[0]: n for n in notes}
    grasp = by_title["Grasping &amp; Pushing with 100% of the {Fingers}: A_Study"]
    assert grasp[1] == QUESTION
    assert grasp[2] == "We study grasping with soft fingers. It works on $5 hardware."
    assert 'href="https://arxiv.org/abs/2405.00001"' in grasp[3]
    assert {"midlist::robotics", "midlist::strings"} <= {
        d["name"] for d in json.loads(decks).values()
    }


def test_anki_ids_are_stable_across_exports(filled: Store, tmp_path: Path) -> None:
    guids = []
    for name in ("a.apkg", "b.apkg"):
        write_anki(_items(filled), tmp_path / name)
        with zipfile.ZipFile(tmp_path / name) as zf:
            (tmp_path / name).with_suffix(".anki2").write_bytes(zf.read("collection.anki2"))
        db = sqlite3.connect((tmp_path / name).with_suffix(".anki2"))
        try:
            guids.append(sorted(db.execute("SELECT guid, mid FROM notes")))
        finally:
            db.close()
    assert guids[0] == guids[1]


def test_markdown_groups_by_niche_and_escapes(filled: Store) -> None:
    text = to_markdown(_items(filled))
    assert "## robotics" in text and "## strings" in text
    assert (
        r"- [Grasping & Pushing with 100% of the {Fingers}: A\_Study](https://arxiv.org/abs/2405.00001)"
        " — Ada Lovelace, José Núñez · 2405.00001 · queued"
    ) in text
    assert "  > We study grasping with soft fingers." in text


def test_cli_json_to_stdout_filters_by_state(filled: Store, config_file: ConfigFile) -> None:
    filled.queue.mark("robotics", "2405.00002", "saved")
    code, out = run_cli(write_config(config_file), "export", "--format", "json", "--state", "saved")
    assert code == 0
    data = json.loads(out)
    assert [(d["id"], d["niche"], d["state"]) for d in data] == [
        ("2405.00002", "robotics", "saved")
    ]
    assert data[0]["url"] == "https://arxiv.org/abs/2405.00002"


def test_cli_default_leaves_out_skipped(
    filled: Store, tmp_path: Path, config_file: ConfigFile
) -> None:
    filled.queue.mark("robotics", "2405.00002", "skipped")
    target = tmp_path / "out.bib"
    code, out = run_cli(
        write_config(config_file), "export", "--format", "bibtex", "-o", str(target)
    )
    assert (code, out) == (0, f"Wrote 1 papers to {target}.\n")
    assert [e.key for e in bibtexparser.parse_string(target.read_text()).entries] == [
        "lovelace2024grasping"
    ]


def test_cli_anki_writes_package(filled: Store, tmp_path: Path, config_file: ConfigFile) -> None:
    target = tmp_path / "q.apkg"
    code, out = run_cli(
        write_config(config_file),
        "export",
        "--format",
        "anki",
        "--niche",
        "robotics",
        "-o",
        str(target),
    )
    assert (code, out) == (0, f"Wrote 2 cards to {target}.\n")
    assert zipfile.is_zipfile(target)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--state", "read"], "nothing to export: no read papers (see `midlist queue list`"),
        (
            ["--niche", "strings"],
            "nothing to export: no saved or read or queued papers in niche strings",
        ),
        (["--niche", "nope"], "no niche named 'nope'"),
    ],
)
def test_cli_nothing_to_export_is_a_clear_error(
    filled: Store, config_file: ConfigFile, args: list[str], message: str
) -> None:
    code, out = run_cli(write_config(config_file), "export", "--format", "markdown", *args)
    assert code == 1
    assert message in " ".join(out.split())


def test_markdown_and_anki_link_only_to_http_urls(store: Store, tmp_path: Path) -> None:
    papers = [
        Paper(id="2406.00001", title="Scripted", url="javascript:alert(1)"),
        Paper(id="2406.00002", title="Parens", url="https://blog.example/a_(b) c"),
    ]
    store.papers.upsert(papers)
    store.queue.enqueue("robotics", [p.id for p in papers])
    items = store.queue.list("robotics")
    text = to_markdown(items)
    assert "javascript:" not in text
    assert "[Scripted](https://arxiv.org/abs/2406.00001)" in text
    assert "[Parens](https://blog.example/a_%28b%29%20c)" in text
    write_anki(items, tmp_path / "deck.apkg")
    with zipfile.ZipFile(tmp_path / "deck.apkg") as zf:
        collection = zf.read("collection.anki2")
    assert b"javascript:" not in collection
