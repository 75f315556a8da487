"""Citation counts and external ids from the Semantic Scholar Graph API's batch endpoint.

`POST {base_url}/paper/batch?fields=citationCount,externalIds,venue,year` with
`{"ids": ["ARXIV:2106.09685", "DOI:10.18653/v1/...", "ACL:2021.acl-long.24"]}` (at most 500)
answers a list in the same order: a paper object, or null for an id Semantic Scholar does not
know. The same answer says whether a DOI or ACL paper is also on arXiv (`externalIds.ArXiv`),
which is how a paper found under two ids becomes one.

Polite: one request at a time, `delay_seconds` apart; 429 and 5xx are retried after the
server's Retry-After or an exponential backoff. The HTTP call is one method (`_post`), so the
transport can change without touching the protocol.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from sources.errors import FetchError, ParseError
from sources.ids import is_arxiv_key, parse_arxiv_id
from sources.links import doi_key
from sources.retry import Backoff

log = logging.getLogger(__name__)

NAME = "citations"
SOURCE = "s2"  # the citation source key stored with each count
DEFAULT_BASE_URL = "https://api.semanticscholar.org/graph/v1"
FIELDS = "citationCount,externalIds,venue,year"
MAX_BATCH = 500
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
    """Look store keys up in batches; `sleep` and `clock` are injected so tests do not wait."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        timeout_seconds: float = 30.0,
        delay_seconds: float = 1.0,
        retries: int = 4,
        batch_size: int = MAX_BATCH,
        backoff: Backoff | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_seconds = timeout_seconds
        self.delay_seconds = delay_seconds
        self.retries = retries
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.backoff = backoff or Backoff()
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock
        self._last: float | None = None
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
        attempt = 0
        while True:
            self._pace()
            try:
                status, retry_after, content = self._post(url, {"fields": FIELDS}, {"ids": ids})
            except requests.RequestException as exc:
                if attempt >= self.retries:
                    raise FetchError(NAME, f"{url}: {type(exc).__name__}: {exc}") from exc
                self.backoff_wait(attempt, None, f"{url}: {type(exc).__name__}")
                attempt += 1
                continue
            if status == 200:
                try:
                    return json.loads(content)
                except ValueError as exc:
                    raise ParseError(NAME, f"{url}: the answer is not JSON") from exc
            if status in _RETRIED and attempt < self.retries:
                self.backoff_wait(attempt, retry_after, f"{url}: HTTP {status}")
                attempt += 1
                continue
            raise FetchError(NAME, f"{url}: HTTP {status}{_error_text(content)}{_hint(status)}")

    def backoff_wait(self, attempt: int, retry_after: str | None, reason: str) -> None:
        seconds = self.backoff.delay(attempt, retry_after)
        log.warning("%s; retrying in %.1fs", reason, seconds)
        self.sleep(seconds)

    def _pace(self) -> None:
        if self._last is not None:
            wait = self.delay_seconds - (self.clock() - self._last)
            if wait > 0:
                self.sleep(wait)
        self._last = self.clock()
        self.requests += 1

    def _post(
        self, url: str, params: dict[str, str], payload: dict[str, Any]
    ) -> tuple[int, str | None, bytes]:
        """(status, Retry-After, body): the only line that speaks HTTP."""
        headers = {"x-api-key": self.api_key} if self.api_key else {}
        response = self.session.post(
            url, params=params, json=payload, headers=headers, timeout=self.timeout_seconds
        )
        return response.status_code, response.headers.get("Retry-After"), response.content


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
