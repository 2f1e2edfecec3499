"""The bodies of the processes in test_processes.py: each runs a real chatlane.Client
sharing a Redis rate limit and a Redis budget with the others (no pytest imports here)."""

from __future__ import annotations

import time
from typing import Any

import chatlane

HI = [{"role": "user", "content": "Hi"}]
PRICED = {"m": chatlane.ModelInfo(input_per_mtok=1000.0, output_per_mtok=1000.0)}


def client_for(base_url: str, redis_url: str, rpm: float, usd: float) -> chatlane.Client:
    limits = chatlane.RateLimits(
        limits={"openai-compatible/m": chatlane.RateLimit(requests_per_minute=rpm)},
        limiter=chatlane.RedisLimiter(redis_url),
    )
    budget = chatlane.RedisBudget(redis_url, name="shared", usd=usd)
    return chatlane.Client(
        base_url=base_url, rate_limits=limits, budget=budget, models=PRICED, max_retries=0
    )


def calls(
    base_url: str, redis_url: str, rpm: float, usd: float, until: float, barrier: Any, out: Any
) -> None:
    """Call until ``until`` (time.time()), starting with the others; report (answered,
    refused by the budget, other errors)."""
    answered = refused = failed = 0
    with client_for(base_url, redis_url, rpm, usd) as client:
        barrier.wait(timeout=60)
        while time.time() < until:
            try:
                client.chat(model="m", messages=HI, max_tokens=2)
                answered += 1
            except chatlane.BudgetExceeded:
                refused += 1
                time.sleep(0.01)
            except chatlane.ChatlaneError:
                failed += 1
    out.put((answered, refused, failed))
