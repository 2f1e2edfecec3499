"""Writing a reply to the wire with aiohttp: timing, fragments, closes and resets.

Bodies come from :mod:`chatlane.testing._wire`; this module only decides when bytes go out.
A client that hangs up mid-reply is normal here (timeout tests do it on purpose), so write
errors end the reply quietly instead of reaching aiohttp's error log.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Mapping, Sequence

from aiohttp import web
from multidict import CIMultiDict

from chatlane.core.errors import UsageError
from chatlane.testing._wire import (
    Exchange,
    completion_body,
    completion_events,
    error_reply_body,
    gaps,
    html_page,
    mid_stream_events,
    stream_events,
)
from chatlane.testing.replies import (
    Completion,
    ErrorReply,
    HtmlError,
    RawResponse,
    Reply,
    ResetBeforeHeaders,
    ResetMidStream,
    Stall,
    Stream,
)

__all__ = ["respond"]

JSON = "application/json"
SSE = "text/event-stream"
_LINGER_ZERO = struct.pack("ii", 1, 0)  # struct linger {on, 0 s}: close() sends RST


async def respond(
    request: web.BaseRequest, reply: Reply, ex: Exchange, headers: Mapping[str, str]
) -> web.StreamResponse:
    """Serve ``reply``; ``headers`` are the server's own, under the reply's."""
    if isinstance(reply, Stall):
        await asyncio.sleep(reply.seconds)
        if reply.then is None:
            return close(request)
        return await respond(request, reply.then, ex, {**headers, **reply.headers})
    if isinstance(reply, ResetBeforeHeaders):
        return close(request, reset=True)
    if isinstance(reply, Completion):
        await _pause(reply.delay)
        if ex.stream:
            events = completion_events(reply, ex)
            pauses = gaps(reply.chunk_delay, len(events) - 1)
            out = _headers(SSE, headers, reply.headers)
            return await _send_events(request, reply.status, out, events, pauses)
        out = _headers(JSON, headers, reply.headers)
        return _body(reply.status, out, completion_body(reply, ex))
    if isinstance(reply, Stream):
        await _pause(reply.first_delay)
        events = stream_events(reply, ex)
        pauses = gaps(reply.chunk_delay, len(events) - 1)
        return await _send_events(
            request, 200, _headers(SSE, headers, reply.headers), events, pauses
        )
    if isinstance(reply, ResetMidStream):
        events = mid_stream_events(reply, ex)
        pauses = gaps(reply.chunk_delay, len(events) - 1)
        out = _headers(SSE, headers, reply.headers)
        return await _send_events(
            request, 200, out, events, pauses, reset=True, reset_delay=reply.reset_delay
        )
    if isinstance(reply, RawResponse):
        await _pause(reply.delay)
        out = _headers(reply.content_type, headers, reply.headers)
        if reply.fragment_size is None:
            return _body(reply.status, out, reply.body)
        return await _send_fragments(request, reply, out)
    if isinstance(reply, ErrorReply):
        await _pause(reply.delay)
        return _body(
            reply.status,
            _headers(reply.content_type, headers, reply.headers),
            error_reply_body(reply),
        )
    if isinstance(reply, HtmlError):
        await _pause(reply.delay)
        out = _headers("text/html; charset=utf-8", headers, reply.headers)
        return _body(reply.status, out, html_page(reply.status))
    raise UsageError(f"not a fake server reply: {reply!r}")


def close(request: web.BaseRequest, *, reset: bool = False) -> web.StreamResponse:
    """Drop the connection: a FIN, or with ``reset`` an RST. Nothing more is sent.

    The returned response is never written: aiohttp finds the transport closing and skips it.
    """
    transport = request.transport
    if transport is not None:
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
            transport.abort()
        else:
            transport.close()
    return web.Response(status=204)


def _headers(
    content_type: str, server: Mapping[str, str], reply: Mapping[str, str]
) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict(server)
    out["Content-Type"] = content_type
    for name, value in reply.items():
        out[name] = value  # replaces case-insensitively: a reply may override anything
    return out


def _body(status: int, headers: CIMultiDict[str], body: bytes) -> web.Response:
    return web.Response(status=status, headers=headers, body=body)


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


async def _start(request: web.BaseRequest, response: web.StreamResponse) -> None:
    await response.prepare(request)
    # aiohttp holds the headers back to send them with the first body bytes; an empty write
    # sends them now, so a client's first-byte timing sees them when a real server sends them.
    await response.write(b"")


async def _send_events(
    request: web.BaseRequest,
    status: int,
    headers: CIMultiDict[str],
    events: Sequence[bytes],
    pauses: Sequence[float],
    *,
    reset: bool = False,
    reset_delay: float = 0.0,
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=headers)
    try:
        await _start(request, response)
        for index, event in enumerate(events):
            if index:
                await _pause(pauses[index - 1])
            await response.write(event)
        if reset:
            await _flushed(request)
            await _pause(reset_delay)
            close(request, reset=True)
        else:
            await response.write_eof()
    except ConnectionError:
        pass  # the client hung up: nothing left to do
    return response


async def _send_fragments(
    request: web.BaseRequest, reply: RawResponse, headers: CIMultiDict[str]
) -> web.StreamResponse:
    assert reply.fragment_size is not None
    response = web.StreamResponse(status=reply.status, headers=headers)
    try:
        await _start(request, response)
        body, size = reply.body, reply.fragment_size
        for start in range(0, len(body), size):
            if start:
                await _pause(reply.fragment_delay)
            await response.write(body[start : start + size])
        await response.write_eof()
    except ConnectionError:
        pass
    return response


async def _flushed(request: web.BaseRequest) -> None:
    """Wait (up to a second) until the transport has handed every written byte to the kernel.

    An RST discards whatever is still queued, so resetting earlier could lose chunks the
    reply promised to deliver. asyncio offers no event for "buffer empty", hence the polling.
    """
    transport = request.transport
    for _ in range(200):
        if transport is None or not transport.get_write_buffer_size():
            return
        await asyncio.sleep(0.005)
