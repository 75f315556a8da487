"""The Semantic Scholar batch client against a local server speaking the real batch format."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from sources.citations import FIELDS, CitationClient, Found, s2_id
from sources.errors import FetchError, ParseError
from tests.fakes.clock import FakeClock


def paper(s2: str, count: int, **external: str) -> dict[str, object]:
    return {
        "paperId": s2,
        "externalIds": {"CorpusId": 1, **external},
        "citationCount": count,
        "venue": "Neural Information Processing Systems",
        "year": 2017,
    }


def client(server: HTTPServer, clock: FakeClock, **options: object) -> CitationClient:
    return CitationClient(
        server.url_for("/graph/v1"),
        timeout_seconds=2,
        backoff_seconds=0.5,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def test_store_keys_become_batch_ids() -> None:
    assert s2_id("1706.03762") == "ARXIV:1706.03762"
    assert s2_id("hep-th/9901001") == "ARXIV:hep-th/9901001"
    assert s2_id("doi:10.18653/v1/2021.acl-long.24") == "DOI:10.18653/v1/2021.acl-long.24"
    assert s2_id("https://aclanthology.org/2021.acl-long.24/") == "ACL:2021.acl-long.24"
    assert s2_id("openreview:B1DmUzWAW") is None
    assert s2_id("neurips:1987:a-neural-network") is None


def test_lookup_posts_ids_and_reads_papers_and_nulls(httpserver: HTTPServer) -> None:
    seen: list[Request] = []

    def answer(request: Request) -> Response:
        seen.append(request)
        body = [
            paper("s1", 120000, ArXiv="1706.03762", DBLP="x"),
            None,
            paper(
                "s3",
                11,
                DOI="10.18653/V1/2021.ACL-LONG.24",
                ACL="2021.acl-long.24",
                ArXiv="2106.01234",
            ),
        ]
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/graph/v1/paper/batch", method="POST").respond_with_handler(answer)
    clock = FakeClock()
    found = client(httpserver, clock, api_key="secret-key").lookup(
        ["1706.03762", "2501.99999", "doi:10.18653/v1/2021.acl-long.24", "neurips:1987:x"]
    )
    assert found == {
        "1706.03762": Found(
            "s1",
            120000,
            arxiv="1706.03762",
            venue="Neural Information Processing Systems",
            year=2017,
        ),
        "2501.99999": None,
        "doi:10.18653/v1/2021.acl-long.24": Found(
            "s3",
            11,
            arxiv="2106.01234",
            doi="10.18653/v1/2021.acl-long.24",
            acl="2021.acl-long.24",
            venue="Neural Information Processing Systems",
            year=2017,
        ),
    }
    (request,) = seen
    assert request.args["fields"] == FIELDS
    assert request.headers["x-api-key"] == "secret-key"
    assert request.get_json() == {
        "ids": ["ARXIV:1706.03762", "ARXIV:2501.99999", "DOI:10.18653/v1/2021.acl-long.24"]
    }


def test_no_api_key_sends_no_header_and_batches_are_paced(httpserver: HTTPServer) -> None:
    sizes: list[int] = []

    def answer(request: Request) -> Response:
        ids = request.get_json()["ids"]
        assert "x-api-key" not in request.headers
        sizes.append(len(ids))
        return Response(json.dumps([paper(i, 1) for i in ids]), content_type="application/json")

    httpserver.expect_request("/graph/v1/paper/batch").respond_with_handler(answer)
    clock = FakeClock()
    ids = [f"2501.{n:05d}" for n in range(1, 6)]
    found = client(httpserver, clock, batch_size=2, delay_seconds=1.5).lookup(ids)
    assert sizes == [2, 2, 1]
    assert len(found) == 5 and all(f is not None and f.citations == 1 for f in found.values())
    assert clock.sleeps == [1.5, 1.5]  # one request at a time, delay_seconds apart


def test_429_waits_for_retry_after_then_succeeds(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/graph/v1/paper/batch").respond_with_response(
        Response('{"message": "Too Many Requests"}', status=429, headers={"Retry-After": "7"})
    )
    httpserver.expect_ordered_request("/graph/v1/paper/batch").respond_with_json(
        [paper("s1", 5, ArXiv="1706.03762")]
    )
    clock = FakeClock()
    found = client(httpserver, clock, delay_seconds=0).lookup(["1706.03762"])
    assert found["1706.03762"] is not None and found["1706.03762"].citations == 5
    assert clock.sleeps == [7.0]


def test_500_is_retried_with_backoff_and_then_reported(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/graph/v1/paper/batch").respond_with_json(
        {"error": "Internal Server Error"}, status=500
    )
    clock = FakeClock()
    with pytest.raises(FetchError) as info:
        client(httpserver, clock, delay_seconds=0, retries=2).lookup(["1706.03762"])
    assert info.value.reason == (
        "HTTP 500 (Internal Server Error) while trying to look up 1 paper at "
        f"{httpserver.url_for('/graph/v1')}/paper/batch after 3 tries"
    )
    assert clock.sleeps == [0.5, 1.0]
    assert len(httpserver.log) == 3


def test_a_500_then_an_answer_loses_nothing(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/graph/v1/paper/batch").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/graph/v1/paper/batch").respond_with_json([None])
    assert client(httpserver, FakeClock(), delay_seconds=0).lookup(["1706.03762"]) == {
        "1706.03762": None
    }


def test_400_is_not_retried_and_says_why(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/graph/v1/paper/batch").respond_with_json(
        {"error": "Cannot return more than 500 papers"}, status=400
    )
    with pytest.raises(FetchError, match=r"HTTP 400 \(Cannot return more than 500 papers\)"):
        client(httpserver, FakeClock(), delay_seconds=0).lookup(["1706.03762"])
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("body", [{"data": []}, [None, None], "<html>"])
def test_an_answer_that_does_not_match_the_ids_is_a_parse_error(
    httpserver: HTTPServer, body: object
) -> None:
    httpserver.expect_request("/graph/v1/paper/batch").respond_with_data(
        json.dumps(body) if not isinstance(body, str) else body
    )
    with pytest.raises(ParseError):
        client(httpserver, FakeClock(), delay_seconds=0).lookup(["1706.03762"])
