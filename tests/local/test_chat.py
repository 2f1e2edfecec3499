"""Chat and streaming with the real model: shapes, budgets, stops, determinism, usage."""

from __future__ import annotations

from typing import Any

import pytest

from chatlane.local import LocalEngine
from tests.local.helpers import accumulate, user

pytestmark = pytest.mark.local_model

STORY = user("Write a long story about a dragon who learns to cook.")


def test_complete_shape(engine: LocalEngine) -> None:
    result = engine.complete({"model": "smollm2", "messages": user("Say hello."), "max_tokens": 12})
    assert result["object"] == "chat.completion"
    assert result["id"].startswith("chatcmpl-")
    assert isinstance(result["created"], int)
    assert result["model"] == engine.model_name == "smollm2"
    [choice] = result["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] in {"stop", "length"}
    message = choice["message"]
    assert message["role"] == "assistant"
    assert isinstance(message["content"], str)
    assert message["content"].strip()
    assert "tool_calls" not in message
    usage = result["usage"]
    assert usage["prompt_tokens"] == engine.count_message_tokens(user("Say hello."))
    assert 0 < usage["completion_tokens"] <= 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_stream_shape_without_usage(engine: LocalEngine) -> None:
    chunks = list(engine.stream({"messages": user("Name three colors."), "max_tokens": 16}))
    first, *middle, last = chunks
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert middle, "expected content deltas"
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["id"] == first["id"]
        assert "usage" not in chunk
    for chunk in middle:
        [choice] = chunk["choices"]
        assert set(choice["delta"]) == {"content"}
        assert choice["delta"]["content"]
        assert choice["finish_reason"] is None
    assert last["choices"][0]["delta"] == {}
    assert last["choices"][0]["finish_reason"] in {"stop", "length"}


def test_stream_usage_chunk_matches_the_text(engine: LocalEngine) -> None:
    messages = user("Describe the moon in two sentences.")
    request: dict[str, Any] = {
        "messages": messages,
        "max_tokens": 40,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    chunks = list(engine.stream(request))
    *body, usage_chunk = chunks
    assert usage_chunk["choices"] == []
    assert all(chunk["usage"] is None for chunk in body)
    content, calls, finish = accumulate(body)
    assert not calls
    assert finish in {"stop", "length"}
    usage = usage_chunk["usage"]
    assert usage["prompt_tokens"] == engine.count_message_tokens(messages)
    # Re-tokenizing generated text can merge a token pair differently; never by much.
    assert abs(usage["completion_tokens"] - engine.count_tokens(content)) <= 2
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_max_tokens_gives_length(engine: LocalEngine) -> None:
    for field in ("max_tokens", "max_completion_tokens"):
        result = engine.complete({"messages": STORY, field: 7, "temperature": 0})
        assert result["choices"][0]["finish_reason"] == "length"
        assert result["usage"]["completion_tokens"] == 7
    chunks = list(
        engine.stream(
            {"messages": STORY, "max_tokens": 5, "stream_options": {"include_usage": True}}
        )
    )
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 5


def test_stop_sequences_cut_the_text(engine: LocalEngine) -> None:
    base = {"messages": STORY, "max_tokens": 40, "temperature": 0}
    full = engine.complete(base)["choices"][0]["message"]["content"]
    words = full.split()
    stop = " " + words[len(words) // 2]  # a sequence the greedy text is known to contain
    expected = full[: full.index(stop)]
    for stops in (stop, [stop, "never-appears"]):
        result = engine.complete({**base, "stop": stops})
        assert result["choices"][0]["finish_reason"] == "stop"
        assert result["choices"][0]["message"]["content"] == expected
        content, _, finish = accumulate(list(engine.stream({**base, "stop": stops})))
        assert (content, finish) == (expected, "stop")


def test_temperature_zero_is_deterministic(engine: LocalEngine) -> None:
    request = {"messages": user("Give me a fun fact about owls."), "max_tokens": 24}
    runs = [engine.complete({**request, "temperature": 0}) for _ in range(2)]
    texts = [run["choices"][0]["message"]["content"] for run in runs]
    assert texts[0] == texts[1]
    streamed, _, _ = accumulate(list(engine.stream({**request, "temperature": 0})))
    assert streamed == texts[0]


def test_seed_is_reproducible(engine: LocalEngine) -> None:
    request = {"messages": STORY, "max_tokens": 24, "temperature": 1.0, "seed": 1234}
    first, second = (engine.complete(request) for _ in range(2))
    assert first["choices"][0]["message"] == second["choices"][0]["message"]


def test_text_parts_roles_and_penalties(engine: LocalEngine) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "system", "content": [{"type": "text", "text": "Be kind."}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hi!"}, {"type": "text", "text": "Who are you?"}],
        },
        {"role": "assistant", "content": "I am a small model."},
        {"role": "user", "content": "What can you do?", "name": "ana"},
    ]
    result = engine.complete(
        {
            "messages": messages,
            "max_tokens": 10,
            "top_p": 0.5,
            "presence_penalty": 0.5,
            "frequency_penalty": 0.5,
            "n": 1,
            "user": "someone",
            "logprobs": False,
            "response_format": {"type": "text"},
            "tool_choice": "none",
        }
    )
    assert result["choices"][0]["message"]["content"]
    assert result["usage"]["prompt_tokens"] == engine.count_message_tokens(messages)


def test_count_tokens(engine: LocalEngine) -> None:
    assert engine.count_tokens("") == 0
    assert engine.count_tokens("hello") >= 1
    assert engine.count_tokens("hello world, hello world") > engine.count_tokens("hello world")


def test_counting_before_load_uses_only_the_vocabulary() -> None:
    fresh = LocalEngine()
    before = fresh.load_seconds
    assert before is None
    assert fresh.count_tokens("hello world") >= 2
    assert fresh.count_message_tokens(user("hi")) > 2
    after_counting = fresh.load_seconds
    assert after_counting is None  # the weights were not needed
    seconds = fresh.load()
    assert seconds > 0
    assert fresh.load_seconds == seconds
    assert fresh.load() == seconds  # loads once
    assert fresh.count_tokens("hello world") >= 2
