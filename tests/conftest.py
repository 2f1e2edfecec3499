from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

import pytest
import pytest_asyncio

import chatlane
from chatlane.testing import FakeServer
from tests.client.drivers import Driver, MakeDriver
from tests.redis_kit import redis_server, redis_url  # noqa: F401  (fixtures for every test)

FAST_RETRY = chatlane.RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.05)
API_KEY = "sk-test-0123456789-SECRET"
# Error events a stream may open with, and whether each stands for a transient status (a
# 5xx or 429: retried, and fallen back from, as that status before a stream would be).
OPENING_ERROR_EVENTS = [
    (b'{"error": {"message": "overloaded", "status_code": 503}}', True),
    (b'{"error": {"message": "overloaded", "type": "server_error"}}', True),
    (b'{"error": {"message": "busy", "type": "overloaded_error"}}', True),
    (b'{"type": "error", "error": {"type": "api_error", "message": "internal"}}', True),
    (b'{"error": {"message": "slow down", "code": "rate_limit_exceeded"}}', True),
    (b'{"error": {"message": "bad tool", "status_code": 400}}', False),
    (b'{"error": {"message": "no idea"}}', False),
]


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


# --- The embedded model: the ``local_model`` marker ---------------------------------------

LOCAL_MODEL_FIXTURES = frozenset({"engine"})
"""Fixtures that load the embedded model; every test using one is marked ``local_model``.

Modules made only of embedded-model tests set ``pytestmark = pytest.mark.local_model``; the
few others are marked one by one. The guard below fails any test that is missed.
"""

_GUARDED = ("load", "generate", "tokenize", "count")
_running: list[pytest.Item] = []
_unmarked_uses: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if LOCAL_MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.local_model)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.remove(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # Also where the test (or the library) caught the failure raised by the guard.
    use = _unmarked_uses.pop(item.nodeid, None)
    if use is not None and not report.failed:
        report.outcome = "failed"
        report.longrepr = use
    return report


@pytest.fixture(autouse=True, scope="session")
def _embedded_model_guard() -> Iterator[None]:
    """A test that loads or runs the embedded model must be marked ``local_model``.

    Without the mark it fails at once, so ``-m "not local_model"`` never runs the model.
    """
    from chatlane.local._llama import LlamaModel

    originals = {name: LlamaModel.__dict__[name] for name in _GUARDED}

    def guard(name: str) -> Any:
        original = getattr(LlamaModel, name)  # load: bound to the class; others: plain

        def guarded(*args: Any, **kwargs: Any) -> Any:
            item = _running[-1] if _running else None
            if item is not None and item.get_closest_marker("local_model") is None:
                use = (
                    f"{item.nodeid} uses the embedded model (LlamaModel.{name}) but is not "
                    "marked local_model: mark it, or give it a fixture in LOCAL_MODEL_FIXTURES"
                )
                _unmarked_uses.setdefault(item.nodeid, use)
                pytest.fail(use, pytrace=False)
            return original(*args, **kwargs)

        return staticmethod(guarded) if name == "load" else guarded

    for name in _GUARDED:
        setattr(LlamaModel, name, guard(name))
    yield
    for name, original in originals.items():
        setattr(LlamaModel, name, original)


def in_threads(count: int, work: Callable[[], Any]) -> list[Any]:
    """``work()`` run in ``count`` threads at once; what each returned, in finishing order."""
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(work())) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
