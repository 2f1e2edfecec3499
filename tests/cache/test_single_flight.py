"""Single flight over real HTTP to the fake server: a leader that is cancelled or breaks
lets the others call, a caller never waits for itself, and waiters get replies of their own
(also for an answer the cache does not keep)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import chatlane
from chatlane.testing import Completion, FakeServer
from tests.conftest import FAST_RETRY, in_threads

HI = [{"role": "user", "content": "Hi"}]
ZERO: dict[str, Any] = {"model": "m", "messages": HI, "temperature": 0}


class BrokenStore(chatlane.MemoryStore):
    """A store of the caller's own whose writes have a bug (not an outage: a plain error),
    and which the client goes through I/O steps for."""

    in_process = False

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        raise RuntimeError("a bug in the store")

    async def aset(self, key: str, value: bytes, ttl: float | None = None) -> None:
        raise RuntimeError("a bug in the store")


@pytest.mark.asyncio
async def test_a_cancelled_leader_lets_its_waiter_call(server: FakeServer) -> None:
    server.enqueue(Completion(content="slow", delay=3.0), Completion(content="waiter's"))
    async with chatlane.AsyncClient(base_url=server.url, cache=True) as client:
        leader = asyncio.create_task(client.chat(**ZERO, timeout=10))
        await asyncio.sleep(0.2)
        waiter = asyncio.create_task(client.chat(**ZERO, timeout=10))
        await asyncio.sleep(0.1)
        leader.cancel()
        await asyncio.gather(leader, return_exceptions=True)  # the task stays referenced
        started = time.perf_counter()
        reply = await waiter
    assert reply.text == "waiter's"
    assert time.perf_counter() - started < 2.0  # not the rest of its 10 s
    assert len(server.chat_requests) == 2


def test_a_leader_broken_by_a_plain_error_does_not_hold_its_key(server: FakeServer) -> None:
    server.enqueue(Completion(content="one"), Completion(content="two"))
    with chatlane.Client(base_url=server.url, cache=BrokenStore(), retry=FAST_RETRY) as client:
        with pytest.raises(RuntimeError, match="a bug in the store") as first:
            client.chat(**ZERO, timeout=10)
        started = time.perf_counter()
        with pytest.raises(RuntimeError):  # the same bug again, at once: no wait for the first
            client.chat(**ZERO, timeout=10)
        assert time.perf_counter() - started < 2.0
        del first  # kept until here, with its traceback, as a caller might keep it
    assert len(server.chat_requests) == 2


def test_a_thread_does_not_wait_for_the_stream_it_holds_open(server: FakeServer) -> None:
    server.enqueue(Completion(content="one two three"), Completion(content="again"))
    with chatlane.Client(base_url=server.url, cache=True, timeout=10) as client:
        with client.stream(**ZERO) as stream:  # leads the key's flight until it ends
            chunks = iter(stream)
            text = next(chunks).text
            started = time.perf_counter()
            reply = client.chat(**ZERO)
            assert time.perf_counter() - started < 2.0
            text += "".join(chunk.text for chunk in chunks)
        assert (reply.text, reply.cached) == ("again", False)
        assert text == "one two three"
        # the stream, read to its end, is what the cache kept
        assert client.chat(**ZERO).text == "one two three"
    assert len(server.chat_requests) == 2


@pytest.mark.asyncio
async def test_a_task_does_not_wait_for_the_stream_it_holds_open(server: FakeServer) -> None:
    server.enqueue(Completion(content="one two three"), Completion(content="again"))
    client = chatlane.AsyncClient(base_url=server.url, cache=True, timeout=10)
    async with client, client.stream(**ZERO) as stream:  # the stream leads the key's flight
        await stream.__anext__()
        started = time.perf_counter()
        reply = await client.chat(**ZERO)
        assert time.perf_counter() - started < 2.0
    assert (reply.text, reply.cached) == ("again", False)
    assert len(server.chat_requests) == 2


def test_each_waiter_gets_a_reply_of_its_own(server: FakeServer) -> None:
    server.enqueue(Completion(content="shared", delay=0.3))
    with chatlane.Client(base_url=server.url, cache=True, retry=FAST_RETRY) as client:
        replies = in_threads(3, lambda: client.chat(**ZERO))
        replies[0].choices[0].message.content = "changed by one caller"
        later = client.chat(**ZERO)
    assert [reply.text for reply in replies[1:]] == ["shared", "shared"]
    assert later.text == "shared"
    assert len(server.chat_requests) == 1


def test_waiters_share_a_cut_off_answer_the_cache_does_not_keep(server: FakeServer) -> None:
    server.enqueue(Completion(content="cut", finish_reason="length", delay=0.3))
    server.enqueue(Completion(content="asked again", finish_reason="length"))
    with chatlane.Client(base_url=server.url, cache=True, retry=FAST_RETRY) as client:
        replies = in_threads(6, lambda: client.chat(**ZERO))
        assert len(server.chat_requests) == 1
        assert [reply.text for reply in replies] == ["cut"] * 6
        assert client.chat(**ZERO).text == "asked again"  # it was not kept
