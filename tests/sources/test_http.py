"""The HTTP layer against real sockets: wall-clock deadlines, size caps, retries, error mapping."""

from __future__ import annotations

import gzip
import inspect
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import format_datetime

import prawcore.exceptions
import pytest
import requests.exceptions
from pytest_httpserver import HTTPServer
from werkzeug import Response

import sources.deadline
from sources.errors import FetchError
from sources.http import ERRORS, HttpClient, Policy, retry_after_seconds, rule_for
from tests.fakes import local_server
from tests.fakes.clock import FakeClock

Handler = Callable[[socket.socket], None]


@contextmanager
def raw_server(handler: Handler) -> Iterator[tuple[str, list[int]]]:
    """A TCP server that runs `handler` on each connection; yields its URL and a list that
    gets one entry (bytes sent) per connection."""
    sent: list[int] = []

    class Handle(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)  # the request
            try:
                handler(self.request)
            except OSError:
                pass

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Handle) as server:
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/feed", sent
        finally:
            server.shutdown()


def trickle(prefix: bytes, body: bytes, every: float, sent: list[int]) -> Handler:
    """Send `prefix`, then `body` one byte every `every` s; `sent` gets a count per connection."""

    def handler(sock: socket.socket) -> None:
        sent.append(0)
        sock.sendall(prefix)
        for byte in body:
            time.sleep(every)
            sock.sendall(bytes([byte]))
            sent[-1] += 1

    return handler


def client(**policy: object) -> tuple[HttpClient, FakeClock]:
    clock = FakeClock()
    options: dict[str, object] = {"timeout_seconds": 0.6, "retries": 1, "backoff_seconds": 1.0}
    options.update(policy)
    return HttpClient("test", Policy(**options), clock=clock), clock  # type: ignore[arg-type]


def test_a_body_trickled_byte_by_byte_is_cut_at_the_deadline_and_not_retried() -> None:
    body = b"x" * 40  # 40 bytes at 0.1 s each: 4 s, against a 0.6 s deadline
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 40\r\n\r\n"
    sent: list[int] = []
    with raw_server(trickle(head, body, 0.1, sent)) as (url, _):
        http, clock = client()
        with pytest.raises(FetchError, match=r"took longer than 0.6 s to arrive"):
            http.get(url)
        http.close()
    assert len(sent) == 1  # one connection: a trickle is not retried
    assert sent[0] < len(body)  # cut off mid-body
    assert clock.sleeps == []


def test_headers_trickled_byte_by_byte_are_no_answer_and_retried() -> None:
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 40
    sent: list[int] = []
    with raw_server(trickle(b"", head, 0.1, sent)) as (url, _):
        http, clock = client(retries=1)
        with pytest.raises(FetchError, match=r"no answer within 0.6 s .* after 2 tries"):
            http.get(url)
    assert clock.sleeps == [1.0]


def test_a_declared_length_over_the_cap_fails_before_reading() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 1500000000\r\n\r\n"
    with raw_server(trickle(head, b"<feed>", 0.0, [])) as (url, _):
        http, _ = client(max_bytes=1_000_000, timeout_seconds=5)
        with pytest.raises(FetchError, match=r"1,500,000,000 bytes, over the 1,000,000-byte cap"):
            http.get(url)


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    with local_server() as s:
        yield s


def test_an_undeclared_body_over_the_cap_fails_or_is_cut(server: HTTPServer) -> None:
    def stream(_request: object) -> Response:
        return Response((b"a" * 1000 for _ in range(300)), content_type="text/xml")  # chunked

    server.expect_request("/big").respond_with_handler(stream)
    http, _ = client(max_bytes=100_000, timeout_seconds=5)
    with pytest.raises(FetchError, match=r"the answer is over the 100,000-byte cap \(max_bytes\)"):
        http.get(server.url_for("/big"))
    cut = http.get(server.url_for("/big"), truncate=True)
    assert (len(cut.body), cut.truncated) == (100_000, True)


def test_a_gzip_bomb_is_capped_after_decompression(server: HTTPServer) -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)  # 20 MB of zeros in about 20 KB
    server.expect_request("/bomb").respond_with_data(
        bomb, headers={"Content-Encoding": "gzip"}, content_type="text/xml"
    )
    http, _ = client(max_bytes=1_000_000, timeout_seconds=5)
    with pytest.raises(FetchError, match="over the 1,000,000-byte cap"):
        http.get(server.url_for("/bomb"))


def test_429_and_5xx_are_retried_with_retry_after_or_backoff(server: HTTPServer) -> None:
    answers = iter(
        [
            Response("slow down", status=429, headers={"Retry-After": "7"}),
            Response("oops", status=502),
            Response("oops", status=503),
            Response("<ok/>", status=200),
        ]
    )
    server.expect_request("/flaky").respond_with_handler(lambda _r: next(answers))
    http, clock = client(retries=3, backoff_seconds=2.0, delay_seconds=0.5)
    answer = http.get(server.url_for("/flaky"))
    assert answer.body == b"<ok/>"
    assert clock.sleeps == [7.0, 4.0, 8.0]  # Retry-After, then 2 s doubling (pacing already met)


def test_retry_after_beyond_the_cap_fails_without_waiting(server: HTTPServer) -> None:
    server.expect_request("/later").respond_with_data(
        "", status=429, headers={"Retry-After": "86400"}
    )
    http, clock = client(retries=3)
    with pytest.raises(FetchError, match="HTTP 429; the server asks to wait 86400 s, so try again"):
        http.get(server.url_for("/later"))
    assert clock.sleeps == []


def test_other_statuses_are_the_callers_to_judge(server: HTTPServer) -> None:
    server.expect_request("/gone").respond_with_data("no", status=404)
    http, clock = client(retries=3)
    assert http.get(server.url_for("/gone")).status == 404
    assert clock.sleeps == []


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    http, clock = client(retries=2, backoff_seconds=0.5)
    with pytest.raises(FetchError, match=r"cannot connect \(ConnectionError\) .* after 3 tries"):
        http.get(f"http://127.0.0.1:{port}/x")
    assert clock.sleeps == [0.5, 1.0]


NOW = datetime(2024, 5, 6, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        (format_datetime(datetime(2024, 5, 6, 12, 1, 30, tzinfo=UTC), usegmt=True), 90.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    header: str | None, seconds: float | None
) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def _exceptions(module: object) -> list[type[BaseException]]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == getattr(module, "__name__", "")
    ]


@pytest.mark.parametrize("module", [requests.exceptions, prawcore.exceptions, sources.deadline])
def test_every_library_exception_has_a_rule(module: object) -> None:
    unmapped = [
        cls.__name__
        for cls in _exceptions(module)
        if not issubclass(cls, Warning) and rule_for(cls.__new__(cls)) is None
    ]
    assert unmapped == []


def test_the_most_specific_rule_wins() -> None:
    read = rule_for(requests.exceptions.ReadTimeout())
    connect = rule_for(requests.exceptions.ConnectTimeout())
    assert read is ERRORS["requests.exceptions.Timeout"]
    assert connect is ERRORS["requests.exceptions.ConnectTimeout"]
    assert all(rule.retry for rule in (read, connect))
    assert not ERRORS["sources.deadline.DeadlineExceeded"].retry
