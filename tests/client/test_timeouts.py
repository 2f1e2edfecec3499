"""Each timeout catches its own kind of silence, and none cuts a healthy stream."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

import chatlane
from chatlane.testing import Completion, FakeServer, Stall, Stream
from tests.client.conftest import MakeDriver

HI = [{"role": "user", "content": "Hi"}]
NO_RETRY = chatlane.RetryPolicy(max_retries=0)


def test_first_token_timeout(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(Stall(3.0, then=Completion(content="late")))
    driver = make_driver(retry=NO_RETRY, timeout=chatlane.Timeout(first_token=0.3))
    started = time.perf_counter()
    with pytest.raises(chatlane.FirstTokenTimeout):
        driver.chat(model="m", messages=HI)
    assert 0.25 < time.perf_counter() - started < 2.0


def test_first_token_timeout_on_a_stream(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(Stream(chunks=["late"], first_delay=3.0))
    run = make_driver(retry=NO_RETRY, timeout=chatlane.Timeout(first_token=0.3)).stream(
        model="m", messages=HI
    )
    assert isinstance(run.error, chatlane.FirstTokenTimeout)
    assert isinstance(run.error, TimeoutError)  # also the builtin


def test_idle_timeout_between_chunks(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(Stream(chunks=["a", "b", "c"], chunk_delay=[0.0, 3.0]))
    run = make_driver(timeout=chatlane.Timeout(idle=0.3)).stream(model="m", messages=HI)
    assert isinstance(run.error, chatlane.IdleTimeout)
    assert [c.text for c in run.chunks if c.text] == ["a"]


def test_total_timeout_cuts_a_stream(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(Stream(chunks=["x"] * 50, chunk_delay=0.05))
    run = make_driver(timeout=chatlane.Timeout(total=0.5)).stream(model="m", messages=HI)
    assert isinstance(run.error, chatlane.TotalTimeout)
    assert 3 <= len(run.chunks) < 50


def test_a_slow_but_steady_stream_outlives_the_idle_timeout(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    """Twenty gaps of 0.1 s: 2 s in all, much longer than the 0.4 s idle limit."""
    server.enqueue(Stream(chunks=["x"] * 20, chunk_delay=0.1))
    run = make_driver(timeout=chatlane.Timeout(idle=0.4, first_token=0.4)).stream(
        model="m", messages=HI
    )
    assert run.error is None
    assert run.final is not None
    assert run.final.text == "x" * 20


def test_per_call_timeout_overrides_the_client(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(Stall(3.0, then=Completion(content="late")))
    with pytest.raises(chatlane.TimeoutError):
        make_driver(retry=NO_RETRY).chat(model="m", messages=HI, timeout=0.3)


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listening port whose accept queue is full: new connections hang in SYN."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.05)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


def test_connect_timeout(make_driver: MakeDriver, full_backlog: int) -> None:
    driver = make_driver(
        base_url=f"http://127.0.0.1:{full_backlog}/v1",
        retry=NO_RETRY,
        timeout=chatlane.Timeout(connect=0.3),
    )
    started = time.perf_counter()
    with pytest.raises(chatlane.ConnectTimeout):
        driver.chat(model="m", messages=HI)
    assert time.perf_counter() - started < 2.0


def test_timeout_values_are_checked() -> None:
    with pytest.raises(chatlane.UsageError, match="first_token"):
        chatlane.Timeout(first_token=0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "5", True, 0, -1])
def test_a_timeout_that_is_not_a_positive_number_is_a_usage_error(bad: object) -> None:
    with pytest.raises(chatlane.UsageError, match="positive number of seconds"):
        chatlane.Timeout(idle=bad)  # type: ignore[arg-type]
    with pytest.raises(chatlane.UsageError, match="positive number of seconds"):
        chatlane.Timeout.coerce(bad)  # type: ignore[arg-type]


def test_a_call_has_a_total_limit_by_default_that_can_be_lifted() -> None:
    assert chatlane.Timeout().total == 3600.0
    assert chatlane.Timeout(total=None).total is None
