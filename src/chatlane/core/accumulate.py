"""Merge streamed chunks into one completion. Pure.

Tool-call deltas are merged by ``index``; a delta without an index (Mistral, some gateways)
continues the call with the same ``id``, or starts a new call when the id is new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatlane.core.types import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    FunctionCall,
    Message,
    ToolCall,
    ToolCallDelta,
    Usage,
    reasoning_details_text,
)

__all__ = ["ChunkAccumulator"]


@dataclass(slots=True)
class _ToolCallParts:
    id: str = ""
    type: str = "function"
    name: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _ChoiceParts:
    role: str = "assistant"
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    tool_calls: dict[int, _ToolCallParts] = field(default_factory=dict)
    last_tool_index: int = -1
    finish_reason: str | None = None
    logprobs: list[Any] = field(default_factory=list)
    reasoning_field: str = "reasoning_content"

    def add_tool_call(self, delta: ToolCallDelta) -> None:
        index = delta.index
        if index is None:
            index = self._place(delta.id)
        parts = self.tool_calls.get(index)
        if parts is None:
            parts = self.tool_calls[index] = _ToolCallParts()
        self.last_tool_index = index
        if delta.id:
            parts.id = delta.id
        if delta.type:
            parts.type = delta.type
        function = delta.function
        if function is not None:
            # Most providers send the name once; a few repeat it whole on later deltas.
            if function.name and (not parts.name or parts.name[-1] != function.name):
                parts.name.append(function.name)
            if function.arguments:
                parts.arguments.append(function.arguments)

    def _place(self, call_id: str | None) -> int:
        if call_id:
            for index, parts in self.tool_calls.items():
                if parts.id == call_id:
                    return index
            return max(self.tool_calls, default=-1) + 1
        return self.last_tool_index if self.last_tool_index >= 0 else 0

    def message(self) -> Message:
        calls = [
            ToolCall(
                id=parts.id,
                type=parts.type,
                function=FunctionCall(name="".join(parts.name), arguments="".join(parts.arguments)),
            )
            for _, parts in sorted(self.tool_calls.items())
        ]
        reasoning = "".join(self.reasoning) or None
        return Message(
            role=self.role,
            content="".join(self.content) if self.content or not calls else None,
            tool_calls=calls or None,
            refusal="".join(self.refusal) or None,
            reasoning_content=reasoning if self.reasoning_field == "reasoning_content" else None,
            reasoning=reasoning if self.reasoning_field == "reasoning" else None,
        )


class ChunkAccumulator:
    """Collects chunks as they pass; ``completion()`` builds the merged result at any time."""

    __slots__ = ("_choices", "created", "id", "model", "system_fingerprint", "usage")

    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceParts] = {}
        self.id: str | None = None
        self.created: int | None = None
        self.model: str | None = None
        self.system_fingerprint: str | None = None
        self.usage: Usage | None = None

    def take_usage(self, usage: Usage) -> None:
        """Keep ``usage`` as the stream's (cumulative where sent on every chunk: the last
        one wins), its negative counts dropped."""
        if usage.prompt_tokens < 0 or usage.completion_tokens < 0 or usage.total_tokens < 0:
            usage.drop_negatives()
        self.usage = usage

    def add(self, chunk: ChatCompletionChunk) -> None:
        if chunk.id and not self.id:
            self.id = chunk.id
        if chunk.created and not self.created:
            self.created = chunk.created
        if chunk.model and not self.model:
            self.model = chunk.model
        if chunk.system_fingerprint:
            self.system_fingerprint = chunk.system_fingerprint
        if chunk.usage is not None:
            self.take_usage(chunk.usage)
        for choice in chunk.choices:
            parts = self._choices.get(choice.index)
            if parts is None:
                parts = self._choices[choice.index] = _ChoiceParts()
            delta = choice.delta
            if delta.content:
                parts.content.append(delta.content)
            if delta.reasoning_content:
                parts.reasoning.append(delta.reasoning_content)
            elif delta.reasoning:
                parts.reasoning.append(delta.reasoning)
                parts.reasoning_field = "reasoning"
            elif delta.reasoning_details:
                # Only when the plain field is absent: OpenRouter sends both, the same text.
                parts.reasoning.append(reasoning_details_text(delta.reasoning_details))
                parts.reasoning_field = "reasoning"
            if delta.refusal:
                parts.refusal.append(delta.refusal)
            if delta.tool_calls:
                for call in delta.tool_calls:
                    parts.add_tool_call(call)
            if delta.role:
                parts.role = delta.role
            if choice.finish_reason:
                parts.finish_reason = choice.finish_reason
            if choice.logprobs:
                parts.logprobs.append(choice.logprobs)

    def choice_parts(self) -> list[_ChoiceParts]:
        return list(self._choices.values())

    def completion(self, *, latency: float = 0.0, attempts: int = 1) -> ChatCompletion:
        choices = [
            Choice(
                index=index,
                message=parts.message(),
                finish_reason=parts.finish_reason,
                logprobs=_merge_logprobs(parts.logprobs),
            )
            for index, parts in sorted(self._choices.items())
        ]
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            system_fingerprint=self.system_fingerprint,
            choices=choices,
            usage=self.usage,
            latency=latency,
            attempts=attempts,
        )


def _merge_logprobs(pieces: list[Any]) -> dict[str, Any] | None:
    if not pieces:
        return None
    merged: dict[str, list[Any]] = {}
    for piece in pieces:
        for key, values in piece.items():
            if isinstance(values, list):
                merged.setdefault(key, []).extend(values)
    return dict(merged) or None
