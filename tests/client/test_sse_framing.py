"""SSE framing over real HTTP: every fragment size and line ending, sync and async."""

from __future__ import annotations

import json

import pytest

from chatlane.testing import FakeServer, RawResponse
from tests.client.drivers import Driver

HI = [{"role": "user", "content": "Hi"}]
WORDS = ["Hel", "lo", ",", " wor", "ld", " ✓"]


def sse_body(newline: str) -> bytes:
    events = [": keep-alive"]
    for word in WORDS:
        chunk = {
            "id": "c",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": word}}],
        }
        events.append("data: " + json.dumps(chunk))
    events.append(
        'data: {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}'
    )
    events.append(
        'data: {"id": "c", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 6, "total_tokens": 8}}'
    )
    events.append("data: [DONE]")
    return (newline * 2).join(events).encode() + (newline * 2).encode()


@pytest.mark.parametrize("size", [1, 7, 97, 100000])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_stream_framing(size: int, newline: str, driver: Driver, server: FakeServer) -> None:
    server.enqueue(RawResponse(body=sse_body(newline), fragment_size=size))
    run = driver.stream(model="m", messages=HI)
    assert run.error is None
    assert [c.text for c in run.chunks if c.text] == WORDS
    assert run.final is not None
    assert run.final.text == "".join(WORDS)
    assert run.final.choices[0].finish_reason == "stop"
    assert run.final.usage is not None
    assert run.final.usage.total_tokens == 8
    assert run.chunks[-1].is_last_chunk
