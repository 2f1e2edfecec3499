from __future__ import annotations

import json
from typing import Any

import pytest

from chatlane.core import errors
from chatlane.core.error_mapping import ErrorContext
from chatlane.core.stream import StreamDecoder
from chatlane.core.types import ChatCompletionChunk


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> bytes:
    body: dict[str, Any] = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
    }
    if delta is not None or finish is not None:
        body["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    else:
        body["choices"] = []
    body.update(top)
    return b"data: " + json.dumps(body).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


def run(pieces: list[tuple[bytes, float]]) -> tuple[StreamDecoder, list[ChatCompletionChunk]]:
    decoder = StreamDecoder(0.0, ErrorContext(provider="p", model="m"))
    out: list[ChatCompletionChunk] = []
    for data, now in pieces:
        out.extend(decoder.feed(data, now))
        if decoder.error:
            break
    if not decoder.done and not decoder.error:
        out.extend(decoder.finish(pieces[-1][1]))
    return decoder, out


def test_timing_fields_are_stamped_per_chunk() -> None:
    decoder, chunks = run(
        [
            (chunk({"role": "assistant", "content": ""}), 0.10),
            (chunk({"content": "Hel"}), 0.25),
            (chunk({"content": "lo"}), 0.45),
            (chunk({}, "stop") + chunk(usage=USAGE) + DONE, 0.50),
        ]
    )
    assert [round(c.total_latency, 2) for c in chunks] == [0.10, 0.25, 0.45, 0.50, 0.50]
    assert [round(c.chunk_latency, 2) for c in chunks] == [0.10, 0.15, 0.20, 0.05, 0.0]
    assert [c.is_last_chunk for c in chunks] == [False, False, False, False, True]
    summary = decoder.summary(0.5)
    assert summary.time_to_first_token == pytest.approx(0.25)
    assert summary.inter_chunk_max == pytest.approx(0.20)
    assert summary.completion_tokens == 3
    assert summary.usage_reported
    assert summary.tokens_per_second == pytest.approx(3 / 0.25)
    final = decoder.accumulator.completion()
    assert final.text == "Hello"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.total_tokens == 8


def test_finish_chunk_is_held_until_the_next_event_says_more_follows() -> None:
    decoder = StreamDecoder(0.0, ErrorContext())
    assert [c.text for c in decoder.feed(chunk({"content": "a"}), 0.1)] == ["a"]
    assert decoder.feed(chunk({}, "stop"), 0.2) == []  # held: it may be the last
    released = decoder.feed(chunk(usage=USAGE), 0.3)
    assert len(released) == 1
    assert released[0].is_last_chunk is False
    last = decoder.feed(DONE, 0.4)
    assert len(last) == 1
    assert last[0].is_last_chunk is True
    assert last[0].choices == []


def test_eof_without_done_after_finish_is_a_normal_end() -> None:
    decoder, chunks = run([(chunk({"content": "a"}), 0.1), (chunk({}, "length"), 0.2)])
    assert decoder.error is None
    assert chunks[-1].is_last_chunk


def test_eof_in_the_middle_is_an_interruption() -> None:
    decoder, chunks = run([(chunk({"content": "a"}), 0.1)])
    assert [c.text for c in chunks] == ["a"]
    assert isinstance(decoder.error, errors.StreamInterrupted)


def test_error_event_after_chunks() -> None:
    body = (
        chunk({"content": "a"})
        + b'event: error\ndata: {"error": {"message": "boom", "code": "x"}}\n\n'
    )
    decoder, chunks = run([(body, 0.1)])
    assert [c.text for c in chunks] == ["a"]
    assert isinstance(decoder.error, errors.StreamError)
    assert decoder.error.message == "boom"


def test_error_object_in_a_chunk_keeps_its_usage() -> None:
    body = chunk({"content": "a"}) + chunk(
        {"content": ""}, error={"code": 400, "message": "Token limit reached"}, usage=USAGE
    )
    decoder, _ = run([(body, 0.1)])
    assert isinstance(decoder.error, errors.StreamError)
    assert decoder.error.code == 400
    assert decoder.accumulator.usage is not None
    assert decoder.accumulator.usage.total_tokens == 8


def test_malformed_json_is_a_decode_error() -> None:
    decoder, _ = run([(b"data: {not json\n\n", 0.1)])
    assert isinstance(decoder.error, errors.ResponseDecodeError)
    assert decoder.error.provider == "p"


def test_mistral_content_arrays_become_text_and_reasoning() -> None:
    thinking = [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}]
    decoder, chunks = run(
        [(chunk({"content": thinking}) + chunk({"content": "Yes"}, "stop") + DONE, 0.1)]
    )
    message = decoder.accumulator.completion().choices[0].message
    assert message.content == "Yes"
    assert message.reasoning_content == "hmm"
    assert chunks[0].choices[0].delta.content == ""


def test_tool_calls_merge_by_index_and_by_id_without_index() -> None:
    body = (
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "a",
                        "type": "function",
                        "function": {"name": "f", "arguments": ""},
                    }
                ]
            }
        )
        + chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x":'}}]})
        + chunk(
            {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}
        )
        + chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]})
        + chunk({"tool_calls": [{"id": "c", "function": {"name": "h", "arguments": "{}"}}]})
        + chunk({}, "tool_calls")
        + DONE
    )
    decoder, _ = run([(body, 0.1)])
    calls = decoder.accumulator.completion().choices[0].message.tool_calls
    assert calls is not None
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("a", "f", '{"x": 1}'),
        ("b", "g", "{}"),
        ("c", "h", "{}"),
    ]
