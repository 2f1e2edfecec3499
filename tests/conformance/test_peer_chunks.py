"""Recorded chunk captures (one JSON chunk per line), framed as SSE and replayed.

The captures carry no framing and no ``[DONE]``; each line becomes ``data: <line>`` followed
by a blank line, and ``data: [DONE]`` ends the stream.
"""

from __future__ import annotations

import json

from chatlane.testing import FakeServer
from tests.conformance._reference import CHUNKS_DIR, listing
from tests.conformance._replay import (
    Observed,
    Recording,
    replay_sync,
)

CHUNK_FILES = listing(CHUNKS_DIR, ".chunks.txt")


def test_framing_adds_one_event_per_line_and_done() -> None:
    path = CHUNKS_DIR / "mistral-tool-call-single-chunk-no-index.chunks.txt"
    body = Recording.from_chunks_file(path).body
    assert body.count(b"data: ") == 3
    assert body.endswith(b"\n\ndata: [DONE]\n\n")


# --- Spot checks, with hand-written expectations --------------------------------------------


def _replay(server: FakeServer, name: str) -> Observed:
    return replay_sync(server, Recording.from_chunks_file(CHUNKS_DIR / name), None)


def _calls(observed: Observed) -> list[tuple[str, str, str, str]]:
    assert observed.final is not None
    return [
        (call.id, call.type, call.function.name, call.function.arguments)
        for call in observed.final.choices[0].message.tool_calls or []
    ]


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


def test_mistral_tool_call_without_index_or_type(server: FakeServer) -> None:
    observed = _replay(server, "mistral-tool-call-single-chunk-no-index.chunks.txt")
    assert _calls(observed) == [
        ("gSIMJiOkT", "function", "weather", '{"location": "San Francisco"}')
    ]
    assert observed.final is not None
    assert observed.final.choices[0].finish_reason == "tool_calls"
    assert _usage(observed) == (124, 22, 146, 0, 0)


def test_mistral_glm_empty_name_on_continuation(server: FakeServer) -> None:
    observed = _replay(server, "mistral-api-glm-incremental-tool-call.chunks.txt")
    assert _calls(observed) == [
        (
            "chatcmpl-tool-9f149c74c42f265b",
            "function",
            "webSearchTool",
            '{"query": "current Berlin weather"}',
        )
    ]
    assert _usage(observed) == (171, 14, 185, 128, 0)


def test_mistral_reasoning_content_array(server: FakeServer) -> None:
    observed = _replay(server, "mistral-magistral-reasoning-content-array.chunks.txt")
    assert observed.final is not None
    message = observed.final.choices[0].message
    assert (message.reasoning_content or message.reasoning) == (
        "The user is asking for 2+2. This is basic arithmetic. 2+2=4."
    )
    assert message.content == "2 + 2 = 4"


def test_alibaba_empty_ids_on_continuation(server: FakeServer) -> None:
    observed = _replay(server, "alibaba-qwen3-max-tool-call.chunks.txt")
    assert _calls(observed) == [
        ("call_eee11723464a4b9eb8cee71d", "function", "weather", '{"location": "San Francisco"}')
    ]
    assert _usage(observed) == (295, 22, 317, 0, 0)


def test_groq_whole_call_in_one_delta(server: FakeServer) -> None:
    observed = _replay(server, "groq-llama-3.3-tool-call-x-groq.chunks.txt")
    assert _calls(observed) == [("tk85n1k4m", "function", "weather", "{}")]
    assert _usage(observed) == (210, 15, 225, 0, 0)


def test_deepseek_tool_call_with_cache_hits(server: FakeServer) -> None:
    observed = _replay(server, "deepseek-reasoner-tool-call.chunks.txt")
    [(call_id, _, name, arguments)] = _calls(observed)
    assert (call_id, name) == ("call_00_ioIn7yN9p1ZOMNpDLwd4MgAF", "weather")
    assert json.loads(arguments) == {"location": "San Francisco"}
    assert _usage(observed) == (339, 83, 422, 320, 39)


def test_perplexity_cumulative_usage_last_wins(server: FakeServer) -> None:
    observed = _replay(server, "perplexity-sonar-citations.chunks.txt")
    assert all(chunk.usage is not None for chunk in observed.chunks)
    assert _usage(observed) == (10, 336, 346, 0, 0)
    assert observed.final is not None
    assert observed.final.choices[0].finish_reason == "stop"


def test_xai_total_counts_reasoning_separately(server: FakeServer) -> None:
    observed = _replay(server, "xai-grok-3-mini-reasoning-tool-call.chunks.txt")
    assert _usage(observed) == (291, 26, 513, 290, 196)
    assert _calls(observed) == [
        ("call_55117580", "function", "weather", '{"location":"San Francisco"}')
    ]
    assert observed.final is not None
    assert observed.final.choices[0].message.reasoning_content == "First, the user is"


def test_azure_model_router_first_chunk_without_choices(server: FakeServer) -> None:
    observed = _replay(server, "azure-model-router-gpt-5-nano-content-filter.chunks.txt")
    assert observed.chunks[0].choices == []
    assert observed.final is not None
    assert observed.final.id == "chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt"
    assert observed.final.text == "Capital of Denmark."
    assert _usage(observed) == (15, 78, 93, 0, 64)
