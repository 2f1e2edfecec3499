"""Retry policy as pure functions of (attempt, status, headers, time). No sleeping here.

The client is the only retry owner: it asks ``next_delay`` after each failed attempt and
either waits that long or gives up.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatlane.core.errors import UsageError

if TYPE_CHECKING:
    import random

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "backoff_delay", "next_delay", "parse_retry_after"]

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})  # 529: overloaded


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the client retries.

    ``max_retries`` counts retries after the first attempt. Waits grow as
    ``initial_delay * 2**retry`` up to ``max_delay``, with full jitter in [50%, 100%] of that.
    A server's Retry-After (seconds, HTTP date or ``retry-after-ms``) replaces the backoff;
    one longer than ``max_retry_after`` is not waited for: the error is raised at once, with
    its ``retry_after``.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise UsageError("max_retries must be >= 0")
        if self.initial_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise UsageError("retry delays must be >= 0")


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked to wait, or None. ``headers`` must have lower-case names."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            millis = float(raw_ms)
        except ValueError:
            pass
        else:
            if millis >= 0:
                return millis / 1000.0
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        import email.utils  # only for the rare HTTP-date form

        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(seconds, 0.0)
    return seconds if seconds >= 0 else None


def backoff_delay(retry: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter for the ``retry``-th retry (0-based)."""
    base = min(policy.max_delay, policy.initial_delay * (2.0**retry))
    if rng is None:
        import random  # lazily, like email.utils: keeps `import chatlane` fast

        rng = random.Random()
    jitter = rng.uniform(0.5, 1.0)
    return base * jitter


def next_delay(
    *,
    retry: int,
    status: int | None,
    headers: Mapping[str, str],
    policy: RetryPolicy,
    remaining: float | None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before retry number ``retry`` (0-based), or None to give up.

    ``status`` is None for a connection failure (always retryable). ``remaining`` is the time
    left before the caller's total deadline (None for no deadline): a retry that could not
    start before it is not attempted.
    """
    if retry >= policy.max_retries:
        return None
    if status is not None and status not in RETRYABLE_STATUSES:
        return None
    asked = parse_retry_after(headers) if status is not None else None
    if asked is not None:
        if asked > policy.max_retry_after:
            return None
        delay = asked
    else:
        delay = backoff_delay(retry, policy, rng)
    if remaining is not None and delay >= remaining:
        return None
    return delay
