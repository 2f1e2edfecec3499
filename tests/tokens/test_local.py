"""The embedded model counts with its own tokenizer and chat template."""

from __future__ import annotations

import importlib.util

import pytest

import chatlane
from chatlane.core.errors import ConfigurationError
from chatlane.local import default_model_path
from chatlane.tokens import count_message_tokens, count_tokens, trim_messages


def _missing() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed"
    try:
        default_model_path()
    except ConfigurationError:
        return "the embedded model is not installed"
    return None


MISSING = _missing()
pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
]

MESSAGES = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is the capital of France? ¿Y de España? 日本は?"},
]


def test_message_counts_are_the_engines() -> None:
    engine = chatlane.LocalModel().engine()
    expected = engine.count_message_tokens(MESSAGES)
    counted = count_message_tokens(MESSAGES, "local/smollm2")
    assert (counted.tokens, counted.exact, counted.method) == (expected, True, "local-tokenizer")
    assert count_message_tokens(MESSAGES, "smollm2").tokens == expected
    # The template adds its own markers around every turn.
    assert expected > sum(engine.count_tokens(m["content"]) for m in MESSAGES)


def test_text_counts_are_the_engines() -> None:
    engine = chatlane.LocalModel().engine()
    for text in ("hello world", "naïve café", "<|im_start|>", ""):
        assert count_tokens(text, "local/smollm2") == engine.count_tokens(text)


def test_message_structs_and_tools() -> None:
    calls = [chatlane.ToolCall(id="c1", function=chatlane.FunctionCall(name="f", arguments="{}"))]
    messages: list[chatlane.MessageParam] = [
        *MESSAGES,
        chatlane.Message(tool_calls=calls),
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    counted = count_message_tokens(messages, "local/smollm2")
    assert counted.exact
    assert counted.tokens > count_message_tokens(MESSAGES, "local/smollm2").tokens
    tools = [
        {
            "type": "function",
            "function": {
                "name": "f",
                "description": "Do f.",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    with_tools = count_message_tokens(MESSAGES, "local/smollm2", tools=tools)
    assert not with_tools.exact
    assert with_tools.tokens > count_message_tokens(MESSAGES, "local/smollm2").tokens


def test_other_local_names_are_estimated() -> None:
    assert count_message_tokens(MESSAGES, "local/some-other-model").method == "estimate"


def test_trimming_uses_the_engines_window_and_counts() -> None:
    engine = chatlane.LocalModel().engine()
    history: list[dict[str, str]] = [{"role": "system", "content": "Be brief."}]
    for i in range(120):
        history.append({"role": "user", "content": f"Question {i}: " + "tell me more " * 8})
        history.append({"role": "assistant", "content": "Here is more. " * 8})
    history.append({"role": "user", "content": "And finally?"})
    result = trim_messages(history, "local/smollm2", max_tokens=256)
    assert result.dropped_messages > 0
    assert result.prompt_tokens == engine.count_message_tokens(result.messages)
    assert result.prompt_tokens + 256 <= engine.n_ctx
    assert result.messages[0] == history[0]
    assert result.messages[-1] == history[-1]
    assert result.messages[1]["role"] == "user"
    # One more turn would not have fitted: trimming dropped no more than it had to.
    kept = len(result.messages)
    fuller = [history[0], *history[len(history) - kept - 1 :]]
    assert engine.count_message_tokens(fuller) + 256 > engine.n_ctx
