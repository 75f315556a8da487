"""The reading queue: states per niche and paper, marked from the CLI with any spelling of an id."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from bot.store.queue import QueueError, normalise_id
from sources.models import Paper
from tests.conftest import ConfigFile, run_cli

PAPERS = [
    Paper(
        id="2405.00001",
        title="Grasping & Pushing with 100% of the {Fingers}: A_Study",
        abstract="We study grasping with soft fingers. It works on $5 hardware. More follows.",
        authors=("Ada Lovelace", "José Núñez"),
        categories=("cs.RO", "cs.LG"),
        url="https://arxiv.org/abs/2405.00001",
        published=datetime(2024, 5, 1, tzinfo=UTC),
        version=2,
        doi="10.1000/xyz123",
    ),
    Paper(
        id="2405.00002",
        title="Legged Locomotion in the Wild",
        abstract="Legs beat wheels on stairs. We show why.",
        authors=("Grace Hopper",),
        categories=("cs.RO",),
        url="https://arxiv.org/abs/2405.00002",
        published=datetime(2024, 5, 2, tzinfo=UTC),
        version=1,
    ),
    Paper(
        id="hep-th/9901001",
        title="Strings, Old Style",
        abstract="An old paper about strings.",
        authors=("Ed Witten",),
        categories=("hep-th",),
        published=datetime(1999, 1, 1, tzinfo=UTC),
    ),
]

NICHES = [
    {"name": "robotics", "keywords": ["grasping"]},
    {"name": "strings", "keywords": ["string theory"]},
]


def write_config(config_file: ConfigFile, **overrides: Any) -> Path:
    """A config whose store is the `store` fixture's database file, with the two niches above."""
    return config_file(**{"niches": NICHES, **overrides})


@pytest.fixture
def filled(store: Store) -> Store:
    store.papers.upsert(PAPERS)
    store.queue.enqueue("robotics", ["2405.00001", "2405.00002"])
    return store


@pytest.mark.parametrize(
    "text, key",
    [
        ("2405.00001", "2405.00001"),
        ("2405.00001v3", "2405.00001"),
        ("arXiv:2405.00001v1", "2405.00001"),
        (" https://arxiv.org/abs/2405.00001v2 ", "2405.00001"),
        ("https://arxiv.org/pdf/2405.00001v2.pdf", "2405.00001"),
        ("https://export.arxiv.org/abs/hep-th/9901001v1", "hep-th/9901001"),
        ("https://huggingface.co/papers/2405.00001", "2405.00001"),
        ("https://doi.org/10.1000/XYZ123", "doi:10.1000/xyz123"),
        ("doi:10.1000/XYZ123", "doi:10.1000/xyz123"),
        ("10.48550/arXiv.2405.00001", "2405.00001"),
        ("https://openreview.net/forum?id=AbC", "openreview:AbC"),
        ("openreview:AbC", "openreview:AbC"),
    ],
)
def test_normalise_id_accepts_versions_and_urls(text: str, key: str) -> None:
    assert normalise_id(text) == key


def test_mark_moves_state_and_reports_previous(filled: Store) -> None:
    marked = filled.queue.mark("robotics", "https://arxiv.org/abs/2405.00001v2", "saved")
    assert (marked.paper_id, marked.previous, marked.state) == ("2405.00001", "queued", "saved")
    assert filled.queue.states("robotics") == {"2405.00001": "saved", "2405.00002": "queued"}


def test_mark_adds_a_stored_paper_that_was_never_queued(filled: Store) -> None:
    marked = filled.queue.mark("strings", "hep-th/9901001v2", "read")
    assert marked.previous is None
    assert filled.queue.states("strings") == {"hep-th/9901001": "read"}
    assert filled.queue.states("robotics") == {"2405.00001": "queued", "2405.00002": "queued"}


def test_mark_unknown_paper_is_refused_and_changes_nothing(filled: Store) -> None:
    with pytest.raises(
        QueueError, match=r"no paper '2101\.99999' in the store; collect or import it"
    ):
        filled.queue.mark("robotics", "2101.99999v1", "saved")
    assert "2101.99999" not in filled.queue.states("robotics")


def test_mark_unknown_state_is_refused(filled: Store) -> None:
    with pytest.raises(
        QueueError, match="unknown state 'liked'; use one of queued, saved, read, skipped"
    ):
        filled.queue.mark("robotics", "2405.00001", "liked")


def test_list_filters_by_niche_and_state_and_counts(filled: Store) -> None:
    filled.queue.mark("robotics", "2405.00002", "skipped")
    filled.queue.mark("strings", "hep-th/9901001", "saved")
    assert [i.paper.id for i in filled.queue.list("robotics", ["skipped"])] == ["2405.00002"]
    assert {(i.niche, i.paper.id) for i in filled.queue.list(states=["saved", "skipped"])} == {
        ("robotics", "2405.00002"),
        ("strings", "hep-th/9901001"),
    }
    assert filled.queue.counts("robotics") == {"queued": 1, "saved": 0, "read": 0, "skipped": 1}
    assert filled.queue.counts() == {"queued": 1, "saved": 1, "read": 0, "skipped": 1}


def test_enqueue_keeps_a_marked_state(filled: Store) -> None:
    filled.queue.mark("robotics", "2405.00001", "skipped")
    assert filled.queue.enqueue("robotics", ["2405.00001", "2405.00002"]) == 0
    assert filled.queue.states("robotics")["2405.00001"] == "skipped"


def test_cli_save_then_list(filled: Store, config_file: ConfigFile) -> None:
    config = write_config(config_file)
    code, out = run_cli(config, "queue", "save", "arXiv:2405.00001v2", "--niche", "robotics")
    assert (code, out) == (0, "Saved 2405.00001 in robotics (was queued).\n")
    code, out = run_cli(config, "queue", "list", "--niche", "robotics")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["id", "state", "title"]
    assert lines[1].split()[:2] == ["2405.00001", "saved"]
    assert lines[-1] == "1 queued, 1 saved, 0 read, 0 skipped"
    assert max(len(line) for line in lines) <= 80


def test_cli_bare_queue_lists_all_niches(filled: Store, config_file: ConfigFile) -> None:
    code, out = run_cli(write_config(config_file), "queue")
    assert code == 0
    assert out.splitlines()[0].split() == ["id", "state", "niche", "title"]
    assert "Legged Locomotion in the Wild" in out


def test_cli_unknown_id_is_a_clear_error(filled: Store, config_file: ConfigFile) -> None:
    code, out = run_cli(
        write_config(config_file), "queue", "skip", "2101.99999", "--niche", "robotics"
    )
    assert code == 1
    assert "Error: no paper '2101.99999' in the store" in out


def test_cli_needs_niche_when_several_are_configured(
    filled: Store, config_file: ConfigFile
) -> None:
    code, out = run_cli(write_config(config_file), "queue", "read", "2405.00001")
    assert code == 1
    assert "several niches are configured; pass --niche (one of robotics, strings)" in out


def test_cli_single_niche_is_the_default(filled: Store, config_file: ConfigFile) -> None:
    config = write_config(config_file, niches=NICHES[:1])
    code, out = run_cli(config, "queue", "read", "2405.00002", "2405.00001")
    assert code == 0
    assert out.splitlines() == [
        "Read 2405.00002 in robotics (was queued).",
        "Read 2405.00001 in robotics (was queued).",
    ]


def test_cli_unknown_niche_is_a_clear_error(filled: Store, config_file: ConfigFile) -> None:
    code, out = run_cli(write_config(config_file), "queue", "list", "--niche", "nope")
    assert code == 1
    assert "no niche named 'nope' (known: robotics, strings)" in out


def test_cli_empty_state_filter(filled: Store, config_file: ConfigFile) -> None:
    code, out = run_cli(write_config(config_file), "queue", "list", "--state", "read")
    assert (code, out) == (0, "Nothing is read.\n")


def test_cli_list_shows_bracketed_titles_as_written(store: Store, config_file: ConfigFile) -> None:
    titles = ["Attention [is] all [/] you need", "[link=https://evil.example]Click[/link] me"]
    papers = [Paper(id=f"2406.0000{i}", title=t) for i, t in enumerate(titles, 1)]
    store.papers.upsert(papers)
    store.queue.enqueue("robotics", [p.id for p in papers])
    code, out = run_cli(write_config(config_file), "queue", "list", "--niche", "robotics")
    assert code == 0, out
    for title in titles:
        assert title in out
