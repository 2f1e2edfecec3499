"""What ``ChatStream`` and ``AsyncChatStream`` share: the call flow they drive, the chunks
waiting for the caller, the result, ``final()``'s bookkeeping and ``summary()``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from chatlane._call.call import Call
from chatlane._call.layers import Flow
from chatlane._call.steps import Deliver
from chatlane.core import errors
from chatlane.core.stream import StreamDecoder, StreamSummary
from chatlane.core.types import ChatCompletion, ChatCompletionChunk

__all__ = ["StreamBase"]


class StreamBase:
    """A stream's state; the subclasses add the sync or async driving of its flow.

    The streams are their own iterators and hold no generator of their own: nothing refers
    back to them, so a stream the caller drops (say after ``break``) is freed at once and
    gives its connection back without waiting for the garbage collector (``__del__``).
    """

    def __init__(self, call: Call, flow: Flow) -> None:
        self._call = call
        self._flow: Flow | None = flow
        """None once the flow returned, failed or was closed."""
        self._response: Any = None
        """The open response of the current attempt, closed when the stream stops early."""
        self._queue: Iterator[ChatCompletionChunk] = iter(())
        """Chunks delivered by the flow that the caller has not been given yet."""
        self._opened = False
        self._completion: ChatCompletion | None = None
        self._error: errors.ChatlaneError | None = None

    def __repr__(self) -> str:
        state = "open" if self._flow is not None else "ended"
        return f"{type(self).__name__}(provider={self._call.provider!r}, {state})"

    @property
    def attempts(self) -> int:
        return self._call.attempts

    def summary(self) -> StreamSummary:
        """Time to first token, inter-chunk latency, total time and tokens per second."""
        return self._decoder().summary(self._call.ended_at or time.perf_counter())

    def _decoder(self) -> StreamDecoder:
        decoder = self._call.decoder
        if decoder is None:
            raise errors.UsageError("the stream has not started; iterate it first")
        return decoder

    def _ended(self, outcome: ChatCompletion | Deliver) -> bool:
        """Record what one drive of the flow gave: chunks for the caller (True), or the
        result (False)."""
        self._opened = True
        if isinstance(outcome, Deliver):
            self._queue = iter(outcome.chunks)
            return True
        self._completion, self._flow, self._response = outcome, None, None
        return False

    def _failed(self, error: BaseException) -> Any:
        """Stop after ``error``; returns the response the subclass must close."""
        if isinstance(error, errors.ChatlaneError):
            self._error = error
        return self._stop()

    def _stop(self) -> Any:
        """End the flow (running its ``finally`` blocks); returns the response to close."""
        flow, self._flow = self._flow, None
        if flow is not None:
            flow.close()
        response, self._response = self._response, None
        call = self._call
        if call.decoder is not None and call.ended_at is None:
            call.ended_at = time.perf_counter()
        return response

    def _result(self) -> ChatCompletion:
        """``final()`` once the flow is over: its result, its error, or what arrived before
        an early ``close()``."""
        if self._error is not None:
            raise self._error
        if self._completion is not None:
            return self._completion
        call = self._call
        return self._decoder().accumulator.completion(
            latency=(call.ended_at or time.perf_counter()) - call.started,
            attempts=call.attempts,
        )
