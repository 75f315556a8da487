"""One local HTTP server per test module, emptied of expectations before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.fakes import local_server


@pytest.fixture(scope="module")
def module_server() -> Iterator[HTTPServer]:
    with local_server() as server:
        yield server


@pytest.fixture
def server(module_server: HTTPServer) -> HTTPServer:
    module_server.clear()
    return module_server
