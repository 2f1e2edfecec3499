"""Trimming: oldest turns go first; system messages, the latest turn and tool groups stay."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import chatlane
from chatlane.core.messages import validate_messages
from chatlane.tokens import (
    ModelInfo,
    PromptTooLongError,
    TrimResult,
    count_message_tokens,
    trim_messages,
)

MODEL = "mystery-model"  # estimated counts: fast, and the arithmetic below is simple


def _turn(i: int, *, tools: bool = False) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"question {i} " + "word " * 20}]
    if tools:
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{i}a",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": 1}'},
                    },
                    {
                        "id": f"call_{i}b",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": 2}'},
                    },
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": f"call_{i}a", "content": "result " * 10})
        messages.append({"role": "tool", "tool_call_id": f"call_{i}b", "content": "result " * 10})
    messages.append({"role": "assistant", "content": f"answer {i} " + "text " * 20})
    return messages


def _conversation(turns: int, *, tools: bool = False) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are terse."}]
    for i in range(turns):
        messages.extend(_turn(i, tools=tools and i % 2 == 0))
    messages.append({"role": "user", "content": "the latest question"})
    return messages


def _tokens(messages: list[Any], tools: Any = None) -> int:
    return count_message_tokens(messages, MODEL, tools=tools).tokens


def test_nothing_to_trim() -> None:
    messages = _conversation(3)
    result = trim_messages(messages, MODEL, max_tokens=100, context_window=100_000)
    assert result == TrimResult(messages, 0, 0, _tokens(messages))
    assert result.messages is not messages


def test_drops_oldest_turns_first_and_reports() -> None:
    messages = _conversation(6)
    before = _tokens(messages)
    keep_two = [messages[0], *messages[-5:]]  # system, turns 4 and 5, the latest question
    window = _tokens(keep_two) + 50
    result = trim_messages(messages, MODEL, max_tokens=50, context_window=window)
    assert result.messages == keep_two
    assert result.dropped_messages == len(messages) - len(keep_two)
    assert result.prompt_tokens == _tokens(keep_two)
    assert result.dropped_tokens == before - result.prompt_tokens
    # One token less room and the next-oldest turn goes too.
    tighter = trim_messages(messages, MODEL, max_tokens=51, context_window=window)
    assert tighter.messages == [messages[0], *messages[-3:]]


def test_never_mutates_and_keeps_the_same_objects() -> None:
    messages = _conversation(5, tools=True)
    snapshot = copy.deepcopy(messages)
    result = trim_messages(messages, MODEL, max_tokens=10, context_window=_tokens(messages) // 2)
    assert messages == snapshot
    assert result.dropped_messages > 0
    assert all(any(kept is original for original in messages) for kept in result.messages)


def _check(
    messages: list[Any], result: TrimResult, window: int, max_tokens: int, tools: Any = None
) -> None:
    kept = result.messages
    validate_messages(kept)  # no orphan tool message, no tool call without its results
    assert result.prompt_tokens == _tokens(kept, tools)
    assert result.prompt_tokens + max_tokens <= window
    positions = [next(i for i, m in enumerate(messages) if m is k) for k in kept]
    assert positions == sorted(positions)
    assert [m for m in messages if m["role"] in ("system", "developer")] == [
        m for m in kept if m["role"] in ("system", "developer")
    ]
    latest = max(i for i, m in enumerate(messages) if m["role"] == "user")
    assert kept[-(len(messages) - latest) :] == messages[latest:]
    first = next(m for m in kept if m["role"] not in ("system", "developer"))
    assert first["role"] == "user"


@pytest.mark.parametrize("with_tools", [False, True])
def test_every_window_gives_a_valid_fitting_conversation(with_tools: bool) -> None:
    messages = _conversation(8, tools=with_tools)
    messages.insert(9, {"role": "developer", "content": "a mid-conversation instruction"})
    tools = (
        [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Look up.",
                    "parameters": {"type": "object", "properties": {"q": {"type": "integer"}}},
                },
            }
        ]
        if with_tools
        else None
    )
    total = _tokens(messages, tools)
    outcomes: set[int | str] = set()
    for window in range(60, total + 40, 7):
        try:
            result = trim_messages(
                messages, MODEL, max_tokens=30, context_window=window, tools=tools
            )
        except PromptTooLongError:
            outcomes.add("too long")
            continue
        _check(messages, result, window, 30, tools)
        outcomes.add(result.dropped_messages)
    assert "too long" in outcomes
    assert 0 in outcomes
    assert len(outcomes) > 5


def test_tool_groups_leave_whole() -> None:
    messages = _conversation(3, tools=True)  # turns 0 and 2 call tools
    group = messages[1:6]  # turn 0: user, assistant(tool_calls), tool, tool, assistant
    assert [m["role"] for m in group] == ["user", "assistant", "tool", "tool", "assistant"]
    window = _tokens([messages[0], *messages[6:]]) + 10
    result = trim_messages(messages, MODEL, max_tokens=10, context_window=window)
    assert result.messages == [messages[0], *messages[6:]]
    assert result.dropped_messages == 5


def test_the_turn_in_progress_is_kept_whole() -> None:
    # An agent loop: the latest user message is followed by tool calls and results.
    messages = _conversation(4)
    messages.extend(_turn(99, tools=True)[1:-1])  # assistant(tool_calls) and its two results
    latest = max(i for i, m in enumerate(messages) if m["role"] == "user")
    floor = [messages[0], *messages[latest:]]
    result = trim_messages(messages, MODEL, max_tokens=0, context_window=_tokens(floor))
    assert result.messages == floor
    validate_messages(result.messages)


def test_prompt_too_long() -> None:
    messages = _conversation(2)
    floor = _tokens([messages[0], messages[-1]])
    with pytest.raises(PromptTooLongError) as caught:
        trim_messages(messages, MODEL, max_tokens=500, context_window=floor + 499)
    error = caught.value
    assert isinstance(error, chatlane.UsageError)
    assert (error.prompt_tokens, error.max_tokens, error.context_window) == (
        floor,
        500,
        floor + 499,
    )
    assert error.model == MODEL
    text = str(error)
    assert f"{floor} tokens" in text
    assert "500" in text
    assert f"({floor + 500} > {floor + 499})" in text
    # Exactly enough room is fine.
    result = trim_messages(messages, MODEL, max_tokens=500, context_window=floor + 500)
    assert result.messages == [messages[0], messages[-1]]


def test_default_window_from_the_table() -> None:
    pytest.importorskip("tiktoken")
    messages = [{"role": "system", "content": "Be brief."}]
    for i in range(200):
        messages += [
            {"role": "user", "content": f"q{i} " + "lorem ipsum " * 10},
            {"role": "assistant", "content": "dolor sit amet " * 10},
        ]
    assert count_message_tokens(messages, "gpt-4").tokens > 8192
    result = trim_messages(messages, "openai/gpt-4-0613", max_tokens=1000)
    assert result.prompt_tokens == count_message_tokens(result.messages, "gpt-4").tokens
    assert 8192 - 1000 - 200 < result.prompt_tokens <= 8192 - 1000


def test_an_unknown_window_is_an_error_that_says_how_to_give_it() -> None:
    messages = _conversation(50)
    with pytest.raises(chatlane.UsageError) as caught:
        trim_messages(messages, "mystery-model", max_tokens=100)
    assert caught.value.model == "mystery-model"
    assert "context window of 'mystery-model' is not known" in str(caught.value)
    assert "context_window=" in str(caught.value)
    assert "models={'mystery-model': chatlane.ModelInfo(context_window=...)}" in str(caught.value)
    with pytest.raises(chatlane.UsageError, match="not known"):
        trim_messages(messages, "mystery-model", max_tokens=100, model_info=ModelInfo(name="m"))


def test_the_window_of_given_facts() -> None:
    messages = _conversation(50)
    window = _tokens(messages) // 2
    facts = ModelInfo(context_window=window)
    given = trim_messages(messages, "my-server-model", max_tokens=10, model_info=facts)
    assert given.dropped_messages > 0
    assert given.prompt_tokens + 10 <= window
    assert given == trim_messages(messages, MODEL, max_tokens=10, context_window=window)
    # context_window= still wins over the facts' window.
    roomy = trim_messages(
        messages, "my-server-model", max_tokens=10, context_window=10**6, model_info=facts
    )
    assert roomy.dropped_messages == 0


def test_message_structs_are_trimmed_like_dicts() -> None:
    calls = [
        chatlane.ToolCall(id="c1", function=chatlane.FunctionCall(name="lookup", arguments="{}"))
    ]
    old: list[Any] = [
        {"role": "user", "content": "old question " * 30},
        chatlane.Message(tool_calls=calls),
        {"role": "tool", "tool_call_id": "c1", "content": "old result " * 30},
        chatlane.Message(content="old answer " * 30),
    ]
    messages: list[Any] = [
        {"role": "system", "content": "sys"},
        *old,
        {"role": "user", "content": "new"},
    ]
    window = _tokens([messages[0], messages[-1]]) + 5
    result = trim_messages(messages, MODEL, max_tokens=5, context_window=window)
    assert result.messages == [messages[0], messages[-1]]
    assert result.dropped_messages == 4


def test_without_a_user_message_the_last_exchange_stays() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "sys"},
        {"role": "assistant", "content": "hello " * 50},
        *_turn(1, tools=True)[1:],
    ]
    tail = messages[2:5]  # the assistant with tool calls and its two results
    window = _tokens([messages[0], *messages[5:]]) + 1
    result = trim_messages(messages, MODEL, max_tokens=1, context_window=window)
    assert result.messages == [messages[0], messages[-1]]
    assert tail[0] not in result.messages


@pytest.mark.parametrize(("max_tokens", "window"), [(-1, 100), (True, 100), (10, 0), (10, -5)])
def test_bad_arguments(max_tokens: Any, window: int) -> None:
    with pytest.raises(chatlane.RequestValidationError):
        trim_messages(
            [{"role": "user", "content": "hi"}],
            MODEL,
            max_tokens=max_tokens,
            context_window=window,
        )
