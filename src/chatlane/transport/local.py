"""In-process transports for the embedded model: the same bytes a server would send.

The engine speaks OpenAI's request and response shapes as dicts; these transports carry
them as JSON bodies and SSE streams, so the client treats the local model exactly like a
remote provider (validation, errors, chunk timing, accumulation all stay in one place).
Requests to one model are serialized by the engine; async calls run in worker threads so
the event loop never blocks on generation.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from chatlane.core.error_body import error_body
from chatlane.core.errors import TimeoutError as ChatlaneTimeoutError
from chatlane.core.sse import DONE, encode_event
from chatlane.transport.base import Fetched, HTTPRequest

if TYPE_CHECKING:
    from chatlane.local.engine import LocalEngine

__all__ = ["AsyncLocalTransport", "LocalTransport"]

_encode = msgspec.json.Encoder().encode
_JSON = {"content-type": "application/json"}
_SSE = {"content-type": "text/event-stream"}
_END = b""


def _sse(chunks: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for chunk in chunks:
        yield encode_event(_encode(chunk))
    yield encode_event(DONE)


class _Answer:
    """What the engine made of one request: a whole body, or a stream of SSE pieces."""

    __slots__ = ("body", "headers", "pieces", "status")

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes = b"",
        pieces: Iterator[bytes] | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.pieces = pieces


def _answer(engine: LocalEngine, request: HTTPRequest) -> _Answer:
    """Run (or start) the request on the engine; engine errors become HTTP error bodies."""
    from chatlane.local.engine import LocalEngineError

    if request.method == "GET":
        return _Answer(200, _JSON, _encode({"object": "list", "data": [{"id": engine.model_name}]}))
    try:
        payload = msgspec.json.decode(request.body or b"{}")
        model = payload.get("model")
        if model not in (engine.model_name, "default"):
            message = (
                f"the local provider serves the model {engine.model_name!r}, not {model!r}; "
                "configure a remote provider (e.g. OPENAI_API_KEY) to use other models"
            )
            return _Answer(
                404, _JSON, error_body(404, message, code="model_not_found", param="model")
            )
        if payload.get("stream"):
            chunks = engine.stream(payload)
            first = next(chunks)  # surfaces request errors before the 200 is "sent"
            return _Answer(200, _SSE, pieces=_sse(_chain(first, chunks)))
        return _Answer(200, _JSON, _encode(engine.complete(payload)))
    except LocalEngineError as exc:
        return _Answer(
            exc.status, _JSON, error_body(exc.status, exc.message, code=exc.code, param=exc.param)
        )


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    try:
        yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()  # an early stop releases the model at once


class LocalResponse:
    """A sync response; streamed pieces are generated as they are read."""

    __slots__ = ("_answer",)

    def __init__(self, answer: _Answer) -> None:
        self._answer = answer

    @property
    def status(self) -> int:
        return self._answer.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._answer.headers

    def read(self, timeout: float | None) -> bytes:
        pieces = self._answer.pieces
        if pieces is None:
            return self._answer.body
        return b"".join(pieces)

    def read_chunk(self, timeout: float | None) -> bytes:
        pieces = self._answer.pieces
        if pieces is None:
            body, self._answer.body = self._answer.body, b""
            return body
        return next(pieces, _END)

    def close(self) -> None:
        pieces = self._answer.pieces
        if pieces is not None:
            pieces.close()  # type: ignore[attr-defined]


class LocalTransport:
    """Sync transport to an in-process ``LocalEngine``."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine

    def send(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> LocalResponse:
        return LocalResponse(_answer(self.engine, request))

    def fetch(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> Fetched:
        response = LocalResponse(_answer(self.engine, request))
        return Fetched(response.status, response.headers, response.read(None))

    def close(self) -> None:
        pass


class AsyncLocalResponse:
    """An async response. One worker thread runs the whole request, start to end, and hands
    the answer and then the stream pieces over a queue (the engine's lock stays in the
    thread that took it)."""

    __slots__ = ("_answer", "_loop", "_queue", "_stop", "_worker")

    def __init__(self, engine: LocalEngine, request: HTTPRequest) -> None:
        self._answer: _Answer | None = None
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[_Answer | bytes | BaseException] = asyncio.Queue()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._produce, args=(engine, request), daemon=True)
        self._worker.start()

    def _put(self, item: _Answer | bytes | BaseException) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is gone: nobody is reading any more
            self._stop.set()

    def _produce(self, engine: LocalEngine, request: HTTPRequest) -> None:
        try:
            answer = _answer(engine, request)
        except BaseException as exc:  # handed to the reader, which raises it
            self._put(exc)
            return
        self._put(answer)
        pieces = answer.pieces
        if pieces is None:
            return
        try:
            for piece in pieces:
                if self._stop.is_set():
                    break
                self._put(piece)
            self._put(_END)
        except BaseException as exc:
            self._put(exc)
        finally:
            pieces.close()  # type: ignore[attr-defined]

    async def _next(self, timeout: float | None) -> _Answer | bytes:
        try:
            async with asyncio.timeout(timeout):
                item = await self._queue.get()
        except TimeoutError:
            raise ChatlaneTimeoutError("the local model produced nothing in time") from None
        if isinstance(item, BaseException):
            raise item
        return item

    async def start(self, timeout: float | None) -> AsyncLocalResponse:
        answer = await self._next(timeout)
        assert isinstance(answer, _Answer)
        self._answer = answer
        return self

    @property
    def status(self) -> int:
        assert self._answer is not None
        return self._answer.status

    @property
    def headers(self) -> Mapping[str, str]:
        assert self._answer is not None
        return self._answer.headers

    async def read(self, timeout: float | None) -> bytes:
        parts = []
        while piece := await self.read_chunk(timeout):
            parts.append(piece)
        return b"".join(parts)

    async def read_chunk(self, timeout: float | None) -> bytes:
        answer = self._answer
        assert answer is not None
        if answer.pieces is None:
            body, answer.body = answer.body, b""
            return body
        piece = await self._next(timeout)
        assert isinstance(piece, bytes)
        return piece

    async def close(self) -> None:
        # The producer stops after the token in progress and releases the model.
        self._stop.set()


class AsyncLocalTransport:
    """Async transport to an in-process ``LocalEngine``; generation runs off the loop."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine

    async def send(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> AsyncLocalResponse:
        return await AsyncLocalResponse(self.engine, request).start(read_timeout)

    async def fetch(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> Fetched:
        response = await self.send(request, connect_timeout=None, read_timeout=read_timeout)
        return Fetched(response.status, response.headers, await response.read(read_timeout))

    async def close(self) -> None:
        pass
