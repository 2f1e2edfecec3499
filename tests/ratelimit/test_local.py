"""What is the in-process limiter's own: its table of keys stays bounded."""

from __future__ import annotations

import time

from chatlane.ratelimit.limits import RateLimit
from chatlane.ratelimit.local import LocalLimiter


def test_idle_keys_are_forgotten_and_live_ones_kept() -> None:
    limiter = LocalLimiter()
    held = RateLimit(requests_per_minute=1)
    assert limiter.try_acquire("tenant/held", held, tokens=1) == 0.0
    brief = RateLimit(requests_per_minute=600_000)  # a request's state lasts 0.1 ms
    for tenant in range(3000):
        assert limiter.try_acquire(f"tenant/{tenant}", brief, tokens=1) == 0.0
        if tenant % 500 == 0:
            time.sleep(0.002)
    time.sleep(0.002)
    for tenant in range(3000, 5000):
        limiter.try_acquire(f"tenant/{tenant}", brief, tokens=1)
    assert len(limiter) < 4000
    assert limiter.try_acquire("tenant/held", held, tokens=1) > 59
