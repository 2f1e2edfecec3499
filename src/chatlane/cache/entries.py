"""What the cache stores for an answer (the completion, as JSON) and how a stream is
replayed from it: the chunks a provider would have sent, in the usual order."""

from __future__ import annotations

from typing import Any

import msgspec

from chatlane.core.chunks import decode_completion
from chatlane.core.errors import ResponseDecodeError
from chatlane.core.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionCallDelta,
    ToolCallDelta,
    Usage,
)

__all__ = ["decode_entry", "encode_entry", "replay_chunks"]

_ENTRY_VERSION = b"1"
_encoder = msgspec.json.Encoder()


def encode_entry(completion: ChatCompletion, body: bytes | None = None) -> bytes:
    """The bytes kept for ``completion``: the response ``body`` it was decoded from when
    given (as received: encoding it again costs more than the rest of a miss), else the
    completion encoded with its client-side fields reset."""
    if body is not None:
        return _ENTRY_VERSION + body
    kept = msgspec.structs.replace(completion, latency=0.0, attempts=1, cached=False, target=None)
    return _ENTRY_VERSION + _encoder.encode(kept)


def decode_entry(data: bytes) -> ChatCompletion | None:
    """The completion kept in ``data`` (decoded as a response body is, client-side fields
    left out); None for an entry of another version or a damaged one (the cache then
    treats it as a miss)."""
    if not data.startswith(_ENTRY_VERSION):
        return None
    try:
        return decode_completion(data[len(_ENTRY_VERSION) :])
    except (ResponseDecodeError, ValueError):
        return None


def replay_chunks(completion: ChatCompletion, *, usage: bool) -> list[ChatCompletionChunk]:
    """The stream of ``completion``: per choice a role chunk, its reasoning, content or
    refusal (with the choice's logprobs), its tool calls (one delta each), its finish
    reason; then the usage chunk when the request asked for one (``usage``)."""
    chunks: list[ChatCompletionChunk] = []

    def chunk(choices: list[ChunkChoice], usage: Usage | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=completion.id,
            object="chat.completion.chunk",
            created=completion.created,
            model=completion.model,
            system_fingerprint=completion.system_fingerprint,
            choices=choices,
            usage=usage,
        )

    def emit(
        index: int,
        delta: Delta,
        finish: str | None = None,
        logprobs: dict[str, Any] | None = None,
    ) -> None:
        choice = ChunkChoice(index=index, delta=delta, finish_reason=finish, logprobs=logprobs)
        chunks.append(chunk([choice]))

    for choice in completion.choices:
        message = choice.message
        emit(choice.index, Delta(role="assistant"))
        if message.reasoning_content or message.reasoning or message.reasoning_details:
            emit(
                choice.index,
                Delta(
                    reasoning_content=message.reasoning_content,
                    reasoning=message.reasoning,
                    reasoning_details=message.reasoning_details,
                ),
            )
        logprobs = choice.logprobs  # with the text they are of, else with the finish
        if message.content or message.refusal:
            text = Delta(content=message.content, refusal=message.refusal)
            emit(choice.index, text, logprobs=logprobs)
            logprobs = None
        for position, call in enumerate(message.tool_calls or ()):
            function = call.function
            delta = ToolCallDelta(
                index=position,
                id=call.id,
                type=call.type or "function",
                function=FunctionCallDelta(name=function.name, arguments=function.arguments),
            )
            emit(choice.index, Delta(tool_calls=[delta]))
        emit(choice.index, Delta(), choice.finish_reason, logprobs)
    if usage and completion.usage is not None:
        chunks.append(chunk([], completion.usage))
    return chunks
