"""The limit, observation and error types: their checks and what callers read from them."""

from __future__ import annotations

import math
import pickle

import pytest

from chatlane.core.errors import ChatlaneError, UsageError
from chatlane.ratelimit.limits import (
    Limiter,
    Observed,
    RateLimit,
    RateLimited,
    RateLimiterUnavailable,
)
from chatlane.ratelimit.local import LocalLimiter


@pytest.mark.parametrize("field", ["requests_per_minute", "tokens_per_minute"])
@pytest.mark.parametrize("value", [0, -1, math.nan, math.inf, True, "60", [60]])
def test_a_rate_must_be_a_positive_finite_number(field: str, value: object) -> None:
    with pytest.raises(UsageError, match=rf"RateLimit\.{field}") as caught:
        RateLimit(**{field: value})  # type: ignore[arg-type]
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize("value", [-0.1, 60.5, math.nan, math.inf, True, "0.1", None])
def test_burst_is_zero_to_sixty_seconds(value: object) -> None:
    with pytest.raises(UsageError, match=r"RateLimit\.burst"):
        RateLimit(requests_per_minute=60, burst=value)  # type: ignore[arg-type]


def test_good_limits() -> None:
    limit = RateLimit(requests_per_minute=0.5, tokens_per_minute=90_000, burst=0)
    assert limit.seconds_per_request == 120.0
    assert limit.seconds_per_token == pytest.approx(60 / 90_000)
    unlimited = RateLimit()
    assert (unlimited.seconds_per_request, unlimited.seconds_per_token) == (0.0, 0.0)
    assert unlimited.burst == 0.1
    assert RateLimit(requests_per_minute=60, burst=60).burst == 60


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"requests_remaining": -1}, "requests_remaining"),
        ({"tokens_remaining": 1.5}, "tokens_remaining"),
        ({"tokens_remaining": True}, "tokens_remaining"),
        ({"requests_reset_at": math.nan}, "requests_reset_at"),
        ({"tokens_reset_at": "soon"}, "tokens_reset_at"),
    ],
)
def test_an_observation_checks_its_fields(fields: dict[str, object], named: str) -> None:
    with pytest.raises(UsageError, match=rf"Observed\.{named}"):
        Observed(**fields)  # type: ignore[arg-type]


def test_rate_limited_says_how_long_to_wait_and_pickles() -> None:
    error = RateLimited(2.5, key="openai/gpt-4o", provider="openai", model="gpt-4o")
    assert isinstance(error, ChatlaneError)
    assert error.retry_after == 2.5
    assert error.key == "openai/gpt-4o"
    assert "openai/gpt-4o" in str(error)
    assert "2.500s" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.retry_after, str(copy)) == (RateLimited, 2.5, str(error))


def test_the_limiter_outage_error_is_a_chatlane_error() -> None:
    assert issubclass(RateLimiterUnavailable, ChatlaneError)
    assert not issubclass(RateLimiterUnavailable, UsageError)


def test_local_limiter_is_a_limiter() -> None:
    limiter: Limiter = LocalLimiter()  # mypy checks the protocol
    assert limiter.try_acquire("k", RateLimit(), tokens=0) == 0.0
