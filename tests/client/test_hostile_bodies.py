"""Bodies a hostile or broken server sends: too large, a gzip bomb, cut short. Each is a
typed error found early, and none is sent twice (the server had started answering)."""

from __future__ import annotations

import functools
import gzip
import time

import pytest

import chatlane
from chatlane.testing import FakeServer, RawResponse, ResetMidStream
from chatlane.transport.async_aiohttp import AiohttpTransport
from chatlane.transport.base import DEFAULT_MAX_RESPONSE_BYTES
from chatlane.transport.sync_urllib3 import Urllib3Transport
from tests.client.conftest import MakeDriver, RawServer
from tests.client.drivers import Driver
from tests.conftest import FAST_RETRY

HI = [{"role": "user", "content": "Hi"}]
JSON = "application/json"
COMPLETION = b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]}'


def huge(size: int) -> bytes:
    """A valid completion padded with whitespace to ``size`` bytes."""
    return COMPLETION[:-1] + b" " * (size - len(COMPLETION)) + b"}"


def test_the_default_limit_is_tens_of_megabytes() -> None:
    assert 10 * 2**20 <= DEFAULT_MAX_RESPONSE_BYTES <= 100 * 2**20


def test_a_body_cannot_set_the_client_side_fields(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    claims = b', "cached": true, "target": "elsewhere/m", "attempts": 9, "latency": 5.0}'
    server.enqueue(RawResponse(body=COMPLETION[:-1] + claims, content_type=JSON))
    reply = make_driver().chat(model="m", messages=HI)
    assert (reply.text, reply.cached, reply.target, reply.attempts) == ("ok", False, None, 1)
    assert 0 < reply.latency < 5.0


def test_a_body_over_the_limit_is_refused(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(RawResponse(body=huge(DEFAULT_MAX_RESPONSE_BYTES + 1000), content_type=JSON))
    with pytest.raises(chatlane.ResponseDecodeError, match="max_response_bytes") as info:
        make_driver().chat(model="m", messages=HI)
    assert info.value.attempts == 1
    assert len(server.chat_requests) == 1


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    body = huge(DEFAULT_MAX_RESPONSE_BYTES + 1000)  # no Content-Length: chunked pieces
    server.enqueue(RawResponse(body=body, content_type=JSON, fragment_size=1 << 20))
    with pytest.raises(chatlane.ResponseDecodeError, match="max_response_bytes"):
        make_driver().chat(model="m", messages=HI)


@functools.cache
def gzip_bomb() -> bytes:
    bomb = gzip.compress(huge(400 * 2**20), compresslevel=9)  # 400 MB from ~400 KB
    assert len(bomb) < 2**20
    return bomb


def test_a_gzip_bomb_is_refused_while_it_inflates(server: FakeServer) -> None:
    server.enqueue(
        RawResponse(body=gzip_bomb(), content_type=JSON, headers={"content-encoding": "gzip"})
    )
    transport = Urllib3Transport(max_response_bytes=4 * 2**20)
    started = time.perf_counter()
    with (
        chatlane.Client(base_url=server.url, transport=transport) as client,
        pytest.raises(chatlane.ResponseDecodeError, match="larger than"),
    ):
        client.chat(model="m", messages=HI)
    assert time.perf_counter() - started < 5  # it stopped early, not after 400 MB


@pytest.mark.asyncio
async def test_a_gzip_bomb_is_refused_while_it_inflates_async(server: FakeServer) -> None:
    server.enqueue(
        RawResponse(body=gzip_bomb(), content_type=JSON, headers={"content-encoding": "gzip"})
    )
    transport = AiohttpTransport(max_response_bytes=4 * 2**20)
    started = time.perf_counter()
    async with chatlane.AsyncClient(base_url=server.url, transport=transport) as client:
        with pytest.raises(chatlane.ResponseDecodeError, match="larger than"):
            await client.chat(model="m", messages=HI)
    assert time.perf_counter() - started < 5


def test_the_limit_can_be_lifted(server: FakeServer) -> None:
    server.enqueue(RawResponse(body=huge(DEFAULT_MAX_RESPONSE_BYTES + 1000), content_type=JSON))
    transport = Urllib3Transport(max_response_bytes=None)
    with chatlane.Client(base_url=server.url, transport=transport) as client:
        assert client.chat(model="m", messages=HI).text == "ok"


def test_a_body_cut_short_is_not_sent_again(make_driver: MakeDriver, server: FakeServer) -> None:
    # Headers, part of a body, then a reset: the server had started answering.
    server.enqueue(ResetMidStream(chunks=["half"]), RawResponse(body=COMPLETION, content_type=JSON))
    with pytest.raises(chatlane.StreamInterrupted) as info:
        make_driver().chat(model="m", messages=HI)
    assert info.value.attempts == 1
    assert len(server.chat_requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 abc\r\n\r\n",
        b"\x00\x01 not http at all\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 200_000 + b"\r\n\r\n",
    ],
    ids=["bad-status-line", "not-http", "huge-header"],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_answer_that_is_not_http_is_a_decode_error_not_retried(
    answer: bytes, mode: str, raw_server: RawServer
) -> None:
    driver = Driver(mode, base_url=raw_server(answer), api_key="k", retry=FAST_RETRY)
    with pytest.raises(chatlane.ResponseDecodeError, match="not valid HTTP") as info:
        driver.chat(model="m", messages=HI)
    assert info.value.attempts == 1
