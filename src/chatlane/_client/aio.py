"""The async client: ``Client``'s twin, awaited. Configuration in ``core``, the call in
``flow``; here only the I/O."""

from __future__ import annotations

import contextlib
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Generator,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack

from chatlane._call.call import Call
from chatlane._call.drive import adrive, arun
from chatlane._call.flow import fetch_attempt, retrying
from chatlane._call.ping import PingResult
from chatlane._call.steps import Fetch, Io, Open, Read, ReadChunk, Release, Sleep, Step
from chatlane._call.stream import StreamBase
from chatlane._client.base import ClientBase
from chatlane.core import errors
from chatlane.core.request import ChatParams
from chatlane.core.types import ChatCompletion, ChatCompletionChunk
from chatlane.providers.registry import StructuredOutputMode
from chatlane.transport.base import AsyncTransport

if TYPE_CHECKING:
    from chatlane.local.engine import LocalEngine
    from chatlane.structured.result import Parsed
    from chatlane.structured.streams import AsyncStructuredStream

__all__ = ["AsyncChatStream", "AsyncClient"]

T = TypeVar("T")


class AsyncClient(ClientBase[AsyncTransport]):
    """The async twin of ``Client``: the same surface, awaited. Safe to share across tasks of
    one event loop; reuses connections. Close it (or use ``async with``) when done.

    With no arguments the provider comes from the environment (CHATLANE_PROVIDER, or the
    first provider whose key variable is set, e.g. OPENAI_API_KEY). ``base_url=`` points at
    any compatible server; ``provider=`` picks a known one ("openai", "mistral", ...). With
    nothing configured it runs the embedded model (``local/smollm2``, see ``LocalModel``).
    ``middleware=`` plugs pieces around each request and each attempt (``chatlane.middleware``).
    ``models=`` gives models their facts (``{"my-model": ModelInfo(context_window=32_768)}``:
    what the agent trims to and what cost is reckoned with), in place of the model table's.
    ``cache=``, ``rate_limits=``, ``budget=``, ``ledger=``, ``fallbacks=`` (``fallback_on=``)
    and ``telemetry=`` add the production pieces (README: "Production"); ``limits=`` bounds
    what a server can make the client hold.
    """

    is_async = True

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    async def chat(self, **params: Unpack[ChatParams]) -> ChatCompletion:
        """Send a chat request and return the whole completion."""
        call = self._core.prepare(params, stream=False)
        return await arun(self._core.chat_flow(call), self._perform)

    def stream(self, **params: Unpack[ChatParams]) -> AsyncChatStream:
        """Start a streamed chat request: ``async with`` / ``async for`` it, or await it."""
        return AsyncChatStream(self, self._core.prepare(params, stream=True))

    async def parse(
        self,
        *,
        response_model: type[T],
        mode: StructuredOutputMode | None = None,
        strict: bool | Literal["fallback"] = True,
        max_attempts: int = 3,
        **params: Unpack[ChatParams],
    ) -> Parsed[T]:
        """Ask for an instance of ``response_model`` and return it validated (as
        ``Client.parse``, awaited)."""
        from chatlane.structured.flow import arun_steps

        flow = self._plan(params, response_model, mode, strict, max_attempts)
        return await arun_steps(flow.steps(), lambda request: self.chat(**request))

    def parse_stream(
        self,
        *,
        response_model: type[T],
        mode: StructuredOutputMode | None = None,
        strict: bool | Literal["fallback"] = True,
        max_attempts: int = 3,
        **params: Unpack[ChatParams],
    ) -> AsyncStructuredStream[T]:
        """Like ``parse()``, streamed: iterate partial objects (plain JSON data, each time
        the answer grows), then ``await final()`` for the validated ``Parsed`` result."""
        from chatlane.structured.streams import AsyncStructuredStream

        flow = self._plan(params, response_model, mode, strict, max_attempts)
        return AsyncStructuredStream(self, flow)

    async def ping(self, *, provider: str | None = None) -> PingResult:
        """Check that the provider is reachable and accepts the key (lists models: no cost)."""
        call = self._core.ping_call(provider)
        fetched = await arun(retrying(self._core.retry, call, fetch_attempt), self._perform)
        return PingResult.from_models(call, fetched.body)

    def _perform(self, step: Step) -> Awaitable[Any]:
        """The awaitable that carries out one step of the call flow (``steps.py``).

        A plain function handing back the transport's own coroutine: no wrapper coroutine
        per step."""
        if isinstance(step, ReadChunk):
            return step.response.read_chunk(step.timeout)  # type: ignore[no-any-return]
        if isinstance(step, Fetch):
            return self._transport_for(step.in_process).fetch(
                step.request, connect_timeout=step.connect_timeout, read_timeout=step.read_timeout
            )
        if isinstance(step, Open):
            return self._transport_for(step.in_process).send(
                step.request, connect_timeout=step.connect_timeout, read_timeout=step.read_timeout
            )
        if isinstance(step, Read):
            return step.response.read(step.timeout)  # type: ignore[no-any-return]
        if isinstance(step, Release):
            return step.response.close()  # type: ignore[no-any-return]
        if isinstance(step, Sleep):
            import asyncio  # lazily: importing asyncio costs ~50 ms, most calls never wait

            return asyncio.sleep(step.seconds)
        if isinstance(step, Io):
            return step.arun()
        return _refuse(step)

    def _http_transport(self, verify: bool) -> AsyncTransport:
        from chatlane.transport.async_aiohttp import AiohttpTransport

        limits = self._core.limits
        connections = (
            {} if limits.max_connections is None else {"max_connections": limits.max_connections}
        )
        return AiohttpTransport(
            verify=verify, max_response_bytes=limits.max_response_bytes, **connections
        )

    def _in_process_transport(self, engine: LocalEngine) -> AsyncTransport:
        from chatlane.transport.local import AsyncLocalTransport

        return AsyncLocalTransport(engine)


class AsyncChatStream(StreamBase):
    """A streamed completion: iterate chunks; ``final()`` and ``summary()`` when done.

    Leaving the ``async with`` block (or ``await close()``) before the end closes the
    connection. ``await client.stream(...)`` opens it and returns it.
    """

    def __init__(self, client: AsyncClient, call: Call) -> None:
        super().__init__(call, client._core.stream_flow(call))
        self._client = client

    async def __aenter__(self) -> AsyncChatStream:
        if not self._opened:
            await self._advance()  # sends the request: the response is open
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __await__(self) -> Generator[Any, None, AsyncChatStream]:
        return self.__aenter__().__await__()

    def __del__(self) -> None:
        if self._flow is not None or self._response is not None:
            with contextlib.suppress(Exception):  # at interpreter exit modules may be gone
                _close_now(self._stop())

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        while True:
            chunk = next(self._queue, None)
            if chunk is not None:
                return chunk
            if not await self._advance():
                raise StopAsyncIteration

    async def close(self) -> None:
        await self._close(self._stop())

    async def final(self) -> ChatCompletion:
        """The accumulated completion; reads the rest of the stream first if needed.

        Raises the stream's error again if it ended with one; after an early ``close()`` it
        returns what arrived until then.
        """
        if self._flow is not None:
            async for _ in self:
                pass
        return self._result()

    async def _advance(self) -> bool:
        """Run the flow to its next chunks (False at the end)."""
        flow = self._flow
        if flow is None:
            return False
        try:
            return self._ended(await adrive(flow, self._perform))
        except BaseException as exc:
            await self._close(self._failed(exc))
            raise

    def _perform(self, step: Step) -> Awaitable[Any]:
        if isinstance(step, ReadChunk):  # the hot path: one per network read
            return step.response.read_chunk(step.timeout)  # type: ignore[no-any-return]
        if isinstance(step, Open):
            return self._open(step)
        if isinstance(step, Release):
            self._response = None
        return self._client._perform(step)

    async def _open(self, step: Open) -> Any:
        await self._close(self._response)  # a retry: the failed attempt's response is done
        self._response = None
        self._response = await self._client._perform(step)
        return self._response

    @staticmethod
    async def _close(response: Any) -> None:
        if response is not None:
            await response.close()


async def _refuse(step: object) -> None:
    raise errors.UsageError(f"the call flow yielded {step!r}, which is not a step")


def _close_now(response: Any) -> None:
    """Close ``response`` from ``__del__``, where nothing can be awaited: run its ``close()``
    coroutine as far as it goes without waiting (chatlane's transports close at once)."""
    if response is None:
        return
    closing = response.close()
    try:
        closing.send(None)
    except StopIteration:
        return
    closing.close()
