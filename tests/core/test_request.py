from __future__ import annotations

from typing import Any

import msgspec
import pytest

from chatlane.core.errors import RequestValidationError
from chatlane.core.request import WireDialect, build_body
from chatlane.core.types import Message
from chatlane.providers.registry import PROVIDERS

USER = {"role": "user", "content": "Hi"}
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def body_of(params: dict[str, Any], dialect: WireDialect | None = None, **kw: Any) -> Any:
    raw = build_body(
        params, model="m", dialect=dialect or WireDialect(), stream=kw.get("stream", False)
    )
    return msgspec.json.decode(raw)


def rejects(params: dict[str, Any], field: str, match: str) -> None:
    with pytest.raises(RequestValidationError, match=match) as info:
        body_of({"model": "m", **params})
    assert info.value.field == field


def test_full_request_is_encoded_as_given() -> None:
    params = {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief"}, USER],
        "tools": [TOOL],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": False,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": True},
        },
        "max_tokens": 10,
        "temperature": 0.2,
        "top_p": 0.9,
        "frequency_penalty": 0.1,
        "presence_penalty": -0.1,
        "n": 2,
        "stop": ["\n\n"],
        "seed": 7,
        "user": "u-1",
    }
    body = body_of(params)
    assert body == {**params}


def test_none_values_are_not_sent() -> None:
    assert body_of({"model": "m", "messages": [USER], "temperature": None}) == {
        "model": "m",
        "messages": [USER],
    }


def test_stream_asks_for_usage_where_supported() -> None:
    body = body_of({"model": "m", "messages": [USER]}, stream=True)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    mistral = body_of({"model": "m", "messages": [USER]}, PROVIDERS["mistral"].dialect, stream=True)
    assert "stream_options" not in mistral


def test_mistral_fields_go_to_mistral_only() -> None:
    params = {"model": "m", "messages": [USER], "safe_prompt": True, "random_seed": 7}
    assert body_of(params, PROVIDERS["mistral"].dialect) == {**params}
    openai = body_of(params, PROVIDERS["openai"].dialect)
    assert "safe_prompt" not in openai
    assert openai["seed"] == 7
    assert "random_seed" not in openai


def test_seed_becomes_random_seed_for_mistral() -> None:
    body = body_of({"model": "m", "messages": [USER], "seed": 3}, PROVIDERS["mistral"].dialect)
    assert body["random_seed"] == 3
    assert "seed" not in body


def test_extra_body_is_merged_last() -> None:
    body = body_of({"model": "m", "messages": [USER], "extra_body": {"top_k": 5, "n": 3}, "n": 1})
    assert body["top_k"] == 5
    assert body["n"] == 3


def test_client_only_keys_never_reach_the_body() -> None:
    body = body_of({"model": "m", "messages": [USER], "extra_headers": {"x": "1"}, "timeout": 5.0})
    assert set(body) == {"model", "messages"}


@pytest.mark.parametrize(
    ("params", "field", "match"),
    [
        ({"messages": []}, "messages", "must not be empty"),
        ({"messages": "hi"}, "messages", "list of messages"),
        ({"messages": [{"content": "x"}]}, "messages[0].role", "role must be one of"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "one of"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "content"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "Expected"),
        (
            {"messages": [USER, {"role": "tool", "content": "42"}]},
            "messages[1].tool_call_id",
            "tool_call_id",
        ),
        (
            {"messages": [USER, {"role": "tool", "tool_call_id": "nope", "content": "42"}]},
            "messages[1].tool_call_id",
            "answers no tool call",
        ),
        (
            {"messages": [USER, {"role": "assistant"}]},
            "messages[1].content",
            "needs content or tool_calls",
        ),
        (
            {
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": i,
                                "type": "function",
                                "function": {"name": "f", "arguments": ""},
                            }
                            for i in ("c1", "c2")
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "1"},
                    USER,
                ]
            },
            "messages[3]",
            "tool calls c2 have no results yet",
        ),
        (
            {
                "messages": [
                    USER,
                    msgspec.convert(
                        {"tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": ""}}]},
                        Message,
                    ),
                    {"role": "assistant", "content": "skipped the result"},
                ]
            },
            "messages[2]",
            "tool calls c1 have no results yet",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content[0].image_url",
            "image_url",
        ),
        ({"messages": [USER], "temperature": 2.5}, "temperature", "between 0 and 2"),
        ({"messages": [USER], "temperature": "hot"}, "temperature", "must be a number"),
        ({"messages": [USER], "top_p": 1.5}, "top_p", "between 0 and 1"),
        ({"messages": [USER], "presence_penalty": -3}, "presence_penalty", "between -2 and 2"),
        ({"messages": [USER], "max_tokens": 0}, "max_tokens", "positive integer"),
        ({"messages": [USER], "n": 1.5}, "n", "positive integer"),
        ({"messages": [USER], "seed": "7"}, "seed", "integer"),
        ({"messages": [USER], "stop": [1]}, "stop[0]", "list of strings"),
        (
            {"messages": [USER], "parallel_tool_calls": "yes"},
            "parallel_tool_calls",
            "true or false",
        ),
        ({"messages": [USER], "tools": [{"type": "function"}]}, "tools[0].function", "required"),
        (
            {"messages": [USER], "tools": [{"type": "function", "function": {"name": "a b"}}]},
            "tools[0].function.name",
            "must match",
        ),
        ({"messages": [USER], "tools": [TOOL, TOOL]}, "tools[1].function.name", "duplicate"),
        ({"messages": [USER], "tool_choice": "required"}, "tool_choice", "needs tools"),
        (
            {
                "messages": [USER],
                "tools": [TOOL],
                "tool_choice": {"type": "function", "function": {"name": "g"}},
            },
            "tool_choice",
            "not in tools",
        ),
        ({"messages": [USER], "tool_choice": "sometimes"}, "tool_choice", "must be"),
        ({"messages": [USER], "response_format": {"type": "xml"}}, "response_format", "type"),
        (
            {"messages": [USER], "response_format": {"type": "json_schema"}},
            "response_format.json_schema.name",
            "required",
        ),
        ({"messages": [USER], "temprature": 1}, "temprature", "unknown parameter"),
        ({"messages": [USER], "extra_body": {"x": object()}}, "extra_body.x", "JSON value"),
    ],
)
def test_malformed_requests_name_the_field(params: dict[str, Any], field: str, match: str) -> None:
    rejects(params, field, match)


def test_model_is_required() -> None:
    with pytest.raises(RequestValidationError, match="model") as info:
        build_body({"messages": [USER]}, model="m", dialect=WireDialect(), stream=False)
    assert info.value.field == "model"


def test_tool_results_following_assistant_tool_calls_are_valid() -> None:
    messages = [
        USER,
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        {"role": "assistant", "content": "It is 42."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and"},
                {"type": "image_url", "image_url": {"url": "data:,"}},
            ],
        },
    ]
    assert body_of({"model": "m", "messages": messages})["messages"] == messages


def test_validation_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="temperature"):
        body_of({"model": "m", "messages": [USER], "temperature": 9})


# --- Value ranges and JSON-ness: each rule names its field ------------------------------

ASSISTANT_CALLS = {"role": "assistant", "content": None, "tool_calls": [CALL, {**CALL}]}


@pytest.mark.parametrize(
    ("params", "field", "match"),
    [
        ({"max_tokens": 2**70}, "max_tokens", "within 64 bits"),
        ({"max_completion_tokens": 2**63}, "max_completion_tokens", "within 64 bits"),
        ({"n": 0}, "n", "positive integer"),
        ({"n": -1}, "n", "positive integer"),
        ({"seed": -(2**64)}, "seed", "within 64 bits"),
        ({"random_seed": 2**64}, "random_seed", "within 64 bits"),
        ({"temperature": float("nan")}, "temperature", "between 0 and 2"),
        ({"temperature": float("inf")}, "temperature", "between 0 and 2"),
        ({"top_p": float("-inf")}, "top_p", "between 0 and 1"),
        ({"top_logprobs": 3}, "top_logprobs", "needs logprobs=True"),
        ({"top_logprobs": 3, "logprobs": False}, "top_logprobs", "needs logprobs=True"),
        ({"top_logprobs": 21, "logprobs": True}, "top_logprobs", "between 0 and 20"),
        ({"top_logprobs": -1, "logprobs": True}, "top_logprobs", "between 0 and 20"),
        ({"stream_options": {"include_usage": True}}, "stream_options", "only .* streaming"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
        ({"stop": b"END"}, "stop", "list of strings"),
        ({"stop": "\ud800"}, "stop", "lone surrogate"),
        ({"stop": ["ok", "\udfff"]}, "stop[1]", "lone surrogate"),
        ({"user": b"u-1"}, "user", "must be a string"),
        ({"user": "\ud800"}, "user", "lone surrogate"),
        ({"prompt_mode": "fast"}, "prompt_mode", "reasoning"),
        ({"timeout": float("nan")}, "timeout", "positive number"),
        ({"extra_headers": {"x": 1}}, "extra_headers['x']", "must be a str"),
        ({"extra_headers": ["x"]}, "extra_headers", "mapping of header names"),
        ({"extra_headers": {"x y": "1"}}, "extra_headers", "not a valid header name"),
        ({"extra_headers": {"": "1"}}, "extra_headers", "not a valid header name"),
        ({"extra_headers": {"x": "a\r\nInjected: 1"}}, "extra_headers['x']", "control character"),
        ({"extra_headers": {"x": " padded"}}, "extra_headers['x']", "whitespace"),
        ({"extra_headers": {"x": "caf\u20ac"}}, "extra_headers['x']", "latin-1"),
        ({"timeout": "5"}, "timeout", "or a Timeout"),
        ({"extra_body": [1]}, "extra_body", "mapping"),
        ({"extra_body": {"top_k": 2**64}}, "extra_body.top_k", "within|out of range"),
        ({"extra_body": {"x": float("nan")}}, "extra_body.x", "finite"),
        ({"extra_body": {"x": b"raw"}}, "extra_body.x", "JSON value"),
        ({"extra_body": {"x": {1: 2}}}, "extra_body.x", "keys must be strings"),
        ({"extra_body": {"x": "\ud800"}}, "extra_body.x", "lone surrogate"),
        (
            {"messages": [{"role": "user", "content": "caf\ud800"}]},
            "messages[0].content",
            "lone surrogate",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "\ud800"}]}]},
            "messages[0].content[0].text",
            "lone surrogate",
        ),
        ({"messages": [{"role": "user", "content": b"hi"}]}, "messages[0].content", "bytes"),
        (
            {"messages": [{"role": "user", "content": "x", "metadata": 2**64}]},
            "messages[0].metadata",
            "out of range",
        ),
        (
            {"messages": [USER, ASSISTANT_CALLS]},
            "messages[1].tool_calls[1].id",
            "duplicate tool call id 'call_1'",
        ),
        (
            {"messages": [USER, {**ASSISTANT_CALLS, "tool_calls": [{**CALL, "type": "x"}]}]},
            "messages[1].tool_calls[0].type",
            "Invalid enum value",
        ),
        (
            {"messages": [USER], "tools": [{"type": "function", "function": {"name": "x" * 65}}]},
            "tools[0].function.name",
            "must match",
        ),
        (
            {"messages": [USER], "tools": [{"type": "function", "function": {"name": "ok\n"}}]},
            "tools[0].function.name",
            "must match",
        ),
        (
            {
                "tools": [
                    {"type": "function", "function": {"name": "f", "parameters": {"max": 2**64}}}
                ]
            },
            "tools[0].function.parameters.max",
            "out of range",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "my schema"}}},
            "response_format.json_schema.name",
            "must match",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x" * 65}}},
            "response_format.json_schema.name",
            "must match",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"minimum": float("nan")}},
                }
            },
            "response_format.json_schema.schema.minimum",
            "finite",
        ),
        ({1: "x"}, "1", "unknown parameter"),
    ],
)
def test_out_of_range_values_name_the_field(params: dict[str, Any], field: str, match: str) -> None:
    with pytest.raises(RequestValidationError, match=match) as info:
        body_of({"model": "m", "messages": [USER], **params})
    assert info.value.field == field


def test_in_range_edges_are_sent() -> None:
    params = {
        "model": "m",
        "messages": [USER],
        "max_tokens": 2**63 - 1,
        "seed": -(2**63),
        "n": 1,
        "logprobs": True,
        "top_logprobs": 20,
        "stop": ["a", "b", "c", "d"],
        "temperature": 0,
    }
    assert body_of(params) == params
    assert body_of({**params, "top_logprobs": 0})["top_logprobs"] == 0


def test_stream_options_are_sent_when_streaming() -> None:
    params = {"model": "m", "messages": [USER], "stream_options": {"include_usage": False}}
    assert body_of(params, stream=True)["stream_options"] == {"include_usage": False}
    with pytest.raises(RequestValidationError) as info:
        body_of({**params, "stream_options": {"include_usage": "yes"}}, stream=True)
    assert info.value.field == "stream_options.include_usage"


def test_the_stop_limit_is_the_dialects() -> None:
    five = {"model": "m", "messages": [USER], "stop": list("abcde")}
    assert body_of(five, WireDialect(max_stop=None))["stop"] == list("abcde")
    with pytest.raises(RequestValidationError, match="at most 2") as info:
        body_of({**five, "stop": list("abc")}, WireDialect(max_stop=2))
    assert info.value.field == "stop"
    assert PROVIDERS["openai"].dialect.max_stop == 4


def test_tool_call_ids_may_repeat_across_assistant_messages() -> None:
    messages = [
        USER,
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "1"},
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "2"},
    ]
    assert body_of({"model": "m", "messages": messages})["messages"] == messages
