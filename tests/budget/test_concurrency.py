"""Many attempts at once, as tasks and as threads, against an in-process and a shared
budget: what is spent (and held) never passes the limit, and each refusal is a
BudgetExceeded."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable

import pytest

from chatlane.budget.budget import Budget, BudgetExceeded, BudgetLike, BudgetState, usd_to_nanos
from chatlane.budget.redis_budget import RedisBudget

LIMIT = 0.05
LIMIT_NANOS = usd_to_nanos(LIMIT)
WORST = 0.002
FITS_AT_ONCE = int(LIMIT / WORST)

MakeBudget = Callable[[], BudgetLike]


@pytest.fixture(params=["in_process", pytest.param("redis", marks=pytest.mark.redis)])
def make_budget(request: pytest.FixtureRequest) -> MakeBudget:
    if request.param == "in_process":
        return lambda: Budget(usd=LIMIT, name="shared")
    url = request.getfixturevalue("redis_url")
    return lambda: RedisBudget(url, name="shared", usd=LIMIT)


def over_the_limit(state: BudgetState) -> bool:
    spent, reserved = usd_to_nanos(state.spent_usd), usd_to_nanos(state.reserved_usd)
    return spent > LIMIT_NANOS or spent + reserved > LIMIT_NANOS


def real_cost(rng: random.Random) -> float:
    """A cost below the worst case, in whole nano-dollars (so sums compare exactly)."""
    return rng.randrange(usd_to_nanos(WORST) // 4, usd_to_nanos(WORST)) / 1e9


def check_totals(final: BudgetState, settled: list[float], refusals: int, attempts: int) -> None:
    assert refusals + len(settled) == attempts
    assert refusals > 0
    # A refusal needs more than LIMIT - WORST held or spent, at most WORST per attempt.
    assert len(settled) >= FITS_AT_ONCE
    assert usd_to_nanos(final.spent_usd) == sum(usd_to_nanos(cost) for cost in settled)
    assert final.spent_usd <= LIMIT
    assert final.reserved_usd == 0


@pytest.mark.asyncio
async def test_200_tasks_never_spend_past_the_limit(make_budget: MakeBudget) -> None:
    budget = make_budget()
    settled: list[float] = []
    refusals: list[BudgetExceeded] = []
    seen: list[BudgetState] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            seen.append(await budget.astate())
            await asyncio.sleep(0)

    async def attempt(index: int) -> None:
        rng = random.Random(index)
        await asyncio.sleep(rng.uniform(0, 0.02))  # arrivals spread out, so slots free up
        try:
            reservation = await budget.areserve("gpt-4o", WORST, 500)
        except BudgetExceeded as exc:
            refusals.append(exc)
            return
        seen.append(await budget.astate())
        await asyncio.sleep(rng.uniform(0, 0.005))
        cost = real_cost(rng)
        await budget.asettle(reservation, cost, 400)
        settled.append(cost)

    try:
        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(attempt(index) for index in range(200)))
        done.set()
        await watcher
        final = await budget.astate()
    finally:
        if isinstance(budget, RedisBudget):
            await budget.aclose()
    assert [state for state in seen if over_the_limit(state)] == []
    assert len(seen) > len(settled)  # one read after each reservation, and the watcher's
    check_totals(final, settled, len(refusals), 200)
    assert all(error.requested == WORST and error.limit == LIMIT for error in refusals)


def test_16_threads_never_spend_past_the_limit(make_budget: MakeBudget) -> None:
    budget = make_budget()
    settled: list[float] = []
    refusals: list[BudgetExceeded] = []
    failures: list[BaseException] = []
    seen: list[BudgetState] = []
    start = threading.Barrier(17)
    done = threading.Event()

    def watch() -> None:
        start.wait()
        while not done.is_set():
            seen.append(budget.state())

    def work(index: int) -> None:
        rng = random.Random(index)
        start.wait()
        try:
            for _ in range(30):
                try:
                    reservation = budget.reserve("gpt-4o", WORST, 500)
                except BudgetExceeded as exc:
                    refusals.append(exc)
                    continue
                time.sleep(rng.uniform(0, 0.002))
                cost = real_cost(rng)
                budget.settle(reservation, cost, 400)
                settled.append(cost)
        except BaseException as exc:  # any other error fails the test below
            failures.append(exc)

    watcher = threading.Thread(target=watch)
    workers = [threading.Thread(target=work, args=(index,)) for index in range(16)]
    try:
        watcher.start()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        done.set()
        watcher.join()
        final = budget.state()
    finally:
        if isinstance(budget, RedisBudget):
            budget.close()
    assert failures == []
    assert [state for state in seen if over_the_limit(state)] == []
    assert seen
    check_totals(final, settled, len(refusals), 16 * 30)
