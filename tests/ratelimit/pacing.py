"""Callers that loop acquire -> sleep the returned wait, as a client does, and the counts
of what they were granted over windows of time. Also the body of the spawned processes of
the acceptance test (this module imports nothing of pytest's)."""

from __future__ import annotations

import asyncio
import bisect
import time
from typing import Any

from chatlane.ratelimit.limits import Limiter, RateLimit


def pace(limiter: Limiter, key: str, limit: RateLimit, tokens: int, until: float) -> list[float]:
    """Ask until ``until`` (a ``time.time()``), sleeping each wait; the grants' times."""
    grants: list[float] = []
    while (now := time.time()) < until:
        wait = limiter.try_acquire(key, limit, tokens=tokens)
        if wait == 0.0:
            grants.append(time.time())
        else:
            time.sleep(min(wait, until - now))
    return grants


async def apace(
    limiter: Limiter, key: str, limit: RateLimit, tokens: int, until: float
) -> list[float]:
    """``pace`` for a task."""
    grants: list[float] = []
    while (now := time.time()) < until:
        wait = await limiter.atry_acquire(key, limit, tokens=tokens)
        if wait == 0.0:
            grants.append(time.time())
        else:
            await asyncio.sleep(min(wait, until - now))
    return grants


def busiest_window(times: list[float], seconds: float) -> int:
    """The most grants in any window ``[t, t + seconds)`` that starts at a grant."""
    ordered = sorted(times)
    return max(
        (
            bisect.bisect_left(ordered, start + seconds) - index
            for index, start in enumerate(ordered)
        ),
        default=0,
    )


def first_window(times: list[float], seconds: float) -> int:
    """The grants in ``[first grant, first grant + seconds)``."""
    if not times:
        return 0
    start = min(times)
    return sum(1 for moment in times if moment < start + seconds)


def process_body(
    url: str,
    key: str,
    limit: RateLimit,
    tokens: int,
    seconds: float,
    barrier: Any,
    results: Any,
) -> None:
    """One process of the acceptance test: its own RedisLimiter, started with the others."""
    from chatlane.ratelimit.redis_limiter import RedisLimiter

    limiter = RedisLimiter(url, on_error="raise")
    try:
        barrier.wait(timeout=60)
        grants = pace(limiter, key, limit, tokens, time.time() + seconds)
    finally:
        limiter.close()
    results.put((key, grants))
