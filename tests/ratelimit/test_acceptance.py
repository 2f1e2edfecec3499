"""The acceptance test: real processes sharing one Redis limit are kept to it over short
windows, not just per minute.

Eight spawned processes, each with its own RedisLimiter, loop acquire -> sleep the wait for
10 s: four share 600 requests a minute, four share 60 000 tokens a minute in requests of
100 tokens (also 10 a second), both with the default burst. Each must see 100 grants in
any 10 s, within 2%: at most 102 in the busiest window, at least 95 in the first.
"""

from __future__ import annotations

import multiprocessing

import pytest

from chatlane.ratelimit.limits import RateLimit
from tests.ratelimit.pacing import busiest_window, first_window, process_body

SECONDS = 10.0
RUN = SECONDS + 0.5  # every process is still asking when the first window closes
SHARES = {
    "openai/gpt-4o": (RateLimit(requests_per_minute=600), 1),
    "openai/gpt-4o-mini": (RateLimit(tokens_per_minute=60_000), 100),
}
PROCESSES_PER_KEY = 4


@pytest.mark.redis
def test_processes_sharing_a_redis_limit_keep_it_over_ten_seconds(redis_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES_PER_KEY * len(SHARES))
    results = context.Queue()
    processes = [
        context.Process(
            target=process_body, args=(redis_url, key, limit, tokens, RUN, barrier, results)
        )
        for key, (limit, tokens) in SHARES.items()
        for _ in range(PROCESSES_PER_KEY)
    ]
    for process in processes:
        process.start()
    try:
        grants: dict[str, list[float]] = {key: [] for key in SHARES}
        for _ in processes:
            key, times = results.get(timeout=120)
            grants[key].extend(times)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert [process.exitcode for process in processes] == [0] * len(processes)
    for key, times in grants.items():
        busiest, first = busiest_window(times, SECONDS), first_window(times, SECONDS)
        assert busiest <= 102, f"{key}: {busiest} granted in one 10 s window"
        assert first >= 95, f"{key}: only {first} granted in the first 10 s"
