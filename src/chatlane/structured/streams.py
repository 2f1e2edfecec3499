"""Streamed structured output: partial objects while the JSON arrives, the validated one at the
end. The sync and async classes are the same few lines around :class:`ParseFlow`'s steps.

Iterating yields the answer as parsed so far (plain JSON data: see
:mod:`chatlane.structured.partial`), each time it changes. After the stream, ``final()``
validates and returns the :class:`Parsed` result. If an answer fails validation and attempts
remain, the re-ask streams too and the partials start over: ``attempt`` says which one they
belong to.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar, Unpack

from chatlane.core.errors import APIError, ChatlaneError, UsageError
from chatlane.core.request import ChatParams
from chatlane.core.types import ChatCompletion, ChatCompletionChunk
from chatlane.structured.flow import ParseFlow
from chatlane.structured.modes import Asking
from chatlane.structured.partial import PartialJSON
from chatlane.structured.result import Parsed

__all__ = ["AsyncStructuredStream", "StructuredStream"]

T = TypeVar("T")


# What the streams need of a client, so this module does not import the clients (which
# import it): ``stream()`` returning a chunk stream with ``final()``.
class _ChunkStream(AbstractContextManager["_ChunkStream"], Protocol):
    def __iter__(self) -> Iterator[ChatCompletionChunk]: ...
    def final(self) -> ChatCompletion: ...


class _Streaming(Protocol):
    def stream(self, **params: Unpack[ChatParams]) -> _ChunkStream: ...


class _AsyncChunkStream(AbstractAsyncContextManager["_AsyncChunkStream"], Protocol):
    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]: ...
    async def final(self) -> ChatCompletion: ...


class _AsyncStreaming(Protocol):
    def stream(self, **params: Unpack[ChatParams]) -> _AsyncChunkStream: ...


class _Attempt(Generic[T]):
    """The partial answer of one streamed attempt."""

    def __init__(self, flow: ParseFlow[T], asking: Asking) -> None:
        self._flow = flow
        self._asking = asking
        self._json = PartialJSON()
        self.fed = False
        """A chunk arrived: an error now is not a refusal of the request."""

    def feed(self, chunk: ChatCompletionChunk) -> bool:
        self.fed = True
        return self._json.feed(self._asking.chunk_text(chunk))

    @property
    def partial(self) -> Any:
        return self._flow.spec.partial_view(self._json.value)


class _Progress(Generic[T]):
    """What both streams keep between their I/O loops: the flow's steps and the outcome."""

    def __init__(self, flow: ParseFlow[T]) -> None:
        self._flow = flow
        self._asking = flow.asking
        self._steps = flow.steps()
        self._result: Parsed[T] | None = None
        self._error: ChatlaneError | None = None
        self.attempt = 0
        """Which attempt the partials come from (1 for the first answer)."""

    @property
    def _finished(self) -> bool:
        return self._result is not None or self._error is not None

    def _next_attempt(self) -> _Attempt[T]:
        self.attempt += 1
        return _Attempt(self._flow, self._asking)

    def _after(self, completion: ChatCompletion) -> ChatParams | None:
        """The next attempt's request, or None once the flow has its result."""
        try:
            return self._steps.send(completion)
        except StopIteration as done:
            self._result = done.value
            return None

    def _refused(self, error: APIError) -> ChatParams:
        """The request to send after an attempt refused at once (the flow may switch mode)."""
        self.attempt -= 1
        request = self._steps.throw(error)  # raises it again unless the flow switched modes
        self._asking = self._flow.fallback or self._asking
        return request

    def _outcome(self) -> Parsed[T]:
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise UsageError("the structured stream was closed before its answer was complete")
        return self._result


class StructuredStream(_Progress[T]):
    """Partial objects of a structured answer as it streams; ``final()`` for the result.

    Use it in a ``with`` block; leaving early closes the connection.
    """

    def __init__(self, client: _Streaming, flow: ParseFlow[T]) -> None:
        super().__init__(flow)
        self._client = client
        self._iterator: Generator[Any, None, None] | None = None

    def __enter__(self) -> StructuredStream[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        return self._generator()

    def close(self) -> None:
        self._generator().close()  # a stream closed before it started stays empty
        self._steps.close()

    def final(self) -> Parsed[T]:
        """The validated result; reads the rest of the stream(s) first if needed."""
        if not self._finished:
            for _ in self:
                pass
        return self._outcome()

    def _generator(self) -> Generator[Any, None, None]:
        if self._iterator is None:
            self._iterator = self._partials()
        return self._iterator

    def _partials(self) -> Generator[Any, None, None]:
        try:
            request: ChatParams | None = next(self._steps)
            while request is not None:
                attempt = self._next_attempt()
                try:
                    with self._client.stream(**request) as stream:
                        for chunk in stream:
                            if attempt.feed(chunk):
                                yield attempt.partial
                        completion = stream.final()
                except APIError as exc:
                    if attempt.fed:
                        raise
                    request = self._refused(exc)
                    continue
                request = self._after(completion)
        except ChatlaneError as exc:
            self._error = exc
            raise


class AsyncStructuredStream(_Progress[T]):
    """The async twin of :class:`StructuredStream`: ``async with`` / ``async for``."""

    def __init__(self, client: _AsyncStreaming, flow: ParseFlow[T]) -> None:
        super().__init__(flow)
        self._client = client
        self._iterator: AsyncGenerator[Any, None] | None = None

    async def __aenter__(self) -> AsyncStructuredStream[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._generator()

    async def close(self) -> None:
        await self._generator().aclose()  # a stream closed before it started stays empty
        self._steps.close()

    async def final(self) -> Parsed[T]:
        """The validated result; reads the rest of the stream(s) first if needed."""
        if not self._finished:
            async for _ in self:
                pass
        return self._outcome()

    def _generator(self) -> AsyncGenerator[Any, None]:
        if self._iterator is None:
            self._iterator = self._partials()
        return self._iterator

    async def _partials(self) -> AsyncGenerator[Any, None]:
        try:
            request: ChatParams | None = next(self._steps)
            while request is not None:
                attempt = self._next_attempt()
                try:
                    async with self._client.stream(**request) as stream:
                        async for chunk in stream:
                            if attempt.feed(chunk):
                                yield attempt.partial
                        completion = await stream.final()
                except APIError as exc:
                    if attempt.fed:
                        raise
                    request = self._refused(exc)
                    continue
                request = self._after(completion)
        except ChatlaneError as exc:
            self._error = exc
            raise
