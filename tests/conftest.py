from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

import chatlane
from chatlane.testing import FakeServer
from tests.client.drivers import Driver, MakeDriver

FAST_RETRY = chatlane.RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.05)
API_KEY = "sk-test-0123456789-SECRET"


@pytest.fixture(scope="session")
def shared_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def server(shared_server: FakeServer) -> Iterator[FakeServer]:
    shared_server.reset()
    yield shared_server
    shared_server.reset()


@pytest.fixture
def client(server: FakeServer) -> Iterator[chatlane.Client]:
    with chatlane.Client(base_url=server.url, api_key=API_KEY, retry=FAST_RETRY) as client:
        yield client


@pytest_asyncio.fixture
async def aclient(server: FakeServer) -> AsyncIterator[chatlane.AsyncClient]:
    async with chatlane.AsyncClient(
        base_url=server.url, api_key=API_KEY, retry=FAST_RETRY
    ) as client:
        yield client


@pytest.fixture
def driver_class() -> type[Driver]:
    """The driver ``make_driver`` builds; a test package with more calls overrides it."""
    return Driver


@pytest.fixture(params=["sync", "async"])
def make_driver(
    request: pytest.FixtureRequest, server: FakeServer, driver_class: type[Driver]
) -> MakeDriver:
    """A driver factory for the fake server; options override the defaults."""

    def make(**options: Any) -> Driver:
        merged: dict[str, Any] = {"base_url": server.url, "api_key": API_KEY, "retry": FAST_RETRY}
        merged.update(options)
        return driver_class(request.param, **merged)

    return make


@pytest.fixture
def driver(make_driver: MakeDriver) -> Driver:
    return make_driver()


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    """Tests talk to loopback only: any other host fails at name resolution, at once."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in _LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {name!r}")
        return real(host, *args, **kwargs)

    socket.getaddrinfo = guarded
    yield
    socket.getaddrinfo = real


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the machine's provider keys or base URLs."""
    import os

    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_BASE_URL")) or name in {
            "CHATLANE_PROVIDER",
            "AZURE_OPENAI_ENDPOINT",
            "OPENAI_API_VERSION",
            "AZURE_OPENAI_API_VERSION",
        }:
            monkeypatch.delenv(name)
