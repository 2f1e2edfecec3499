"""Transport plumbing: proxies from the environment, the in-memory transport."""

from __future__ import annotations

import asyncio

import pytest

import chatlane
from chatlane.testing import Completion, FakeServer
from chatlane.transport import HTTPRequest, MemoryResponse, MemoryTransport

HI = [{"role": "user", "content": "Hi"}]
REMOTE = "http://api.example.invalid/v1"  # never resolved: requests go through the proxy


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_http_proxy_from_the_environment(
    mode: str, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = server.url.removesuffix("/v1")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    server.enqueue(Completion(content="via proxy"))
    if mode == "sync":
        with chatlane.Client(base_url=REMOTE, api_key="k" * 20) as client:
            reply = client.chat(model="m", messages=HI)
    else:

        async def main() -> chatlane.ChatCompletion:
            async with chatlane.AsyncClient(base_url=REMOTE, api_key="k" * 20) as client:
                return await client.chat(model="m", messages=HI)

        reply = asyncio.run(main())
    assert reply.text == "via proxy"
    (request,) = server.chat_requests
    assert request.path == f"{REMOTE}/chat/completions"  # absolute form: a proxy request


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_proxy_bypasses_the_proxy(
    mode: str, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would refuse every connection
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    if mode == "sync":
        with chatlane.Client(base_url=server.url, api_key="k" * 20) as client:
            client.chat(model="m", messages=HI)
    else:

        async def main() -> None:
            async with chatlane.AsyncClient(base_url=server.url, api_key="k" * 20) as client:
                await client.chat(model="m", messages=HI)

        asyncio.run(main())
    assert server.chat_requests[0].path == "/v1/chat/completions"


COMPLETION = b'{"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": "mem"}, "finish_reason": "stop"}]}'


def test_memory_transport_answers_without_sockets() -> None:
    seen: list[HTTPRequest] = []

    def handler(request: HTTPRequest) -> MemoryResponse:
        seen.append(request)
        return MemoryResponse(body=COMPLETION, headers={"Content-Type": "application/json"})

    transport = MemoryTransport(handler)
    with chatlane.Client(
        base_url="http://memory/v1", api_key="k" * 20, transport=transport
    ) as client:
        assert client.chat(model="m", messages=HI).text == "mem"
    assert seen[0].url == "http://memory/v1/chat/completions"
    assert transport.requests == seen

    async def main() -> str:
        async with chatlane.AsyncClient(
            base_url="http://memory/v1", transport=transport.as_async()
        ) as client:
            return (await client.chat(model="m", messages=HI)).text

    assert asyncio.run(main()) == "mem"


def test_memory_transport_streams_pieces() -> None:
    pieces = [
        b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}\n',
        b"\n",
        b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    transport = MemoryTransport(lambda request: MemoryResponse(body=pieces))
    with chatlane.Client(base_url="http://memory/v1", transport=transport) as client:
        stream = client.stream(model="m", messages=HI)
        assert [chunk.text for chunk in stream if chunk.text] == ["a"]
