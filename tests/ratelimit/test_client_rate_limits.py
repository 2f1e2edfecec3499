"""Client-side rate limits on the client, over real HTTP to the fake server: requests wait
or are refused before they are sent, retries count, and the provider's headers teach."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import chatlane
from chatlane.testing import Completion, ErrorReply, FakeServer
from tests.client.conftest import MakeDriver

HI = [{"role": "user", "content": "Hi"}]
CALL: dict[str, Any] = {"model": "m", "messages": HI}
RULE = "openai-compatible/m"


def refusing(limit: chatlane.RateLimit, **options: Any) -> chatlane.RateLimits:
    return chatlane.RateLimits(limits={RULE: limit}, on_limit="raise", **options)


def test_requests_wait_for_their_turn(server: FakeServer) -> None:
    server.enqueue(*[Completion(content="ok")] * 6)
    limits = {RULE: chatlane.RateLimit(requests_per_minute=1200, burst=0.0)}  # one per 50 ms
    with chatlane.Client(base_url=server.url, rate_limits=limits) as client:
        started = time.perf_counter()
        for _ in range(6):
            client.chat(**CALL)
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.2
    assert len(server.chat_requests) == 6


def test_a_refused_request_is_never_sent(make_driver: MakeDriver, server: FakeServer) -> None:
    config = refusing(chatlane.RateLimit(requests_per_minute=60, burst=0.0))
    server.enqueue(Completion(content="ok"), Completion(content="never"))
    make_driver(rate_limits=config).chat(**CALL)
    with pytest.raises(chatlane.RateLimited) as info:
        make_driver(rate_limits=config).chat(**CALL)
    assert 0.5 < info.value.retry_after <= 1.0
    assert info.value.key == RULE
    assert len(server.chat_requests) == 1


def test_waiting_is_bounded(server: FakeServer) -> None:
    config = chatlane.RateLimits(
        limits={RULE: chatlane.RateLimit(requests_per_minute=6, burst=0.0)}, max_wait=0.5
    )
    server.enqueue(Completion(content="ok"))
    with chatlane.Client(base_url=server.url, rate_limits=config) as client:
        client.chat(**CALL)
        started = time.perf_counter()
        with pytest.raises(chatlane.RateLimited):
            client.chat(**CALL)  # the next turn is 10 s away: more than max_wait
    assert time.perf_counter() - started < 0.3


def test_retries_count_against_the_limit(make_driver: MakeDriver, server: FakeServer) -> None:
    config = refusing(chatlane.RateLimit(requests_per_minute=60, burst=0.0))
    server.enqueue(ErrorReply(503), Completion(content="never"))
    with pytest.raises(chatlane.RateLimited) as info:
        make_driver(rate_limits=config).chat(**CALL)  # its retry is over the limit
    assert info.value.attempts == 2
    assert len(server.chat_requests) == 1


def test_tokens_per_minute_count_the_prompt_and_the_cap(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    config = refusing(chatlane.RateLimit(tokens_per_minute=600, burst=0.0))
    server.enqueue(Completion(content="ok", usage=(5, 1)), Completion(content="never"))
    make_driver(rate_limits=config).chat(**CALL, max_tokens=300)
    with pytest.raises(chatlane.RateLimited):
        make_driver(rate_limits=config).chat(**CALL, max_tokens=300)


def test_tokens_per_minute_count_every_choice_asked_for(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    def held_after(**extra: Any) -> float:
        driver = make_driver(rate_limits=refusing(chatlane.RateLimit(tokens_per_minute=600)))
        server.enqueue(Completion(content="ok", usage=None))  # no usage: the estimate stands
        driver.chat(**CALL, max_tokens=200, **extra)
        with pytest.raises(chatlane.RateLimited) as info:
            driver.chat(**CALL, max_tokens=200)
        return info.value.retry_after

    one, four = held_after(), held_after(n=4)
    assert four - one == pytest.approx(3 * 200 * 60 / 600, abs=0.5)  # three more answers
    assert len(server.chat_requests) == 2


def test_the_providers_headers_teach_the_limiter(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    exhausted = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"}
    server.enqueue(Completion(content="ok", headers=exhausted), Completion(content="never"))
    config = chatlane.RateLimits(on_limit="raise")  # no limit of its own: only what it learns
    make_driver(rate_limits=config).chat(**CALL)
    with pytest.raises(chatlane.RateLimited) as info:
        make_driver(rate_limits=config).chat(**CALL)
    assert 1.0 < info.value.retry_after <= 2.0
    assert len(server.chat_requests) == 1


def test_async_calls_wait_without_blocking_the_loop(server: FakeServer) -> None:
    server.enqueue(*[Completion(content="ok")] * 4)
    limits = {RULE: chatlane.RateLimit(requests_per_minute=600, burst=0.0)}  # one per 100 ms

    async def run() -> tuple[float, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        async with chatlane.AsyncClient(base_url=server.url, rate_limits=limits) as client:
            started = time.perf_counter()
            await asyncio.gather(*[client.chat(**CALL) for _ in range(4)])
            elapsed = time.perf_counter() - started
        beat.cancel()
        return elapsed, ticks

    elapsed, ticks = asyncio.run(run())
    assert elapsed >= 0.25
    assert ticks >= 15  # the loop kept running while the calls waited


@pytest.mark.parametrize("shared", [False, pytest.param(True, marks=pytest.mark.redis)])
def test_an_absurd_estimate_holds_a_key_an_hour_at_most(
    shared: bool, request: pytest.FixtureRequest, server: FakeServer
) -> None:
    limiter = (
        chatlane.RedisLimiter(request.getfixturevalue("redis_url"))
        if shared
        else chatlane.LocalLimiter()
    )
    config = refusing(chatlane.RateLimit(tokens_per_minute=600), limiter=limiter)
    server.enqueue(Completion(content="ok", usage=None))  # no usage: the estimate stands
    with chatlane.Client(base_url=server.url, rate_limits=config) as client:
        client.chat(**CALL, max_tokens=2**40, n=2**23)  # 2**63 tokens asked for
        with pytest.raises(chatlane.RateLimited) as info:
            client.chat(**CALL)
    assert 3500 < info.value.retry_after <= 3600


@pytest.mark.redis
def test_a_redis_limiter_is_shared_by_clients(redis_url: str, server: FakeServer) -> None:
    limiter = chatlane.RedisLimiter(redis_url)
    config = refusing(chatlane.RateLimit(requests_per_minute=60, burst=0.0), limiter=limiter)
    server.enqueue(Completion(content="ok"))
    with chatlane.Client(base_url=server.url, rate_limits=config) as first:
        first.chat(**CALL)
    other = refusing(
        chatlane.RateLimit(requests_per_minute=60, burst=0.0),
        limiter=chatlane.RedisLimiter(redis_url),
    )
    with (
        chatlane.Client(base_url=server.url, rate_limits=other) as second,
        pytest.raises(chatlane.RateLimited),
    ):
        second.chat(**CALL)
    limiter.close()


def test_a_client_side_limit_falls_back_to_the_next_target(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    config = refusing(chatlane.RateLimit(requests_per_minute=60, burst=0.0))
    server.enqueue(Completion(content="m"), Completion(content="m2"))
    make_driver(rate_limits=config).chat(**CALL)
    reply = make_driver(rate_limits=config, fallbacks=["m2"]).chat(**CALL)
    assert (reply.text, reply.target) == ("m2", "openai-compatible/m2")


def test_rate_limits_are_configured_clearly() -> None:
    url = "http://127.0.0.1:9/v1"
    with pytest.raises(chatlane.ConfigurationError, match="rate_limits"):
        chatlane.Client(base_url=url, rate_limits=600)  # type: ignore[arg-type]
    with pytest.raises(chatlane.ConfigurationError, match="RateLimit"):
        chatlane.Client(base_url=url, rate_limits={"m": 600})  # type: ignore[dict-item]
    with pytest.raises(chatlane.ConfigurationError, match="on_limit"):
        chatlane.RateLimits(on_limit="sleep")  # type: ignore[arg-type]


def test_negative_usage_from_the_server_does_not_fail_an_answered_call(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    budget = chatlane.Budget(usd=1.0)
    limits = {"*": chatlane.RateLimit(tokens_per_minute=100_000)}
    server.enqueue(Completion(content="hi", usage={"prompt_tokens": -50, "completion_tokens": 2}))
    reply = make_driver(
        rate_limits=limits,
        budget=budget,
        models={"m": chatlane.ModelInfo(input_per_mtok=1.0, output_per_mtok=1.0)},
    ).chat(model="m", messages=HI, max_tokens=10)
    assert reply.text == "hi"
    assert budget.spent_usd > 0  # billed: settled, not released as if it had failed
