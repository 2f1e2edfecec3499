"""The cache's own decoders and keys against any input: a stored entry that is damaged is
a miss (never an exception), and a key depends on what determines the answer only."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

import chatlane
from chatlane.cache.entries import decode_entry, encode_entry, replay_chunks
from chatlane.cache.keys import IGNORED, cache_key
from chatlane.core.accumulate import ChunkAccumulator

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.binary())
def test_any_bytes_decode_to_an_entry_or_a_miss(data: bytes) -> None:
    entry = decode_entry(data)
    assert entry is None or isinstance(entry, chatlane.ChatCompletion)


@given(st.binary())
def test_any_bytes_after_the_version_decode_to_an_entry_or_a_miss(data: bytes) -> None:
    entry = decode_entry(b"1" + data)
    assert entry is None or isinstance(entry, chatlane.ChatCompletion)


@given(
    st.text(),
    st.lists(st.text(min_size=1), max_size=3),
    st.sampled_from([None, "stop", "length", "tool_calls"]),
)
def test_an_entry_round_trips_and_replays_as_the_same_answer(
    text: str, arguments: list[str], finish: str | None
) -> None:
    calls = [
        chatlane.ToolCall(id=f"c{i}", function=chatlane.FunctionCall(name="f", arguments=a))
        for i, a in enumerate(arguments)
    ]
    message = chatlane.Message(content=text or None, tool_calls=calls or None)
    completion = chatlane.ChatCompletion(
        id="x",
        model="m",
        choices=[chatlane.Choice(message=message, finish_reason=finish)],
        usage=chatlane.Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7),
    )
    stored = decode_entry(encode_entry(completion))
    assert stored == completion
    # A body is kept as received; what it claims of the client-side fields is not taken.
    claims = msgspec.structs.replace(completion, cached=True, target="t", attempts=7, latency=2.5)
    assert decode_entry(encode_entry(completion, msgspec.json.encode(claims))) == completion
    accumulator = ChunkAccumulator()
    for chunk in replay_chunks(completion, usage=True):
        accumulator.add(chunk)
    replayed = accumulator.completion(latency=0.0, attempts=1)
    assert (replayed.choices[0].message.content or "") == (message.content or "")
    assert replayed.choices[0].message.tool_calls == message.tool_calls
    assert replayed.choices[0].finish_reason == finish
    assert replayed.usage == completion.usage


@given(st.dictionaries(st.text(), JSON, max_size=6), st.randoms())
def test_a_key_does_not_depend_on_the_order_of_fields(params: dict[str, Any], rng: Any) -> None:
    items = list(params.items())
    rng.shuffle(items)
    assert cache_key("p", "u", "m", params) == cache_key("p", "u", "m", dict(items))


@given(st.dictionaries(st.sampled_from(sorted(IGNORED)), JSON, max_size=4))
def test_ignored_fields_never_change_the_key(ignored: dict[str, Any]) -> None:
    base: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    assert cache_key("p", "u", "m", base) == cache_key("p", "u", "m", {**base, **ignored})


@given(JSON)
def test_any_answer_determining_field_changes_the_key(value: Any) -> None:
    base: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    with_seed = cache_key("p", "u", "m", {**base, "seed": value})
    if value is None:  # a field given as None is not sent: the same request
        assert with_seed == cache_key("p", "u", "m", base)
    else:
        assert with_seed != cache_key("p", "u", "m", base)
