"""Wire types of the Chat Completions format, as light msgspec structs.

Decoding goes straight from bytes into these structs (no dict step, no per-field validation
layer), which is what keeps streaming fast. They are not tracked by the garbage collector
(``gc=False``: they hold plain data and cannot form cycles), so a long stream adds nothing to
collection pauses in a service with a large heap. Unknown fields are ignored, so providers can add
fields freely. Client-side data (``latency``, ``attempts``, chunk timing) lives on the same
objects with defaults and is filled in by the client after decoding.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "Choice",
    "ChunkChoice",
    "CompletionTokensDetails",
    "Delta",
    "ErrorBody",
    "FinishReason",
    "FunctionCall",
    "FunctionCallDelta",
    "Message",
    "PromptTokensDetails",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "reasoning_details_text",
]

FinishReason = Literal["stop", "length", "model_length", "tool_calls", "content_filter", "error"]
"""The finish reasons chatlane knows. Fields stay ``str``: a new value from a provider is kept."""


class FunctionCall(msgspec.Struct, omit_defaults=True, gc=False):
    name: str
    arguments: str = ""


class ToolCall(msgspec.Struct, omit_defaults=True, gc=False):
    id: str
    function: FunctionCall
    type: str = "function"


class Message(msgspec.Struct, omit_defaults=True, gc=False):
    """A message as a provider returns it (usually the assistant's)."""

    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None
    # Reasoning text: DeepSeek, Z.ai and vLLM say reasoning_content; Groq/OpenRouter say reasoning.
    reasoning_content: str | None = None
    reasoning: str | None = None
    # OpenRouter and Snowflake also send structured reasoning parts.
    reasoning_details: list[dict[str, Any]] | None = None

    @property
    def reasoning_text(self) -> str | None:
        """Reasoning text under whichever name the provider used."""
        if self.reasoning_content is not None:
            return self.reasoning_content
        if self.reasoning is not None:
            return self.reasoning
        return reasoning_details_text(self.reasoning_details) or None


def reasoning_details_text(details: list[dict[str, Any]] | None) -> str:
    """The text of structured reasoning parts ("reasoning.text" and "reasoning.summary")."""
    if not details:
        return ""
    parts = (part.get("text") or part.get("summary") for part in details)
    return "".join(part for part in parts if isinstance(part, str))


class PromptTokensDetails(msgspec.Struct, omit_defaults=True, gc=False):
    cached_tokens: int | None = None
    audio_tokens: int | None = None


class CompletionTokensDetails(msgspec.Struct, omit_defaults=True, gc=False):
    reasoning_tokens: int | None = None
    audio_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None


class Usage(msgspec.Struct, omit_defaults=True, gc=False):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    # DeepSeek reports prompt caching under its own names.
    prompt_cache_hit_tokens: int | None = None
    prompt_cache_miss_tokens: int | None = None

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens served from the provider's cache, whichever way it reports them."""
        details = self.prompt_tokens_details
        if details is not None and details.cached_tokens is not None:
            return max(details.cached_tokens, 0)
        return max(self.prompt_cache_hit_tokens or 0, 0)

    @property
    def reasoning_tokens(self) -> int:
        details = self.completion_tokens_details
        if details is not None and details.reasoning_tokens is not None:
            return max(details.reasoning_tokens, 0)
        return 0

    def drop_negatives(self) -> None:
        """Counts below 0 (from a broken or hostile server) as 0: a count below 0 is none.
        The decoders call this when they see one, so no reader meets a negative count."""
        self.prompt_tokens = max(self.prompt_tokens, 0)
        self.completion_tokens = max(self.completion_tokens, 0)
        self.total_tokens = max(self.total_tokens, 0)


class Choice(msgspec.Struct, omit_defaults=True, gc=False):
    message: Message
    index: int = 0
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ErrorBody(msgspec.Struct, gc=False):
    """The ``error`` object of an error response (or of an error inside a stream)."""

    message: str | None = None
    type: str | None = None
    param: str | None = None
    # OpenAI sends strings; OpenRouter and others send integers.
    code: str | int | None = None


class ChatCompletion(msgspec.Struct, omit_defaults=True, gc=False):
    """A whole (non-streamed) completion, plus client-side ``latency`` and ``attempts``."""

    id: str | None = None
    object: str = "chat.completion"
    created: int | None = None
    model: str | None = None
    system_fingerprint: str | None = None
    choices: list[Choice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    latency: float = 0.0
    """Seconds from sending the request (first attempt) to having the parsed response."""
    attempts: int = 1
    """How many HTTP attempts the client made (1 when no retry was needed)."""
    cached: bool = False
    """Answered from the client's cache (``latency`` is then the cache's)."""
    target: str | None = None
    """``provider/model`` that answered, when the client has fallbacks configured."""

    def assistant_message(self) -> Message | None:
        """The first choice's message, or None when the provider returned no choice."""
        return self.choices[0].message if self.choices else None

    @property
    def text(self) -> str:
        """The first choice's content, or "" when there is none."""
        message = self.assistant_message()
        return (message.content or "") if message is not None else ""


class FunctionCallDelta(msgspec.Struct, omit_defaults=True, gc=False):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(msgspec.Struct, omit_defaults=True, gc=False):
    # Some providers (Mistral, Gemini) omit index; the accumulator then places the call itself.
    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


class Delta(msgspec.Struct, omit_defaults=True, gc=False):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    reasoning_details: list[dict[str, Any]] | None = None


class ChunkChoice(msgspec.Struct, omit_defaults=True, gc=False):
    index: int = 0
    delta: Delta = msgspec.field(default_factory=Delta)
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(msgspec.Struct, omit_defaults=True, gc=False):
    """One streamed chunk, plus client-side timing.

    A chunk may have no choices at all (the usage-only last chunk, Azure's prompt-filter first
    chunk): use ``delta_message()`` or check ``choices`` before indexing.
    """

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    system_fingerprint: str | None = None
    choices: list[ChunkChoice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    error: ErrorBody | None = None
    chunk_latency: float = 0.0
    """Seconds since the previous chunk arrived (since the request was sent, for the first)."""
    total_latency: float = 0.0
    """Seconds since the request was sent."""
    is_last_chunk: bool = False
    """True on the chunk after which the stream carries nothing more."""

    def delta_message(self) -> Delta | None:
        """The first choice's delta, or None for a chunk without choices."""
        return self.choices[0].delta if self.choices else None

    @property
    def text(self) -> str:
        """The first choice's content delta, or "" when there is none."""
        delta = self.delta_message()
        return (delta.content or "") if delta is not None else ""
