"""Turn a conversation into the plain system/user/assistant turns a small chat template takes.

SmolLM2's template (ChatML) knows nothing of tools, so tools are spelled out as text:

- the tool list goes into the system message, with the reply format for calls;
- an assistant's past tool calls become a sentence ("I will call get_weather with {...}.");
- tool results become a user turn ("Result of get_weather: ..."), because a ``tool`` role is
  nothing the model was trained on.

Consecutive turns of one role are merged: templates of other models insist on alternation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chatlane.local.request import Message, ToolCallRecord, ToolSpec
from chatlane.local.signature import signature

__all__ = [
    "answer_option",
    "answered_by_tools",
    "chat_turns",
    "decision_turns",
]


def _call_text(call: ToolCallRecord) -> str:
    """A past call as a sentence.

    Written as JSON, the call was what the model copied when asked to answer from its result
    (five times in eight); as a sentence, once in eight.
    """
    return f"I will call {call.name} with {call.arguments}."


def _tools_text(tools: Sequence[ToolSpec]) -> str:
    lines = ["You can call these tools:"]
    for tool in tools:
        description = (tool.description or tool.name).rstrip(".")
        lines.append(f"- {tool.name}: {description}. Arguments: {signature(tool.parameters)}")
    # Showing both a one-call and a two-call reply made the model pick the right tool more
    # often than a bare format description did.
    lines.append(
        "To call tools, reply with only a JSON array of the calls the request needs, for "
        'example [{"name": "tool_a", "arguments": {...}}] for one task, or '
        '[{"name": "tool_a", "arguments": {...}}, {"name": "tool_a", "arguments": {...}}] '
        "for two tasks."
    )
    return "\n".join(lines)


def _schema_text(schema: Mapping[str, Any]) -> str:
    if schema == {"type": "object"}:
        return "Reply with a JSON object only."
    return f"Reply with JSON only, of this shape: {signature(schema)}"


def chat_turns(
    messages: Sequence[Message],
    *,
    tools: Sequence[ToolSpec] = (),
    json_schema: Mapping[str, Any] | None = None,
) -> list[dict[str, str]]:
    """Template-ready turns for ``messages``, with tools and/or an output schema explained."""
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    system = [m.content for m in messages if m.role == "system" and m.content]
    if tools:
        system.append(_tools_text(tools))
    if json_schema is not None:
        system.append(_schema_text(json_schema))
    turns: list[dict[str, str]] = []
    if system:
        turns.append({"role": "system", "content": "\n\n".join(system)})
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            name = names.get(message.tool_call_id or "", "the tool")
            role, text = "user", f"Result of {name}: {message.content}"
        elif message.role == "assistant" and message.tool_calls:
            calls = " ".join(_call_text(call) for call in message.tool_calls)
            role, text = "assistant", f"{message.content}\n{calls}".lstrip("\n")
        else:
            role, text = message.role, message.content
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + text
        else:
            turns.append({"role": role, "content": text})
    return turns


def answer_option(tools: Sequence[ToolSpec]) -> str:
    """The decision word meaning "reply without a tool": one no tool is named."""
    taken = {tool.name for tool in tools}
    return next(word for word in ("answer", "reply", "respond", "no_tool") if word not in taken)


def decision_turns(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[dict[str, str]]:
    """A short routing prompt: which tool fits the latest request, or none.

    Asked as its own question because the model, shown tools inside the conversation, almost
    never reaches for one by itself. Of the phrasings tried this one was the least wrong.
    """
    request = next((m.content for m in reversed(messages) if m.role == "user"), "")
    options = [f"- {tool.name}: {tool.description or tool.name}" for tool in tools]
    options.append(f"- {answer_option(tools)}: reply directly, no tool needed.")
    return [
        {"role": "system", "content": "You choose tools. Tools:\n" + "\n".join(options)},
        {"role": "user", "content": f"Request: {request}\nWhich one fits best?"},
    ]


def answered_by_tools(messages: Sequence[Message]) -> bool:
    """True when tool results already follow the latest user message."""
    for message in reversed(messages):
        if message.role == "user":
            return False
        if message.role == "tool":
            return True
    return False
