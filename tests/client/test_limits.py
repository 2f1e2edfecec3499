"""chatlane.Limits from the client: each limit applies as configured, sync and async, and a
server dripping data just inside the idle limit is stopped by the total limit."""

from __future__ import annotations

import asyncio
import time

import pytest

import chatlane
from chatlane.testing import Completion, FakeServer, RawResponse, Stream
from tests.client.conftest import MakeDriver

HI = [{"role": "user", "content": "Hi"}]
COMPLETION = b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]}'


def padded(size: int) -> bytes:
    return COMPLETION[:-1] + b" " * (size - len(COMPLETION)) + b"}"


def test_limits_are_checked() -> None:
    for bad in (0, -1, 1.5, "10", True):
        with pytest.raises(chatlane.UsageError, match="max_response_bytes"):
            chatlane.Limits(max_response_bytes=bad)  # type: ignore[arg-type]
    with pytest.raises(chatlane.ConfigurationError, match="limits"):
        chatlane.Client(base_url="http://127.0.0.1:9/v1", limits={"max_event_bytes": 1})  # type: ignore[arg-type]


def test_a_smaller_response_limit_refuses_a_larger_body(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(RawResponse(body=padded(5000), content_type="application/json"))
    small = make_driver(limits=chatlane.Limits(max_response_bytes=4096))
    with pytest.raises(chatlane.ResponseDecodeError, match="max_response_bytes"):
        small.chat(model="m", messages=HI)


def test_a_lifted_response_limit_takes_a_body_past_the_default(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    size = chatlane.Limits().max_response_bytes
    assert size is not None
    server.enqueue(RawResponse(body=padded(size + 10), content_type="application/json"))
    lifted = make_driver(limits=chatlane.Limits(max_response_bytes=None))
    assert lifted.chat(model="m", messages=HI).text == "ok"


def test_the_event_limit_refuses_a_long_stream_event(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(Stream(chunks=["x" * 5000]), Stream(chunks=["x" * 5000]))
    run = make_driver(limits=chatlane.Limits(max_event_bytes=4096)).stream(model="m", messages=HI)
    assert isinstance(run.error, chatlane.ResponseDecodeError)
    assert "max_event_bytes" in str(run.error)
    roomy = make_driver(limits=chatlane.Limits(max_event_bytes=8192)).stream(model="m", messages=HI)
    assert roomy.error is None
    assert "".join(chunk.text for chunk in roomy.chunks) == "x" * 5000


def test_a_dripping_stream_is_stopped_by_the_total_limit(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    # A chunk every 0.2 s never trips the 1 s idle limit; the 1.5 s total limit ends it.
    server.enqueue(Stream(chunks=["drip"] * 100, chunk_delay=0.2))
    started = time.perf_counter()
    run = make_driver(timeout=chatlane.Timeout(idle=1.0, total=1.5)).stream(model="m", messages=HI)
    elapsed = time.perf_counter() - started
    assert isinstance(run.error, chatlane.TotalTimeout)
    assert 3 <= len(run.chunks) < 20
    assert 1.4 < elapsed < 3.0


@pytest.mark.asyncio
async def test_waiting_for_a_free_connection_is_a_pool_timeout(server: FakeServer) -> None:
    # One connection, held by an open stream: the next call waits for it, and a wait past
    # its first-token allowance is reported as such (nothing was sent), not as the server's.
    server.enqueue(Stream(chunks=["slow"] * 3, chunk_delay=0.5), Completion(content="ok"))
    one = chatlane.Limits(max_connections=1)
    async with chatlane.AsyncClient(base_url=server.url, limits=one, max_retries=0) as client:
        async with client.stream(model="m", messages=HI) as holding:
            with pytest.raises(chatlane.PoolTimeout, match="max_connections") as info:
                await client.chat(model="m", messages=HI, timeout=chatlane.Timeout(first_token=0.2))
            assert info.value.attempts == 1
            assert len(server.chat_requests) == 1
            waiting = asyncio.ensure_future(client.chat(model="m", messages=HI))
            text = "".join([chunk.text async for chunk in holding])
        assert text == "slowslowslow"
        reply = await asyncio.wait_for(waiting, 5)  # the connection came back: it goes out
    assert reply.text == "ok"


def test_the_sync_client_opens_another_connection_instead_of_waiting(server: FakeServer) -> None:
    server.enqueue(Stream(chunks=["slow"] * 3, chunk_delay=0.3), Completion(content="ok"))
    one = chatlane.Limits(max_connections=1)
    with (
        chatlane.Client(base_url=server.url, limits=one) as client,
        client.stream(model="m", messages=HI) as holding,
    ):
        started = time.perf_counter()
        assert client.chat(model="m", messages=HI).text == "ok"
        assert time.perf_counter() - started < 0.5
        assert "".join(chunk.text for chunk in holding) == "slowslowslow"
