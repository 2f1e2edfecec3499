"""Message and tool accounting, Message structs, and the estimate path."""

from __future__ import annotations

import base64
import math
from typing import Any

import pytest

import chatlane
from chatlane import Message, ToolCall
from chatlane.core.types import FunctionCall
from chatlane.tokens import TokenCount, count_message_tokens, count_tokens, counting

pytest.importorskip("tiktoken")

# The OpenAI Cookbook's examples ("How to count tokens with tiktoken"), with the
# prompt_tokens the API reported for them: 124 (gpt-4o, gpt-4o-mini), 129 (gpt-4,
# gpt-3.5-turbo); with the weather tool: 101 and 105.
JARGON = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client deliverable.",
    },
]
WEATHER_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
WEATHER = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.mark.parametrize(
    ("model", "tokens", "method"),
    [
        ("gpt-4o", 124, "o200k_base"),
        ("gpt-4o-mini", 124, "o200k_base"),
        ("openai/gpt-4o-2024-08-06", 124, "o200k_base"),
        ("gpt-4", 129, "cl100k_base"),
        ("gpt-3.5-turbo", 129, "cl100k_base"),
    ],
)
def test_message_overhead_matches_the_api(model: str, tokens: int, method: str) -> None:
    assert count_message_tokens(JARGON, model) == TokenCount(tokens, True, method)


@pytest.mark.parametrize(
    ("model", "tokens"), [("gpt-4o", 101), ("gpt-4o-mini", 101), ("gpt-4", 105)]
)
def test_tool_definitions_match_the_api(model: str, tokens: int) -> None:
    counted = count_message_tokens(WEATHER, model, tools=WEATHER_TOOLS)
    assert counted.tokens == tokens
    assert counted.exact is False  # the tool format is an approximation


def test_overhead_per_message_name_and_reply() -> None:
    hello = count_tokens("hello", "gpt-4o")
    user = count_tokens("user", "gpt-4o")
    assert count_message_tokens([], "gpt-4o").tokens == 3
    assert (
        count_message_tokens([{"role": "user", "content": "hello"}], "gpt-4o").tokens
        == 3 + 3 + user + hello
    )
    named = {"role": "user", "content": "hello", "name": "bob"}
    assert (
        count_message_tokens([named], "gpt-4o").tokens
        == 3 + 3 + user + hello + count_tokens("bob", "gpt-4o") + 1
    )


def test_tool_definitions_without_properties_or_descriptions() -> None:
    bare = [
        {
            "type": "function",
            "function": {"name": "now", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    base = count_message_tokens(WEATHER, "gpt-4o").tokens
    assert (
        count_message_tokens(WEATHER, "gpt-4o", tools=bare).tokens
        == base + 7 + count_tokens("now:", "gpt-4o") + 12
    )
    odd = [
        {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {
                    "properties": {
                        "x": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        "y": {"type": ["integer", "null"]},
                    }
                },
            },
        }
    ]
    assert count_message_tokens(WEATHER, "gpt-4o", tools=odd).tokens > base


def test_message_structs_count_like_dicts() -> None:
    calls = [
        ToolCall(
            id="call_1",
            function=FunctionCall(name="get_current_weather", arguments='{"location": "Paris"}'),
        )
    ]
    struct = Message(
        content=None, tool_calls=calls, reasoning_content="thinking that is not sent back"
    )
    as_dict = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_current_weather", "arguments": '{"location": "Paris"}'},
            }
        ],
    }
    result = {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}
    by_struct = count_message_tokens([*WEATHER, struct, result], "gpt-4o")
    by_dict = count_message_tokens([*WEATHER, as_dict, result], "gpt-4o")
    assert by_struct == by_dict
    assert by_struct.exact is False
    plain = count_message_tokens([Message(content="Hi")], "gpt-4o")
    assert plain == count_message_tokens([{"role": "assistant", "content": "Hi"}], "gpt-4o")
    assert plain.exact is True


def test_tool_calls_and_results_are_counted() -> None:
    base = count_message_tokens(WEATHER, "gpt-4o").tokens
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_current_weather", "arguments": '{"location": "Paris"}'},
            }
        ],
    }
    with_call = count_message_tokens([*WEATHER, call], "gpt-4o").tokens
    expected = 3 + count_tokens("assistant", "gpt-4o") + 3
    expected += count_tokens("get_current_weather", "gpt-4o") + count_tokens(
        '{"location": "Paris"}', "gpt-4o"
    )
    assert with_call == base + expected


def test_content_parts_and_images() -> None:
    text = count_message_tokens([{"role": "user", "content": "look at this"}], "gpt-4o")
    parts = count_message_tokens(
        [{"role": "user", "content": [{"type": "text", "text": "look at this"}]}], "gpt-4o"
    )
    assert parts.tokens == text.tokens
    assert parts.exact is False
    low = {
        "type": "image_url",
        "image_url": {"url": "https://example.invalid/a.png", "detail": "low"},
    }
    high = {"type": "image_url", "image_url": {"url": "https://example.invalid/a.png"}}
    with_low = count_message_tokens(
        [{"role": "user", "content": [{"type": "text", "text": "look at this"}, low]}], "gpt-4o"
    )
    with_high = count_message_tokens(
        [{"role": "user", "content": [{"type": "text", "text": "look at this"}, high]}], "gpt-4o"
    )
    assert with_low.tokens == text.tokens + 85
    assert with_high.tokens == text.tokens + 765


def test_files_audio_and_unknown_parts_are_never_free() -> None:
    def with_part(part: dict[str, object]) -> int:
        content = [{"type": "text", "text": "look at this"}, part]
        return count_message_tokens([{"role": "user", "content": content}], "gpt-4o").tokens

    text = count_message_tokens([{"role": "user", "content": "look at this"}], "gpt-4o").tokens
    pdf = "data:application/pdf;base64," + "A" * 400_000  # 300 KB of file
    assert with_part({"type": "file", "file": {"file_data": pdf}}) >= text + 300_000 // 4
    wav = "B" * 40_000  # 30 KB of audio: about a second to a few
    audio = with_part({"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}})
    assert audio >= text + 30_000 // 32
    by_id = with_part({"type": "file", "file": {"file_id": "file-abc"}})
    assert by_id == text + 1500  # not here to look at: one page
    assert with_part({"type": "file"}) == text + 1500
    assert with_part({"type": "input_audio", "input_audio": "x"}) == text + 765
    pages = b"<</Type /Pages /Count 3>> <</Type /Page>> <</Type/Page>> <</Type\n/Page /X 1>>"
    counted = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.7 " + pages).decode()
    assert with_part({"type": "file", "file": {"file_data": counted}}) == text + 3 * 1500
    scanned = (
        "data:application/pdf;base64,"
        + base64.b64encode(b"%PDF-1.7 <</Type /Page>> <</Type /Page>>" + b"\0" * 600_000).decode()
    )  # two pages of 300 KB images: counted by pages, not by size
    assert with_part({"type": "file", "file": {"file_data": scanned}}) == text + 2 * 1500
    unknown = with_part({"type": "refusal", "refusal": "I will not look at this"})
    assert unknown > text


def test_openai_families_outside_the_table_count_exactly() -> None:
    for model in (
        "gpt-4o-audio-preview",
        "o3-deep-research",
        "gpt-5-codex",
        "ft:gpt-4o-mini:org::abc",
    ):
        assert count_message_tokens(WEATHER, model).method == "o200k_base", model
    assert count_message_tokens(WEATHER, "gpt-4-32k").method == "cl100k_base"
    assert counting.encoding_for_model("gpt-oss-120b") == "o200k_harmony"
    harmony = count_message_tokens(WEATHER, "groq/openai/gpt-oss-120b")
    assert (harmony.method, harmony.exact) == ("o200k_harmony", False)
    assert count_tokens("hello world", "gpt-oss-20b") == 2


def test_unknown_models_are_estimated() -> None:
    assert count_tokens("abcd" * 10, "mystery-model") == 10
    assert count_tokens("日本", "mystery-model") == 2  # 6 UTF-8 bytes
    assert count_tokens("", "mystery-model") == 0
    messages = [
        {"role": "user", "content": "abcd" * 10},
        {"role": "assistant", "content": "ok", "name": "x"},
    ]
    expected = 3 + (3 + 1 + 10) + (3 + math.ceil(9 / 4) + 1 + 1 + 1)
    assert count_message_tokens(messages, "mystery-model") == TokenCount(
        expected, False, "estimate"
    )
    assert count_message_tokens(messages, "anthropic/claude-sonnet-4-5").method == "estimate"
    with_tools = count_message_tokens(messages, "mystery-model", tools=WEATHER_TOOLS)
    assert with_tools.tokens > expected


def test_without_tiktoken_openai_models_are_estimated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counting, "get_encoding", lambda name: None)
    monkeypatch.setattr(counting, "_COUNTERS", {})  # counters are made once per process
    counted = count_message_tokens(JARGON, "gpt-4o")
    assert (counted.exact, counted.method) == (False, "estimate")
    assert count_tokens("abcdefgh", "gpt-4o") == 2


def test_local_names_without_the_engine_are_estimated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counting, "_local_engine", lambda model: None)
    assert count_message_tokens(WEATHER, "local/smollm2").method == "estimate"
    assert count_tokens("abcdefgh", "local/smollm2") == 2


def test_messages_must_be_mappings_or_structs() -> None:
    with pytest.raises(chatlane.RequestValidationError, match="mapping or a Message"):
        count_message_tokens(["hello"], "gpt-4o")  # type: ignore[list-item]
