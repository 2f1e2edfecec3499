"""What the fake server answers: one immutable reply per chat request.

Replies are plain frozen dataclasses, so a test can build them up front, reuse one object
several times (``server.enqueue(*[ErrorReply(500)] * 3)``) and compare them. Every reply has
``headers``: extra response headers, set last, so they override the server's own (for example
a fixed ``x-request-id``).

Timing fields are in seconds. "Before headers" means before the first byte of the response,
which is what a client's connect/first-token timeout sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from chatlane.core.errors import UsageError

__all__ = [
    "AUTO",
    "Completion",
    "ErrorReply",
    "HtmlError",
    "RawResponse",
    "Reply",
    "ResetBeforeHeaders",
    "ResetMidStream",
    "Stall",
    "Stream",
    "ToolCallSpec",
    "UsageSpec",
]

AUTO: Literal["auto"] = "auto"
"""The default for ``usage``: token counts estimated from word counts."""

UsageSpec: TypeAlias = tuple[int, int] | Mapping[str, Any] | Literal["auto"] | None
"""``(prompt_tokens, completion_tokens)``, a usage object sent verbatim, ``"auto"``, or None
(no usage at all: the JSON body has none and a stream sends no usage chunk)."""


def _no_headers() -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class ToolCallSpec:
    """One tool call the fake assistant makes. ``arguments`` may be a mapping (JSON-encoded)."""

    name: str
    arguments: str | Mapping[str, Any] = "{}"
    id: str | None = None
    """None gives ``call_fake_<response number>_<index>``."""


@dataclass(frozen=True)
class Completion:
    """An assistant message that adapts to the request.

    Served as one ``chat.completion`` JSON object, or, when the request says
    ``"stream": true``, as an SSE stream of ``chat.completion.chunk`` objects: a role chunk,
    reasoning and content split into word-sized deltas, tool calls the OpenAI way (a first
    delta with index, id, type, name and empty arguments, then argument fragments), a finish
    chunk, a usage-only chunk with ``choices: []`` if the request set
    ``stream_options.include_usage``, then ``[DONE]``.

    ``tool_calls`` items are :class:`ToolCallSpec` or mappings, either
    ``{"id", "name", "arguments"}`` or the OpenAI shape ``{"id", "type", "function": {...}}``.
    ``finish_reason`` None means ``"tool_calls"`` when there are tool calls, else ``"stop"``.
    ``model`` None echoes the request's model. ``reasoning`` goes out as
    ``reasoning_content`` (the DeepSeek/vLLM field). ``usage="auto"`` estimates prompt tokens
    as the word count of the request's messages and completion tokens as the word count of
    the content and tool-call arguments. ``delay`` pauses before the headers; ``chunk_delay``
    between stream events.
    """

    content: str | None = "Hello from chatlane's fake server."
    tool_calls: Sequence[ToolCallSpec | Mapping[str, Any]] = ()
    finish_reason: str | None = None
    usage: UsageSpec = AUTO
    model: str | None = None
    refusal: str | None = None
    reasoning: str | None = None
    status: int = 200
    delay: float = 0.0
    chunk_delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=_no_headers)


@dataclass(frozen=True)
class Stream:
    """An SSE stream with explicit chunks, whatever the request asked for.

    A ``str`` chunk is a content delta wrapped in a normal chunk; a mapping is sent verbatim
    as the chunk's JSON (for provider quirks). The role chunk, finish chunk (skipped when
    ``finish_reason`` is None), usage chunk (only if the request set
    ``stream_options.include_usage`` and ``usage`` is not None) and ``[DONE]`` (if
    ``include_done``) are added as for :class:`Completion` -- unless every chunk is a mapping:
    then exactly those chunks are sent, plus ``[DONE]`` if ``include_done``.

    ``first_delay`` stalls before the headers. ``chunk_delay`` is the pause between
    consecutive events on the wire; a sequence gives each gap in order (the first gap is the
    one between the role chunk and the first given chunk) and gaps past its end are zero.
    """

    chunks: Sequence[str | Mapping[str, Any]]
    first_delay: float = 0.0
    chunk_delay: float | Sequence[float] = 0.0
    finish_reason: str | None = "stop"
    usage: UsageSpec = AUTO
    include_done: bool = True
    model: str | None = None
    headers: Mapping[str, str] = field(default_factory=_no_headers)


@dataclass(frozen=True)
class RawResponse:
    """A body sent verbatim: recorded provider streams, malformed JSON, malformed SSE.

    With ``fragment_size`` the body goes out in pieces of that many bytes (chunked transfer
    encoding), each written on its own with ``fragment_delay`` between them; otherwise in one
    write with a ``Content-Length``. ``delay`` pauses before the headers.
    """

    body: bytes
    status: int = 200
    content_type: str = "text/event-stream"
    fragment_size: int | None = None
    fragment_delay: float = 0.0
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=_no_headers)

    def __post_init__(self) -> None:
        if self.fragment_size is not None and self.fragment_size < 1:
            raise UsageError("fragment_size must be at least 1")


@dataclass(frozen=True)
class ErrorReply:
    """Any status with any headers and body, e.g. ``ErrorReply(429, headers={"retry-after": "2"})``.

    ``body`` None builds OpenAI's error shape from ``message``, ``type`` and ``code``
    (``{"error": {"message", "type", "param": null, "code"}}``); ``type`` None picks one from
    the status (``server_error`` for 5xx, ``requests`` for 429, else
    ``invalid_request_error``). A mapping body is JSON-encoded; bytes and str go out as given.
    """

    status: int
    body: bytes | str | Mapping[str, Any] | None = None
    message: str = "Error from chatlane's fake server."
    type: str | None = None
    code: str | None = None
    content_type: str = "application/json"
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=_no_headers)


@dataclass(frozen=True)
class HtmlError:
    """An HTML error page (``text/html``), as a proxy or CDN in front of an API sends."""

    status: int = 502
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=_no_headers)


@dataclass(frozen=True)
class ResetBeforeHeaders:
    """Read the request, then reset the TCP connection (RST) without sending a byte."""

    headers: Mapping[str, str] = field(default_factory=_no_headers)


@dataclass(frozen=True)
class ResetMidStream:
    """Send the headers and these chunks as SSE, then reset the connection.

    No role chunk, no finish chunk, no ``[DONE]``: ``ResetMidStream(chunks=[])`` resets right
    after the headers. Items are content deltas (``str``) or verbatim chunk mappings.

    ``reset_delay`` pauses between the last chunk and the reset. A client that reads in the
    background (aiohttp) discards bytes it has buffered but not yet handed out when the reset
    arrives, so the pause lets a reader that keeps up take every chunk first.
    """

    chunks: Sequence[str | Mapping[str, Any]]
    chunk_delay: float = 0.0
    reset_delay: float = 0.05
    headers: Mapping[str, str] = field(default_factory=_no_headers)


@dataclass(frozen=True)
class Stall:
    """Wait ``seconds`` before sending anything, then serve ``then``, or close if None.

    Closing sends a plain FIN (no response bytes). ``FakeServer.stop()`` cancels stalls.
    """

    seconds: float
    then: Reply | None = None
    headers: Mapping[str, str] = field(default_factory=_no_headers)


Reply: TypeAlias = (
    Completion
    | Stream
    | RawResponse
    | ErrorReply
    | HtmlError
    | ResetBeforeHeaders
    | ResetMidStream
    | Stall
)
"""Anything the fake server can answer a chat request with."""
