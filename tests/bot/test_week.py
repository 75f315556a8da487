"""A simulated week of arXiv, end to end: a local OAI-PMH server announces papers day by day,
`midlist collect` and `midlist digest --date D` run as a user's cron would, and every announced
on-niche paper must reach the channel exactly once.

The week holds what broke the daily loop before: weekend submissions announced on Monday, a
cross-list from another archive submitted a week earlier, a new version of a delivered paper,
a day the collector did not run, a word that first appears mid-week, announcement-free days,
and a bulk import of older history that is not news.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from bot.models import Digest
from bot.store import Store
from bot.store.schema import digests
from sources.oai import STATE_PREFIX
from tests.conftest import ConfigFile, run_cli
from tests.fakes import local_server
from tests.fakes.oai import FakeOai, OaiRecord

MON = date(2026, 11, 16)
WEEK = [MON + timedelta(days=i) for i in range(8)]  # Monday to the next Monday
SKIP_COLLECT = {MON + timedelta(days=2)}  # Wednesday: the machine was off at collect time

ON = "state space model"  # the niche's phrase
NEW_WORD = "hyenaformer"  # a second keyword no paper uses before Thursday
FIELDS = (
    "speech recognition with noisy microphones",
    "genomics pipelines and sequencing reads",
    "weather forecasting over oceans",
    "robot locomotion on rough terrain",
    "music generation from symbolic scores",
    "financial time series and volatility",
    "traffic prediction in dense cities",
    "satellite imagery of crops",
    "legal document retrieval",
    "chemistry reaction yield estimation",
)


def paper(
    n: int,
    announced: date,
    *,
    about: str = ON,
    categories: tuple[str, ...] = ("cs.LG",),
    created: date | None = None,
    updated: date | None = None,
) -> OaiRecord:
    field = FIELDS[n % len(FIELDS)]
    return OaiRecord(
        id=f"2611.{n:05d}",
        datestamp=announced,
        categories=categories,
        title=f"A {about} approach to {field}",
        abstract=f"We apply a {about} to {field}. The {about} is trained on {field} data.",
        created=created or announced - timedelta(days=1),
        updated=updated,
    )


def week_records() -> tuple[list[OaiRecord], set[str]]:
    """Everything arXiv announces over the week, and the ids of the on-niche papers."""
    fri, sat = MON - timedelta(days=3), MON - timedelta(days=2)
    tue, wed, thu = WEEK[1], WEEK[2], WEEK[3]
    records = [
        paper(1, MON, created=fri),  # weekend submissions, announced Monday
        paper(2, MON, created=sat),
        paper(3, MON, about="protein folding model"),  # off-niche
        paper(4, tue),
        paper(
            5, tue, categories=("math.OC", "cs.LG"), created=MON - timedelta(days=8)
        ),  # cross-list
        paper(6, wed),  # announced while the collector was off
        paper(7, wed, about="protein folding model"),
        paper(8, thu),
        paper(9, thu, about=NEW_WORD),  # the word first appears
        paper(10, WEEK[7]),  # the next Monday
    ]
    on_niche = {r.id for r in records if "protein" not in r.title}
    return records, on_niche


def history_snapshot(path: Path) -> Path:
    """Older on-niche papers in the Kaggle snapshot format, as a user imports to seed a niche."""
    lines = [
        {
            "id": f"2401.{n:05d}",
            "title": f"An early {ON} study of {FIELDS[n % len(FIELDS)]}",
            "abstract": f"A {ON} for {FIELDS[n % len(FIELDS)]}.",
            "authors": "A. Author",
            "categories": "cs.LG",
            "update_date": "2024-01-15",
        }
        for n in range(1, 13)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


class FakeApi:
    """arXiv's query API (Atom): every hit submitted by `today`, newest first, in one page."""

    def __init__(self, server: HTTPServer, hits: list[OaiRecord]):
        self.hits, self.today = hits, MON
        self.url = server.url_for("/api/query")
        server.expect_request("/api/query").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        shown = sorted(
            (h for h in self.hits if h.datestamp <= self.today),
            key=lambda h: h.datestamp,
            reverse=True,
        )
        page = shown if int(request.args.get("start", 0)) == 0 else []
        entries = "".join(_atom_entry(h) for h in page)
        return Response(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
            'xmlns:arxiv="http://arxiv.org/schemas/atom">'
            f"<id>https://arxiv.org/api/week</id><title>query</title>"
            f"<updated>{self.today.isoformat()}T00:00:00Z</updated>"
            f"<opensearch:totalResults>{len(shown)}</opensearch:totalResults>"
            f"<opensearch:startIndex>0</opensearch:startIndex>"
            f"<opensearch:itemsPerPage>{len(page)}</opensearch:itemsPerPage>{entries}</feed>",
            content_type="application/atom+xml; charset=utf-8",
        )


def _atom_entry(hit: OaiRecord) -> str:
    stamp = f"{hit.datestamp.isoformat()}T12:00:00Z"
    categories = "".join(f'<category term="{c}"/>' for c in hit.categories)
    return (
        f"<entry><id>http://arxiv.org/abs/{hit.id}v1</id><title>{hit.title}</title>"
        f"<updated>{stamp}</updated><published>{stamp}</published>"
        f"<summary>{hit.abstract}</summary>{categories}"
        f'<arxiv:primary_category term="{hit.categories[0]}"/>'
        f'<link href="https://arxiv.org/abs/{hit.id}v1" rel="alternate" type="text/html"/>'
        "<author><name>Ada Quill</name></author></entry>"
    )


@pytest.fixture
def arxiv() -> Iterator[tuple[FakeOai, FakeApi]]:
    with local_server() as server:
        # a paper in a category the niche does not follow, found by the keyword query
        query_hit = paper(11, WEEK[1], categories=("eess.AS",))
        yield FakeOai(server, page_size=3), FakeApi(server, [query_hit])


def test_a_simulated_week_delivers_every_announced_on_niche_paper_exactly_once(
    arxiv: tuple[FakeOai, FakeApi], config_file: ConfigFile, tmp_path: Path
) -> None:
    oai, api = arxiv
    records, on_niche = week_records()
    records += api.hits
    on_niche |= {h.id for h in api.hits}
    config = config_file(
        sources={
            "arxiv": {
                "oai_url": oai.url,
                "api_url": api.url,
                "categories": ["cs.LG"],
                "queries": [ON],
                "delay_seconds": 0,
            },
            "reddit": {"enabled": False},
        },
        niches=[
            {
                "name": "ssm",
                "keywords": [ON, NEW_WORD],
                "band": "top",
                "size": 20,
                "channels": ["console"],
            }
        ],
    )

    def midlist(*args: str) -> str:
        result = run_cli(config, *args)
        assert result.exit_code == 0, result.output
        return result.stdout

    midlist("import", str(history_snapshot(tmp_path / "history.jsonl")))
    # The collector has been running: the last datestamp it saw was the Friday before the week.
    store = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    store.state.put("arxiv", {STATE_PREFIX + "cs": (MON - timedelta(days=3)).isoformat()})
    store.close()
    oai.add(*(r for r in records if r not in api.hits))
    notes: dict[date, str] = {}
    for day in WEEK:
        oai.today = api.today = day
        if day == WEEK[3]:  # Thursday: a new version of Monday's first paper is announced
            oai.add(paper(1, day, created=MON - timedelta(days=3), updated=day - timedelta(days=1)))
        if day not in SKIP_COLLECT:
            midlist("collect")
        out = midlist("digest", "--date", day.isoformat())
        notes[day] = out

    store = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    with store.connect() as conn:
        sent = [
            Digest.from_json(row.payload)
            for row in conn.execute(select(digests).where(digests.c.status == "sent"))
        ]
    store.close()
    delivered = Counter(pid for d in sent for pid in d.paper_ids)
    repeats = {pid: n for pid, n in delivered.items() if n > 1}
    print(
        f"simulated week: {len(records)} announced ({len(on_niche)} on-niche), "
        f"{sum(delivered.values())} delivered ({len(delivered)} distinct), {len(repeats)} repeats"
    )
    assert len(sent) == len(WEEK)  # one digest a day, quiet days included
    assert repeats == {}
    assert set(delivered) == on_niche  # nothing imported, nothing off-niche, nothing missed
    by_day = {date.fromisoformat(d.day): set(d.paper_ids) for d in sent}
    assert by_day[MON] == {"2611.00001", "2611.00002"}
    assert by_day[WEEK[1]] == {"2611.00004", "2611.00005", "2611.00011"}  # cross-list, query hit
    assert by_day[WEEK[2]] == set()  # Wednesday's papers wait for a collector that runs
    assert by_day[WEEK[3]] == {"2611.00006", "2611.00008", "2611.00009"}  # caught up, new word
    assert "Nothing new today" in notes[WEEK[4]]  # Friday: arXiv announced nothing
