"""Replaying recorded bodies through the fake server to the real sync and async clients."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import chatlane
from chatlane import ChatCompletion, ChatCompletionChunk, StreamError, StreamSummary
from chatlane.testing import FakeServer, RawResponse
from tests.conformance._reference import (
    API_KEY,
    RefStream,
    chunk_problems,
    frame_chunk_lines,
    message_problems,
    parse_sse,
    read_headers,
    reference_stream,
    replay_headers,
    usage_problems,
)

TIMEOUT = chatlane.Timeout(connect=5.0, first_token=10.0, idle=10.0, total=30.0)
MODEL = "conformance-model"
MESSAGES: list[chatlane.MessageParam] = [{"role": "user", "content": "Replay, please."}]


@dataclass(frozen=True)
class Recording:
    """A stream body as the provider sent it, with what to serve it as."""

    body: bytes
    content_type: str
    headers: dict[str, str]

    @classmethod
    def from_sse_file(cls, path: Path) -> Recording:
        recorded = read_headers(path)
        content_type = "text/event-stream"
        headers: dict[str, str] = {}
        if recorded is not None:
            content_type = recorded.content_type or content_type
            headers = recorded.headers
        return cls(path.read_bytes(), content_type, headers)

    @classmethod
    def from_chunks_file(cls, path: Path) -> Recording:
        body = frame_chunk_lines(path.read_text(encoding="utf-8"))
        return cls(body, "text/event-stream", {})

    @classmethod
    def load(cls, path: Path) -> Recording:
        """A recorded SSE body, or a chunks file (one JSON chunk per line) framed as SSE."""
        if path.name.endswith(".chunks.txt"):
            return cls.from_chunks_file(path)
        return cls.from_sse_file(path)

    def reference(self) -> RefStream:
        return reference_stream(parse_sse(self.body))

    def enqueue(self, server: FakeServer, fragment_size: int | None) -> None:
        server.enqueue(
            RawResponse(
                self.body,
                content_type=self.content_type,
                headers=replay_headers(self.headers),
                fragment_size=fragment_size,
            )
        )


@dataclass
class Observed:
    chunks: list[ChatCompletionChunk]
    final: ChatCompletion | None
    error: StreamError | None
    summary: StreamSummary | None


def _touch(chunk: ChatCompletionChunk) -> None:
    """What every consumer does with a chunk; must not fail on ``choices == []``."""
    delta = chunk.delta_message()
    assert (delta is None) == (not chunk.choices)
    assert isinstance(chunk.text, str)


def replay_sync(server: FakeServer, recording: Recording, fragment_size: int | None) -> Observed:
    recording.enqueue(server, fragment_size)
    chunks: list[ChatCompletionChunk] = []
    error: StreamError | None = None
    final: ChatCompletion | None = None
    with (
        chatlane.Client(
            base_url=server.url, api_key=API_KEY, max_retries=0, timeout=TIMEOUT
        ) as client,
        client.stream(model=MODEL, messages=MESSAGES) as stream,
    ):
        try:
            for chunk in stream:
                _touch(chunk)
                chunks.append(chunk)
        except StreamError as exc:
            error = exc
        if error is None:
            final = stream.final()
        summary = stream.summary()
    return Observed(chunks, final, error, summary)


async def replay_async(
    server: FakeServer, recording: Recording, fragment_size: int | None
) -> Observed:
    recording.enqueue(server, fragment_size)
    chunks: list[ChatCompletionChunk] = []
    error: StreamError | None = None
    final: ChatCompletion | None = None
    async with (
        chatlane.AsyncClient(
            base_url=server.url, api_key=API_KEY, max_retries=0, timeout=TIMEOUT
        ) as client,
        client.stream(model=MODEL, messages=MESSAGES) as stream,
    ):
        try:
            async for chunk in stream:
                _touch(chunk)
                chunks.append(chunk)
        except StreamError as exc:
            error = exc
        if error is None:
            final = await stream.final()
        summary = stream.summary()
    return Observed(chunks, final, error, summary)


def stream_problems(observed: Observed, ref: RefStream) -> list[str]:
    """Everything that differs between what chatlane delivered and the reference reading."""
    problems = chunk_problems(observed.chunks, ref.payloads)
    latencies = [chunk.total_latency for chunk in observed.chunks]
    if any(b < a for a, b in itertools.pairwise(latencies)) or any(
        chunk.chunk_latency < 0 for chunk in observed.chunks
    ):
        problems.append(f"chunk timing not monotonic: {latencies}")
    if ref.error is not None:
        error = observed.error
        if error is None:
            return [*problems, f"expected StreamError {ref.error!r}, the stream ended cleanly"]
        if error.message != ref.error.get("message"):
            problems.append(f"error message: expected {ref.error.get('message')!r}, got {error}")
        if error.code != ref.error.get("code"):
            problems.append(f"error code: expected {ref.error.get('code')!r}, got {error.code!r}")
        if error.type != ref.error.get("type"):
            problems.append(f"error type: expected {ref.error.get('type')!r}, got {error.type!r}")
        if any(chunk.is_last_chunk for chunk in observed.chunks):
            problems.append("a chunk before the error was flagged is_last_chunk")
        return problems
    if observed.error is not None:
        return [*problems, f"unexpected {observed.error!r}"]
    final = observed.final
    assert final is not None
    problems += message_problems(final, ref.choices)
    problems += usage_problems(final, ref.usage)
    if (final.id or None) != ref.id:
        problems.append(f"id: expected {ref.id!r}, got {final.id!r}")
    if final.model != ref.model:
        problems.append(f"model: expected {ref.model!r}, got {final.model!r}")
    summary = observed.summary
    assert summary is not None
    if summary.chunk_count != len(ref.payloads):
        problems.append(f"summary.chunk_count: expected {len(ref.payloads)}, got {summary}")
    if summary.usage_reported != (ref.usage is not None):
        problems.append(f"summary.usage_reported: expected {ref.usage is not None}")
    return problems


def last_chunk_problems(observed: Observed, ref: RefStream) -> list[str]:
    """With [DONE] the end is known: exactly the final delivered chunk says it is the last."""
    assert ref.saw_done
    assert ref.error is None
    flags = [chunk.is_last_chunk for chunk in observed.chunks]
    want = [False] * (len(ref.payloads) - 1) + [True]
    if flags == want:
        return []
    flagged = [number for number, flag in enumerate(flags) if flag]
    return [f"is_last_chunk set on chunks {flagged} of {len(flags)}; expected only the last"]
