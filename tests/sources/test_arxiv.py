"""The arXiv collector against a local server speaking arXiv's Atom, through the real `arxiv` package."""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from sources.arxiv import LOOKUP_BATCH, ArxivCollector
from sources.errors import FetchError, ParseError
from sources.http import SYSTEM_CLOCK
from sources.ids import parse_arxiv_id
from tests.conftest import FIXTURES
from tests.fakes.clock import FakeClock

ARXIV = FIXTURES / "arxiv"
ATOM = "application/atom+xml; charset=utf-8"
DELAY = 0.05


@dataclass
class Step:
    """One scripted answer: a fixture file (or bytes), a status, headers, an optional stall."""

    body: str | bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    sleep: float = 0.0
    content_type: str = ATOM


@dataclass
class Hit:
    at: float
    args: dict[str, str]


class ArxivScript:
    """A local arXiv API: answers requests in order from a script and records when each arrived."""

    def __init__(self, server: HTTPServer, steps: list[Step]):
        self.steps = list(steps)
        self.hits: list[Hit] = []
        self.url = f"http://127.0.0.1:{server.port}/api/query"
        server.expect_request("/api/query").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.hits.append(Hit(time.monotonic(), dict(request.args)))
        if not self.steps:
            return Response("script exhausted", status=599)
        step = self.steps.pop(0)
        if step.sleep:
            time.sleep(step.sleep)
        body = step.body if isinstance(step.body, bytes) else (ARXIV / step.body).read_bytes()
        return Response(
            body, status=step.status, headers=step.headers, content_type=step.content_type
        )

    def wait_for_hits(self, count: int, patience: float = 10.0) -> None:
        give_up = time.monotonic() + patience
        while len(self.hits) < count and time.monotonic() < give_up:
            time.sleep(0.02)
        assert len(self.hits) == count


def collector(script: ArxivScript, **overrides: object) -> ArxivCollector:
    """An API collector for the query `cat:cs.LG` (categories proper go through OAI-PMH)."""
    options: dict[str, object] = {
        "api_url": script.url,
        "queries": ["cat:cs.LG"],
        "clock": FakeClock(),
        "delay_seconds": DELAY,
        "timeout_seconds": 2.0,
        "page_size": 2,
        "max_results": 100,
        "retries": 2,
    }
    options.update(overrides)
    return ArxivCollector(**options)  # type: ignore[arg-type]


def test_collect_pages_newest_first_and_maps_every_field(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("page1.xml"), Step("page2.xml")])
    batch = collector(script).collect({})

    assert [p.id for p in batch.papers] == [
        "2405.00003",
        "2405.00002",
        "2405.00001",
        "hep-th/9901001",
    ]
    assert [(h.args["start"], h.args["max_results"]) for h in script.hits] == [
        ("0", "2"),
        ("2", "2"),
    ]
    first = script.hits[0].args
    assert (first["search_query"], first["sortBy"], first["sortOrder"]) == (
        "cat:cs.LG",
        "submittedDate",
        "descending",
    )
    sparse, kernels = batch.papers[0], batch.papers[1]
    assert sparse.title == "Sparse Probes for Recurrent Memory"
    assert sparse.abstract == "We probe recurrent memory with sparse linear readouts."
    assert sparse.authors == ("Ada Quill", "Bo Tern")
    assert sparse.categories == ("cs.LG",)  # the ACM class I.2.6 is not an arXiv category
    assert sparse.comment == "12 pages, 3 figures"
    assert sparse.url == "https://arxiv.org/abs/2405.00003"
    assert sparse.published == datetime(2024, 5, 3, 17, 59, 59, tzinfo=UTC)
    assert sparse.source == "arxiv"
    assert sparse.announced == sparse.updated  # the API's latest-version date
    assert (kernels.version, kernels.doi) == (2, "10.1000/fixture.2")
    assert kernels.updated == datetime(2024, 5, 4, 9, tzinfo=UTC)
    assert batch.state == {"cursor:cat:cs.LG": "2024-05-03T17:59:59+00:00"}
    assert batch.notes == []


def test_cross_list_puts_primary_category_first(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("page1.xml"), Step("page2.xml")])
    papers = {p.id: p for p in collector(script).collect({}).papers}
    assert papers["2405.00002"].categories == ("cs.LG", "stat.ML")
    assert papers["hep-th/9901001"].categories == ("hep-th", "cs.LG")


def test_old_style_id_keeps_its_archive_and_drops_the_version(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("page1.xml"), Step("page2.xml")])
    old = [p for p in collector(script).collect({}).papers if "/" in p.id]
    assert [(p.id, p.version, p.url) for p in old] == [
        ("hep-th/9901001", 1, "https://arxiv.org/abs/hep-th/9901001")
    ]


def test_empty_later_page_keeps_earlier_papers_and_the_old_cursor(httpserver: HTTPServer) -> None:
    # totalResults says 6, but the page at start=2 stays empty through every retry.
    steps = [Step("newer.xml"), Step("empty_page.xml"), Step("empty_page.xml")]
    script = ArxivScript(httpserver, steps)
    batch = collector(script, retries=1).collect({"cursor:cat:cs.LG": "2024-01-01T00:00:00+00:00"})

    assert [p.id for p in batch.papers] == ["2405.00004", "2405.00003"]
    assert [h.args["start"] for h in script.hits] == ["0", "2", "2"]
    assert batch.state == {}  # the gap is walked again next run
    assert len(batch.notes) == 1
    assert batch.notes[0].startswith("cat:cs.LG: a later page came back empty while trying to")
    assert "start=2" in batch.notes[0] and "after 2 tries" in batch.notes[0]
    assert batch.notes[0].endswith("kept 2 papers from before it")


def test_no_results_is_an_empty_batch_not_an_error(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("no_results.xml")])
    batch = collector(script).collect({})
    assert (batch.papers, batch.state, batch.notes, len(script.hits)) == ([], {}, [], 1)


def test_429_with_retry_after_is_honoured_then_succeeds(httpserver: HTTPServer) -> None:
    steps = [
        Step(b"slow down", status=429, headers={"Retry-After": "1"}, content_type="text/plain")
    ]
    script = ArxivScript(httpserver, [*steps, Step("v1.xml")])
    arxiv = collector(script)
    papers = arxiv.lookup(["2405.00002"])

    assert [p.id for p in papers] == ["2405.00002"]
    assert len(script.hits) == 2
    assert arxiv.clock.sleeps == [1.0]  # type: ignore[attr-defined]


def test_a_retry_after_beyond_reason_fails_now_instead_of_hanging(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step(b"", status=429, headers={"Retry-After": "3600"})])
    with pytest.raises(
        FetchError, match="HTTP 429; the server asks to wait 3600 s, so try again later"
    ):
        collector(script).lookup(["2405.00002"])
    assert len(script.hits) == 1


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    arxiv = ArxivCollector(
        api_url=f"http://127.0.0.1:{port}/api/query", retries=1, clock=FakeClock()
    )
    with pytest.raises(FetchError, match=r"cannot connect \(ConnectionError\).* after 2 tries"):
        arxiv.search("ti:kernels")


def test_read_timeout_is_retried(httpserver: HTTPServer) -> None:
    # The test server answers one request at a time: the retry waits until the stall is over.
    script = ArxivScript(httpserver, [Step("v1.xml", sleep=0.5), Step("v1.xml")])
    arxiv = collector(script, timeout_seconds=0.2, delay_seconds=0.5, clock=SYSTEM_CLOCK)
    papers = arxiv.lookup(["2405.00002"])
    assert [p.id for p in papers] == ["2405.00002"]
    assert len(script.hits) == 2


def test_read_timeouts_exhaust_retries_with_a_clear_reason(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("v1.xml", sleep=0.4)] * 2)
    with pytest.raises(FetchError, match=r"no answer within 0.2 s .* after 2 tries"):
        collector(script, timeout_seconds=0.2, retries=1).lookup(["2405.00002"])
    # The one-at-a-time server still owes the abandoned retry an answer: let it take its own
    # step here, not the next test's first one.
    script.wait_for_hits(2)


def test_5xx_is_retried_with_growing_backoff(httpserver: HTTPServer) -> None:
    errors = [
        Step(b"oops", status=503, content_type="text/plain"),
        Step(b"oops", status=502, content_type="text/plain"),
    ]
    script = ArxivScript(httpserver, [*errors, Step("v1.xml")])
    arxiv = collector(script)
    assert [p.id for p in arxiv.lookup(["2405.00002"])] == ["2405.00002"]
    assert arxiv.clock.sleeps == [1.0, 2.0]  # type: ignore[attr-defined]


def test_5xx_everywhere_fails_the_collect(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step(b"down", status=500, content_type="text/plain")] * 3)
    with pytest.raises(
        FetchError, match=r"cat:cs.LG: HTTP 500 while trying to query the API .* after 3 tries"
    ):
        collector(script).collect({})


def test_html_with_status_200_is_a_fetch_error_not_an_empty_result(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("maintenance.html", content_type="text/html")])
    with pytest.raises(
        FetchError, match=r"HTML page instead of an Atom feed.*sources.arxiv.api_url"
    ):
        collector(script).collect({})
    assert len(script.hits) == 1


def test_malformed_xml_is_a_parse_error(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("malformed.xml")])
    with pytest.raises(ParseError, match=r"malformed XML at line \d+, column \d+"):
        collector(script).search("recurrent memory")


def test_api_error_body_is_reported_and_not_retried(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("error_400.xml", status=400)])
    with pytest.raises(FetchError, match="HTTP 400: incorrect id format for nope"):
        collector(script).search("id:nope")
    assert len(script.hits) == 1


def test_one_failing_query_does_not_lose_the_others(httpserver: HTTPServer) -> None:
    steps = [Step("error_400.xml", status=400), Step("v1.xml")]
    script = ArxivScript(httpserver, steps)
    batch = collector(script, queries=["id:nope", "ti:kernels"], page_size=10).collect({})

    assert [p.id for p in batch.papers] == ["2405.00002"]
    assert batch.state == {"cursor:ti:kernels": "2024-05-02T12:00:00+00:00"}
    assert len(batch.notes) == 1 and batch.notes[0].startswith(
        "id:nope: HTTP 400: incorrect id format"
    )


def test_requests_are_at_least_delay_seconds_apart(httpserver: HTTPServer) -> None:
    steps = [Step("page1.xml"), Step("page2.xml"), Step("no_results.xml"), Step("no_results.xml")]
    script = ArxivScript(httpserver, steps)
    arxiv = collector(
        script, queries=["cat:cs.LG", "cat:stat.ML", "ti:kernels"], delay_seconds=0.15
    )
    arxiv.collect({})

    assert len(script.hits) == 4
    assert arxiv.clock.sleeps == [0.15, 0.15, 0.15]  # type: ignore[attr-defined]


def test_second_collect_stops_at_the_cursor(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("page1.xml"), Step("page2.xml"), Step("newer.xml")])
    arxiv = collector(script)
    first = arxiv.collect({})
    second = arxiv.collect(first.state)

    assert [p.id for p in second.papers] == ["2405.00004"]
    assert len(script.hits) == 3  # one page, although the listing says six results
    assert second.state == {"cursor:cat:cs.LG": "2024-05-05T18:00:00+00:00"}


def test_lookup_batches_ids_and_normalises_them(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("v1.xml"), Step("no_results.xml")])
    wanted = ["2405.00002v1", "arXiv:2405.00002", "not-an-id"] + [
        f"2301.{n:05d}" for n in range(1, 120)
    ]
    papers = collector(script, page_size=200).lookup(wanted)

    assert [(p.id, p.version) for p in papers] == [("2405.00002", 1)]
    batches = [h.args["id_list"].split(",") for h in script.hits]
    assert [len(b) for b in batches] == [LOOKUP_BATCH, 120 - LOOKUP_BATCH]
    assert batches[0][0] == "2405.00002"
    assert all(h.args["search_query"] == "" for h in script.hits)


def test_search_asks_for_relevance_order(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [Step("v1.xml")])
    papers = collector(script, page_size=50).search("ti:kernels", max_results=5)

    assert [p.title for p in papers] == ["Cross-Listed Kernels"]
    args = script.hits[0].args
    assert (args["search_query"], args["sortBy"], args["max_results"]) == (
        "ti:kernels",
        "relevance",
        "5",
    )


def test_collect_with_nothing_configured_says_so(httpserver: HTTPServer) -> None:
    script = ArxivScript(httpserver, [])
    batch = collector(script, queries=[]).collect({})
    assert batch.papers == [] and script.hits == []
    assert batch.notes == ["no categories or queries configured; nothing to collect"]


# ---- the real recorded responses -------------------------------------------------------------

_NS = {"a": "http://www.w3.org/2005/Atom"}


def _entries(body: bytes) -> list[tuple[str, str]]:
    root = ET.fromstring(body)
    return [
        (
            e.findtext("a:id", namespaces=_NS) or "",
            " ".join((e.findtext("a:title", namespaces=_NS) or "").split()),
        )
        for e in root.findall("a:entry", _NS)
    ]


@pytest.mark.shared
def test_every_real_api_response_parses(httpserver: HTTPServer, shared_data: Path) -> None:
    files = sorted((shared_data / "arxiv-api").rglob("*.xml"))
    assert len(files) >= 20
    parsed = 0
    for path in files:
        httpserver.clear()
        body = path.read_bytes()
        entries = _entries(body)
        is_error = any("/api/errors" in eid for eid, _ in entries)
        status = 400 if is_error else 200
        script = ArxivScript(httpserver, [Step(body, status=status)])
        arxiv = collector(script, delay_seconds=0, page_size=100)
        if is_error:
            with pytest.raises(FetchError, match="HTTP 400: incorrect id format"):
                arxiv.search("id:abc", max_results=10)
            continue
        papers = arxiv.search("all:testing", max_results=max(len(entries), 1))
        expected = [parse_arxiv_id(eid.rsplit("/abs/", 1)[1]) for eid, _ in entries]
        assert [p.id for p in papers] == [e.base for e in expected if e], path.name
        assert [p.title for p in papers] == [t for _, t in entries], path.name
        assert all(p.published and p.updated and p.authors for p in papers), path.name
        parsed += len(papers)
    assert parsed >= 250  # 256 entries in the 2026 recordings and the 2016 ones


def test_stopping_at_max_results_keeps_the_old_cursor_so_the_gap_can_be_filled(
    httpserver: HTTPServer,
) -> None:
    script = ArxivScript(httpserver, [Step("page1.xml"), Step("page1.xml"), Step("page2.xml")])
    old = {"cursor:cat:cs.LG": "2024-05-01T00:00:00+00:00"}

    capped = collector(script, max_results=2).collect(old)
    assert [p.id for p in capped.papers] == ["2405.00003", "2405.00002"]
    assert capped.state == {}  # the papers between the cursor and these are still to come
    [note] = capped.notes
    assert "stopped at max_results=2" in note and "raise max_results" in note

    raised = collector(script, max_results=10).collect(old)
    assert [p.id for p in raised.papers] == ["2405.00003", "2405.00002", "2405.00001"]
    assert raised.state == {"cursor:cat:cs.LG": "2024-05-03T17:59:59+00:00"}
