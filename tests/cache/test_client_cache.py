"""The client's response cache over real HTTP to the fake server, sync and async: what is
cached, what never is, streams replayed, single flight, and stores shared across clients."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import msgspec
import pytest

import chatlane
import chatlane.middleware
from chatlane.cache.memory import MemoryStore
from chatlane.cache.redis_store import RedisStore
from chatlane.cache.sqlite import SqliteStore
from chatlane.testing import Completion, ErrorReply, FakeServer, RawResponse, ToolCallSpec
from tests.client.conftest import MakeDriver
from tests.conftest import FAST_RETRY, in_threads

HI = [{"role": "user", "content": "Hi"}]
ZERO: dict[str, Any] = {"model": "m", "messages": HI, "temperature": 0}


def test_a_deterministic_answer_is_served_from_the_cache(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    cache = chatlane.Cache()
    server.enqueue(Completion(content="first"), Completion(content="second"))
    first = make_driver(cache=cache).chat(**ZERO)
    again = make_driver(cache=cache).chat(**ZERO)
    assert (first.text, first.cached, first.attempts) == ("first", False, 1)
    assert (again.text, again.cached, again.attempts) == ("first", True, 0)
    assert again.usage == first.usage
    assert len(server.chat_requests) == 1


def test_an_answer_is_kept_as_received_and_decoded_as_such_on_a_hit(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    # Mistral's content parts (a thinking part, then text) take the lenient decoder; the
    # body also claims the client-side fields, which no reply takes from a body.
    body = (
        b'{"id": "r", "model": "mistral-medium", "choices": [{"index": 0, "message":'
        b' {"role": "assistant", "content": [{"type": "thinking", "thinking":'
        b' [{"type": "text", "text": "hmm"}]}, {"type": "text", "text": "42"}]},'
        b' "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2,'
        b' "total_tokens": 5}, "cached": true, "target": "evil/x", "attempts": 9}'
    )
    cache = chatlane.Cache()
    server.enqueue(RawResponse(body=body, content_type="application/json"))
    first = make_driver(cache=cache).chat(**ZERO)
    again = make_driver(cache=cache).chat(**ZERO)
    assert (first.text, first.cached, first.target, first.attempts) == ("42", False, None, 1)
    assert (again.text, again.cached, again.target, again.attempts) == ("42", True, None, 0)
    assert again.choices[0].message.reasoning_content == "hmm"
    assert again.usage == first.usage
    assert len(server.chat_requests) == 1


def test_an_answer_from_a_fallback_client_is_cached(server: FakeServer) -> None:
    # The backup client decodes its own body: the cache encodes the answer it was handed.
    server.enqueue(*[ErrorReply(503)] * 3)
    with FakeServer() as other:
        other.enqueue(Completion(content="from the backup"))
        with (
            chatlane.Client(base_url=other.url) as backup,
            chatlane.Client(
                base_url=server.url, retry=FAST_RETRY, fallbacks=[backup], cache=True
            ) as client,
        ):
            first = client.chat(**ZERO)
            again = client.chat(**ZERO)
        assert len(other.chat_requests) == 1
    assert (first.text, first.cached) == ("from the backup", False)
    assert (again.text, again.cached, again.usage) == ("from the backup", True, first.usage)
    assert len(server.chat_requests) == 3


@pytest.mark.parametrize(
    ("params", "cached"),
    [
        ({}, False),  # the provider's default temperature samples
        ({"temperature": 0.7}, False),
        ({"temperature": 0.7, "seed": 7}, True),
        ({"temperature": 0.7, "cache": True}, True),
        ({"temperature": 0, "cache": False}, False),
    ],
)
def test_what_is_cached_by_default(
    params: dict[str, Any], cached: bool, make_driver: MakeDriver, server: FakeServer
) -> None:
    cache = chatlane.Cache()
    server.enqueue(Completion(content="a"), Completion(content="b"))
    call = {"model": "m", "messages": HI, **params}
    make_driver(cache=cache).chat(**call)
    assert make_driver(cache=cache).chat(**call).cached is cached
    assert len(server.chat_requests) == (1 if cached else 2)


def test_sampled_answers_are_cached_when_the_cache_says_so(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    cache = chatlane.Cache(sampled=True)
    server.enqueue(Completion(content="a"))
    make_driver(cache=cache).chat(model="m", messages=HI)
    assert make_driver(cache=cache).chat(model="m", messages=HI).text == "a"


def test_the_key_is_what_determines_the_answer(make_driver: MakeDriver, server: FakeServer) -> None:
    cache = chatlane.Cache()
    server.enqueue(*[Completion(content=str(n)) for n in range(4)])
    make_driver(cache=cache).chat(**ZERO, user="alice", extra_headers={"x-trace": "1"})
    same = make_driver(cache=cache).chat(**ZERO, user="bob", extra_headers={"x-trace": "2"})
    other_prompt = make_driver(cache=cache).chat(**{**ZERO, "messages": [*HI, *HI]})
    other_cap = make_driver(cache=cache).chat(**ZERO, max_tokens=5)
    assert same.cached
    assert not other_prompt.cached
    assert not other_cap.cached
    assert len(server.chat_requests) == 3


def test_errors_are_never_cached(make_driver: MakeDriver, server: FakeServer) -> None:
    cache = chatlane.Cache()
    server.enqueue(ErrorReply(400), Completion(content="ok"))
    with pytest.raises(chatlane.BadRequestError):
        make_driver(cache=cache).chat(**ZERO)
    assert make_driver(cache=cache).chat(**ZERO).text == "ok"
    assert len(server.chat_requests) == 2


@pytest.mark.parametrize("truncated", [False, True])
def test_cut_off_answers_are_cached_only_when_asked(
    truncated: bool, make_driver: MakeDriver, server: FakeServer
) -> None:
    cache = chatlane.Cache(truncated=truncated)
    server.enqueue(Completion(content="cut", finish_reason="length"), Completion(content="whole"))
    make_driver(cache=cache).chat(**ZERO)
    assert make_driver(cache=cache).chat(**ZERO).cached is truncated


def test_an_answer_that_ended_in_an_error_is_never_cached(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    cache = chatlane.Cache(truncated=True)
    server.enqueue(Completion(content="partial answ", finish_reason="error"))
    server.enqueue(Completion(content="good"))
    assert make_driver(cache=cache).chat(**ZERO).text == "partial answ"
    again = make_driver(cache=cache).chat(**ZERO)
    assert (again.text, again.cached) == ("good", False)


def test_a_replayed_stream_has_the_usage_chunk_chatlane_asked_for(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    # no stream_options from the caller: chatlane asks for usage itself, so the live stream
    # ends with a usage chunk, and its replay must too
    cache = chatlane.Cache()
    server.enqueue(Completion(content="counted"))
    live = make_driver(cache=cache).stream(**ZERO)
    replayed = make_driver(cache=cache).stream(**ZERO)
    assert replayed.final is not None
    assert live.final is not None
    assert replayed.final.cached
    assert replayed.final.usage == live.final.usage
    assert live.final.usage is not None
    assert [c.usage is not None for c in replayed.chunks] == [
        c.usage is not None for c in live.chunks
    ]
    unasked = make_driver(cache=cache).stream(**ZERO, stream_options={"include_usage": False})
    assert unasked.final is not None
    assert unasked.final.cached
    assert all(c.usage is None for c in unasked.chunks)


def test_a_replayed_stream_carries_the_answers_logprobs(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    logprobs = {"content": [{"token": "Yes", "logprob": -0.01, "bytes": [89, 101, 115]}]}
    body = msgspec.json.encode(
        {
            "id": "r1",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Yes"},
                    "finish_reason": "stop",
                    "logprobs": logprobs,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )
    cache = chatlane.Cache()
    server.enqueue(RawResponse(body=body, content_type="application/json"))
    whole = make_driver(cache=cache).chat(**ZERO, logprobs=True)
    replayed = make_driver(cache=cache).stream(**ZERO, logprobs=True)
    assert replayed.final is not None
    assert replayed.final.cached
    assert whole.choices[0].logprobs == logprobs
    assert replayed.final.choices[0].logprobs == logprobs


class Redact(chatlane.middleware.Middleware):
    """A caller's piece that edits answers in place."""

    def around_request(self, call: Any, proceed: Any) -> Any:
        completion = yield from proceed(call)
        for choice in completion.choices:
            choice.message.content = choice.message.content.replace("4111", "[card]")
        return completion


def test_a_hit_is_the_answer_the_callers_middleware_made(server: FakeServer) -> None:
    server.enqueue(Completion(content="card 4111 noted"))
    with chatlane.Client(base_url=server.url, cache=True, middleware=[Redact()]) as client:
        miss, hit = client.chat(**ZERO), client.chat(**ZERO)
    assert (miss.text, miss.cached) == ("card [card] noted", False)
    assert (hit.text, hit.cached) == ("card [card] noted", True)


def test_a_stream_is_replayed_from_the_cache(make_driver: MakeDriver, server: FakeServer) -> None:
    cache = chatlane.Cache()
    server.enqueue(Completion(content="hello there, friend"))
    options: dict[str, Any] = {"stream_options": {"include_usage": True}}
    first = make_driver(cache=cache).stream(**ZERO, **options)
    again = make_driver(cache=cache).stream(**ZERO, **options)
    assert first.error is None
    assert again.error is None
    assert again.final is not None
    assert first.final is not None
    assert "".join(c.text for c in again.chunks) == "hello there, friend"
    assert (again.final.text, again.final.cached) == ("hello there, friend", True)
    assert again.final.usage == first.final.usage
    assert again.summary is not None
    assert again.summary.cached
    assert first.summary is not None
    assert not first.summary.cached
    assert again.chunks[-1].is_last_chunk
    assert [c.usage is not None for c in again.chunks][-1]
    assert len(server.chat_requests) == 1


def test_a_whole_answer_serves_a_stream_and_tool_calls_are_replayed(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    cache = chatlane.Cache()
    call = ToolCallSpec("lookup", {"city": "Oslo"}, "call_7")
    server.enqueue(Completion(content=None, tool_calls=[call]))
    whole = make_driver(cache=cache).chat(**ZERO)
    streamed = make_driver(cache=cache).stream(**ZERO)
    assert streamed.final is not None
    assert streamed.final.cached
    message, original = streamed.final.assistant_message(), whole.assistant_message()
    assert message is not None
    assert original is not None
    assert message.tool_calls == original.tool_calls
    assert streamed.final.choices[0].finish_reason == "tool_calls"
    # the usage chunk at the end has no choices, as a live stream's
    deltas = [
        d for c in streamed.chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])
    ]
    assert deltas[0].type == "function"
    assert deltas[0].id == "call_7"


def test_an_abandoned_stream_is_not_cached(make_driver: MakeDriver, server: FakeServer) -> None:
    cache = chatlane.Cache()
    server.enqueue(Completion(content="one two three four five", chunk_delay=0.01))
    server.enqueue(Completion(content="again"))
    make_driver(cache=cache).stream(stop_after=2, **ZERO)
    assert not make_driver(cache=cache).chat(**ZERO).cached


def test_identical_concurrent_calls_make_one_upstream_call(server: FakeServer) -> None:
    cache = chatlane.Cache()
    server.enqueue(Completion(content="shared", delay=0.3))
    with chatlane.Client(base_url=server.url, cache=cache, retry=FAST_RETRY) as client:
        replies = in_threads(8, lambda: client.chat(**ZERO))
    assert [reply.text for reply in replies] == ["shared"] * 8
    assert sum(not reply.cached for reply in replies) == 1
    assert len(server.chat_requests) == 1


@pytest.mark.asyncio
async def test_identical_concurrent_tasks_make_one_upstream_call(server: FakeServer) -> None:
    cache = chatlane.Cache()
    server.enqueue(Completion(content="shared", delay=0.3))
    async with chatlane.AsyncClient(base_url=server.url, cache=cache) as client:
        replies = await asyncio.gather(*[client.chat(**ZERO) for _ in range(8)])
    assert [reply.text for reply in replies] == ["shared"] * 8
    assert len(server.chat_requests) == 1


@pytest.mark.asyncio
async def test_when_the_leader_fails_the_others_call_for_themselves(server: FakeServer) -> None:
    cache = chatlane.Cache()
    server.enqueue(ErrorReply(400, delay=0.2), *[Completion(content="ok")] * 3)
    async with chatlane.AsyncClient(base_url=server.url, cache=cache, max_retries=0) as client:
        results = await asyncio.gather(
            *[client.chat(**ZERO) for _ in range(3)], return_exceptions=True
        )
    assert sum(isinstance(r, chatlane.BadRequestError) for r in results) == 1
    texts = [r.text for r in results if isinstance(r, chatlane.ChatCompletion)]
    assert texts == ["ok", "ok"]


def test_a_sqlite_cache_outlives_its_client(tmp_path: Path, server: FakeServer) -> None:
    server.enqueue(Completion(content="kept"))
    path = tmp_path / "answers.sqlite"
    with chatlane.Client(base_url=server.url, cache=SqliteStore(path)) as client:
        client.chat(**ZERO)
    with chatlane.Client(base_url=server.url, cache=SqliteStore(path)) as client:
        reply = client.chat(**ZERO)
    assert (reply.text, reply.cached) == ("kept", True)


@pytest.mark.redis
def test_a_redis_cache_is_shared_by_clients(redis_url: str, server: FakeServer) -> None:
    server.enqueue(Completion(content="shared"))
    with chatlane.Client(base_url=server.url, cache=RedisStore(redis_url)) as client:
        client.chat(**ZERO)
    with chatlane.Client(base_url=server.url, cache=RedisStore(redis_url)) as client:
        assert client.chat(**ZERO).cached


def test_a_cache_that_is_down_is_a_miss_not_a_failure(
    tmp_path: Path, server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.enqueue(Completion(content="a"), Completion(content="b"))
    down = RedisStore(f"unix://{tmp_path / 'nobody.sock'}")
    with (
        caplog.at_level(logging.WARNING, logger="chatlane.cache"),
        chatlane.Client(base_url=server.url, cache=down) as client,
    ):
        assert client.chat(**ZERO).text == "a"
        assert client.chat(**ZERO).text == "b"
    warnings = [r for r in caplog.records if r.name == "chatlane.cache"]
    assert len(warnings) == 1


def test_a_cache_is_configured_clearly() -> None:
    with pytest.raises(chatlane.ConfigurationError, match="cache"):
        chatlane.Client(base_url="http://127.0.0.1:9/v1", cache="yes")  # type: ignore[arg-type]
    # refused when configured, not by the store after a paid call
    for ttl in (-1, 0, float("inf"), float("nan"), 1e308, 10**400, True):
        with pytest.raises(chatlane.ConfigurationError, match=r"Cache\.ttl"):
            chatlane.Cache(ttl=ttl)
    with pytest.raises(chatlane.UsageError, match="ttl"):
        MemoryStore(ttl=10**400)
    with pytest.raises(chatlane.UsageError, match="ttl"):
        RedisStore("redis://127.0.0.1:9", ttl=1e308)  # Redis counts milliseconds in 64 bits
    with pytest.raises(chatlane.RequestValidationError, match="cache"):
        chatlane.Client(base_url="http://127.0.0.1:9/v1").chat(**ZERO, cache="no")  # type: ignore[arg-type]
    assert isinstance(chatlane.Cache().store, MemoryStore)
