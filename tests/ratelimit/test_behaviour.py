"""What both limiters promise, the in-process one and the Redis one alike: pacing of
requests and tokens, bursts, settling, learning from provider headers, argument checks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from chatlane.core.errors import UsageError
from chatlane.ratelimit.headers import observe
from chatlane.ratelimit.limits import Limiter, Observed, RateLimit
from chatlane.ratelimit.local import LocalLimiter
from chatlane.ratelimit.redis_limiter import RedisLimiter
from tests.ratelimit.pacing import apace, busiest_window, first_window, pace

KEY = "openai/gpt-4o"
KINDS = ["local", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=KINDS)
def limiter(request: pytest.FixtureRequest) -> Iterator[Limiter]:
    if request.param == "local":
        yield LocalLimiter()
        return
    shared = RedisLimiter(request.getfixturevalue("redis_url"), on_error="raise")
    yield shared
    shared.close()


@pytest_asyncio.fixture(params=KINDS)
async def alimiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    if request.param == "local":
        yield LocalLimiter()
        return
    shared = RedisLimiter(request.getfixturevalue("redis_url"), on_error="raise")
    yield shared
    await shared.aclose()


# -- requests ------------------------------------------------------------------------------


def test_the_first_request_goes_and_the_next_waits_its_interval(limiter: Limiter) -> None:
    limit = RateLimit(requests_per_minute=60, burst=0)
    assert limiter.try_acquire(KEY, limit, tokens=0) == 0.0
    wait = limiter.try_acquire(KEY, limit, tokens=0)
    assert 0.5 < wait <= 1.0


def test_a_refused_request_records_nothing(limiter: Limiter) -> None:
    limit = RateLimit(requests_per_minute=200, burst=0)  # 0.3 s apart
    assert limiter.try_acquire(KEY, limit, tokens=0) == 0.0
    waits = [limiter.try_acquire(KEY, limit, tokens=0) for _ in range(20)]
    assert all(0 < wait <= 0.3 for wait in waits)
    assert waits == sorted(waits, reverse=True)  # asking again never pushes the time on
    time.sleep(waits[-1])
    assert limiter.try_acquire(KEY, limit, tokens=0) == 0.0


def test_burst_lets_that_many_seconds_of_quota_out_at_once_then_paces(limiter: Limiter) -> None:
    limit = RateLimit(requests_per_minute=60, burst=3)  # 3 requests above the first
    granted = [limiter.try_acquire(KEY, limit, tokens=0) for _ in range(4)]
    assert granted == [0.0] * 4
    assert 0.5 < limiter.try_acquire(KEY, limit, tokens=0) <= 1.0


def test_the_default_burst_is_one_extra_request_at_600_a_minute(limiter: Limiter) -> None:
    limit = RateLimit(requests_per_minute=600)
    assert [limiter.try_acquire(KEY, limit, tokens=0) for _ in range(2)] == [0.0, 0.0]
    assert 0 < limiter.try_acquire(KEY, limit, tokens=0) <= 0.1


def test_keys_are_limited_apart(limiter: Limiter) -> None:
    limit = RateLimit(requests_per_minute=1, burst=0)
    assert limiter.try_acquire("openai/gpt-4o", limit, tokens=0) == 0.0
    assert limiter.try_acquire("openai/gpt-4o-mini", limit, tokens=0) == 0.0
    assert limiter.try_acquire("openai/gpt-4o", limit, tokens=0) > 59


def test_a_limit_with_no_rates_grants_everything(limiter: Limiter) -> None:
    assert {limiter.try_acquire(KEY, RateLimit(), tokens=10**9) for _ in range(50)} == {0.0}


# -- tokens --------------------------------------------------------------------------------


def test_tokens_are_paced_at_the_tokens_per_minute(limiter: Limiter) -> None:
    limit = RateLimit(tokens_per_minute=6000, burst=0)  # 100 tokens a second
    assert limiter.try_acquire(KEY, limit, tokens=100) == 0.0
    assert 0.5 < limiter.try_acquire(KEY, limit, tokens=100) <= 1.0


def test_the_tighter_of_both_limits_decides(limiter: Limiter) -> None:
    limit = RateLimit(requests_per_minute=60, tokens_per_minute=6000, burst=0)
    assert limiter.try_acquire(KEY, limit, tokens=500) == 0.0
    assert 4.5 < limiter.try_acquire(KEY, limit, tokens=1) <= 5.0  # tokens: 500 at 100/s
    other = "groq/llama"
    assert limiter.try_acquire(other, limit, tokens=1) == 0.0
    assert 0.5 < limiter.try_acquire(other, limit, tokens=1) <= 1.0  # requests: 1 a second


def test_a_request_above_the_burst_goes_when_the_bucket_is_empty(limiter: Limiter) -> None:
    limit = RateLimit(tokens_per_minute=6000)  # burst 0.1 s: 10 tokens
    assert limiter.try_acquire(KEY, limit, tokens=50_000) == 0.0  # 500 s of quota
    wait = limiter.try_acquire(KEY, limit, tokens=1)
    assert 499 < wait <= 500


def test_a_large_request_is_admitted_eventually(limiter: Limiter) -> None:
    limit = RateLimit(tokens_per_minute=600_000, burst=0)  # 10 000 tokens a second
    assert limiter.try_acquire(KEY, limit, tokens=2000) == 0.0
    for _ in range(10):
        wait = limiter.try_acquire(KEY, limit, tokens=2000)
        if wait == 0.0:
            break
        assert wait <= 0.2
        time.sleep(wait)
    else:
        pytest.fail("the large request was never admitted")


def test_a_large_request_is_not_starved_by_small_ones(limiter: Limiter) -> None:
    """Under steady small requests a large one still gets in: every request is granted on
    the same condition (the bucket back within the burst), whatever its size."""
    limit = RateLimit(tokens_per_minute=600_000, burst=0)  # 10 000 tokens a second
    done = threading.Event()
    small_grants: list[float] = []

    def small_requests() -> None:
        while not done.is_set():
            wait = limiter.try_acquire(KEY, limit, tokens=100)
            if wait == 0.0:
                small_grants.append(time.time())
            else:
                time.sleep(wait)

    small = threading.Thread(target=small_requests)
    small.start()
    try:
        time.sleep(0.05)
        deadline = time.time() + 2
        while time.time() < deadline:
            wait = limiter.try_acquire(KEY, limit, tokens=5000)
            if wait == 0.0:
                break
            time.sleep(wait)
        else:
            pytest.fail("the 5000-token request starved")
    finally:
        done.set()
        small.join()
    assert len(small_grants) >= 3  # the small requests kept the bucket busy meanwhile


def test_a_refund_lets_the_next_request_in_sooner(limiter: Limiter) -> None:
    limit = RateLimit(tokens_per_minute=6000, burst=0)  # 100 tokens a second
    assert limiter.try_acquire(KEY, limit, tokens=1000) == 0.0
    assert 9.5 < limiter.try_acquire(KEY, limit, tokens=100) <= 10.0
    limiter.settle(KEY, limit, reserved=1000, used=100)
    assert 0.5 < limiter.try_acquire(KEY, limit, tokens=100) <= 1.0


def test_a_charge_makes_the_next_request_wait_longer(limiter: Limiter) -> None:
    limit = RateLimit(tokens_per_minute=6000, burst=0)
    assert limiter.try_acquire(KEY, limit, tokens=100) == 0.0
    limiter.settle(KEY, limit, reserved=100, used=1100)
    assert 10.5 < limiter.try_acquire(KEY, limit, tokens=1) <= 11.0


def test_a_refund_empties_the_bucket_at_most(limiter: Limiter) -> None:
    """Unused tokens are not banked: a refund larger than what is pending buys no burst."""
    limit = RateLimit(tokens_per_minute=6000, burst=0)
    assert limiter.try_acquire(KEY, limit, tokens=100) == 0.0
    limiter.settle(KEY, limit, reserved=100_000, used=0)
    assert limiter.try_acquire(KEY, limit, tokens=100) == 0.0
    assert 0.5 < limiter.try_acquire(KEY, limit, tokens=100) <= 1.0


@pytest.mark.parametrize("used", [10**15, 2 * 2**64])
def test_an_absurd_usage_holds_the_key_one_hour_at_most(limiter: Limiter, used: int) -> None:
    limit = RateLimit(tokens_per_minute=6000, burst=0)
    assert limiter.try_acquire(KEY, limit, tokens=100) == 0.0
    limiter.settle(KEY, limit, reserved=100, used=used)
    assert 3590 < limiter.try_acquire(KEY, limit, tokens=1) <= 3600
    limiter.settle(KEY, limit, reserved=0, used=used)  # a second one adds nothing
    assert 3590 < limiter.try_acquire(KEY, limit, tokens=1) <= 3600


def test_a_real_usage_within_the_hour_is_charged_in_full(limiter: Limiter) -> None:
    limit = RateLimit(tokens_per_minute=6000, burst=0)
    assert limiter.try_acquire(KEY, limit, tokens=100) == 0.0
    limiter.settle(KEY, limit, reserved=100, used=300_000)  # 50 minutes of tokens
    assert 2999 < limiter.try_acquire(KEY, limit, tokens=1) <= 3000


def test_settling_without_a_token_limit_changes_nothing(limiter: Limiter) -> None:
    limit = RateLimit(requests_per_minute=60, burst=0)
    assert limiter.try_acquire(KEY, limit, tokens=100) == 0.0
    limiter.settle(KEY, limit, reserved=100, used=10_000)
    assert 0.5 < limiter.try_acquire(KEY, limit, tokens=100) <= 1.0


# -- what providers' headers said -----------------------------------------------------------


def test_no_requests_remaining_holds_requests_until_the_reset(limiter: Limiter) -> None:
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "10s"}
    observed = observe(headers, time.time())
    assert observed is not None
    limiter.learn(KEY, observed)
    generous = RateLimit(requests_per_minute=10_000)
    assert 9.5 < limiter.try_acquire(KEY, generous, tokens=10) <= 10.0
    assert 9.5 < limiter.try_acquire(KEY, RateLimit(), tokens=10) <= 10.0
    assert limiter.try_acquire("openai/other", generous, tokens=10) == 0.0


def test_remaining_requests_count_down_with_each_grant(limiter: Limiter) -> None:
    limiter.learn(KEY, Observed(requests_remaining=2, requests_reset_at=time.time() + 5))
    assert [limiter.try_acquire(KEY, RateLimit(), tokens=1) for _ in range(2)] == [0.0, 0.0]
    assert 4.5 < limiter.try_acquire(KEY, RateLimit(), tokens=1) <= 5.0


def test_too_few_tokens_remaining_holds_a_request_that_needs_more(limiter: Limiter) -> None:
    limiter.learn(KEY, Observed(tokens_remaining=500, tokens_reset_at=time.time() + 10))
    assert 9.5 < limiter.try_acquire(KEY, RateLimit(), tokens=1000) <= 10.0
    assert limiter.try_acquire(KEY, RateLimit(), tokens=400) == 0.0
    assert 9.5 < limiter.try_acquire(KEY, RateLimit(), tokens=400) <= 10.0  # 100 left
    assert limiter.try_acquire(KEY, RateLimit(), tokens=100) == 0.0


def test_a_hold_ends_at_the_reset(limiter: Limiter) -> None:
    limiter.learn(KEY, Observed(requests_remaining=0, requests_reset_at=time.time() + 0.3))
    wait = limiter.try_acquire(KEY, RateLimit(), tokens=1)
    assert 0 < wait <= 0.3
    time.sleep(wait + 0.01)
    assert limiter.try_acquire(KEY, RateLimit(), tokens=1) == 0.0


def test_learning_never_loosens_the_configured_limit(limiter: Limiter) -> None:
    limit = RateLimit(requests_per_minute=60, burst=0)
    assert limiter.try_acquire(KEY, limit, tokens=1) == 0.0
    plenty = Observed(
        requests_remaining=10_000,
        requests_reset_at=time.time() + 1,
        tokens_remaining=10**9,
        tokens_reset_at=time.time() + 1,
    )
    limiter.learn(KEY, plenty)
    assert 0.5 < limiter.try_acquire(KEY, limit, tokens=1) <= 1.0


def test_a_reset_already_past_holds_nothing(limiter: Limiter) -> None:
    limiter.learn(KEY, Observed(requests_remaining=0, requests_reset_at=time.time() - 1))
    limiter.learn(KEY, Observed(requests_remaining=0))  # no reset: nothing to act on
    assert limiter.try_acquire(KEY, RateLimit(), tokens=1) == 0.0


def test_a_far_reset_holds_one_hour_at_most(limiter: Limiter) -> None:
    limiter.learn(KEY, Observed(requests_remaining=0, requests_reset_at=time.time() + 1e9))
    assert 3590 < limiter.try_acquire(KEY, RateLimit(), tokens=1) <= 3600


# -- concurrency ---------------------------------------------------------------------------


def test_threads_racing_for_the_last_request_get_it_once(limiter: Limiter) -> None:
    limit = RateLimit(requests_per_minute=1)
    start = threading.Barrier(8)
    granted: list[float] = []

    def race() -> None:
        start.wait()
        granted.extend(
            w for w in (limiter.try_acquire(KEY, limit, tokens=1) for _ in range(50)) if w == 0.0
        )

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 1


def test_threads_are_kept_to_the_limits_over_short_windows(limiter: Limiter) -> None:
    """The acceptance property, scaled to 2 s: 4 threads per key asking as fast as they are
    let, at 3000 requests (and 3000 100-token requests) a minute with one request of burst,
    are granted 100 in any 2 s, within 2%."""
    requests_limit = RateLimit(requests_per_minute=3000, burst=0.02)
    tokens_limit = RateLimit(tokens_per_minute=300_000, burst=0.02)
    until = time.time() + 2.3
    results: dict[str, list[float]] = {"requests": [], "tokens": []}

    def run(key: str, limit: RateLimit, tokens: int) -> None:
        results[key].extend(pace(limiter, key, limit, tokens, until))

    threads = [
        threading.Thread(target=run, args=("requests", requests_limit, 1)) for _ in range(4)
    ] + [threading.Thread(target=run, args=("tokens", tokens_limit, 100)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for grants in results.values():
        assert busiest_window(grants, 2.0) <= 102
        assert first_window(grants, 2.0) >= 95


@pytest.mark.asyncio
async def test_tasks_are_kept_to_the_limits_over_short_windows(alimiter: Limiter) -> None:
    limit = RateLimit(requests_per_minute=6000, burst=0.01)  # 100 a second
    until = time.time() + 1.2
    runs = await asyncio.gather(*(apace(alimiter, KEY, limit, 1, until) for _ in range(4)))
    grants = [moment for run in runs for moment in run]
    assert busiest_window(grants, 1.0) <= 102
    assert first_window(grants, 1.0) >= 95


@pytest.mark.asyncio
async def test_the_async_methods_keep_the_same_books(alimiter: Limiter) -> None:
    limit = RateLimit(tokens_per_minute=6000, burst=0)  # 100 tokens a second
    assert await alimiter.atry_acquire(KEY, limit, tokens=1000) == 0.0
    assert 9.5 < await alimiter.atry_acquire(KEY, limit, tokens=100) <= 10.0
    await alimiter.asettle(KEY, limit, reserved=1000, used=100)
    assert 0.5 < await alimiter.atry_acquire(KEY, limit, tokens=100) <= 1.0
    await alimiter.alearn(
        "held", Observed(requests_remaining=0, requests_reset_at=time.time() + 10)
    )
    assert 9.5 < await alimiter.atry_acquire("held", limit, tokens=1) <= 10.0


# -- misuse --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, 3, b"openai/gpt-4o", ""])
def test_a_bad_key_is_a_usage_error_naming_it(limiter: Limiter, key: object) -> None:
    with pytest.raises(UsageError, match="key"):
        limiter.try_acquire(key, RateLimit(), tokens=1)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="key"):
        limiter.settle(key, RateLimit(), reserved=1, used=1)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="key"):
        limiter.learn(key, Observed())  # type: ignore[arg-type]


@pytest.mark.parametrize("tokens", [-1, 1.5, True, "10", None])
def test_a_bad_token_count_is_a_usage_error_naming_it(limiter: Limiter, tokens: object) -> None:
    with pytest.raises(UsageError, match="tokens"):
        limiter.try_acquire(KEY, RateLimit(), tokens=tokens)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="reserved"):
        limiter.settle(KEY, RateLimit(), reserved=tokens, used=1)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="used"):
        limiter.settle(KEY, RateLimit(), reserved=1, used=tokens)  # type: ignore[arg-type]


def test_a_bad_limit_or_observation_is_a_usage_error_naming_it(limiter: Limiter) -> None:
    with pytest.raises(UsageError, match="limit"):
        limiter.try_acquire(KEY, {"requests_per_minute": 60}, tokens=1)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="observed"):
        limiter.learn(KEY, {"x-ratelimit-remaining-requests": "0"})  # type: ignore[arg-type]
