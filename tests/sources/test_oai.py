"""Categories harvested by announcement from a local OAI-PMH server speaking arXiv's format."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer

from sources.arxiv import ArxivCollector
from sources.errors import FetchError, ParseError
from sources.oai import parse_page, set_spec
from tests.fakes.clock import FakeClock
from tests.fakes.oai import FakeOai, Fault, OaiRecord
from tests.sources.test_http import raw_server, trickle

MON, TUE, WED = date(2024, 5, 6), date(2024, 5, 7), date(2024, 5, 8)


def make(oai: FakeOai, *categories: str, clock: FakeClock | None = None) -> ArxivCollector:
    return ArxivCollector(
        oai_url=oai.url,
        api_url=oai.url.replace("/oai", "/api/query"),
        categories=categories or ("cs.LG",),
        delay_seconds=3,
        timeout_seconds=5,
        retries=2,
        clock=clock or FakeClock(datetime(2024, 5, 8, 12, tzinfo=UTC)),
    )


def test_set_spec_is_the_categorys_archive() -> None:
    assert [set_spec(c) for c in ("cs.LG", "math.OC", "hep-th", "astro-ph.GA", "stat.ML")] == [
        "cs",
        "math",
        "physics:hep-th",
        "physics:astro-ph",
        "stat",
    ]


def test_first_harvest_maps_every_field_and_asks_for_the_archive(server: HTTPServer) -> None:
    record = OaiRecord(
        "2405.00001",
        MON,
        ("cs.LG", "stat.ML"),
        title="Sparse  Probes\n for Recurrent Memory",
        abstract="We probe recurrent memory.",
        authors=(("Quill", "Ada"), ("Tern", "Bo")),
        created=date(2024, 5, 2),
        doi="10.1000/x.1",
        comments="12 pages",
    )
    oai = FakeOai(server, [record])
    batch = make(oai).collect({})

    [paper] = batch.papers
    assert (paper.id, paper.title, paper.abstract) == (
        "2405.00001",
        "Sparse Probes for Recurrent Memory",
        "We probe recurrent memory.",
    )
    assert paper.authors == ("Ada Quill", "Bo Tern")
    assert paper.categories == ("cs.LG", "stat.ML")
    assert (paper.doi, paper.comment, paper.url) == (
        "10.1000/x.1",
        "12 pages",
        "https://arxiv.org/abs/2405.00001",
    )
    assert paper.published == datetime(2024, 5, 2, tzinfo=UTC)
    assert paper.announced == datetime(2024, 5, 6, tzinfo=UTC)
    assert oai.requests == [
        {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs", "from": "2024-05-01"}
    ]
    assert batch.state == {"oai:cs": "2024-05-06"}


def test_resumption_tokens_are_followed_to_the_last_page(server: HTTPServer) -> None:
    records = [OaiRecord(f"2405.0000{n}", MON, ("cs.LG",)) for n in range(1, 6)]
    oai = FakeOai(server, records, page_size=2)
    clock = FakeClock()
    batch = make(oai, clock=clock).collect({"oai:cs": "2024-05-06"})

    assert sorted(p.id for p in batch.papers) == [r.id for r in records]
    assert [set(r) for r in oai.requests[1:]] == [{"verb", "resumptionToken"}] * 2
    assert clock.sleeps == [3.0, 3.0]  # delay_seconds between pages


def test_only_followed_categories_are_kept_cross_lists_included(server: HTTPServer) -> None:
    oai = FakeOai(
        server,
        [
            OaiRecord("2405.00001", MON, ("cs.LG",)),
            OaiRecord("2405.00002", MON, ("cs.AI",)),  # same archive, not followed
            OaiRecord("2405.00003", MON, ("math.OC", "cs.LG")),  # cross-listed from math
        ],
    )
    batch = make(oai).collect({"oai:cs": "2024-05-06"})
    assert sorted(p.id for p in batch.papers) == ["2405.00001", "2405.00003"]
    assert {p.id: p.categories for p in batch.papers}["2405.00003"] == ("math.OC", "cs.LG")


def test_next_run_starts_at_the_reported_datestamp_and_catches_up(server: HTTPServer) -> None:
    oai = FakeOai(server, [OaiRecord("2405.00001", MON, ("cs.LG",))])
    oai.today = MON
    first = make(oai).collect({})
    assert first.state == {"oai:cs": "2024-05-06"}

    # Two days pass without a collect; a v2 of the first paper and two new ones are announced.
    oai.add(
        OaiRecord("2405.00002", TUE, ("cs.LG",)),
        OaiRecord("2405.00001", WED, ("cs.LG",), created=date(2024, 5, 1), updated=WED),
        OaiRecord("2405.00003", WED, ("cs.LG",), created=date(2024, 5, 3)),  # a Friday submission
    )
    oai.today = WED
    second = make(oai).collect(first.state)

    assert oai.requests[1]["from"] == "2024-05-06"  # inclusive: Monday is read again
    papers = {p.id: p for p in second.papers}
    assert sorted(papers) == ["2405.00001", "2405.00002", "2405.00003"]
    assert papers["2405.00001"].updated == datetime(2024, 5, 8, tzinfo=UTC)
    assert papers["2405.00001"].announced == datetime(2024, 5, 8, tzinfo=UTC)
    late = papers["2405.00003"]
    assert (late.published, late.announced) == (
        datetime(2024, 5, 3, tzinfo=UTC),
        datetime(2024, 5, 8, tzinfo=UTC),
    )
    assert second.state == {"oai:cs": "2024-05-08"}


def test_no_records_match_is_nothing_new_not_an_error(server: HTTPServer) -> None:
    oai = FakeOai(server, [OaiRecord("2405.00001", MON, ("cs.LG",))])
    batch = make(oai).collect({"oai:cs": "2024-05-07"})
    assert (batch.papers, batch.state, batch.notes) == ([], {}, [])  # the cursor stays put


def test_503_retry_after_in_seconds_and_as_a_date_is_honoured(server: HTTPServer) -> None:
    clock = FakeClock()
    oai = FakeOai(server, [OaiRecord("2405.00001", MON, ("cs.LG",))])
    when = format_datetime(clock.now() + timedelta(seconds=90), usegmt=True)
    oai.fail_next(
        Fault(503, b"busy", {"Retry-After": "20"}),
        Fault(503, b"busy", {"Retry-After": when}),
    )
    batch = make(oai, clock=clock).collect({"oai:cs": "2024-05-06"})

    assert [p.id for p in batch.papers] == ["2405.00001"]
    assert len(oai.requests) == 3
    assert clock.sleeps[0] == 20.0
    assert 69.0 <= clock.sleeps[1] <= 70.0  # 90 s from the first request, 20 s of which passed


def test_a_retry_after_of_hours_fails_now_and_keeps_the_cursor(server: HTTPServer) -> None:
    oai = FakeOai(server, [OaiRecord("2405.00001", MON, ("cs.LG",))])
    oai.fail_next(Fault(503, b"", {"Retry-After": "7200"}))
    clock = FakeClock()
    with pytest.raises(FetchError, match="asks to wait 7200 s, so try again later"):
        make(oai, clock=clock).collect({"oai:cs": "2024-05-06"})
    assert len(oai.requests) == 1 and clock.sleeps == []


def test_html_instead_of_xml_names_the_config_key(server: HTTPServer) -> None:
    oai = FakeOai(server)
    oai.fail_next(
        Fault(200, b"<!DOCTYPE html><html><body>Maintenance</body></html>", {}, "text/html")
    )
    with pytest.raises(
        FetchError, match=r"HTML page instead of OAI-PMH XML.*sources.arxiv.oai_url"
    ):
        make(oai).collect({})


def test_malformed_xml_is_a_parse_error(server: HTTPServer) -> None:
    oai = FakeOai(server)
    oai.fail_next(Fault(200, b"<OAI-PMH><ListRecords><record>", {}, "text/xml"))
    with pytest.raises(ParseError, match=r"malformed XML at line 1"):
        make(oai).collect({})


def test_oai_errors_other_than_no_records_are_fetch_errors(server: HTTPServer) -> None:
    oai = FakeOai(server)
    error = (
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2024-05-06T00:00:00Z'
        b'</responseDate><error code="badArgument">Illegal set</error></OAI-PMH>'
    )
    oai.fail_next(Fault(200, error, {}, "text/xml"))
    with pytest.raises(
        FetchError, match="OAI-PMH error badArgument: Illegal set; check sources.arxiv.categories"
    ):
        make(oai).collect({})
    assert len(oai.requests) == 1  # not retried


def test_an_oai_error_with_a_4xx_status_still_names_the_oai_error(server: HTTPServer) -> None:
    oai = FakeOai(server)
    error = (
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b'<error code="badResumptionToken">expired</error></OAI-PMH>'
    )
    oai.fail_next(Fault(400, error, {}, "text/xml"), Fault(404, b"gone", {}, "text/plain"))
    with pytest.raises(FetchError, match="OAI-PMH error badResumptionToken: expired"):
        make(oai).collect({"oai:cs": "2024-05-06"})
    with pytest.raises(FetchError, match="HTTP 404 while trying to harvest set cs from 2024-05-06"):
        make(oai).collect({"oai:cs": "2024-05-06"})


def test_a_resumption_token_that_comes_back_ends_the_harvest(server: HTTPServer) -> None:
    page = (
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
        b"<resumptionToken>same</resumptionToken></ListRecords></OAI-PMH>"
    )
    oai = FakeOai(server)
    oai.fail_next(*[Fault(200, page, {}, "text/xml")] * 3)
    with pytest.raises(FetchError, match="resumptionToken 'same' came back twice"):
        make(oai).collect({"oai:cs": "2024-05-06"})
    assert len(oai.requests) == 2


def test_a_failure_mid_harvest_keeps_what_was_read_and_the_old_cursor(server: HTTPServer) -> None:
    records = [OaiRecord(f"2405.0000{n}", MON, ("cs.LG",)) for n in range(1, 4)]
    oai = FakeOai(server, records, page_size=2)
    oai.fail_next(Fault(200, b"<OAI-PMH><ListRecords>", {}, "text/xml"), after=1)
    batch = make(oai).collect({"oai:cs": "2024-05-06"})

    assert sorted(p.id for p in batch.papers) == ["2405.00001", "2405.00002"]
    assert batch.state == {}  # the next run reads from Monday again
    [note] = batch.notes
    assert note.startswith("set cs: malformed XML") and note.endswith(
        "kept 2 papers read before it"
    )


def test_deleted_records_are_skipped_and_dtds_refused() -> None:
    page = parse_page(
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
        b'<record><header status="deleted"><identifier>oai:arXiv.org:2405.00009</identifier>'
        b"<datestamp>2024-05-06</datestamp><setSpec>cs</setSpec></header></record>"
        b"</ListRecords></OAI-PMH>"
    )
    assert [(r.datestamp, r.paper) for r in page.records] == [(MON, None)]
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><x>&b;</x>'
    with pytest.raises(ParseError, match="declares a DTD"):
        parse_page(bomb)


def test_physics_archives_are_asked_for_by_their_set(server: HTTPServer) -> None:
    oai = FakeOai(
        server,
        [
            OaiRecord("hep-th/9901001", MON, ("hep-th",)),
            OaiRecord("2405.00005", MON, ("hep-th", "gr-qc")),
        ],
    )
    batch = make(oai, "hep-th", "cs.LG").collect({"oai:physics:hep-th": "2024-05-06"})
    assert sorted(p.id for p in batch.papers) == ["2405.00005", "hep-th/9901001"]
    assert [r.get("set") for r in oai.requests] == ["physics:hep-th", "cs"]
    assert batch.state == {"oai:physics:hep-th": "2024-05-06"}


def test_a_trickling_oai_server_is_cut_off_at_the_deadline() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 60\r\n\r\n"
    sent: list[int] = []
    with raw_server(trickle(head, b"<" * 60, 0.1, sent)) as (url, _):
        arxiv = ArxivCollector(
            oai_url=url, categories=["cs.LG"], timeout_seconds=0.5, retries=2, clock=FakeClock()
        )
        with pytest.raises(FetchError, match=r"set cs: the answer took longer than 0.5 s"):
            arxiv.collect({"oai:cs": "2024-05-06"})
        arxiv.http.close()
    assert len(sent) == 1 and sent[0] < 60  # cut mid-body, and a trickle is not retried
