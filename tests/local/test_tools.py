"""Tool calls with the real model: forced, required, parallel, auto, and answering results.

The model is tiny, so *which* tool it picks and *what* values it writes are not asserted;
that every call is well-formed, names an offered tool and matches that tool's schema is.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from chatlane.local import LocalEngine
from tests.local.helpers import (
    ADD_TOOL,
    EVENT_TOOL,
    TOOLS,
    WEATHER_TOOL,
    accumulate,
    check_calls,
    tool_schema,
    user,
)

pytestmark = pytest.mark.local_model


def calls_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = result["choices"][0]["message"].get("tool_calls") or []
    return calls


def named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def test_named_function_is_called_with_typed_arguments(engine: LocalEngine) -> None:
    result = engine.complete(
        {
            "messages": user("Plan a one hour online meeting with Ana as host."),
            "tools": TOOLS,
            "tool_choice": named("create_event"),
            "max_tokens": 150,
            "temperature": 0,
        }
    )
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = calls_of(result)
    check_calls([call], TOOLS)
    assert call["function"]["name"] == "create_event"
    arguments = json.loads(call["function"]["arguments"])
    assert isinstance(arguments["duration_hours"], int | float)
    assert isinstance(arguments["online"], bool)
    assert all(person["role"] in {"host", "guest"} for person in arguments["attendees"])


def test_named_integer_arguments(engine: LocalEngine) -> None:
    result = engine.complete(
        {
            "messages": user("What is 17 plus 25?"),
            "tools": [WEATHER_TOOL, ADD_TOOL],
            "tool_choice": named("add"),
            "max_tokens": 40,
        }
    )
    [call] = calls_of(result)
    arguments = json.loads(call["function"]["arguments"])
    jsonschema.validate(arguments, tool_schema("add"))
    assert type(arguments["a"]) is int
    assert type(arguments["b"]) is int


def test_required_single_call(engine: LocalEngine) -> None:
    result = engine.complete(
        {
            "messages": user("What's the weather in Paris?"),
            "tools": TOOLS,
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "max_tokens": 150,
            "temperature": 0,
        }
    )
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    calls = calls_of(result)
    assert len(calls) == 1
    check_calls(calls, TOOLS)


@pytest.mark.parametrize(
    "question",
    ["What's the weather in Paris and in London?", "Add 2 and 3, and also 10 and 20."],
)
def test_required_parallel_calls_are_each_valid(engine: LocalEngine, question: str) -> None:
    result = engine.complete(
        {
            "messages": user(question),
            "tools": [WEATHER_TOOL, ADD_TOOL],
            "tool_choice": "required",
            "max_tokens": 150,
            "temperature": 0,
        }
    )
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    calls = calls_of(result)
    assert 1 <= len(calls) <= 4
    check_calls(calls, [WEATHER_TOOL, ADD_TOOL])
    assert len({call["function"]["name"] for call in calls}) == 1  # one tool per reply
    seen = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]
    assert all(seen.count(call) == 1 for call in seen), "repeated calls are dropped"


@pytest.mark.parametrize(
    "question", ["What's the weather in Paris?", "Please add 3 and 4.", "Tell me a joke."]
)
def test_auto_answers_or_calls_well_formed(engine: LocalEngine, question: str) -> None:
    result = engine.complete(
        {"messages": user(question), "tools": [WEATHER_TOOL, ADD_TOOL], "max_tokens": 60}
    )
    choice = result["choices"][0]
    if choice["finish_reason"] == "tool_calls":
        check_calls(calls_of(result), [WEATHER_TOOL, ADD_TOOL])
        assert choice["message"]["content"] is None
    else:
        assert choice["finish_reason"] in {"stop", "length"}
        assert isinstance(choice["message"]["content"], str)
        assert "tool_calls" not in choice["message"]


def test_stream_tool_call_deltas(engine: LocalEngine) -> None:
    chunks = list(
        engine.stream(
            {
                "messages": user("What's the weather in Rome?"),
                "tools": TOOLS,
                "tool_choice": named("get_weather"),
                "max_tokens": 60,
                "stream_options": {"include_usage": True},
            }
        )
    )
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    heads = [
        part
        for chunk in chunks
        for choice in chunk["choices"]
        for part in choice["delta"].get("tool_calls") or []
        if "id" in part
    ]
    assert [head["function"] for head in heads] == [{"name": "get_weather", "arguments": ""}]
    content, calls, finish = accumulate(chunks[:-1])
    assert (content, finish) == ("", "tool_calls")
    check_calls(calls, TOOLS)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_tool_call_cut_by_max_tokens_says_length(engine: LocalEngine) -> None:
    result = engine.complete(
        {
            "messages": user("Plan a meeting."),
            "tools": [EVENT_TOOL],
            "tool_choice": "required",
            "max_tokens": 6,
        }
    )
    assert result["choices"][0]["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 6


def test_tool_result_conversation_gets_an_answer(engine: LocalEngine) -> None:
    messages = [
        {"role": "user", "content": "What's the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"city": "Paris", "unit": "celsius"}',
                    },
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": '{"temperature": 21, "sky": "sunny"}',
        },
    ]
    for request in (
        {"messages": messages, "tools": TOOLS},
        {"messages": messages, "tools": TOOLS, "tool_choice": "none"},
        {"messages": messages},
    ):
        result = engine.complete({**request, "max_tokens": 40, "temperature": 0})
        choice = result["choices"][0]
        assert choice["finish_reason"] in {"stop", "length"}
        assert "tool_calls" not in choice["message"]
        assert choice["message"]["content"].strip()
