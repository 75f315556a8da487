"""Requests with a wall-clock deadline and a size cap: what requests' own timeout is not.

requests' timeout applies to each read, so a server trickling one byte every half second
never trips it. Here every socket a request opens (or reuses) is registered with a watchdog
timer that shuts it down when the deadline passes, whatever phase the request is in: connect,
TLS handshake, headers or body. Bodies are read (decompressed) up to `max_bytes`.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

DEFAULT_MAX_BYTES = 50_000_000
_CHUNK = 64 * 1024


class DeadlineExceeded(Exception):
    """The answer began but did not finish within the wall-clock deadline (a trickle): not retried."""


class NoAnswer(Exception):
    """Not even the headers arrived within the deadline: retried, the server may be busy."""


class TooLarge(Exception):
    """The body is longer than the cap."""


_local = threading.local()


class _Deadline:
    """Shuts down every socket the current request uses once `seconds` have passed."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> _Deadline:
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _local.deadline = None


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv in the requesting thread
    except OSError:
        pass


def _watch(sock: socket.socket | None) -> None:
    deadline: _Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)  # a kept-alive connection, opened under an earlier deadline
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """TLS on top: the raw socket is watched before the handshake starts."""


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _TLSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


class DeadlineSession(requests.Session):
    """A requests session where every request has a wall-clock deadline and a size cap.

    `request()` (what praw calls) returns a response whose body is already read; a body over
    the cap raises TooLarge, a request past the deadline DeadlineExceeded.
    """

    def __init__(self, timeout_seconds: float, max_bytes: int = DEFAULT_MAX_BYTES):
        super().__init__()
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes
        adapter = _WatchedAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response, _ = self.fetch(method, url, *args, **kwargs)
        return response

    def fetch(
        self,
        method: str,
        url: str,
        *args: Any,
        truncate: bool = False,
        **kwargs: Any,
    ) -> tuple[requests.Response, bool]:
        """The response with its body read (at most max_bytes) and whether it was cut."""
        kwargs["timeout"] = self.timeout_seconds
        kwargs["stream"] = True
        started = time.monotonic()
        response: requests.Response | None = None
        with _Deadline(self.timeout_seconds) as deadline:
            try:
                response = super().request(method, url, *args, **kwargs)
                body, truncated = self._read(response, started, truncate)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                if not deadline.expired:
                    raise
                if response is None:
                    raise NoAnswer(str(exc)) from exc
                raise DeadlineExceeded(str(exc)) from exc
            if deadline.expired:  # the socket was shut mid-body and the read saw a clean end
                response.close()
                raise DeadlineExceeded(f"{len(body)} bytes read")
        response._content = body
        response._content_consumed = True
        return response, truncated

    def _read(
        self, response: requests.Response, started: float, truncate: bool
    ) -> tuple[bytes, bool]:
        length = response.headers.get("Content-Length", "")
        if not truncate and length.isdigit() and int(length) > self.max_bytes:
            response.close()
            raise TooLarge(_too_large(self.max_bytes, int(length)))
        buffer = bytearray()
        for chunk in response.iter_content(_CHUNK):
            buffer.extend(chunk)
            if len(buffer) > self.max_bytes:
                response.close()
                if truncate:
                    return bytes(buffer[: self.max_bytes]), True
                raise TooLarge(_too_large(self.max_bytes))
            if time.monotonic() - started > self.timeout_seconds:
                response.close()
                raise DeadlineExceeded(f"{len(buffer)} bytes read")
        return bytes(buffer), False


def _too_large(cap: int, size: int | None = None) -> str:
    declared = f"{size:,} bytes, " if size is not None else ""
    return f"the answer is {declared}over the {cap:,}-byte cap (max_bytes)"
