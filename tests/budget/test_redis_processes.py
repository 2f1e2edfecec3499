"""Four real processes spend from one shared $0.10 budget at once: together they never
spend past it, and Redis holds exactly what each of them settled."""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import random
import time
from multiprocessing.synchronize import Event

import pytest

from chatlane.budget.budget import BudgetExceeded, BudgetState, usd_to_nanos
from chatlane.budget.redis_budget import RedisBudget

pytestmark = pytest.mark.redis

LIMIT = 0.10
WORST = 0.004
ATTEMPTS = 60

Report = tuple[int, int, list[str]]
"""What one process settled (nano-dollars), how often it was refused, other errors."""


def spend(url: str, seed: int, start: Event, results: multiprocessing.Queue[Report]) -> None:
    """One process: reserve the worst case, settle a real cost below it, ATTEMPTS times;
    report the nano-dollars it settled and what refused it."""
    rng = random.Random(seed)
    settled = refused = 0
    other: list[str] = []
    with RedisBudget(url, name="shared", usd=LIMIT) as budget:
        start.wait()
        for _ in range(ATTEMPTS):
            try:
                reservation = budget.reserve("gpt-4o", WORST, 1_000)
            except BudgetExceeded:
                refused += 1
                continue
            except Exception as exc:
                other.append(repr(exc))
                continue
            time.sleep(rng.uniform(0, 0.002))  # the call, while others reserve
            cost = rng.randrange(usd_to_nanos(WORST) // 4, usd_to_nanos(WORST)) / 1e9
            budget.settle(reservation, cost, 800)
            settled += usd_to_nanos(cost)
    results.put((settled, refused, other))


def test_four_processes_never_spend_past_a_shared_budget(redis_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results: multiprocessing.Queue[Report] = context.Queue()
    workers = [
        context.Process(target=spend, args=(redis_url, seed, start, results)) for seed in range(4)
    ]
    for worker in workers:
        worker.start()
    start.set()
    reports: list[Report] = []
    seen: list[BudgetState] = []
    deadline = time.monotonic() + 60
    with RedisBudget(redis_url, name="shared", usd=LIMIT) as budget:
        while len(reports) < len(workers):  # watch the budget while they spend
            assert time.monotonic() < deadline, "the processes did not finish"
            seen.append(budget.state())
            with contextlib.suppress(queue.Empty):
                reports.append(results.get(timeout=0.001))
        final = budget.state()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    settled = [report[0] for report in reports]
    assert [report[2] for report in reports] == [[]] * 4  # every refusal was BudgetExceeded
    assert sum(report[1] for report in reports) > 0
    assert usd_to_nanos(final.spent_usd) == sum(settled)
    assert sum(settled) <= usd_to_nanos(LIMIT)
    assert final.reserved_usd == 0
    over = [
        state
        for state in seen
        if usd_to_nanos(state.spent_usd) + usd_to_nanos(state.reserved_usd) > usd_to_nanos(LIMIT)
    ]
    assert over == []
    # Before the first refusal more than LIMIT - WORST was held or spent: 25 attempts.
    assert final.spent_tokens >= 25 * 800
