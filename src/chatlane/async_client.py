"""The async client. Its I/O loops mirror ``client``; everything else is in ``_base``."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Literal, TypeVar, Unpack

from chatlane._base import RETRYABLE_TRANSPORT, Call, ClientCore, _Failed
from chatlane.core import errors
from chatlane.core.request import ChatParams
from chatlane.core.retry import RetryPolicy
from chatlane.core.stream import StreamDecoder, StreamSummary
from chatlane.core.timeouts import Timeout
from chatlane.core.types import ChatCompletion, ChatCompletionChunk
from chatlane.local_model import LocalModel
from chatlane.ping import PingResult
from chatlane.providers.registry import StructuredOutputMode
from chatlane.transport.base import AsyncResponse, AsyncTransport, Fetched

if TYPE_CHECKING:
    from chatlane.structured.result import Parsed
    from chatlane.structured.streams import AsyncStructuredStream

__all__ = ["AsyncChatStream", "AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """The async twin of ``Client``: the same surface, awaited. Safe to share across tasks of
    one event loop; reuses connections. Close it (or use ``async with``) when done.

    With no arguments the provider comes from the environment (CHATLANE_PROVIDER, or the
    first provider whose key variable is set, e.g. OPENAI_API_KEY). ``base_url=`` points at
    any compatible server; ``provider=`` picks a known one ("openai", "mistral", ...). With
    nothing configured it runs the embedded model (``local/smollm2``, see ``LocalModel``).
    """

    def __init__(
        self,
        *,
        provider: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        api_version: str | None = None,
        timeout: Timeout | float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        transport: AsyncTransport | None = None,
        verify: bool = True,
        local_model: LocalModel | None = None,
    ) -> None:
        self._core = ClientCore(
            provider=provider,
            base_url=base_url,
            api_key=api_key,
            api_version=api_version,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
        )
        if transport is None:
            from chatlane.transport.async_aiohttp import AiohttpTransport

            transport = AiohttpTransport(verify=verify)
        self._transport = transport
        self._local_model = local_model or LocalModel()
        self._local_transport: AsyncTransport | None = None

    @property
    def provider(self) -> str:
        """The provider calls go to unless a model or call names another ("local" when
        nothing is configured)."""
        return self._core.provider

    def __repr__(self) -> str:
        return f"AsyncClient({self._core!r})"

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
        status, headers, body = await self._retrying(call, self._fetch_once)
        return self._core.completion(call, status, headers, body)

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
        """Ask for an instance of ``response_model`` and return it validated.

        ``response_model`` is a pydantic model, dataclass, TypedDict (or any type pydantic
        validates); the other keywords are ``chat()``'s. ``mode`` is "json_schema",
        "json_object" or "tools" (None: what the provider takes best). ``strict`` sends the
        strict schema for the provider to enforce; a model without one is an
        ``OutputSchemaError`` naming the field, unless ``strict="fallback"`` (a warning, then
        the plain schema) or ``False``. An answer that fails validation is asked again with
        its errors, up to ``max_attempts`` in all, then ``OutputValidationError``. Refusals
        and cut-off answers raise ``OutputRefusedError`` and ``OutputTruncatedError`` at
        once. The logic lives in ``chatlane.structured``.
        """
        from chatlane.structured.flow import plan, run_async

        flow = plan(
            self._core,
            params,
            response_model=response_model,
            mode=mode,
            strict=strict,
            max_attempts=max_attempts,
        )
        return await run_async(flow.steps(), lambda request: self.chat(**request))

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
        the answer grows), then ``final()`` for the validated ``Parsed`` result."""
        from chatlane.structured.flow import plan
        from chatlane.structured.streams import AsyncStructuredStream

        flow = plan(
            self._core,
            params,
            response_model=response_model,
            mode=mode,
            strict=strict,
            max_attempts=max_attempts,
        )
        return AsyncStructuredStream(self, flow)

    async def ping(self, *, provider: str | None = None) -> PingResult:
        """Check that the provider is reachable and accepts the key (lists models: no cost)."""
        call = self._core.ping_call(provider)
        _, _, body = await self._retrying(call, self._fetch_once)
        return PingResult.from_models(call, body)

    def _transport_for(self, call: Call) -> AsyncTransport:
        if not call.in_process:
            return self._transport
        if self._local_transport is None:
            from chatlane.transport.local import AsyncLocalTransport

            self._local_transport = AsyncLocalTransport(self._local_model.engine())
        return self._local_transport

    async def _send(self, call: Call) -> AsyncResponse:
        """Open a stream (with retries): a successful response, headers read."""
        return await self._retrying(call, self._open_once)

    async def _open_once(self, call: Call) -> AsyncResponse:
        response = await self._transport_for(call).send(
            call.request,
            connect_timeout=call.connect_timeout(),
            read_timeout=call.first_token_timeout(),
        )
        if response.status < 400:
            return response
        body = await response.read(call.read_timeout(call.timeout.idle))
        error = self._core.error_for(call, response.status, response.headers, body)
        raise _Failed(error, response.status, response.headers)

    async def _fetch_once(self, call: Call) -> Fetched:
        fetched = await self._transport_for(call).fetch(
            call.request,
            connect_timeout=call.connect_timeout(),
            read_timeout=call.first_token_timeout(),
        )
        if fetched.status < 400:
            return fetched
        error = self._core.error_for(call, fetched.status, fetched.headers, fetched.body)
        raise _Failed(error, fetched.status, fetched.headers)

    async def _retrying(self, call: Call, once: Callable[[Call], Awaitable[T]]) -> T:
        """Run ``once`` until it succeeds or the retry policy gives up."""
        core = self._core
        while True:
            expired = call.expired()
            if expired is not None:
                raise expired
            call.attempts += 1
            status: int | None = None
            headers: Mapping[str, str] = {}
            try:
                return await once(call)
            except RETRYABLE_TRANSPORT as exc:
                error: errors.ChatlaneError = call.annotate(exc)
            except errors.TimeoutError:
                raise call.timeout_error(errors.FirstTokenTimeout) from None
            except _Failed as failed:
                error, status, headers = failed.error, failed.status, failed.headers
            delay = core.retry_delay(call, status, headers)
            if delay is None:
                raise error
            import asyncio  # lazily: importing asyncio costs ~50 ms, most calls never retry

            await asyncio.sleep(delay)


class AsyncChatStream:
    """A streamed completion: iterate chunks; ``final()`` and ``summary()`` when done.

    Leaving the ``async with`` block (or ``await close()``) before the end closes the
    connection. ``await client.stream(...)`` opens it and returns it.
    """

    def __init__(self, client: AsyncClient, call: Call) -> None:
        self._client = client
        self._call = call
        self._decoder: StreamDecoder | None = None
        self._response: AsyncResponse | None = None
        self._iterator: AsyncGenerator[ChatCompletionChunk, None] | None = None
        self._delivered = False
        self._ended_at: float | None = None
        self._error: errors.ChatlaneError | None = None

    async def __aenter__(self) -> AsyncChatStream:
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __await__(self) -> Generator[None, None, AsyncChatStream]:
        return self.__aenter__().__await__()

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        if self._iterator is None:
            self._iterator = self._chunks()
        return self._iterator

    async def __anext__(self) -> ChatCompletionChunk:
        return await self.__aiter__().__anext__()

    @property
    def attempts(self) -> int:
        return self._call.attempts

    async def close(self) -> None:
        if self._iterator is not None:
            await self._iterator.aclose()
        await self._close_response()

    async def final(self) -> ChatCompletion:
        """The accumulated completion; reads the rest of the stream first if needed.

        Raises the stream's error again if it ended with one; after an early ``close()`` it
        returns what arrived until then.
        """
        if self._ended_at is None:
            async for _ in self:
                pass
        if self._error is not None:
            raise self._error
        return self._decoder_or_raise().accumulator.completion(
            latency=(self._ended_at or time.perf_counter()) - self._call.started,
            attempts=self._call.attempts,
        )

    def summary(self) -> StreamSummary:
        """Time to first token, inter-chunk latency, total time and tokens per second."""
        return self._decoder_or_raise().summary(self._ended_at or time.perf_counter())

    def _decoder_or_raise(self) -> StreamDecoder:
        if self._decoder is None:
            raise errors.UsageError("the stream has not started; iterate it first")
        return self._decoder

    async def _close_response(self) -> None:
        if self._response is not None:
            await self._response.close()
            self._response = None
        if self._ended_at is None and self._decoder is not None:
            self._ended_at = time.perf_counter()

    async def _open(self) -> None:
        """Send the request (with retries) unless a response is already open."""
        if self._response is None and self._ended_at is None:
            self._response = await self._client._send(self._call)
            self._decoder = self._client._core.stream_decoder(self._call, self._response.headers)

    async def _chunks(self) -> AsyncGenerator[ChatCompletionChunk, None]:
        call, core = self._call, self._client._core
        try:
            while True:
                await self._open()
                assert self._response is not None
                assert self._decoder is not None
                try:
                    async for chunk in self._read(self._response, self._decoder):
                        yield chunk
                    return
                except errors.StreamInterrupted as exc:
                    # Retry only while the caller has seen nothing of this stream.
                    delay = None if self._delivered else core.retry_delay(call, None, {})
                    if delay is None:
                        raise call.annotate(exc) from None
                    await self._close_response()
                    self._ended_at = None
                    import asyncio

                    await asyncio.sleep(delay)
        except errors.ChatlaneError as exc:
            self._error = exc
            raise
        finally:
            await self._close_response()

    async def _read(
        self, response: AsyncResponse, decoder: StreamDecoder
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        call = self._call
        phase: type[errors.TimeoutError] = errors.FirstTokenTimeout
        limit = call.first_token_timeout()
        while True:
            try:
                data = await response.read_chunk(limit)
            except errors.TimeoutError:
                raise call.timeout_error(phase) from None
            now = time.perf_counter()
            chunks = decoder.feed(data, now) if data else decoder.finish(now)
            for chunk in chunks:
                self._delivered = True
                yield chunk
            if decoder.error is not None:
                raise call.annotate(decoder.error)
            if not data or decoder.done:
                self._ended_at = now
                if data:
                    await _drain(response, call.read_timeout(call.timeout.idle))
                return
            if self._delivered:
                phase, limit = errors.IdleTimeout, call.read_timeout(call.timeout.idle)
            else:
                limit = call.first_token_timeout()


async def _drain(response: AsyncResponse, timeout: float | None) -> None:
    """Read past [DONE] to the end of the body so the connection can be reused."""
    try:
        await response.read(timeout)
    except errors.TransportError:
        await response.close()
