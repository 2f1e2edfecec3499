"""Plain-HTTP helpers for the fake-server tests: urllib3 and chatlane's SSE decoder only."""

from __future__ import annotations

import json
import time
from typing import Any

import urllib3

from chatlane.core.sse import SSEDecoder

HI = [{"role": "user", "content": "Hi"}]


def chat(
    pool: urllib3.PoolManager,
    url: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    **options: Any,
) -> urllib3.BaseHTTPResponse:
    """POST a chat request; ``body`` defaults to a one-message request."""
    payload = {"model": "m", "messages": HI} if body is None else body
    return pool.request("POST", url + "/chat/completions", json=payload, headers=headers, **options)


def sse_data(raw: bytes) -> list[bytes]:
    decoder = SSEDecoder()
    events = decoder.feed(raw) + decoder.flush()
    return [event.data for event in events]


def sse_chunks(raw: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a stream body, without the [DONE] sentinel."""
    return [json.loads(data) for data in sse_data(raw) if data != b"[DONE]"]


def timed_events(response: urllib3.BaseHTTPResponse) -> list[tuple[float, bytes]]:
    """Each event's data with the time its HTTP chunk arrived."""
    decoder = SSEDecoder()
    timed: list[tuple[float, bytes]] = []
    for piece in response.read_chunked(decode_content=False):
        now = time.perf_counter()
        timed.extend((now, event.data) for event in decoder.feed(piece))
    return timed


def content_of(chunk: dict[str, Any]) -> str | None:
    choices = chunk.get("choices") or [{}]
    content: str | None = choices[0].get("delta", {}).get("content")
    return content
