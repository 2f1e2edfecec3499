"""The middleware seam: a piece around the request runs once per call, a piece around the
attempt runs for every attempt, sync and async, chat and stream, retries included."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import chatlane
from chatlane.middleware import Call, Flow, Middleware, Proceed, Sleep
from chatlane.testing import Completion, ErrorReply, FakeServer, ResetBeforeHeaders
from tests.client.drivers import MakeDriver
from tests.conftest import API_KEY, FAST_RETRY

HI = [{"role": "user", "content": "Hi"}]


class Recorder(Middleware):
    """Writes down what it sees, around the request and around each attempt."""

    def __init__(self, events: list[tuple[Any, ...]] | None = None) -> None:
        self.events = [] if events is None else events

    def around_request(self, call: Call, proceed: Proceed) -> Flow:
        self.events.append(("request", call.model, call.stream))
        try:
            completion = yield from proceed(call)
        except chatlane.ChatlaneError as exc:
            self.events.append(("request failed", type(exc).__name__, call.attempts))
            raise
        self.events.append(("request done", completion.text, call.attempts))
        return completion

    def around_attempt(self, call: Call, proceed: Proceed) -> Flow:
        self.events.append(("attempt", call.attempts))
        try:
            completion = yield from proceed(call)
        except chatlane.ChatlaneError as exc:
            self.events.append(("attempt failed", call.attempts, call.status, type(exc).__name__))
            raise
        self.events.append(("attempt done", call.attempts, call.status))
        return completion


def test_a_piece_sees_every_attempt_of_a_chat(make_driver: MakeDriver, server: FakeServer) -> None:
    recorder = Recorder()
    server.enqueue(ErrorReply(503), ErrorReply(429), Completion(content="ok"))
    reply = make_driver(middleware=[recorder]).chat(model="m", messages=HI)
    assert reply.text == "ok"
    assert reply.attempts == 3
    assert recorder.events == [
        ("request", "m", False),
        ("attempt", 1),
        ("attempt failed", 1, 503, "InternalServerError"),
        ("attempt", 2),
        ("attempt failed", 2, 429, "RateLimitError"),
        ("attempt", 3),
        ("attempt done", 3, 200),
        ("request done", "ok", 3),
    ]


def test_a_piece_sees_every_attempt_of_a_stream(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    recorder = Recorder()
    # "connection: close": the reset comes on a new connection, so it is an attempt of its own
    # (on a reused one the transport sends the request once more by itself).
    closing = ErrorReply(500, headers={"connection": "close"})
    server.enqueue(closing, ResetBeforeHeaders(), ErrorReply(429), Completion(content="ok"))
    run = make_driver(middleware=[recorder], retry=chatlane.RetryPolicy(max_retries=3)).stream(
        model="m", messages=HI
    )
    assert run.error is None
    assert run.final is not None
    assert run.final.text == "ok"
    assert run.attempts == 4
    assert recorder.events == [
        ("request", "m", True),
        ("attempt", 1),
        ("attempt failed", 1, 500, "InternalServerError"),
        ("attempt", 2),
        ("attempt failed", 2, None, "ConnectError"),
        ("attempt", 3),
        ("attempt failed", 3, 429, "RateLimitError"),
        ("attempt", 4),
        ("attempt done", 4, 200),
        ("request done", "ok", 4),
    ]


def test_a_failed_call_ends_every_piece_with_the_error(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    recorder = Recorder()
    server.enqueue(*[ErrorReply(502)] * 3)
    with pytest.raises(chatlane.InternalServerError) as info:
        make_driver(middleware=[recorder]).chat(model="m", messages=HI)
    assert info.value.attempts == 3
    assert [event[0] for event in recorder.events].count("attempt") == 3
    assert recorder.events[-1] == ("request failed", "InternalServerError", 3)


def test_pieces_nest_in_the_order_given(make_driver: MakeDriver, server: FakeServer) -> None:
    events: list[tuple[Any, ...]] = []

    class Named(Middleware):
        def __init__(self, name: str) -> None:
            self.name = name

        def around_request(self, call: Call, proceed: Proceed) -> Flow:
            events.append((self.name, "request in"))
            completion = yield from proceed(call)
            events.append((self.name, "request out"))
            return completion

        def around_attempt(self, call: Call, proceed: Proceed) -> Flow:
            events.append((self.name, "attempt in"))
            completion = yield from proceed(call)
            events.append((self.name, "attempt out"))
            return completion

    server.enqueue(Completion(content="ok"))
    make_driver(middleware=[Named("outer"), Named("inner")]).chat(model="m", messages=HI)
    assert events == [
        ("outer", "request in"),
        ("inner", "request in"),
        ("outer", "attempt in"),
        ("inner", "attempt in"),
        ("inner", "attempt out"),
        ("outer", "attempt out"),
        ("inner", "request out"),
        ("outer", "request out"),
    ]


class Remember(Middleware):
    """A cache in miniature: answers a repeated request without sending it."""

    def __init__(self) -> None:
        self.seen: dict[str, chatlane.ChatCompletion] = {}

    def around_request(self, call: Call, proceed: Proceed) -> Flow:
        key = repr(call.params["messages"])
        if key in self.seen:
            return self.seen[key]
        completion = yield from proceed(call)
        self.seen[key] = completion
        return completion


def test_a_piece_around_the_request_may_answer_without_sending(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    driver = make_driver(middleware=[Remember()])
    server.enqueue(Completion(content="first"))
    piece = driver.options["middleware"][0]
    assert driver.chat(model="m", messages=HI).text == "first"
    assert driver.chat(model="m", messages=HI).text == "first"
    assert len(server.chat_requests) == 1
    assert len(piece.seen) == 1


class Pause(Middleware):
    def around_attempt(self, call: Call, proceed: Proceed) -> Flow:
        yield Sleep(0.05)
        return (yield from proceed(call))


def test_a_piece_can_wait_before_each_attempt(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(ErrorReply(500), Completion(content="ok"))
    started = time.perf_counter()
    reply = make_driver(middleware=[Pause()]).chat(model="m", messages=HI)
    assert reply.attempts == 2
    assert time.perf_counter() - started >= 0.1


@pytest.mark.asyncio
async def test_an_async_piece_waits_without_blocking_the_loop(server: FakeServer) -> None:
    server.enqueue(Completion(content="ok"))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        async with chatlane.AsyncClient(
            base_url=server.url, api_key=API_KEY, middleware=[Pause()]
        ) as client:
            assert (await client.chat(model="m", messages=HI)).text == "ok"
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    assert ticks >= 3


def test_an_attempt_piece_ends_after_the_caller_read_every_chunk(server: FakeServer) -> None:
    events: list[tuple[Any, ...]] = []
    server.enqueue(Completion(content="one two three"))
    with (
        chatlane.Client(base_url=server.url, api_key=API_KEY, middleware=[Recorder(events)]) as c,
        c.stream(model="m", messages=HI) as stream,
    ):
        for chunk in stream:
            if chunk.text:
                events.append(("chunk", chunk.text))
    words = [event for event in events if event[0] == "chunk"]
    assert len(words) == 3
    assert events.index(words[-1]) < events.index(("attempt done", 1, 200))
    assert events[-1] == ("request done", "one two three", 1)


@pytest.mark.asyncio
async def test_an_abandoned_stream_closes_every_piece(server: FakeServer) -> None:
    closed: list[str] = []

    class Watch(Middleware):
        def around_request(self, call: Call, proceed: Proceed) -> Flow:
            try:
                return (yield from proceed(call))
            finally:
                closed.append("request")

        def around_attempt(self, call: Call, proceed: Proceed) -> Flow:
            try:
                return (yield from proceed(call))
            finally:
                closed.append("attempt")

    server.enqueue(Completion(content="one two three four"))
    async with (
        chatlane.AsyncClient(base_url=server.url, api_key=API_KEY, middleware=[Watch()]) as c,
        c.stream(model="m", messages=HI) as stream,
    ):
        async for _ in stream:
            break
    assert closed == ["attempt", "request"]


def test_middleware_must_be_pieces() -> None:
    with pytest.raises(
        chatlane.ConfigurationError, match="Middleware instances, got builtin_function"
    ):
        chatlane.Client(base_url="http://127.0.0.1:9", middleware=[print])  # type: ignore[list-item]


def test_a_piece_that_yields_something_else_is_a_usage_error(server: FakeServer) -> None:
    class Wrong(Middleware):
        def around_request(self, call: Call, proceed: Proceed) -> Flow:
            yield "sleep please"  # type: ignore[misc]
            return (yield from proceed(call))

    with (
        chatlane.Client(base_url=server.url, api_key=API_KEY, middleware=[Wrong()]) as client,
        pytest.raises(chatlane.UsageError, match="not a step"),
    ):
        client.chat(model="m", messages=HI)


def test_no_middleware_means_the_plain_flow(server: FakeServer) -> None:
    server.enqueue(ErrorReply(503), Completion(content="ok"))
    with chatlane.Client(base_url=server.url, api_key=API_KEY, retry=FAST_RETRY) as client:
        assert client.chat(model="m", messages=HI).attempts == 2
