"""Decode JSON bodies into the wire types: a strict fast path and a lenient slow path. Pure.

The fast path decodes bytes straight into the structs. When a provider sends a shape the
structs do not take (Mistral's content arrays with ``thinking`` parts, numbers as strings),
the slow path decodes to plain data, normalises the known variants and converts.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from chatlane.core.errors import ResponseDecodeError
from chatlane.core.types import ChatCompletion, ChatCompletionChunk

__all__ = ["decode_chunk", "decode_completion"]

T = TypeVar("T", ChatCompletion, ChatCompletionChunk)

_chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk)
_completion_decoder = msgspec.json.Decoder(ChatCompletion)
_any_decoder = msgspec.json.Decoder()


def _flatten_text(parts: list[Any]) -> tuple[str, str]:
    """(text, thinking) from a list of content parts, nested thinking parts included."""
    text: list[str] = []
    thinking: list[str] = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        elif isinstance(part, dict):
            kind = part.get("type")
            if kind == "thinking":
                inner = part.get("thinking")
                if isinstance(inner, list):
                    thinking.append(_flatten_text(inner)[0])
                elif isinstance(inner, str):
                    thinking.append(inner)
            elif isinstance(part.get("text"), str):
                text.append(part["text"])
    return "".join(text), "".join(thinking)


def _normalise_message(message: Any) -> None:
    if not isinstance(message, dict):
        return
    content = message.get("content")
    if isinstance(content, list):
        text, thinking = _flatten_text(content)
        message["content"] = text
        if thinking and not message.get("reasoning_content"):
            message["reasoning_content"] = thinking


def _normalise(payload: Any) -> Any:
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict):
                _normalise_message(choice.get("delta"))
                _normalise_message(choice.get("message"))
    return payload


def _decode(data: bytes, decoder: msgspec.json.Decoder[T], kind: type[T]) -> T:
    try:
        return decoder.decode(data)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise ResponseDecodeError(f"malformed JSON in {_name(kind)}: {exc}") from None
    except RecursionError:
        raise ResponseDecodeError(f"{_name(kind)} JSON is nested too deeply") from None
    try:
        # A wrong type early stops the typed decoder before it sees malformed JSON later.
        return msgspec.convert(_normalise(_any_decoder.decode(data)), kind, strict=False)
    except msgspec.DecodeError as exc:
        raise ResponseDecodeError(f"malformed JSON in {_name(kind)}: {exc}") from None
    except msgspec.ValidationError as exc:
        raise ResponseDecodeError(f"unexpected {_name(kind)} shape: {exc}") from None
    except RecursionError:
        raise ResponseDecodeError(f"{_name(kind)} JSON is nested too deeply") from None


def _name(kind: type[Any]) -> str:
    return "stream chunk" if kind is ChatCompletionChunk else "completion"


def decode_chunk(data: bytes) -> ChatCompletionChunk:
    return _decode(data, _chunk_decoder, ChatCompletionChunk)


def decode_completion(data: bytes) -> ChatCompletion:
    completion = _decode(data, _completion_decoder, ChatCompletion)
    if (
        completion.cached
        or completion.target is not None
        or completion.attempts != 1
        or completion.latency != 0.0
    ):
        # The client-side fields are the client's: a body does not get to set them.
        completion.cached = False
        completion.target = None
        completion.attempts = 1
        completion.latency = 0.0
    usage = completion.usage
    if usage is not None and (
        usage.prompt_tokens < 0 or usage.completion_tokens < 0 or usage.total_tokens < 0
    ):
        usage.drop_negatives()
    return completion
