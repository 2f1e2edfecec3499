"""Messages as they are sent: hand-built and returned ``Message`` objects are checked like
dicts and always carry a role (and each tool call its type)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from chatlane.core.error_mapping import ErrorContext
from chatlane.core.errors import RequestValidationError
from chatlane.core.messages import assistant, message_param, validate_messages
from chatlane.core.request import WireDialect, build_body
from chatlane.core.stream import StreamDecoder
from chatlane.core.types import FunctionCall, Message, ToolCall
from chatlane.providers.registry import PROVIDERS

USER = {"role": "user", "content": "Weather in Paris and Rome?"}


def sent_messages(messages: list[Any], dialect: WireDialect | None = None) -> Any:
    params = {"model": "m", "messages": messages}
    body = build_body(params, model="m", dialect=dialect or WireDialect(), stream=False)
    return json.loads(body)["messages"]


def rejected_field(messages: list[Any]) -> str | None:
    with pytest.raises(RequestValidationError) as info:
        validate_messages(messages)
    with pytest.raises(RequestValidationError) as sent:
        sent_messages(messages)
    assert sent.value.field == info.value.field
    return info.value.field


def call(call_id: str, name: str = "get_weather", type_: str = "function") -> ToolCall:
    return ToolCall(id=call_id, type=type_, function=FunctionCall(name=name, arguments="{}"))


def test_a_returned_message_is_sent_with_role_content_and_call_types() -> None:
    message = Message(content=None, tool_calls=[call("c1")])
    assert msgspec.json.encode(message) == (
        b'{"tool_calls":[{"id":"c1","function":{"name":"get_weather","arguments":"{}"}}]}'
    )  # what msgspec alone would send: no role, no type
    assert sent_messages([USER, message])[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{}"},
            }
        ],
    }


def test_a_dialect_may_ask_for_null_content_with_tool_calls() -> None:
    message = Message(content=None, tool_calls=[call("c1")])
    sent = sent_messages([USER, message], WireDialect(tool_call_content=None))
    assert sent[1]["content"] is None
    assert sent[1]["role"] == "assistant"


def test_a_returned_text_message_keeps_its_fields() -> None:
    message = Message(content="Sunny.", reasoning_content="looked it up")
    assert message_param(message) == {
        "role": "assistant",
        "content": "Sunny.",
        "reasoning_content": "looked it up",
    }
    assert sent_messages([USER, message])[1] == message_param(message)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Message(role="", content="x"), "messages[1].role"),
        (Message(role="wizard", content="x"), "messages[1].role"),
        (Message(content=None), "messages[1].content"),
        (Message(role="tool", content="x"), "messages[1].tool_call_id"),
        (
            Message(content=None, tool_calls=[call("c1"), call("c1")]),
            "messages[1].tool_calls[1].id",
        ),
        (
            Message(content=None, tool_calls=[call("c1", type_="code")]),
            "messages[1].tool_calls[0].type",
        ),
    ],
)
def test_hand_built_messages_are_checked_like_dicts(message: Message, field: str) -> None:
    assert rejected_field([USER, message]) == field


def test_a_message_with_a_lone_surrogate_is_not_sent() -> None:
    with pytest.raises(RequestValidationError, match="surrogate") as info:
        sent_messages([USER, Message(content="caf\ud800")])
    assert info.value.field == "messages[1].content"


def test_message_tool_calls_must_be_answered_before_going_on() -> None:
    messages = [USER, Message(content=None, tool_calls=[call("c1")]), USER]
    assert rejected_field(messages) == "messages[2]"


def test_the_assistant_helper_sends_empty_content_with_tool_calls() -> None:
    wire_call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    message = assistant(tool_calls=[wire_call])  # type: ignore[list-item]
    assert message == {"role": "assistant", "content": "", "tool_calls": [wire_call]}
    assert assistant("Hi") == {"role": "assistant", "content": "Hi"}
    validate_messages([USER, message])


# --- A stream's final message goes back into the history --------------------------------


def _sse(*chunks: dict[str, Any]) -> bytes:
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
    return ("".join(events) + "data: [DONE]\n\n").encode()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [choice]}


def _tool_delta(index: int, **fields: Any) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, **fields}]}


STREAM = _sse(
    # No role on any delta, and no "type" on the calls: the second call never sends one.
    _chunk(_tool_delta(0, id="call_a", function={"name": "get_weather", "arguments": ""})),
    _chunk(_tool_delta(0, function={"arguments": '{"city": "Par'})),
    _chunk(_tool_delta(0, function={"arguments": 'is"}'})),
    _chunk(_tool_delta(1, id="call_b", function={"name": "get_weather"})),
    _chunk(_tool_delta(1, function={"arguments": '{"city": "Rome"}'})),
    _chunk({}, finish="tool_calls"),
)


def _streamed(data: bytes, pieces: int = 7) -> Message:
    decoder = StreamDecoder(0.0, ErrorContext(provider="p", model="m"))
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        decoder.feed(data[start : start + step], 0.0)
    decoder.finish(0.0)
    assert decoder.error is None
    message = decoder.accumulator.completion().assistant_message()
    assert message is not None
    return message


def test_a_streamed_tool_call_message_is_accepted_back_into_the_history() -> None:
    message = _streamed(STREAM)
    assert message.role == "assistant"
    assert [c.type for c in message.tool_calls or ()] == ["function", "function"]
    history: list[Any] = [
        USER,
        message,
        {"role": "tool", "tool_call_id": "call_a", "content": "18 C"},
        {"role": "tool", "tool_call_id": "call_b", "content": "24 C"},
    ]
    validate_messages(history)
    for name, provider in PROVIDERS.items():
        sent = sent_messages(history, provider.dialect)[1]
        assert sent["role"] == "assistant", name
        assert [c["type"] for c in sent["tool_calls"]] == ["function", "function"], name
        assert sent["tool_calls"][0]["function"] == {
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        }
        assert sent["content"] == provider.dialect.tool_call_content, name


def test_a_streamed_type_sent_only_first_is_kept() -> None:
    data = _sse(
        _chunk({"role": "assistant", "content": None}),
        _chunk(_tool_delta(0, id="c", type="function", function={"name": "f", "arguments": ""})),
        _chunk(_tool_delta(0, function={"arguments": "{}"})),
        _chunk({"content": "done"}, finish="tool_calls"),
    )
    message = _streamed(data, pieces=3)
    sent = sent_messages([USER, message])[1]
    assert sent == {
        "role": "assistant",
        "content": "done",
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }


def test_a_streamed_text_message_is_accepted_back() -> None:
    message = _streamed(_sse(_chunk({"content": "Sun"}), _chunk({"content": "ny."}, "stop")))
    assert sent_messages([USER, message, USER])[1] == {"role": "assistant", "content": "Sunny."}
