"""The engine's pure pieces, without the model: stops, call splitting, prompts, grammars."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest

from chatlane.local.generation import StopScanner
from chatlane.local.prompt import answer_option, answered_by_tools, chat_turns, decision_turns
from chatlane.local.request import ToolSpec, parse_messages, parse_request
from chatlane.local.signature import signature
from chatlane.local.toolcalls import (
    CallArguments,
    CallEnded,
    CallStarted,
    RepeatGuard,
    ToolCallSplitter,
)
from tests.local.helpers import ADD_TOOL, TOOLS, WEATHER_TOOL, user

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"
)


def scan(stops: list[str], pieces: list[str]) -> tuple[str, bool]:
    scanner = StopScanner(stops)
    out = ""
    for piece in pieces:
        text, stopped = scanner.feed(piece)
        out += text
        if stopped:
            return out, True
    return out + scanner.flush(), False


@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_stop_scanner_any_piece_size(size: int) -> None:
    text = "Hello there. END and more"
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    assert scan(["END"], pieces) == ("Hello there. ", True)
    assert scan(["EN", "there"], pieces) == ("Hello ", True)
    assert scan(["nope"], pieces) == (text, False)
    assert scan([], pieces) == (text, False)


def test_stop_scanner_holds_only_possible_starts() -> None:
    scanner = StopScanner(["STOP"])
    assert scanner.feed("abc ST") == ("abc ", False)
    assert scanner.feed("Y") == ("STY", False)
    assert scanner.feed("ST") == ("", False)
    assert scanner.flush() == "ST"


def split(text: str, size: int) -> list[Any]:
    splitter = ToolCallSplitter()
    events: list[Any] = []
    for i in range(0, len(text), size):
        events.extend(splitter.feed(text[i : i + size]))
    return events


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_splitter_finds_calls_and_arguments(size: int) -> None:
    arguments = ['{"city": "Pa}ris \\"x\\"", "n": [1, {"a": 2}]}', '{"a": 1, "b": 2}']
    text = (
        f'[{{"name": "get_weather", "arguments": {arguments[0]}}}, '
        f'{{"name": "add", "arguments": {arguments[1]} }}]'
    )
    events = split(text, size)
    starts = [e for e in events if isinstance(e, CallStarted)]
    assert [(s.index, s.name) for s in starts] == [(0, "get_weather"), (1, "add")]
    assert all(s.id.startswith("call_") for s in starts)
    assert starts[0].id != starts[1].id
    for index, expected in enumerate(arguments):
        got = "".join(e.text for e in events if isinstance(e, CallArguments) and e.index == index)
        assert got == expected
    assert [e.index for e in events if isinstance(e, CallEnded)] == [0, 1]


def test_repeat_guard_streams_first_holds_later_drops_repeats() -> None:
    guard = RepeatGuard()
    text = (
        '[{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "add", "arguments": '
        '{"a": 3, "b": 4}}, {"name": "add", "arguments": {"b": 2, "a": 1}}]'
    )
    splitter = ToolCallSplitter()
    passed: list[Any] = []
    for char in text:
        for event in splitter.feed(char):
            out = guard.accept(event)
            if isinstance(event, CallArguments) and event.index == 0:
                assert out == [event]  # the first call is live
            passed.extend(out)
        if guard.repeated:
            break
    assert guard.repeated
    assert [e.name for e in passed if isinstance(e, CallStarted)] == ["add", "add"]
    assert guard.completed == 2


def test_signature() -> None:
    schema = WEATHER_TOOL["function"]["parameters"]
    assert signature(schema) == '{city: string, unit: "celsius" | "fahrenheit"}'
    described = {
        "type": "object",
        "properties": {"q": {"type": "string", "description": "what to look up"}},
    }
    assert signature(described) == "{q?: string (what to look up)}"
    refs = {
        "$defs": {"P": {"type": "object", "properties": {"x": {"const": 1}}}},
        "$ref": "#/$defs/P",
    }
    assert signature(refs) == "{x?: 1}"
    assert (
        signature({"type": "array", "items": {"type": ["string", "null"]}})
        == "array of string | null"
    )


def test_prompt_turns_for_tools_and_results() -> None:
    messages = parse_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris and 1+2?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "c2", "content": "3"},
        ]
    )
    tools = parse_request({"messages": user("x"), "tools": TOOLS}).tools
    turns = chat_turns(messages, tools=tools)
    assert [t["role"] for t in turns] == ["system", "user", "assistant", "user"]
    assert turns[0]["content"].startswith("Be brief.\n\nYou can call these tools:")
    assert (
        "get_weather: Get the current weather for a city. Arguments: {city: string"
        in turns[0]["content"]
    )
    assert turns[2]["content"] == (
        'I will call get_weather with {"city": "Paris"}. I will call add with {"a": 1, "b": 2}.'
    )
    assert turns[3]["content"] == "Result of get_weather: sunny\n\nResult of add: 3"
    assert answered_by_tools(messages)
    assert not answered_by_tools(parse_messages(user("hi")))


def test_decision_prompt_and_answer_word() -> None:
    tools = (ToolSpec("answer", "", {}), ToolSpec("reply", "", {}))
    assert answer_option(tools) == "respond"
    turns = decision_turns(parse_messages(user("What's 2+2?")), tools)
    assert "- respond: reply directly" in turns[0]["content"]
    assert turns[1]["content"].startswith("Request: What's 2+2?")


def test_request_defaults_and_reproducibility() -> None:
    plain = parse_request({"messages": user("hi")})
    assert (plain.tool_mode, plain.reproducible, plain.max_tokens) == ("none", False, None)
    assert parse_request({"messages": user("hi"), "temperature": 0}).reproducible
    seeded = parse_request(
        {"messages": user("hi"), "seed": -1, "max_completion_tokens": 5, "max_tokens": 9}
    )
    assert seeded.reproducible
    assert 0 <= seeded.seed < 2**32
    assert seeded.max_tokens == 5
    auto = parse_request({"messages": user("hi"), "tools": [ADD_TOOL]})
    assert (auto.tool_mode, auto.parallel_tool_calls) == ("auto", True)
    assert parse_request({"messages": user("hi"), "stop": "x"}).stop == ("x",)


@needs_llama
def test_tool_grammar_has_one_rule_per_tool_and_strict_strings() -> None:
    from chatlane.local.grammar import choice_grammar, schema_grammar, tool_calls_grammar

    tools = parse_request({"messages": user("x"), "tools": TOOLS}).tools
    grammar = tool_calls_grammar(tools, tool="add", max_calls=3)
    assert 'root ::= "[" (calls-1) "]"' in grammar
    assert 'calls-1 ::= call-1 ("," space call-1){0,2}' in grammar
    free = tool_calls_grammar(tools)
    assert 'root ::= "[" (calls-0 | calls-1 | calls-2) "]"' in free
    assert "calls-0 ::= call-0\n" in free  # one call unless parallel calls are allowed
    assert json.dumps('{"name": "create_event", "arguments": ') in grammar
    assert "\\x00-\\x1F" in grammar  # no raw control characters inside JSON strings
    assert free.count("root ::=") == 1
    assert choice_grammar(["answer", "add"]) == 'root ::= "answer" | "add"'
    with pytest.raises(ValueError, match="cannot constrain"):
        schema_grammar({"type": "object", "properties": {"x": {"type": "tensor"}}})


@needs_llama
def test_same_definition_names_in_two_tools_stay_apart() -> None:
    from chatlane.local.grammar import tool_calls_grammar

    def tool(name: str, item: dict[str, Any]) -> ToolSpec:
        schema = {
            "type": "object",
            "$defs": {"Item": item},
            "properties": {"item": {"$ref": "#/$defs/Item"}},
            "required": ["item"],
        }
        return ToolSpec(name, "", schema)

    grammar = tool_calls_grammar(
        [tool("one", {"type": "integer"}), tool("two", {"type": "boolean"})]
    )
    assert "args-0-item ::= integer" in grammar
    assert "args-1-item ::= boolean" in grammar
    objects = tool_calls_grammar(
        [
            tool("one", {"type": "object", "properties": {"x": {"type": "integer"}}}),
            tool("two", {"type": "object", "properties": {"y": {"type": "boolean"}}}),
        ]
    )
    assert "args-0-Item ::=" in objects
    assert "args-1-Item ::=" in objects
