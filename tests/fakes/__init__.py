"""Local stand-ins for the services midlist talks to, served over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pytest_httpserver import HTTPServer


@contextmanager
def local_server() -> Iterator[HTTPServer]:
    """A threaded server (a slow handler must not hold up the next request), stopped after use."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()
