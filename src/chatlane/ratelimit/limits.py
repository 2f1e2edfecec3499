"""The vocabulary of client-side rate limits: what a limit is, what a provider's headers
said, what a limiter does, and the errors.

A limit is kept over short windows, not just per minute: limiters pace requests with GCRA
(the "virtual scheduling" form of a leaky bucket). Each dimension (requests, tokens) has a
time at which its bucket is empty again; a grant pushes that time on by its cost (60 /
``requests_per_minute`` seconds per request, 60 / ``tokens_per_minute`` per token). A
request is granted while that time is at most ``burst`` seconds ahead of now. So in any
window of W seconds at most ``rate * (W + burst)`` units go out, plus one request; and a
request of any size, however far above the burst, is granted as soon as the bucket is back
within the burst: it is never refused for ever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, TypeGuard

from chatlane.core.errors import ChatlaneError, UsageError

__all__ = [
    "Limiter",
    "Observed",
    "RateLimit",
    "RateLimited",
    "RateLimiterUnavailable",
]

MAX_BURST = 60.0
"""The largest ``burst``: more than the minute the limits are counted in would let a whole
minute's quota out at once."""

MAX_HOLD = 3600.0
"""The longest a provider's reset time holds requests back, in seconds: a later reset (or
an absurd one) is taken as one hour from now."""


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_rate(name: str, value: object) -> None:
    if value is not None and not (_is_number(value) and math.isfinite(value) and value > 0):
        raise UsageError(
            f"RateLimit.{name} must be a positive finite number or None, not {value!r}"
        )


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The client-side limits of one key (a provider/model), checked before each attempt.

    ``requests_per_minute`` and ``tokens_per_minute``: the steady rates (None: that one is
    not limited). ``burst``: the seconds' worth of quota that may go out at once above the
    steady pace (0 to 60). The default, 0.1 s, lets one extra request out at 600 requests a
    minute; raise it to let an idle client send a quick batch. In any window of W seconds
    at most ``rate * (W + burst)`` requests (tokens) are granted, plus one request.
    """

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    burst: float = 0.1

    def __post_init__(self) -> None:
        _check_rate("requests_per_minute", self.requests_per_minute)
        _check_rate("tokens_per_minute", self.tokens_per_minute)
        burst = self.burst
        if not (_is_number(burst) and 0 <= burst <= MAX_BURST):
            raise UsageError(
                f"RateLimit.burst must be a number of seconds from 0 to {MAX_BURST:g}, "
                f"not {burst!r}"
            )

    @property
    def seconds_per_request(self) -> float:
        """How far one request moves the request bucket on (0.0: requests not limited)."""
        rate = self.requests_per_minute
        return 0.0 if rate is None else 60.0 / rate

    @property
    def seconds_per_token(self) -> float:
        """How far one token moves the token bucket on (0.0: tokens not limited)."""
        rate = self.tokens_per_minute
        return 0.0 if rate is None else 60.0 / rate


def _check_remaining(name: str, value: object) -> None:
    if value is not None and not (
        isinstance(value, int) and not isinstance(value, bool) and value >= 0
    ):
        raise UsageError(f"Observed.{name} must be a non-negative integer or None, not {value!r}")


def _check_time(name: str, value: object) -> None:
    if value is not None and not (_is_number(value) and math.isfinite(value)):
        raise UsageError(
            f"Observed.{name} must be a finite time.time() value or None, not {value!r}"
        )


@dataclass(frozen=True, slots=True)
class Observed:
    """What a provider's rate-limit headers said (see ``chatlane.ratelimit.headers``).

    ``*_remaining``: what the provider would still accept in its current window;
    ``*_reset_at``: when that window resets, as a ``time.time()`` value. None where the
    headers did not say. A limiter holds requests until the reset when the remaining count
    does not cover one more request; a count without its reset time is not acted on.
    """

    requests_remaining: int | None = None
    requests_reset_at: float | None = None
    tokens_remaining: int | None = None
    tokens_reset_at: float | None = None

    def __post_init__(self) -> None:
        _check_remaining("requests_remaining", self.requests_remaining)
        _check_time("requests_reset_at", self.requests_reset_at)
        _check_remaining("tokens_remaining", self.tokens_remaining)
        _check_time("tokens_reset_at", self.tokens_reset_at)


class Limiter(Protocol):
    """A client-side rate limiter: ``LocalLimiter`` (one process) or ``RedisLimiter``
    (shared by many processes and machines).

    ``try_acquire`` never blocks: it returns 0.0 when one request of ``tokens`` tokens is
    granted now (and records it), else the seconds to wait before asking again (and records
    nothing). The caller sleeps that long (``asyncio.sleep`` in async code) and asks again.
    ``settle`` corrects the tokens recorded once the real usage is known: ``reserved`` was
    the estimate passed to ``try_acquire``, ``used`` the usage the answer reported; the
    difference is refunded or charged. ``learn`` takes what a provider's headers said: it
    only ever holds requests back (until the provider's reset), never loosens ``limit``.
    The ``a`` methods do the same without blocking an event loop.
    """

    def try_acquire(self, key: str, limit: RateLimit, *, tokens: int) -> float: ...

    async def atry_acquire(self, key: str, limit: RateLimit, *, tokens: int) -> float: ...

    def settle(self, key: str, limit: RateLimit, *, reserved: int, used: int) -> None: ...

    async def asettle(self, key: str, limit: RateLimit, *, reserved: int, used: int) -> None: ...

    def learn(self, key: str, observed: Observed) -> None: ...

    async def alearn(self, key: str, observed: Observed) -> None: ...


class RateLimited(ChatlaneError):
    """A client-side rate limit holds this call back, and the caller asked not to wait.

    ``retry_after``: the seconds after which the limiter could grant it. Nothing was sent.
    """

    def __init__(
        self,
        retry_after: float,
        *,
        key: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        attempts: int = 0,
    ) -> None:
        where = f" of {key!r}" if key else ""
        super().__init__(
            f"the client-side rate limit{where} holds this request back: retry in "
            f"{retry_after:.3f}s",
            provider=provider,
            model=model,
            attempts=attempts,
        )
        self.retry_after = retry_after
        self.key = key


class RateLimiterUnavailable(ChatlaneError):
    """The shared rate limiter's store (Redis) could not be reached, and the limiter was
    made with ``on_error="raise"``. By default limiters fail open instead."""


# -- argument checks shared by the limiters (not part of the public API) --------------------


def check_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise UsageError(f"key must be a non-empty string such as 'openai/gpt-4o', not {key!r}")
    return key


def check_limit(limit: object) -> RateLimit:
    if not isinstance(limit, RateLimit):
        raise UsageError(f"limit must be a chatlane RateLimit, not {limit!r}")
    return limit


def check_count(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"{name} must be a non-negative integer (a token count), not {value!r}")
    return value


def learned_hold(
    remaining: int | None, reset_at: float | None, wall_now: float
) -> tuple[int, float] | None:
    """(remaining, seconds until the reset) of one dimension of an ``Observed``, or None if
    there is nothing to act on: a count without its reset time, or a reset already past."""
    if remaining is None or reset_at is None:
        return None
    reset_in = min(reset_at - wall_now, MAX_HOLD)
    return (remaining, reset_in) if reset_in > 0 else None


def check_observed(observed: object) -> Observed:
    if not isinstance(observed, Observed):
        raise UsageError(f"observed must be a chatlane Observed (from observe()), not {observed!r}")
    return observed
