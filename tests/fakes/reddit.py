"""A fake Reddit on 127.0.0.1: the token endpoint, listings, comment pages and morechildren.

Bodies are Reddit's own JSON (hand-made fixtures, or recorded bodies); praw talks to it over
real HTTP. Failures (429 with Retry-After, 5xx, slow answers) are queued per path.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN = {"access_token": "fake-token", "token_type": "bearer", "expires_in": 3600, "scope": "*"}
NO_THINGS = {"json": {"errors": [], "data": {"things": []}}}


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeReddit:
    def __init__(self, server: HTTPServer):
        self.server = server
        self.pages: dict[str, str] = {}  # path -> JSON body
        self.more: dict[frozenset[str], str] = {}  # morechildren children set -> JSON body
        self.failures: dict[str, list[Failure]] = {}
        self.log: list[tuple[str, str]] = []
        self.more_misses = 0
        self.token_status = 200
        server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def page(self, path: str, body: str | object) -> None:
        self.pages[path.rstrip("/")] = body if isinstance(body, str) else json.dumps(body)

    def morechildren(self, children: list[str] | set[str], body: str | object) -> None:
        self.more[frozenset(children)] = body if isinstance(body, str) else json.dumps(body)

    def fail(self, path: str, *failures: Failure) -> None:
        self.failures.setdefault(path.rstrip("/"), []).extend(failures)

    def count(self, path: str) -> int:
        return sum(1 for _, p in self.log if p == path.rstrip("/"))

    def _handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")  # praw writes some paths with a trailing slash
        self.log.append((request.method, path))
        queued = self.failures.get(path)
        if queued:
            failure = queued.pop(0)
            time.sleep(failure.delay)
            if failure.status:
                return Response(
                    "{}", failure.status, failure.headers, content_type="application/json"
                )
        if path == "/api/v1/access_token":
            if self.token_status != 200:
                return _json(
                    {"message": "Unauthorized", "error": self.token_status}, self.token_status
                )
            return _json(TOKEN)
        if not request.headers.get("Authorization", "").startswith("bearer "):
            return _json({"message": "Unauthorized", "error": 401}, 401)
        if path == "/api/morechildren":
            children = frozenset(request.form.get("children", "").split(","))
            body = self.more.get(children)
            if body is None:
                self.more_misses += 1
                return _json(NO_THINGS)
            return Response(body, 200, content_type="application/json")
        if path in self.pages:
            return Response(self.pages[path], 200, content_type="application/json")
        return _json({"message": "Not Found", "error": 404}, 404)


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")
