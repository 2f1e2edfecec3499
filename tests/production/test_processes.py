"""Four real processes, each with its own chatlane.Client, share one Redis rate limit and
one Redis budget: together they keep 600 requests a minute within 2% over 10 s, and a
$0.10 budget is never overspent."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator

import pytest

import chatlane
from chatlane.testing import Completion, FakeServer
from tests.production.workers import calls

PROCESSES = 4


@pytest.fixture
def upstream() -> Iterator[FakeServer]:
    # Every request is answered the same way: 10 prompt and 1 completion tokens.
    with FakeServer() as server:
        server.handler = lambda request: Completion(content="ok", usage=(10, 1))
        yield server


def run_processes(
    server: FakeServer, redis_url: str, rpm: float, usd: float, seconds: float
) -> list[tuple[int, int, int]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    out = context.Queue()
    until = time.time() + 8.0 + seconds  # every process has imported chatlane by +8 s
    workers = [
        context.Process(target=calls, args=(server.url, redis_url, rpm, usd, until, barrier, out))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return results


@pytest.mark.redis
def test_four_clients_keep_a_shared_rate_limit(upstream: FakeServer, redis_url: str) -> None:
    started = time.time()
    results = run_processes(upstream, redis_url, rpm=600, usd=1000.0, seconds=10.0)
    assert all(failed == 0 for _, _, failed in results)
    times = sorted(r.received_at for r in upstream.chat_requests)
    assert times
    first = times[0]
    in_ten_seconds = sum(1 for t in times if t < first + 10.0)
    # 600 a minute is 100 in 10 s: within 2%.
    assert 98 <= in_ten_seconds <= 102, in_ten_seconds
    assert time.time() - started < 60


@pytest.mark.redis
def test_four_clients_never_overspend_a_shared_budget(upstream: FakeServer, redis_url: str) -> None:
    # Each call costs 11 tokens at $0.001: $0.011; its worst case (10 + 2 tokens) $0.012.
    results = run_processes(upstream, redis_url, rpm=60_000, usd=0.10, seconds=2.0)
    answered = sum(a for a, _, _ in results)
    refused = sum(r for _, r, _ in results)
    assert all(failed == 0 for _, _, failed in results)
    assert refused > 0
    assert answered * 0.011 <= 0.10 + 1e-9
    assert len(upstream.chat_requests) == answered
    with chatlane.RedisBudget(redis_url, name="shared", usd=0.10) as budget:
        assert budget.spent_usd == pytest.approx(answered * 0.011)
        assert budget.spent_usd <= 0.10
