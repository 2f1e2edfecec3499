"""From stream bytes to timed chunks, the merged completion and a timing summary. Pure.

``StreamDecoder.feed(bytes, now)`` returns the chunks that are ready; the caller supplies the
clock, so this module never reads time or sockets. A chunk that looks final (every choice
finished, or no choices) is held until the next event shows whether more follows: that is
how ``is_last_chunk`` is known exactly without delaying content chunks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from chatlane.core.accumulate import ChunkAccumulator
from chatlane.core.chunks import decode_chunk
from chatlane.core.error_mapping import ErrorContext, stream_error
from chatlane.core.errors import ChatlaneError, ResponseDecodeError, StreamInterrupted
from chatlane.core.sse import DEFAULT_MAX_EVENT_BYTES, DONE, ServerSentEvent, SSEDecoder
from chatlane.core.types import ChatCompletionChunk

__all__ = ["StreamDecoder", "StreamSummary"]


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """Timing of one stream, in seconds.

    ``time_to_first_token`` is measured to the first chunk that carries content, reasoning,
    a refusal or a tool call (not an empty role-only chunk). Inter-chunk figures cover the
    gaps between chunks after that one. ``tokens_per_second`` is completion tokens divided by
    the generation time after the first token; completion tokens come from the provider's
    usage, or are estimated as one per content chunk when it sent none
    (``usage_reported`` says which).
    """

    time_to_first_token: float | None
    total_time: float
    chunk_count: int
    inter_chunk_p50: float | None
    inter_chunk_p95: float | None
    inter_chunk_max: float | None
    completion_tokens: int
    usage_reported: bool
    tokens_per_second: float | None
    cached: bool = False
    """Replayed from the client's cache: the timing is the replay's."""


def _percentile(sorted_values: list[float], fraction: float) -> float:
    position = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[position]


def _carries_output(chunk: ChatCompletionChunk) -> bool:
    for choice in chunk.choices:
        delta = choice.delta
        if delta.content or delta.tool_calls or delta.refusal or delta.reasoning_content:
            return True
        if delta.reasoning or delta.reasoning_details:
            return True
    return False


def _may_be_last(chunk: ChatCompletionChunk) -> bool:
    """Final-looking: no choices, every choice finished, or usage with no new output."""
    choices = chunk.choices
    if not choices or all(choice.finish_reason for choice in choices):
        return True
    return chunk.usage is not None and not _carries_output(chunk)


_CUT = (
    "the stream ended before the answer was complete (no choice reported a finish reason"
    " and no usage came)"
)


class StreamDecoder:
    """Incremental: bytes in, timed chunks out; keeps the accumulator and timing as it goes."""

    __slots__ = (
        "_arrivals",
        "_chunk_count",
        "_content_chunks",
        "_held",
        "_last_arrival",
        "_sse",
        "accumulator",
        "cached",
        "context",
        "done",
        "error",
        "first_token_at",
        "request_id",
        "started",
    )

    def __init__(
        self,
        started: float,
        context: ErrorContext,
        *,
        request_id: str | None = None,
        max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self.started = started
        self.context = context
        self.request_id = request_id
        self.accumulator = ChunkAccumulator()
        self.done = False
        """True once the stream's end ([DONE] or an error) was seen."""
        self.error: ChatlaneError | None = None
        """An error found in the stream; raise it after delivering the chunks returned with it."""
        self.first_token_at: float | None = None
        self.cached = False
        """The chunks are a replay from the client's cache."""
        self._sse = SSEDecoder(max_event_bytes=max_event_bytes)
        self._held: ChatCompletionChunk | None = None
        self._last_arrival = started
        self._arrivals: list[float] = []
        self._content_chunks = 0
        self._chunk_count = 0

    def feed(self, data: bytes, now: float) -> list[ChatCompletionChunk]:
        try:
            events = self._sse.feed(data)
        except ResponseDecodeError as exc:
            return self._too_long(exc)
        ready = self._handle(events, now)
        if self._sse.error is not None and self.error is None:
            ready += self._too_long(self._sse.error)
        return ready

    def finish(self, now: float) -> list[ChatCompletionChunk]:
        """End of the byte stream: release what is buffered."""
        try:
            events = self._sse.flush()
        except ResponseDecodeError as exc:
            return self._too_long(exc)
        ready = self._handle(events, now)
        if not self.done and self.error is None and not self._looks_complete():
            self._fail(StreamInterrupted(_CUT), ready)
            return ready
        held = self._release(last=True)
        if held is not None:
            ready.append(held)
        self.done = True
        return ready

    def replay(self, chunks: list[ChatCompletionChunk], now: float) -> list[ChatCompletionChunk]:
        """Take a whole stream at once (a cache's replay), timed as arriving at ``now``."""
        for chunk in chunks:
            self._stamp(chunk, now)
        if chunks:
            chunks[-1].is_last_chunk = True
        self.done = self.cached = True
        return chunks

    def _too_long(self, error: ResponseDecodeError) -> list[ChatCompletionChunk]:
        error.provider, error.model = self.context.provider, self.context.model
        ready: list[ChatCompletionChunk] = []
        self._fail(error, ready)
        return ready

    def _looks_complete(self) -> bool:
        """At the end ([DONE] or EOF): a finish reason or usage means nothing was lost."""
        return (
            self._held is not None
            or self.accumulator.usage is not None
            or any(parts.finish_reason for parts in self.accumulator.choice_parts())
        )

    def _release(self, *, last: bool) -> ChatCompletionChunk | None:
        held = self._held
        if held is not None:
            self._held = None
            held.is_last_chunk = last
        return held

    def _handle(self, events: list[ServerSentEvent], now: float) -> list[ChatCompletionChunk]:
        ready: list[ChatCompletionChunk] = []
        for event in events:
            if self.done:
                break
            data = event.data
            if data == DONE:
                if not self._looks_complete():
                    # llama.cpp's server ends an interrupted answer this way: it is cut.
                    self._fail(StreamInterrupted(_CUT), ready)
                    break
                self.done = True
                held = self._release(last=True)
                if held is not None:
                    ready.append(held)
                break
            if event.event == "error":
                self._fail(stream_error(data, self.context, request_id=self.request_id), ready)
                break
            try:
                chunk = decode_chunk(data)
            except ResponseDecodeError as exc:
                exc.provider, exc.model = self.context.provider, self.context.model
                self._fail(exc, ready)
                break
            if chunk.error is not None:
                if chunk.usage is not None:
                    self.accumulator.take_usage(chunk.usage)
                self._fail(stream_error(data, self.context, request_id=self.request_id), ready)
                break
            self._stamp(chunk, now)
            held = self._release(last=False)
            if held is not None:
                ready.append(held)
            if _may_be_last(chunk):
                self._held = chunk
            else:
                ready.append(chunk)
        return ready

    def _fail(self, error: ChatlaneError, ready: list[ChatCompletionChunk]) -> None:
        self.done = True
        self.error = error
        held = self._release(last=False)
        if held is not None:
            ready.append(held)

    def _stamp(self, chunk: ChatCompletionChunk, now: float) -> None:
        chunk.chunk_latency = now - self._last_arrival
        chunk.total_latency = now - self.started
        self._last_arrival = now
        self._chunk_count += 1
        self.accumulator.add(chunk)
        if self.first_token_at is None:
            for choice in chunk.choices:
                delta = choice.delta
                if delta.content or delta.tool_calls or delta.refusal or delta.reasoning_content:
                    self.first_token_at = now
                    break
                if delta.reasoning or delta.reasoning_details:
                    self.first_token_at = now
                    break
        if self.first_token_at is not None:
            self._arrivals.append(now)
            if chunk.choices and chunk.choices[0].delta.content:
                self._content_chunks += 1

    def summary(self, now: float) -> StreamSummary:
        """Timing so far; ``now`` is the end time when the stream is over."""
        first = self.first_token_at
        arrivals = self._arrivals
        gaps = sorted(b - a for a, b in itertools.pairwise(arrivals))
        usage = self.accumulator.usage
        tokens = usage.completion_tokens if usage is not None else self._content_chunks
        end = arrivals[-1] if arrivals else now
        generation = end - first if first is not None else 0.0
        return StreamSummary(
            time_to_first_token=None if first is None else first - self.started,
            total_time=now - self.started,
            chunk_count=self._chunk_count,
            inter_chunk_p50=_percentile(gaps, 0.5) if gaps else None,
            inter_chunk_p95=_percentile(gaps, 0.95) if gaps else None,
            inter_chunk_max=gaps[-1] if gaps else None,
            completion_tokens=tokens,
            usage_reported=usage is not None,
            tokens_per_second=tokens / generation if generation > 0 else None,
            cached=self.cached,
        )
