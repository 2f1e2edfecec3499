"""The sync client: configuration in ``core``, the call in ``flow``; here only the I/O."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack

from chatlane._call.call import Call
from chatlane._call.drive import drive, run
from chatlane._call.flow import fetch_attempt, retrying
from chatlane._call.ping import PingResult
from chatlane._call.steps import Fetch, Io, Open, Read, ReadChunk, Release, Sleep, Step
from chatlane._call.stream import StreamBase
from chatlane._client.base import ClientBase
from chatlane.core import errors
from chatlane.core.request import ChatParams
from chatlane.core.types import ChatCompletion, ChatCompletionChunk
from chatlane.providers.registry import StructuredOutputMode
from chatlane.transport.base import SyncTransport

if TYPE_CHECKING:
    from chatlane.local.engine import LocalEngine
    from chatlane.structured.result import Parsed
    from chatlane.structured.streams import StructuredStream

__all__ = ["ChatStream", "Client"]

T = TypeVar("T")


class Client(ClientBase[SyncTransport]):
    """A Chat Completions client for any OpenAI-compatible provider. Safe to share across
    threads; reuses connections. Close it (or use ``with``) when done.

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

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def chat(self, **params: Unpack[ChatParams]) -> ChatCompletion:
        """Send a chat request and return the whole completion."""
        call = self._core.prepare(params, stream=False)
        return run(self._core.chat_flow(call), self._perform)

    def stream(self, **params: Unpack[ChatParams]) -> ChatStream:
        """Start a streamed chat request. Iterate the result (ideally in a ``with`` block)."""
        return ChatStream(self, self._core.prepare(params, stream=True))

    def parse(
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
        ``StrictSchemaError`` naming the field, unless ``strict="fallback"`` (a warning, then
        the plain schema) or ``False``. An answer that fails validation is asked again with
        its errors, up to ``max_attempts`` in all, then ``OutputValidationError``. Refusals
        and cut-off answers raise ``OutputRefusedError`` and ``OutputTruncatedError`` at
        once. The logic lives in ``chatlane.structured``.
        """
        from chatlane.structured.flow import run_steps

        flow = self._plan(params, response_model, mode, strict, max_attempts)
        return run_steps(flow.steps(), lambda request: self.chat(**request))

    def parse_stream(
        self,
        *,
        response_model: type[T],
        mode: StructuredOutputMode | None = None,
        strict: bool | Literal["fallback"] = True,
        max_attempts: int = 3,
        **params: Unpack[ChatParams],
    ) -> StructuredStream[T]:
        """Like ``parse()``, streamed: iterate partial objects (plain JSON data, each time
        the answer grows), then ``final()`` for the validated ``Parsed`` result."""
        from chatlane.structured.streams import StructuredStream

        flow = self._plan(params, response_model, mode, strict, max_attempts)
        return StructuredStream(self, flow)

    def ping(self, *, provider: str | None = None) -> PingResult:
        """Check that the provider is reachable and accepts the key (lists models: no cost)."""
        call = self._core.ping_call(provider)
        fetched = run(retrying(self._core.retry, call, fetch_attempt), self._perform)
        return PingResult.from_models(call, fetched.body)

    def _perform(self, step: Step) -> Any:
        """Carry out one step of the call flow (``steps.py``) and return its result."""
        if isinstance(step, ReadChunk):
            return step.response.read_chunk(step.timeout)
        if isinstance(step, Fetch):
            return self._transport_for(step.in_process).fetch(
                step.request, connect_timeout=step.connect_timeout, read_timeout=step.read_timeout
            )
        if isinstance(step, Open):
            return self._transport_for(step.in_process).send(
                step.request, connect_timeout=step.connect_timeout, read_timeout=step.read_timeout
            )
        if isinstance(step, Read):
            return step.response.read(step.timeout)
        if isinstance(step, Release):
            return step.response.close()
        if isinstance(step, Sleep):
            return time.sleep(step.seconds)
        if isinstance(step, Io):
            return step.run()
        raise errors.UsageError(f"the call flow yielded {step!r}, which is not a step")

    def _http_transport(self, verify: bool) -> SyncTransport:
        from chatlane.transport.sync_urllib3 import Urllib3Transport

        limits = self._core.limits
        connections = (
            {} if limits.max_connections is None else {"max_connections": limits.max_connections}
        )
        return Urllib3Transport(
            verify=verify, max_response_bytes=limits.max_response_bytes, **connections
        )

    def _in_process_transport(self, engine: LocalEngine) -> SyncTransport:
        from chatlane.transport.local import LocalTransport

        return LocalTransport(engine)


class ChatStream(StreamBase):
    """A streamed completion: iterate chunks; ``final()`` and ``summary()`` when done.

    Leaving the ``with`` block (or ``close()``) before the end closes the connection.
    """

    def __init__(self, client: Client, call: Call) -> None:
        super().__init__(call, client._core.stream_flow(call))
        self._client = client

    def __enter__(self) -> ChatStream:
        if not self._opened:
            self._advance()  # sends the request: the response is open
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if self._flow is not None or self._response is not None:
            with contextlib.suppress(Exception):  # at interpreter exit modules may be gone
                self.close()

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self

    def __next__(self) -> ChatCompletionChunk:
        while True:
            chunk = next(self._queue, None)
            if chunk is not None:
                return chunk
            if not self._advance():
                raise StopIteration

    def close(self) -> None:
        self._close(self._stop())

    def final(self) -> ChatCompletion:
        """The accumulated completion; reads the rest of the stream first if needed.

        Raises the stream's error again if it ended with one; after an early ``close()`` it
        returns what arrived until then.
        """
        if self._flow is not None:
            for _ in self:
                pass
        return self._result()

    def _advance(self) -> bool:
        """Run the flow to its next chunks (False at the end)."""
        flow = self._flow
        if flow is None:
            return False
        try:
            return self._ended(drive(flow, self._perform))
        except BaseException as exc:
            self._close(self._failed(exc))
            raise

    def _perform(self, step: Step) -> Any:
        if isinstance(step, ReadChunk):  # the hot path: one per network read
            return step.response.read_chunk(step.timeout)
        if isinstance(step, Open):
            self._close(self._response)  # a retry: the failed attempt's response is done
            self._response = None
            self._response = self._client._perform(step)
            return self._response
        if isinstance(step, Release):
            self._response = None
        return self._client._perform(step)

    @staticmethod
    def _close(response: Any) -> None:
        if response is not None:
            response.close()
