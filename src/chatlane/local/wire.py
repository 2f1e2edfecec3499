"""Shape what the model wrote into OpenAI's ``chat.completion`` and ``chat.completion.chunk``.

Generation produces a stream of events (text pieces, tool-call starts and argument pieces,
and a final :class:`Finished`); :func:`completion` folds them into one response and
:func:`chunks` turns them into stream chunks, so both modes say exactly the same thing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

from chatlane.local.toolcalls import CallArguments, CallStarted

__all__ = ["Event", "Finished", "TextPiece", "chunks", "completion"]


@dataclass(frozen=True, slots=True)
class TextPiece:
    """More content text."""

    text: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The end of a generation: why it ended and what it used."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


Event = TextPiece | CallStarted | CallArguments | Finished


def completion(events: Iterable[Event], model: str) -> dict[str, Any]:
    """One ``chat.completion`` dict from all the events of a generation."""
    parts: list[str] = []
    calls: list[dict[str, Any]] = []
    finished = Finished("stop", 0, 0)
    for event in events:
        if isinstance(event, TextPiece):
            parts.append(event.text)
        elif isinstance(event, CallStarted):
            function = {"name": event.name, "arguments": ""}
            calls.append({"id": event.id, "type": "function", "function": function})
        elif isinstance(event, CallArguments):
            calls[event.index]["function"]["arguments"] += event.text
        else:
            finished = event
    message: dict[str, Any] = {"role": "assistant", "content": "".join(parts)}
    if calls:
        message["content"] = message["content"] or None  # as OpenAI: null beside tool calls
        message["tool_calls"] = calls
    message["refusal"] = None
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finished.finish_reason,
    }
    return {
        "id": _completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": finished.usage(),
    }


def chunks(
    events: Generator[Event, None, None], model: str, *, include_usage: bool
) -> Generator[dict[str, Any], None, None]:
    """``chat.completion.chunk`` dicts: the role, the deltas, the finish, then usage if asked.

    The role chunk comes before the first event is asked for, so it is out at once even
    while another request still holds the model. Closing this generator closes ``events``.
    """
    head: dict[str, Any] = {
        "id": _completion_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    if include_usage:
        head["usage"] = None  # as OpenAI: every chunk but the last says usage null

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**head, "choices": [choice]}

    yield chunk({"role": "assistant", "content": ""})
    finished = Finished("stop", 0, 0)
    try:
        for event in events:
            if isinstance(event, TextPiece):
                yield chunk({"content": event.text})
            elif isinstance(event, CallStarted):
                function = {"name": event.name, "arguments": ""}
                call = {"index": event.index, "id": event.id, "type": "function"}
                yield chunk({"tool_calls": [{**call, "function": function}]})
            elif isinstance(event, CallArguments):
                function = {"arguments": event.text}
                yield chunk({"tool_calls": [{"index": event.index, "function": function}]})
            else:
                finished = event
    finally:
        events.close()
    yield chunk({}, finished.finish_reason)
    if include_usage:
        yield {**head, "choices": [], "usage": finished.usage()}


def _completion_id() -> str:
    return "chatcmpl-" + os.urandom(16).hex()
