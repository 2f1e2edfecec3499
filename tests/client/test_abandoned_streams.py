"""A stream the caller abandons gives its connection back at once, without the garbage
collector, sync and async: 200 abandoned streams, then a call succeeds at once and the file
descriptors are back to where they started."""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Iterator

import pytest

import chatlane
from chatlane.testing import Completion, FakeServer
from tests.conftest import API_KEY

HI = [{"role": "user", "content": "Hi"}]
WORDS = " ".join(f"word{i}" for i in range(40))
ABANDONED = 200


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(limit: int) -> int:
    """The descriptor count once the server thread has seen the closes (at most 3 s)."""
    deadline = time.monotonic() + 3
    while open_fds() > limit and time.monotonic() < deadline:
        time.sleep(0.02)
    return open_fds()


@pytest.fixture
def no_gc() -> Iterator[None]:
    # Prove the connections come back by reference counting alone.
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_abandoned_sync_streams_give_their_connections_back(
    server: FakeServer, no_gc: None
) -> None:
    server.enqueue(*[Completion(content=WORDS)] * (ABANDONED + 2))
    with chatlane.Client(base_url=server.url, api_key=API_KEY) as client:
        client.chat(model="m", messages=HI)  # warm: the pool and the server's first socket
        start = settle(open_fds())
        for index in range(ABANDONED):
            if index % 2:
                for _chunk in client.stream(model="m", messages=HI):
                    break  # the stream is a temporary: dropped right here
            else:
                stream = client.stream(model="m", messages=HI)
                next(iter(stream))
                del stream
        began = time.perf_counter()
        assert client.chat(model="m", messages=HI).text
        assert time.perf_counter() - began < 2
    assert settle(start) <= start


@pytest.mark.asyncio
async def test_abandoned_async_streams_do_not_starve_the_next_call(
    server: FakeServer, no_gc: None
) -> None:
    server.enqueue(*[Completion(content=WORDS)] * (ABANDONED + 2))
    async with chatlane.AsyncClient(base_url=server.url, api_key=API_KEY) as client:
        await client.chat(model="m", messages=HI)
        start = open_fds()
        for index in range(ABANDONED):
            if index % 2:
                async for _chunk in client.stream(model="m", messages=HI):
                    break
            else:
                stream = await client.stream(model="m", messages=HI)
                await anext(aiter(stream))
                del stream
        reply = await asyncio.wait_for(client.chat(model="m", messages=HI), timeout=2)
        assert reply.text
    await asyncio.sleep(0)
    assert await asyncio.to_thread(settle, start) <= start
