"""Tools, the agent and structured output against llama-cpp-python's server."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

import chatlane
from chatlane.agent import Agent
from chatlane.core.request import NamedToolChoiceParam
from chatlane.tools import builtin_tools
from tests.llamacpp_server.conftest import MODEL, LlamaCppServer
from tests.llamacpp_server.helpers import client, post

pytestmark = pytest.mark.local_model

ADD: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}
QUESTION: list[dict[str, Any]] = [{"role": "user", "content": "What is 2 + 3?"}]
NAMED: NamedToolChoiceParam = {"type": "function", "function": {"name": "add"}}


def _called(c: chatlane.Client) -> chatlane.ChatCompletion:
    return c.chat(
        model=MODEL, messages=QUESTION, tools=[ADD], tool_choice=NAMED, max_tokens=30, temperature=0
    )


def test_named_tool_choice_calls_the_tool(llamacpp_server: LlamaCppServer) -> None:
    with client(llamacpp_server) as c:
        reply = _called(c)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.function.name == "add"
    assert set(json.loads(call.function.arguments)) == {"a", "b"}


def test_tool_round_trip(llamacpp_server: LlamaCppServer) -> None:
    with client(llamacpp_server) as c:
        message = _called(c).choices[0].message
        assert message.content is None
        assert message.tool_calls
        call = message.tool_calls[0]
        # The returned Message goes back with content "" (this server refuses null).
        answer = c.chat(
            model=MODEL,
            messages=[*QUESTION, message, chatlane.tool_result(call.id, "5")],
            tools=[ADD],
            max_tokens=10,
            temperature=0,
        )
    assert answer.choices[0].message.content


def test_server_refuses_a_null_content_tool_call_message(llamacpp_server: LlamaCppServer) -> None:
    # Quirk, on the wire: an assistant message with tool_calls and "content": null is a
    # pydantic error ('Input should be a valid string', input None), answered with 500.
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
    assistant = {"role": "assistant", "content": None, "tool_calls": [call]}
    tool = {"role": "tool", "tool_call_id": "c1", "content": "5"}
    status, body = post(
        llamacpp_server, {"model": MODEL, "messages": [*QUESTION, assistant, tool], "max_tokens": 2}
    )
    assert status == 500
    assert body["error"]["type"] == "internal_server_error"
    assert "Input should be a valid string" in body["error"]["message"]
    status, _ = post(
        llamacpp_server,
        {
            "model": MODEL,
            "messages": [*QUESTION, {**assistant, "content": ""}, tool],
            "max_tokens": 2,
        },
    )
    assert status == 200


def test_hand_built_null_content_tool_call_message(llamacpp_server: LlamaCppServer) -> None:
    # The server refuses null content beside tool calls: its dialect fills in "".
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
    messages: list[dict[str, Any]] = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "5"},
    ]
    with client(llamacpp_server, "llamacpp") as c:
        reply = c.chat(model=MODEL, messages=messages, max_tokens=4, temperature=0)
    assert reply.choices[0].message.content is not None


def test_agent_with_the_calculator(llamacpp_server: LlamaCppServer) -> None:
    calculator = [tool for tool in builtin_tools() if tool.name == "calculator"]
    with client(llamacpp_server, "llamacpp") as c:
        agent = Agent(
            c,
            model=MODEL,
            tools=calculator,
            max_turns=3,
            tool_choice={"type": "function", "function": {"name": "calculator"}},
            params={"temperature": 0, "max_tokens": 40},
        )
        try:
            result = agent.run("What is 12 * 7? Use the calculator.")
        except chatlane.AgentLimitError as limit:  # a forced tool every turn never answers
            result = limit.result
    assert result.tool_calls >= 1
    first = result.tool_results[0]
    assert first.name == "calculator"
    roles = [m["role"] for m in result.conversation]
    assert roles[:3] == ["user", "assistant", "tool"]
    assert result.usage_reported
    assert result.usage.prompt_tokens > 0


class City(pydantic.BaseModel):
    name: str
    country: str


CITY = [{"role": "user", "content": "Name a city in France."}]


def test_parse_with_the_llamacpp_provider_uses_tools(llamacpp_server: LlamaCppServer) -> None:
    with client(llamacpp_server, "llamacpp") as c:
        parsed = c.parse(
            model=MODEL, response_model=City, messages=CITY, max_tokens=40, temperature=0
        )
    assert isinstance(parsed.output, City)
    assert parsed.output.name
    assert len(parsed.completions) == 1


def test_parse_on_bare_base_url_falls_back_to_tools_mode(
    llamacpp_server: LlamaCppServer,
) -> None:
    # A bare base_url is a server of unknown kind: json_schema is tried first; this server
    # refuses it (500, "Input should be 'text' or 'json_object'"), so parse() asks again in
    # tools mode, and the client remembers: the next parse goes to tools mode at once.
    with client(llamacpp_server) as c:
        first = c.parse(
            model=MODEL, response_model=City, messages=CITY, max_tokens=40, temperature=0
        )
        again = c.parse(
            model=MODEL, response_model=City, messages=CITY, max_tokens=40, temperature=0
        )
    assert isinstance(first.output, City)
    assert (first.mode, again.mode) == ("tools", "tools")
    assert len(first.completions) == 1


def test_parse_stream_on_bare_base_url_falls_back_to_tools_mode(
    llamacpp_server: LlamaCppServer,
) -> None:
    with (
        client(llamacpp_server) as c,
        c.parse_stream(
            model=MODEL, response_model=City, messages=CITY, max_tokens=40, temperature=0
        ) as stream,
    ):
        partials = list(stream)
        parsed = stream.final()
    assert isinstance(parsed.output, City)
    assert parsed.mode == "tools"
    assert partials


def test_parse_with_json_schema_named_is_not_switched(llamacpp_server: LlamaCppServer) -> None:
    with client(llamacpp_server) as c, pytest.raises(chatlane.InternalServerError) as caught:
        c.parse(
            model=MODEL,
            response_model=City,
            mode="json_schema",
            messages=CITY,
            max_tokens=40,
            temperature=0,
        )
    assert "'text' or 'json_object'" in str(caught.value)


def test_parse_on_bare_base_url(llamacpp_server: LlamaCppServer) -> None:
    with client(llamacpp_server) as c:
        parsed = c.parse(
            model=MODEL, response_model=City, messages=CITY, max_tokens=40, temperature=0
        )
    assert isinstance(parsed.output, City)


def test_parse_on_bare_base_url_with_tools_mode(llamacpp_server: LlamaCppServer) -> None:
    with client(llamacpp_server) as c:
        parsed = c.parse(
            model=MODEL,
            response_model=City,
            mode="tools",
            messages=CITY,
            max_tokens=40,
            temperature=0,
        )
    assert isinstance(parsed.output, City)
