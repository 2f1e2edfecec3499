"""What is the Redis limiter's own: state shared by every limiter on the same Redis, keys
that expire, scripts Redis forgot, clients passed in, and outages (fail open, one warning
each, or raise), with no password ever shown."""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio

from chatlane.core.errors import ConfigurationError, UsageError
from chatlane.ratelimit.limits import Limiter, Observed, RateLimit, RateLimiterUnavailable
from chatlane.ratelimit.redis_limiter import RedisLimiter
from tests.redis_kit import start_redis

KEY = "openai/gpt-4o"
PACED = RateLimit(requests_per_minute=60, burst=0)  # 1 s apart
PASSWORD = "Sup3r-Secret-Passw0rd"
QUERY_PASSWORD = "An0ther-Secret-Passw0rd"


@pytest.fixture
def limiter(redis_url: str) -> Iterator[RedisLimiter]:
    shared = RedisLimiter(redis_url, on_error="raise")
    yield shared
    shared.close()


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        yield client


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory for a socket (their paths are limited to about 100 characters)."""
    with tempfile.TemporaryDirectory(prefix="rl-", dir="/tmp") as directory:
        yield Path(directory)


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "chatlane.ratelimit" and r.levelno == level]


@pytest.mark.redis
def test_limiters_on_the_same_redis_share_the_limit(redis_url: str, limiter: RedisLimiter) -> None:
    other = RedisLimiter(redis_url)
    try:
        limiter_is_a: Limiter = other  # mypy checks the protocol
        assert limiter.try_acquire(KEY, PACED, tokens=1) == 0.0
        assert 0.5 < limiter_is_a.try_acquire(KEY, PACED, tokens=1) <= 1.0
        other.learn("held", Observed(requests_remaining=0, requests_reset_at=1e10))
        assert limiter.try_acquire("held", RateLimit(), tokens=1) > 3000
    finally:
        other.close()


@pytest.mark.redis
def test_each_key_is_one_hash_under_the_prefix_that_expires(
    redis_url: str, connection: redis.Redis
) -> None:
    first = RedisLimiter(redis_url, prefix="app1:")
    second = RedisLimiter(redis_url, prefix="app2:")
    try:
        assert first.try_acquire(KEY, PACED, tokens=1) == 0.0
        assert second.try_acquire(KEY, PACED, tokens=1) == 0.0  # another prefix, other books
        assert sorted(connection.keys("*")) == [b"app1:" + KEY.encode(), b"app2:" + KEY.encode()]
        # The state matters for 1 s: the key lives little longer than that.
        assert 0 < connection.pttl("app1:" + KEY) <= 2000
        first.learn(KEY, Observed(requests_remaining=0, requests_reset_at=1e10))
        assert 3_500_000 < connection.pttl("app1:" + KEY) <= 3_601_000  # the hour's hold
    finally:
        first.close()
        second.close()


@pytest.mark.redis
def test_an_absurd_usage_keeps_the_key_one_hour_at_most(
    limiter: RedisLimiter, connection: redis.Redis
) -> None:
    limiter.settle(KEY, RateLimit(tokens_per_minute=600), reserved=0, used=10**15)
    assert 3_500_000 < connection.pttl("chatlane:rl:" + KEY) <= 3_601_000


@pytest.mark.redis
def test_scripts_redis_forgot_are_loaded_again(
    limiter: RedisLimiter, connection: redis.Redis
) -> None:
    assert limiter.try_acquire(KEY, PACED, tokens=1) == 0.0
    connection.script_flush()
    assert 0.5 < limiter.try_acquire(KEY, PACED, tokens=1) <= 1.0
    connection.script_flush()
    limiter.settle(KEY, RateLimit(tokens_per_minute=600), reserved=0, used=10)
    connection.script_flush()
    limiter.learn(KEY, Observed(tokens_remaining=0, tokens_reset_at=1e10))
    assert limiter.try_acquire(KEY, RateLimit(), tokens=1) > 3000


@pytest.mark.redis
@pytest.mark.asyncio
async def test_clients_passed_in_are_used_and_left_open(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    aclient = redis.asyncio.Redis.from_url(redis_url)
    try:
        both = RedisLimiter(client=client, aclient=aclient)
        assert both.try_acquire(KEY, PACED, tokens=1) == 0.0
        assert 0.5 < await both.atry_acquire(KEY, PACED, tokens=1) <= 1.0
        both.close()
        await both.aclose()
        assert client.ping()
        assert await aclient.ping()
        with pytest.raises(UsageError, match="async"):
            RedisLimiter(aclient=aclient).try_acquire(KEY, PACED, tokens=1)
        with pytest.raises(UsageError, match="sync"):
            await RedisLimiter(client=client).atry_acquire(KEY, PACED, tokens=1)
    finally:
        client.close()
        await aclient.aclose()


def test_construction_checks_its_arguments() -> None:
    with pytest.raises(UsageError, match="url"):
        RedisLimiter()
    with pytest.raises(UsageError, match="url"):
        RedisLimiter(b"redis://localhost")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="on_error"):
        RedisLimiter("redis://localhost", on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="prefix"):
        RedisLimiter("redis://localhost", prefix=None)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="timeout"):
        RedisLimiter("redis://localhost", timeout=0)
    with pytest.raises(ConfigurationError, match="url") as caught:
        RedisLimiter(f"http://:{PASSWORD}@localhost")
    assert PASSWORD not in str(caught.value)


def test_without_redis_py_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # what `import redis` does when absent
    with pytest.raises(ConfigurationError, match=r"pip install 'chatlane\[redis\]'"):
        RedisLimiter("redis://localhost")


def test_importing_the_module_does_not_import_redis() -> None:
    code = "import sys, chatlane.ratelimit.redis_limiter; print('redis' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# -- outages -------------------------------------------------------------------------------


def test_an_unreachable_redis_fails_open_with_one_warning(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chatlane.ratelimit")
    limiter = RedisLimiter(f"unix://{short_dir}/absent.sock")
    strict = RateLimit(requests_per_minute=1)
    assert [limiter.try_acquire(KEY, strict, tokens=1) for _ in range(5)] == [0.0] * 5
    limiter.settle(KEY, RateLimit(tokens_per_minute=60), reserved=1, used=50)
    limiter.learn(KEY, Observed(requests_remaining=0, requests_reset_at=1e10))
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "cannot be reached" in warnings[0].getMessage()
    limiter.close()


@pytest.mark.redis
def test_each_outage_is_reported_once_and_the_limit_holds_again_after(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chatlane.ratelimit")
    limiter = RedisLimiter(f"unix://{short_dir}/redis.sock")  # where the server will be
    strict = RateLimit(requests_per_minute=1)
    try:
        assert limiter.try_acquire(KEY, strict, tokens=1) == 0.0
        assert limiter.try_acquire(KEY, strict, tokens=1) == 0.0
        server = start_redis(short_dir)
        try:
            assert limiter.try_acquire(KEY, strict, tokens=1) == 0.0
            assert limiter.try_acquire(KEY, strict, tokens=1) > 59  # limited again
            assert len(records(caplog, logging.INFO)) == 1  # "is back"
        finally:
            server.stop()
        assert limiter.try_acquire(KEY, strict, tokens=1) == 0.0
        assert limiter.try_acquire(KEY, strict, tokens=1) == 0.0
        assert len(records(caplog, logging.WARNING)) == 2
    finally:
        limiter.close()


def test_on_error_raise_raises_a_chatlane_error(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisLimiter(f"unix://{short_dir}/absent.sock", on_error="raise")
    with pytest.raises(RateLimiterUnavailable, match="cannot be reached"):
        limiter.try_acquire(KEY, PACED, tokens=1)
    with pytest.raises(RateLimiterUnavailable):
        limiter.settle(KEY, RateLimit(tokens_per_minute=60), reserved=1, used=5)
    with pytest.raises(RateLimiterUnavailable):
        limiter.learn(KEY, Observed(requests_remaining=0, requests_reset_at=1e10))
    assert not records(caplog, logging.WARNING)
    limiter.close()


@pytest.mark.asyncio
async def test_the_async_methods_fail_open_or_raise_alike(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"unix://{short_dir}/absent.sock"
    lenient = RedisLimiter(url)
    strict = RedisLimiter(url, on_error="raise")
    try:
        assert await lenient.atry_acquire(KEY, RateLimit(requests_per_minute=1), tokens=1) == 0.0
        assert await lenient.atry_acquire(KEY, RateLimit(requests_per_minute=1), tokens=1) == 0.0
        await lenient.asettle(KEY, RateLimit(tokens_per_minute=60), reserved=0, used=5)
        await lenient.alearn(KEY, Observed(requests_remaining=0, requests_reset_at=1e10))
        assert len(records(caplog, logging.WARNING)) == 1
        with pytest.raises(RateLimiterUnavailable):
            await strict.atry_acquire(KEY, PACED, tokens=1)
    finally:
        await lenient.aclose()
        await strict.aclose()
        lenient.close()
        strict.close()


@pytest.mark.asyncio
async def test_no_password_in_reprs_logs_or_errors(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"unix://user:{PASSWORD}@{short_dir}/absent.sock?password={QUERY_PASSWORD}&db=0"
    lenient = RedisLimiter(url)
    strict = RedisLimiter(url, on_error="raise")
    lenient.try_acquire(KEY, PACED, tokens=1)
    await lenient.atry_acquire(KEY, PACED, tokens=1)
    with pytest.raises(RateLimiterUnavailable) as caught:
        strict.try_acquire(KEY, PACED, tokens=1)
    shown = [repr(lenient), str(caught.value), repr(caught.value), caplog.text]
    shown += [record.getMessage() for record in caplog.records]
    assert "absent.sock" in repr(lenient)
    for text in shown:
        assert PASSWORD not in text
        assert QUERY_PASSWORD not in text
    await lenient.aclose()
    lenient.close()
    strict.close()
