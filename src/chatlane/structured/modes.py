"""The three ways to ask a provider for structured output, and to read the answer back. Pure.

- ``json_schema``: ``response_format={"type": "json_schema", ...}``; the provider (or the
  embedded model's grammar) enforces the schema while decoding when ``strict``.
- ``json_object``: JSON mode, ``response_format={"type": "json_object"}``; the schema goes
  into the system prompt (JSON mode alone guarantees JSON, not its shape).
- ``tools``: the schema is the parameters of one tool the model is forced to call; the
  answer is that call's arguments. For providers without response formats.

Each mode also says how to re-ask: the original messages, the last bad answer and the
errors. Only the last answer: a re-ask never carries earlier failures, so the prompt does
not grow with each attempt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatlane.core.types import ChatCompletion, ChatCompletionChunk, ToolCall
from chatlane.providers.registry import StructuredOutputMode
from chatlane.structured.spec import OutputSpec

__all__ = ["Asking", "Reply", "asking"]


@dataclass(frozen=True, slots=True)
class Reply:
    """What one completion says, as far as structured output cares."""

    text: str | None
    """The JSON the model wrote: content, or the forced tool call's arguments."""
    refusal: str | None
    finish_reason: str | None
    prose: str | None = None
    """In tool mode, content the model wrote instead of calling the tool."""
    tool_call: ToolCall | None = None


class Asking:
    """How one mode asks (the request parameters) and reads (completions and chunks).

    This base class is the json_schema mode; the other two change what differs.
    """

    mode: StructuredOutputMode = "json_schema"

    def __init__(self, spec: OutputSpec[Any], schema: Mapping[str, Any], *, strict: bool) -> None:
        self.spec = spec
        self.schema = schema
        """The schema sent: the strict form when ``strict``, else pydantic's own."""
        self.strict = strict

    def request(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The chat parameters of the first attempt."""
        spec: dict[str, Any] = {"name": self.spec.name, "schema": self.schema}
        if self.spec.description:
            spec["description"] = self.spec.description
        spec["strict"] = self.strict
        return {**params, "response_format": {"type": "json_schema", "json_schema": spec}}

    def read(self, completion: ChatCompletion) -> Reply:
        choice = completion.choices[0] if completion.choices else None
        if choice is None:
            return Reply(None, None, None)
        message = choice.message
        return Reply(message.content, message.refusal, choice.finish_reason)

    def chunk_text(self, chunk: ChatCompletionChunk) -> str:
        """The part of the answer's JSON that ``chunk`` carries."""
        return chunk.text

    def retry_messages(self, reply: Reply, problems: str) -> list[dict[str, Any]]:
        """Messages that follow the original ones in a re-ask: the bad answer, the errors."""
        return [
            {"role": "assistant", "content": reply.text or ""},
            {
                "role": "user",
                "content": (
                    "Your answer could not be used:\n"
                    f"{problems}\n"
                    "Reply again with the corrected JSON only."
                ),
            },
        ]


class _JsonObject(Asking):
    mode: StructuredOutputMode = "json_object"

    def request(self, params: Mapping[str, Any]) -> dict[str, Any]:
        schema = json.dumps(self.spec.schema, separators=(",", ":"), ensure_ascii=False)
        instruction = (
            "Reply with one JSON object and nothing else. It must match this JSON schema:\n"
            + schema
        )
        messages = with_system_text(params["messages"], instruction)
        return {**params, "messages": messages, "response_format": {"type": "json_object"}}


class _Tool(Asking):
    mode: StructuredOutputMode = "tools"

    def request(self, params: Mapping[str, Any]) -> dict[str, Any]:
        function: dict[str, Any] = {
            "name": self.spec.name,
            "description": self.spec.description or "Give the answer in this structure.",
            "parameters": self.schema,
        }
        if self.strict:
            function["strict"] = True
        return {
            **params,
            "tools": [{"type": "function", "function": function}],
            "tool_choice": {"type": "function", "function": {"name": self.spec.name}},
            # Strict schemas do not hold across parallel calls, and one answer is wanted.
            "parallel_tool_calls": False,
        }

    def read(self, completion: ChatCompletion) -> Reply:
        choice = completion.choices[0] if completion.choices else None
        if choice is None:
            return Reply(None, None, None)
        message = choice.message
        calls = message.tool_calls or []
        call = next((c for c in calls if c.function.name == self.spec.name), None)
        if call is None and calls:
            call = calls[0]
        if call is None:
            return Reply(None, message.refusal, choice.finish_reason, prose=message.content)
        return Reply(call.function.arguments, message.refusal, choice.finish_reason, tool_call=call)

    def chunk_text(self, chunk: ChatCompletionChunk) -> str:
        delta = chunk.delta_message()
        if delta is None or not delta.tool_calls:
            return ""
        return "".join(
            part.function.arguments or ""
            for part in delta.tool_calls
            if part.function is not None and part.index in (0, None)
        )

    def retry_messages(self, reply: Reply, problems: str) -> list[dict[str, Any]]:
        name = self.spec.name
        call = reply.tool_call
        if call is None:
            return [
                {"role": "assistant", "content": reply.prose or ""},
                {
                    "role": "user",
                    "content": f"Answer by calling the {name} tool, as asked.\n{problems}",
                },
            ]
        return [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.function.name, "arguments": reply.text or ""},
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": call.id,
                "content": (
                    f"Error: these arguments could not be used:\n{problems}\n"
                    f"Call {name} again with corrected arguments."
                ),
            },
        ]


_KINDS: dict[StructuredOutputMode, type[Asking]] = {
    "json_schema": Asking,
    "json_object": _JsonObject,
    "tools": _Tool,
}


def asking(
    mode: StructuredOutputMode, spec: OutputSpec[Any], schema: Mapping[str, Any], *, strict: bool
) -> Asking:
    """The :class:`Asking` of ``mode``."""
    return _KINDS[mode](spec, schema, strict=strict)


def with_system_text(messages: Sequence[Any], text: str) -> list[Any]:
    """``messages`` with ``text`` added to the leading system message (or in a new one).

    One system message, first: some providers take no other arrangement.
    """
    out = list(messages)
    first = out[0] if out else None
    if isinstance(first, Mapping) and first.get("role") in ("system", "developer"):
        content = first.get("content")
        if isinstance(content, str):
            out[0] = {**first, "content": f"{content}\n\n{text}" if content else text}
            return out
        if isinstance(content, list):
            out[0] = {**first, "content": [*content, {"type": "text", "text": text}]}
            return out
    return [{"role": "system", "content": text}, *out]
