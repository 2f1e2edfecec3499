"""Whatever a server sends, the decoders give a correct parse or a chatlane error: never a
raw exception from msgspec, Python's codecs or the recursion limit."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatlane.core import errors
from chatlane.core.chunks import decode_chunk, decode_completion
from chatlane.core.error_mapping import ErrorContext, api_error
from chatlane.core.sse import SSEDecoder
from chatlane.core.stream import StreamDecoder
from chatlane.core.types import ChatCompletion, ChatCompletionChunk

# Keys of the wire format, so generated values often have the right names and wrong types.
KEYS = st.sampled_from(
    [
        "id", "object", "created", "model", "choices", "index", "message", "delta", "role",
        "content", "refusal", "reasoning_content", "tool_calls", "function", "name",
        "arguments", "type", "finish_reason", "usage", "prompt_tokens", "completion_tokens",
        "total_tokens", "error", "code", "param", "logprobs",
    ]
)  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
JSONISH: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=25,
)
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


def encoded(value: Any) -> bytes:
    # allow_nan: NaN and Infinity are what a broken server writes; they are not JSON.
    return json.dumps(value, allow_nan=True).encode()


def mutated(data: bytes, cut: int, junk: bytes) -> bytes:
    """``data`` cut somewhere and followed by junk: a corrupt body."""
    return data[: cut % (len(data) + 1)] + junk


@PROPERTY
@given(JSONISH)
def test_any_json_value_is_a_completion_or_a_decode_error(value: Any) -> None:
    with contextlib.suppress(errors.ResponseDecodeError):
        assert isinstance(decode_completion(encoded(value)), ChatCompletion)
    with contextlib.suppress(errors.ResponseDecodeError):
        assert isinstance(decode_chunk(encoded(value)), ChatCompletionChunk)


# What a body could claim of the client-side fields, each of a type they take.
CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        "cached": st.booleans(),
        "target": st.none() | st.text(max_size=8),
        "attempts": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "latency": st.floats(allow_nan=False, allow_infinity=False),
    },
)


@PROPERTY
@given(CLAIMS)
def test_a_body_never_sets_the_client_side_fields(claims: dict[str, Any]) -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]}
    completion = decode_completion(encoded({**body, **claims}))
    assert (completion.cached, completion.target) == (False, None)
    assert (completion.attempts, completion.latency) == (1, 0.0)
    assert completion.text == "ok"


INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
USAGES = st.fixed_dictionaries(
    {},
    optional={
        "prompt_tokens": INT64,
        "completion_tokens": INT64,
        "total_tokens": INT64,
        "prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": INT64}),
        "completion_tokens_details": st.fixed_dictionaries({"reasoning_tokens": INT64}),
        "prompt_cache_hit_tokens": INT64,
    },
)


@PROPERTY
@given(USAGES)
def test_no_reader_meets_a_negative_token_count(usage: dict[str, Any]) -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]}
    decoder = StreamDecoder(0.0, ErrorContext(provider="p", model="m"))
    decoder.feed(b"data: " + encoded({"choices": [], "usage": usage}) + b"\n\n", 1.0)
    decoder.finish(1.1)
    streamed = decoder.accumulator.completion(latency=1.0, attempts=1).usage
    for decoded in (decode_completion(encoded({**body, "usage": usage})).usage, streamed):
        assert decoded is not None
        counts = (decoded.prompt_tokens, decoded.completion_tokens, decoded.total_tokens)
        assert min(*counts, decoded.cached_tokens, decoded.reasoning_tokens) >= 0
        for name, value in zip(
            ("prompt_tokens", "completion_tokens", "total_tokens"), counts, strict=True
        ):
            assert value == max(usage.get(name, 0), 0)


@PROPERTY
@given(JSONISH, st.integers(min_value=0), st.binary(max_size=8))
def test_wrongly_typed_then_malformed_json_is_a_decode_error(
    value: Any, cut: int, junk: bytes
) -> None:
    body = mutated(encoded(value), cut, junk)
    for decode in (decode_completion, decode_chunk):
        with contextlib.suppress(errors.ResponseDecodeError):
            decode(body)


@PROPERTY
@given(st.binary(max_size=300))
def test_any_bytes_are_a_completion_or_a_decode_error(body: bytes) -> None:
    with contextlib.suppress(errors.ResponseDecodeError):
        decode_completion(body)


@PROPERTY
@given(st.integers(min_value=400, max_value=599), JSONISH | st.binary(max_size=200))
def test_any_error_body_is_a_typed_api_error(status: int, value: Any) -> None:
    body = value if isinstance(value, bytes) else encoded(value)
    error = api_error(status, {}, body, ErrorContext(provider="p", model="m"))
    assert isinstance(error, errors.APIError)
    assert error.status == status
    assert isinstance(error.message, str)


@PROPERTY
@given(st.lists(st.binary(max_size=40) | JSONISH.map(lambda v: b"data: " + encoded(v) + b"\n\n")))
def test_any_stream_bytes_give_chunks_or_a_chatlane_error(pieces: list[bytes]) -> None:
    decoder = StreamDecoder(0.0, ErrorContext(provider="p", model="m"))
    now = 1.0
    for piece in pieces:
        now += 0.01
        for chunk in decoder.feed(piece, now):
            assert isinstance(chunk, ChatCompletionChunk)
        if decoder.error is not None or decoder.done:
            break
    else:
        decoder.finish(now + 0.01)
    assert decoder.error is None or isinstance(decoder.error, errors.ChatlaneError)
    assert isinstance(decoder.accumulator.completion(latency=1.0, attempts=1), ChatCompletion)


def test_deeply_nested_json_is_a_decode_error_not_a_recursion_error() -> None:
    nested = b"[" * 50_000 + b"]" * 50_000
    for body in (nested, b'{"choices": [{"message": ' + nested + b"}]}"):
        with pytest.raises(errors.ResponseDecodeError, match=r"nested too deeply|malformed"):
            decode_completion(body)
    error = api_error(500, {}, b'{"error": ' + nested + b"}", ErrorContext())
    assert isinstance(error, errors.InternalServerError)
    decoder = StreamDecoder(0.0, ErrorContext())
    decoder.feed(b"data: " + nested + b"\n\n", 1.0)
    assert isinstance(decoder.error, errors.ChatlaneError)


SSE_TEXT = st.lists(
    st.sampled_from(
        [b"data: ", b"data:", b"event: error", b": comment", b"id: 7", b'{"a": 1}', b"x" * 50]
    )
    | st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n", b"\r\n\r\n"]),
    max_size=30,
).map(b"".join)


@PROPERTY
@given(SSE_TEXT, st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_sse_events_do_not_depend_on_how_the_bytes_are_split(text: bytes, cuts: list[int]) -> None:
    whole = SSEDecoder()
    expected = whole.feed(text) + whole.flush()
    split = SSEDecoder()
    events = []
    start = 0
    for cut in sorted(cut % (len(text) + 1) for cut in cuts):
        events += split.feed(text[start:cut])
        start = cut
    events += split.feed(text[start:]) + split.flush()
    assert events == expected


def test_a_line_longer_than_the_limit_is_a_decode_error() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    decoder.feed(b"data: ")
    for _ in range(9):
        assert decoder.feed(b"x" * 100) == []
    with pytest.raises(errors.ResponseDecodeError, match="max_event_bytes"):
        decoder.feed(b"x" * 100)
    events = SSEDecoder(max_event_bytes=1000).feed(b"data: " + b"y" * 900 + b"\n\n")
    assert len(events[0].data) == 900


def test_an_event_of_many_lines_over_the_limit_is_a_decode_error() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    line = b"data: " + b"z" * 400 + b"\n"
    assert decoder.feed(b"data: first\n\n" + line * 3)[0].data == b"first"
    assert isinstance(decoder.error, errors.ResponseDecodeError)
    with pytest.raises(errors.ResponseDecodeError, match="max_event_bytes"):
        decoder.feed(b"\n")


def test_a_stream_with_an_oversized_event_ends_with_a_decode_error() -> None:
    decoder = StreamDecoder(0.0, ErrorContext(provider="p", model="m"))
    good = b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}\n\n'
    chunks = decoder.feed(good + b"data: " + b"q" * (9 * 1024 * 1024), 1.0)
    assert [chunk.text for chunk in chunks] == ["a"]
    assert isinstance(decoder.error, errors.ResponseDecodeError)
    assert decoder.error.provider == "p"
