"""Citation counts and external ids from the Semantic Scholar Graph API's batch endpoint.

`POST {base_url}/paper/batch?fields=citationCount,externalIds,venue,year` with
`{"ids": ["ARXIV:2106.09685", "DOI:10.18653/v1/...", "ACL:2021.acl-long.24"]}` (at most 500)
answers a list in the same order: a paper object, or null for an id Semantic Scholar does not
know. The same answer says whether a DOI or ACL paper is also on arXiv (`externalIds.ArXiv`),
which is how a paper found under two ids becomes one.

Polite: one request at a time, `delay_seconds` apart; 429 and 5xx are retried after the
server's Retry-After or an exponential backoff (all of it `sources.http`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sources.errors import FetchError, ParseError
from sources.http import (
    SYSTEM_CLOCK,
    Answer,
    Clock,
    HttpClient,
    Policy,
)
from sources.ids import is_arxiv_key, parse_arxiv_id
from sources.links import doi_key

log = logging.getLogger(__name__)

NAME = "citations"
SOURCE = "s2"  # the citation source key stored with each count
DEFAULT_BASE_URL = "https://api.semanticscholar.org/graph/v1"
FIELDS = "citationCount,externalIds,venue,year"
MAX_BATCH = 500
MAX_BYTES = 50_000_000  # 500 papers with a few ids each are well under 1 MB
_ACL_PAGE = re.compile(r"^https://aclanthology\.org/(?P<key>[^/]+)/$")
_RETRIED = {429, 500, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class Found:
    """What Semantic Scholar knows of one paper."""

    s2_id: str
    citations: int | None
    arxiv: str | None = None  # version-less arXiv key
    doi: str | None = None  # lower-cased
    acl: str | None = None
    venue: str | None = None
    year: int | None = None


def s2_id(paper_id: str) -> str | None:
    """The batch id for a store key: `ARXIV:`, `DOI:` or `ACL:`; None when S2 cannot be asked."""
    if is_arxiv_key(paper_id):
        return f"ARXIV:{paper_id}"
    if paper_id.startswith("doi:"):
        return f"DOI:{paper_id[4:]}"
    if m := _ACL_PAGE.match(paper_id):
        return f"ACL:{m['key']}"
    return None


class CitationClient:
    """Look store keys up in batches through the shared HTTP layer (`sources.http`): paced
    `delay_seconds` apart, 429/5xx retried after Retry-After or a backoff, wall-clock deadline."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        timeout_seconds: float = 30.0,
        delay_seconds: float = 1.0,
        retries: int = 4,
        batch_size: int = MAX_BATCH,
        backoff_seconds: float = 2.0,
        max_bytes: int = MAX_BYTES,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        policy = Policy(
            timeout_seconds=timeout_seconds,
            delay_seconds=delay_seconds,
            retries=retries,
            backoff_seconds=backoff_seconds,
            max_bytes=max_bytes,
        )
        self.http = HttpClient(NAME, policy, clock=clock)
        self.requests = 0

    def lookup(self, paper_ids: Sequence[str]) -> dict[str, Found | None]:
        """store key -> what S2 knows (None: unknown there). Keys S2 cannot be asked are left out."""
        out: dict[str, Found | None] = {}
        for answer in self.batches(paper_ids):
            out.update(answer)
        return out

    def batches(self, paper_ids: Sequence[str]) -> Iterator[dict[str, Found | None]]:
        """The same, one request's answer at a time, so a caller can keep each before the next."""
        asked = {key: sid for key in dict.fromkeys(paper_ids) if (sid := s2_id(key))}
        keys = list(asked)
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start : start + self.batch_size]
            answer = self._batch([asked[k] for k in chunk])
            yield dict(zip(chunk, answer, strict=True))

    def close(self) -> None:
        self.http.close()

    def _batch(self, ids: list[str]) -> list[Found | None]:
        body = self._request(ids)
        if not isinstance(body, list) or len(body) != len(ids):
            raise ParseError(
                NAME,
                f"expected a list of {len(ids)} papers from {self.base_url}/paper/batch, got "
                + (f"{len(body)} items" if isinstance(body, list) else type(body).__name__),
            )
        return [_found(item) for item in body]

    def _request(self, ids: list[str]) -> Any:
        url = f"{self.base_url}/paper/batch"
        headers = {"x-api-key": self.api_key} if self.api_key else {}

        def once() -> Answer:
            self.requests += 1
            return self.http.request_once(
                "POST",
                url,
                params={"fields": FIELDS},
                json={"ids": ids},
                headers=headers,
                why=_error_text,
            )

        papers = f"{len(ids)} paper" + ("" if len(ids) == 1 else "s")
        answer = self.http.call(once, f"look up {papers} at {url}")
        if answer.status != 200:
            raise FetchError(
                NAME, f"{url}: HTTP {answer.status}{_error_text(answer.body)}{_hint(answer.status)}"
            )
        try:
            return json.loads(answer.body)
        except ValueError as exc:
            raise ParseError(NAME, f"{url}: the answer is not JSON") from exc


def _found(item: Any) -> Found | None:
    if item is None:
        return None
    if not isinstance(item, dict):
        raise ParseError(NAME, f"expected a paper object or null, got {type(item).__name__}")
    ext = item.get("externalIds") or {}
    if not isinstance(ext, dict):
        ext = {}
    arxiv = parse_arxiv_id(str(ext.get("ArXiv") or ""))
    doi = doi_key(str(ext["DOI"])) if ext.get("DOI") else None
    count = item.get("citationCount")
    year = item.get("year")
    return Found(
        s2_id=str(item.get("paperId") or ""),
        citations=count if isinstance(count, int) and count >= 0 else None,
        arxiv=arxiv.base if arxiv else None,
        doi=doi[0].removeprefix("doi:") if doi and doi[0].startswith("doi:") else None,
        acl=str(ext["ACL"]) if ext.get("ACL") else None,
        venue=str(item["venue"]) if item.get("venue") else None,
        year=year if isinstance(year, int) else None,
    )


def _error_text(content: bytes) -> str:
    try:
        body = json.loads(content)
    except ValueError:
        return ""
    message = body.get("error") or body.get("message") if isinstance(body, dict) else None
    return f" ({str(message)[:200]})" if message else ""


def _hint(status: int) -> str:
    if status == 429:
        return "; Semantic Scholar is rate-limiting: set S2_API_KEY, or collect less often"
    if status in (401, 403):
        return "; check sources.citations.api_key (S2_API_KEY)"
    return ""
