"""Every recorded provider stream (SSE bodies and chunk files), replayed byte for byte to the
sync and async clients.

The expected values come from ``_reference`` (a plain ``json.loads`` reading of each
``data:`` line) and, for the quirky recordings, from values written out by hand below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import chatlane
from chatlane.testing import FakeServer
from tests.conformance._reference import CHUNKS_DIR, SSE_DIR, file_id, listing
from tests.conformance._replay import (
    Observed,
    Recording,
    last_chunk_problems,
    replay_async,
    replay_sync,
    stream_problems,
)

SSE_FILES = listing(SSE_DIR, ".sse")
CHUNK_FILES = listing(CHUNKS_DIR, ".chunks.txt")
STREAM_FILES = SSE_FILES + CHUNK_FILES
SMALL = 10_000
"""Recordings up to this size are also served in 7-byte fragments."""


def _cases() -> list[object]:
    cases: list[object] = []
    for path in STREAM_FILES:
        cases.append(pytest.param(path, None, id=f"{file_id(path)}-whole"))
        if path.stat().st_size <= SMALL:
            cases.append(pytest.param(path, 7, id=f"{file_id(path)}-frag7"))
    return cases


def _clean_end(path: Path) -> bool:
    ref = Recording.load(path).reference()
    return ref.saw_done and ref.error is None


CASES = _cases()
DONE_FILES = [pytest.param(path, id=file_id(path)) for path in STREAM_FILES if _clean_end(path)]


def test_the_recordings_are_there() -> None:
    assert len(SSE_FILES) >= 36, f"peer data not found under {SSE_DIR}"
    assert len(CHUNK_FILES) >= 11, f"peer data not found under {CHUNKS_DIR}"


@pytest.mark.parametrize(("path", "fragment_size"), CASES)
def test_sync_stream_matches_reference(
    server: FakeServer, path: Path, fragment_size: int | None
) -> None:
    recording = Recording.load(path)
    observed = replay_sync(server, recording, fragment_size)
    assert stream_problems(observed, recording.reference()) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "fragment_size"), CASES)
async def test_async_stream_matches_reference(
    server: FakeServer, path: Path, fragment_size: int | None
) -> None:
    recording = Recording.load(path)
    observed = await replay_async(server, recording, fragment_size)
    assert stream_problems(observed, recording.reference()) == []


@pytest.mark.parametrize("path", DONE_FILES)
def test_sync_last_chunk_flag(server: FakeServer, path: Path) -> None:
    recording = Recording.load(path)
    observed = replay_sync(server, recording, None)
    assert last_chunk_problems(observed, recording.reference()) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("path", DONE_FILES)
async def test_async_last_chunk_flag(server: FakeServer, path: Path) -> None:
    recording = Recording.load(path)
    observed = await replay_async(server, recording, None)
    assert last_chunk_problems(observed, recording.reference()) == []


def test_the_reference_reads_what_the_readme_describes() -> None:
    """The reference merger itself, held against facts written out by hand."""
    ref = Recording.from_sse_file(SSE_DIR / "openai-tool-calls-parallel.sse").reference()
    assert [call[2] for call in ref.choices[0].tool_calls()] == [
        "GetWeatherArgs",
        "get_stock_price",
    ]
    ref = Recording.from_sse_file(
        SSE_DIR / "mistral-magistral-thinking-content-array.sse"
    ).reference()
    assert ref.choices[0].reasoning.startswith("Okay, the user is asking how to cross the street.")
    assert ref.usage == {"prompt_tokens": 10, "total_tokens": 242, "completion_tokens": 232}
    ref = Recording.from_sse_file(
        SSE_DIR / "groq-midstream-error-event-tool-use-failed.sse"
    ).reference()
    assert (ref.error_event, len(ref.payloads), ref.saw_done) == ("error", 94, False)


# --- Spot checks, one per quirk, with hand-written expectations -----------------------------


def _replay(server: FakeServer, name: str, fragment_size: int | None = None) -> Observed:
    return replay_sync(server, Recording.from_sse_file(SSE_DIR / name), fragment_size)


def _usage(observed: Observed) -> tuple[int, int, int, int, int]:
    assert observed.final is not None
    usage = observed.final.usage
    assert usage is not None
    return (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
        usage.cached_tokens,
        usage.reasoning_tokens,
    )


def test_deepseek_reasoning_content_and_usage_on_the_finish_chunk(server: FakeServer) -> None:
    observed = _replay(server, "deepseek-reasoner-reasoning-content.sse")
    assert observed.final is not None
    message = observed.final.choices[0].message
    assert message.reasoning_content is not None
    assert message.reasoning_content.startswith('Hmm, the user just said "Hello".')
    assert message.content == "Hello there! 😊 How can I help you today?"
    assert _usage(observed) == (6, 212, 218, 0, 198)
    last = observed.chunks[-1]
    assert [choice.finish_reason for choice in last.choices] == ["stop"]
    assert last.usage is not None
    assert last.usage.completion_tokens == 212
    assert all(chunk.choices for chunk in observed.chunks), "DeepSeek sends no usage-only chunk"
    assert sum(chunk.usage is not None for chunk in observed.chunks) == 1


def test_groq_whole_tool_call_in_one_delta_and_reasoning(server: FakeServer) -> None:
    observed = _replay(server, "groq-gpt-oss-reasoning-tool-call.sse")
    with_calls = [chunk for chunk in observed.chunks if chunk.choices[0].delta.tool_calls]
    assert len(with_calls) == 1
    assert observed.final is not None
    message = observed.final.choices[0].message
    assert message.reasoning is not None
    assert message.reasoning.startswith(
        'We need to call the function with correct parameter "name".'
    )
    assert message.tool_calls is not None
    [call] = message.tool_calls
    assert call.id == "fc_bfb39741-3748-4def-9886-a93fc9c64a90"
    assert call.function.name == "get_something_by_name"
    assert json.loads(call.function.arguments) == {"name": "example"}
    assert observed.final.choices[0].finish_reason == "tool_calls"
    assert _usage(observed) == (304, 49, 353, 0, 23)


@pytest.mark.parametrize("fragment_size", [None, 1])
def test_anthropic_gateway_tool_call_index_starting_at_one(
    server: FakeServer, fragment_size: int | None
) -> None:
    observed = _replay(server, "anthropic-via-compat-gateway-tool-call-index-1.sse", fragment_size)
    assert observed.final is not None
    [choice] = observed.final.choices
    assert choice.message.content == "Reading it."
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert (call.id, call.type, call.function.name) == ("toolu_sanitized", "function", "read_file")
    assert call.function.arguments == '{"path": "a.txt"}'
    assert choice.finish_reason == "tool_calls"
    assert observed.final.usage is None
    # The body ends "data: [DONE]\n" with no blank line after it.
    assert [chunk.is_last_chunk for chunk in observed.chunks] == [False] * 7 + [True]


def test_azure_empty_first_chunk(server: FakeServer) -> None:
    observed = _replay(server, "azure-gpt-5-mini-prompt-filter-first-chunk.sse")
    first = observed.chunks[0]
    assert first.choices == []
    assert first.delta_message() is None
    assert first.text == ""
    assert observed.final is not None
    assert observed.final.id == "chatcmpl-D3asyVWDmLbzG7V5KjAy3h3AKFaYD"
    assert observed.final.model == "gpt-5-mini-2025-08-07"
    assert observed.final.text == "4242"
    assert _usage(observed) == (15, 12, 27, 0, 0)
    assert len(observed.chunks) == 6


def _check_three_choices(observed: Observed) -> None:
    assert observed.final is not None
    choices = observed.final.choices
    assert [choice.index for choice in choices] == [0, 1, 2]
    assert [choice.finish_reason for choice in choices] == ["stop"] * 3
    temperatures = [json.loads(choice.message.content or "")["temperature"] for choice in choices]
    assert temperatures == [65, 61, 59]
    assert _usage(observed) == (79, 42, 121, 0, 0)


def test_n3_choices(server: FakeServer) -> None:
    _check_three_choices(_replay(server, "openai-content-n3-multiple-choices.sse"))


@pytest.mark.asyncio
async def test_n3_choices_async(server: FakeServer) -> None:
    recording = Recording.from_sse_file(SSE_DIR / "openai-content-n3-multiple-choices.sse")
    _check_three_choices(await replay_async(server, recording, 7))


def test_openai_parallel_tool_calls_keep_their_order(server: FakeServer) -> None:
    observed = _replay(server, "openai-tool-calls-parallel.sse")
    assert observed.final is not None
    calls = observed.final.choices[0].message.tool_calls or []
    assert [(call.id, call.function.name) for call in calls] == [
        ("call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs"),
        ("call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price"),
    ]
    assert [json.loads(call.function.arguments) for call in calls] == [
        {"city": "Edinburgh", "country": "GB", "units": "c"},
        {"ticker": "AAPL", "exchange": "NASDAQ"},
    ]


def test_together_null_ids_on_continuation_deltas(server: FakeServer) -> None:
    observed = _replay(server, "together-deepseek-v3.1-tool-calls.sse")
    assert observed.final is not None
    message = observed.final.choices[0].message
    assert (message.content or "").startswith("I'll help you retrieve secrets")
    calls = message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_8fb40ff4820f4e58b7058e95", "secret_retrieval_tool", '{"password": "mellon"}'),
        ("call_e9e2649998244b0f91551cf5", "secret_retrieval_tool", '{"password": "radiance"}'),
    ]
    assert _usage(observed) == (191, 60, 251, 0, 0)


def test_mistral_thinking_parts_become_reasoning(server: FakeServer) -> None:
    observed = _replay(server, "mistral-magistral-thinking-content-array.sse")
    assert observed.final is not None
    message = observed.final.choices[0].message
    assert (message.reasoning_content or message.reasoning or "").startswith(
        "Okay, the user is asking how to cross the street."
    )
    content = message.content or ""
    assert content.startswith("To cross the street safely, follow these steps:")
    assert content.endswith("you can ensure a safe crossing.")
    assert "thinking" not in content
    assert _usage(observed) == (10, 232, 242, 0, 0)


def test_openai_refusal_streamed_in_delta_refusal(server: FakeServer) -> None:
    observed = _replay(server, "openai-refusal.sse")
    assert observed.final is not None
    message = observed.final.choices[0].message
    assert message.refusal == "I'm sorry, I can't assist with that request."
    assert not message.content
    assert observed.final.choices[0].finish_reason == "stop"


def test_openai_logprobs_are_collected(server: FakeServer) -> None:
    observed = _replay(server, "openai-content-logprobs.sse")
    assert observed.final is not None
    logprobs = observed.final.choices[0].logprobs or {}
    assert [entry["token"] for entry in logprobs["content"]] == ["Foo", "!"]


def test_openai_without_include_usage_has_no_usage(server: FakeServer) -> None:
    observed = _replay(server, "openai-gpt-3.5-turbo-no-usage.sse")
    assert observed.final is not None
    assert observed.final.usage is None
    assert observed.final.text == "Six"
    assert observed.summary is not None
    assert observed.summary.usage_reported is False


def test_huggingface_usage_without_stream_options(server: FakeServer) -> None:
    observed = _replay(server, "huggingface-router-novita-usage-without-stream-options.sse")
    assert _usage(observed) == (40, 2, 42, 0, 0)
    assert observed.chunks[-1].choices == []


def test_openrouter_usage_rides_a_trailing_choice_chunk(server: FakeServer) -> None:
    observed = _replay(server, "openrouter-o3-usage-in-last-choice-chunk.sse")
    assert observed.final is not None
    assert observed.final.choices[0].finish_reason == "stop"
    assert _usage(observed) == (9, 104, 113, 0, 0)
    last = observed.chunks[-1]
    assert last.usage is not None
    assert [choice.finish_reason for choice in last.choices] == [None]


def test_openai_moderation_chunk_after_usage(server: FakeServer) -> None:
    observed = _replay(server, "openai-moderation-chunk.sse")
    assert [len(chunk.choices) for chunk in observed.chunks[-2:]] == [0, 0]
    assert observed.final is not None
    assert observed.final.text == "Paris."
    assert _usage(observed) == (13, 11, 24, 0, 0)


def test_snowflake_without_finish_reason_or_id(server: FakeServer) -> None:
    observed = _replay(server, "snowflake-cortex-empty-id.sse")
    assert observed.final is not None
    assert observed.final.text == "4"
    assert observed.final.choices[0].finish_reason is None
    assert observed.final.choices[0].message.refusal is None  # refusal "" means none
    assert _usage(observed) == (22, 5, 27, 0, 0)


def _check_groq_error(observed: Observed) -> None:
    assert len(observed.chunks) == 94
    error = observed.error
    assert error is not None
    assert error.message.startswith("Tool call validation failed: tool call validation failed:")
    assert error.code == "tool_use_failed"
    assert error.type == "invalid_request_error"
    assert error.status == 400


def test_groq_error_event_after_the_chunks(server: FakeServer) -> None:
    _check_groq_error(_replay(server, "groq-midstream-error-event-tool-use-failed.sse"))


@pytest.mark.asyncio
async def test_groq_error_event_after_the_chunks_async(server: FakeServer) -> None:
    recording = Recording.from_sse_file(SSE_DIR / "groq-midstream-error-event-tool-use-failed.sse")
    _check_groq_error(await replay_async(server, recording, None))


def _check_openrouter_error(observed: Observed) -> None:
    assert len(observed.chunks) == 3
    assert [chunk.choices[0].finish_reason for chunk in observed.chunks] == [
        None,
        "length",
        "length",
    ]
    error = observed.error
    assert error is not None
    assert error.message == "Token limit reached"
    assert error.code == 400


def test_openrouter_error_chunk_after_the_chunks(server: FakeServer) -> None:
    _check_openrouter_error(_replay(server, "openrouter-midstream-error-chunk.sse"))


def test_a_placeholder_key_does_not_mangle_the_stream_error(server: FakeServer) -> None:
    """Local servers accept any key, and short placeholders ("k") are common."""
    Recording.from_sse_file(SSE_DIR / "openrouter-midstream-error-chunk.sse").enqueue(server, None)
    with (
        chatlane.Client(base_url=server.url, api_key="k", max_retries=0) as client,
        client.stream(model="m", messages=[{"role": "user", "content": "hi"}]) as stream,
        pytest.raises(chatlane.StreamError) as caught,
    ):
        for _ in stream:
            pass
    assert caught.value.message == "Token limit reached"


@pytest.mark.asyncio
async def test_openrouter_error_chunk_after_the_chunks_async(server: FakeServer) -> None:
    recording = Recording.from_sse_file(SSE_DIR / "openrouter-midstream-error-chunk.sse")
    _check_openrouter_error(await replay_async(server, recording, 7))
