"""``MemoryTransport``'s docstring example, run as written: one sync and one async client."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

import chatlane
from chatlane.transport import MemoryResponse, MemoryTransport

HI = [{"role": "user", "content": "Hi"}]


def docstring_example() -> str:
    """The indented block after the ``::`` in ``MemoryTransport``'s docstring."""
    doc = inspect.getdoc(MemoryTransport)
    assert doc is not None
    assert "::\n\n" in doc, "MemoryTransport's docstring has no example"
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    return inspect.cleandoc(block)


@pytest.fixture
def example() -> Iterator[dict[str, Any]]:
    """The names the example defines (``transport``, ``client``, ``aclient``)."""
    scope: dict[str, Any] = {"chatlane": chatlane, "MemoryResponse": MemoryResponse}
    scope["MemoryTransport"] = MemoryTransport
    exec(compile(docstring_example(), "MemoryTransport.__doc__", "exec"), scope)
    yield scope
    scope["client"].close()
    asyncio.run(scope["aclient"].close())


def test_the_example_shows_both_clients() -> None:
    code = docstring_example()
    assert "chatlane.Client(" in code
    assert "chatlane.AsyncClient(" in code
    assert "transport=transport.as_async()" in code


def test_the_sync_client_of_the_example_answers_from_the_handler(example: dict[str, Any]) -> None:
    transport: MemoryTransport = example["transport"]
    with example["client"] as client:
        reply = client.chat(model="m", messages=HI)
    assert reply.choices == []
    (request,) = transport.requests
    assert request.url == "http://test/v1/chat/completions"


def test_the_async_client_of_the_example_answers_from_the_same_handler(
    example: dict[str, Any],
) -> None:
    transport: MemoryTransport = example["transport"]

    async def main() -> chatlane.ChatCompletion:
        async with example["aclient"] as client:
            completion: chatlane.ChatCompletion = await client.chat(model="m", messages=HI)
            return completion

    assert asyncio.run(main()).choices == []
    (request,) = transport.requests  # recorded by the sync transport it wraps
    assert request.url == "http://test/v1/chat/completions"
    assert transport.as_async().inner is transport


def test_an_async_stream_reads_the_pieces_through_as_async() -> None:
    pieces = [
        b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}\n\n',
        b'data: {"choices": [{"index": 0, "delta": {"content": "b"}, "finish_reason": "stop"}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    transport = MemoryTransport(lambda request: MemoryResponse(body=pieces))

    async def main() -> list[str]:
        async with chatlane.AsyncClient(
            base_url="http://memory/v1", transport=transport.as_async()
        ) as client:
            stream = await client.stream(model="m", messages=HI)
            return [chunk.text async for chunk in stream]

    assert asyncio.run(main()) == ["a", "b"]
