from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatlane.testing import FakeServer


@pytest.fixture(scope="session")
def shared_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def server(shared_server: FakeServer) -> FakeServer:
    """One fake server for the whole run, emptied before each test."""
    shared_server.reset()
    return shared_server
