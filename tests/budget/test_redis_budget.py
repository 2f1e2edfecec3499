"""The shared budget on the private redis-server: shared totals, refusals, expiry of
reservations never settled, and a Redis that is down or stalls (nothing spent unchecked,
nothing counted twice, no password shown)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from chatlane.budget.budget import (
    Budget,
    BudgetExceeded,
    BudgetLike,
    UnknownPriceError,
    reserve_all,
    usd_to_nanos,
)
from chatlane.budget.redis_budget import BudgetUnavailable, RedisBudget
from chatlane.core.errors import ChatlaneError, ConfigurationError, UsageError
from tests.redis_kit import start_redis

pytestmark = pytest.mark.redis

PASSWORD = "hunter2-very-secret"


@pytest.fixture
def budgets(redis_url: str) -> Iterator[list[RedisBudget]]:
    """Budgets made by a test (closed after it)."""
    made: list[RedisBudget] = []
    yield made
    for budget in made:
        budget.close()


def shared(made: list[RedisBudget], url: str, **options: object) -> RedisBudget:
    options.setdefault("name", "team")
    budget = RedisBudget(url, **options)  # type: ignore[arg-type]
    made.append(budget)
    return budget


def test_budgets_with_one_name_share_their_totals(
    redis_url: str, budgets: list[RedisBudget]
) -> None:
    first = shared(budgets, redis_url, usd=0.05)
    second = shared(budgets, redis_url, usd=0.05)
    elsewhere = shared(budgets, redis_url, usd=0.05, name="other")
    prefixed = shared(budgets, redis_url, usd=0.05, prefix="app2:")
    first.settle(first.reserve("gpt-4o", 0.02, 100), 0.015, 90)
    held = second.reserve("gpt-4o", 0.03, 10)
    with pytest.raises(BudgetExceeded) as caught:
        first.reserve("gpt-4o", 0.02, 10)
    error = caught.value
    assert (error.budget, error.unit, error.limit) == ("team", "usd", 0.05)
    assert (error.spent, error.reserved, error.requested) == (0.015, 0.03, 0.02)
    assert "$0.015 is spent" in str(error)
    assert isinstance(second, BudgetLike)
    # Other names and prefixes are other budgets.
    assert elsewhere.state().spent_usd == prefixed.state().spent_usd == 0
    second.release(held)
    state = first.state()
    assert (state.spent_usd, state.reserved_usd, state.spent_tokens) == (0.015, 0, 90)
    assert state.remaining_usd == pytest.approx(0.035)


def test_amounts_are_stored_as_integer_nano_dollars(
    redis_url: str, budgets: list[RedisBudget]
) -> None:
    budget = shared(budgets, redis_url, usd=1.0)
    for _ in range(3):
        budget.settle(budget.reserve("gpt-4o", 0.1, 10), 0.1, 7)
    with redis.Redis.from_url(redis_url) as connection:
        totals = connection.hgetall(budget.key)
    assert budget.key == "chatlane:budget:{team}"
    assert totals[b"spent_usd"] == b"300000000"  # three dimes, no float drift
    assert totals[b"spent_tokens"] == b"21"
    assert budget.spent_usd == 0.3


def test_settle_above_the_reservation_release_and_token_limits(
    redis_url: str, budgets: list[RedisBudget]
) -> None:
    budget = shared(budgets, redis_url, usd=0.10, tokens=1_000)
    budget.settle(budget.reserve("gpt-4o", 0.01, 100), 0.08, 700)
    assert budget.remaining_usd == pytest.approx(0.02)
    with pytest.raises(BudgetExceeded) as caught:
        budget.reserve("gpt-4o", 0.001, 301)
    assert caught.value.unit == "tokens"
    assert (caught.value.spent, caught.value.requested) == (700, 301)
    held = budget.reserve("gpt-4o", 0.02, 300)
    budget.release(held)
    assert (budget.reserved_usd, budget.reserved_tokens, budget.remaining_tokens) == (0, 0, 300)


def test_unknown_prices_follow_the_policy(redis_url: str, budgets: list[RedisBudget]) -> None:
    strict = shared(budgets, redis_url, usd=1.0, name="strict")
    with pytest.raises(UnknownPriceError, match="Client\\(models="):
        strict.reserve("my-model", None, 10)
    counting = shared(budgets, redis_url, usd=1.0, tokens=100, on_unknown_price="tokens_only")
    reservation = counting.reserve("my-model", None, 60)
    with pytest.raises(BudgetExceeded, match="tokens"):
        counting.reserve("my-model", None, 41)
    counting.settle(reservation, None, 50)
    state = counting.state()
    assert (state.spent_usd, state.spent_tokens, state.unpriced) == (0, 50, 1)
    tokens_only = shared(budgets, redis_url, tokens=10, name="tokens")
    tokens_only.settle(tokens_only.reserve("my-model", None, 10), None, 10)
    assert tokens_only.remaining_tokens == 0
    assert tokens_only.remaining_usd is None


def test_a_reservation_is_settled_once_by_the_object_that_made_it(
    redis_url: str, budgets: list[RedisBudget]
) -> None:
    first = shared(budgets, redis_url, usd=1.0)
    second = shared(budgets, redis_url, usd=1.0)
    reservation = first.reserve("gpt-4o", 0.1, 1)
    with pytest.raises(UsageError, match="not an open reservation"):
        second.settle(reservation, 0.1, 1)
    first.settle(reservation, 0.1, 1)
    with pytest.raises(UsageError, match="not an open reservation"):
        first.release(reservation)
    assert first.spent_usd == pytest.approx(0.1)


def test_an_unsettled_reservation_expires_and_still_counts_when_settled_late(
    redis_url: str, budgets: list[RedisBudget]
) -> None:
    dying = shared(budgets, redis_url, usd=0.05, reservation_ttl=0.05)
    other = shared(budgets, redis_url, usd=0.05)
    late = dying.reserve("gpt-4o", 0.05, 100)
    with pytest.raises(BudgetExceeded):
        other.reserve("gpt-4o", 0.01, 1)
    time.sleep(0.1)  # the reserving process "died": its hold runs out
    assert other.reserved_usd == 0
    held = other.reserve("gpt-4o", 0.01, 1)
    dying.settle(late, 0.03, 80)  # the call did finish: what it cost is spent
    state = other.state()
    assert (state.spent_usd, state.reserved_usd, state.spent_tokens) == (0.03, 0.01, 80)
    other.settle(held, 0.01, 1)
    assert other.spent_usd == pytest.approx(0.04)


def test_reserve_all_rolls_back_a_shared_budget(redis_url: str, budgets: list[RedisBudget]) -> None:
    team = shared(budgets, redis_url, usd=1.0)
    small = Budget(usd=0.1, name="scope")
    with pytest.raises(BudgetExceeded) as caught:
        reserve_all([team, small], "gpt-4o", 0.5, 10)
    assert caught.value.budget == "scope"
    assert team.state().reserved_usd == 0
    held = reserve_all([small, team], "gpt-4o", 0.05, 10)
    assert team.reserved_usd == pytest.approx(0.05)
    assert len(held) == 2


@pytest.mark.asyncio
async def test_the_async_operations(redis_url: str) -> None:
    async with RedisBudget(redis_url, name="async", usd=0.05, tokens=100) as budget:
        reservation = await budget.areserve("gpt-4o", 0.04, 50)
        with pytest.raises(BudgetExceeded):
            await budget.areserve("gpt-4o", 0.02, 1)
        await budget.asettle(reservation, 0.045, 60)
        released = await budget.areserve("gpt-4o", 0.005, 40)
        await budget.arelease(released)
        state = await budget.astate()
    assert (state.spent_usd, state.reserved_usd, state.spent_tokens) == (0.045, 0, 60)
    with RedisBudget(redis_url, name="async", usd=0.05) as sync_view:
        assert sync_view.spent_usd == 0.045


# -- Redis down ----------------------------------------------------------------------------


def missing_socket(tmp_path: Path) -> str:
    return f"unix://:{PASSWORD}@{tmp_path}/no-redis-here.sock"


def test_a_budget_that_cannot_be_reached_allows_no_spending(tmp_path: Path) -> None:
    with RedisBudget(missing_socket(tmp_path), name="team", usd=1.0, timeout=0.5) as budget:
        with pytest.raises(BudgetUnavailable) as caught:
            budget.reserve("gpt-4o", 0.01, 10)
        with pytest.raises(BudgetUnavailable):
            budget.state()
    error = caught.value
    assert isinstance(error, ChatlaneError)
    assert (error.budget, error.model) == ("team", "gpt-4o")
    assert "not sent" in str(error)
    assert PASSWORD not in str(error)
    assert PASSWORD not in repr(budget)
    assert "***" in repr(budget)


@pytest.mark.asyncio
async def test_the_async_path_reports_it_too(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/no-redis-here.sock?password={PASSWORD}&db=0"
    async with RedisBudget(url, name="team", usd=1.0, timeout=0.5) as budget:
        with pytest.raises(BudgetUnavailable) as caught:
            await budget.areserve("gpt-4o", 0.01, 10)
        assert PASSWORD not in repr(budget)
    assert PASSWORD not in str(caught.value)
    assert f"{tmp_path}/no-redis-here.sock" in str(caught.value)


def test_a_redis_that_goes_down_and_comes_back(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    try:
        with RedisBudget(server.url, name="team", usd=1.0, timeout=0.5) as budget:
            in_flight = budget.reserve("gpt-4o", 0.1, 10)
            server.stop()
            with pytest.raises(BudgetUnavailable, match="settlement is kept"):
                budget.settle(in_flight, 0.05, 10)
            with pytest.raises(BudgetUnavailable, match="not sent"):
                budget.reserve("gpt-4o", 0.1, 10)
            server = start_redis(tmp_path)  # an empty Redis on the same socket
            budget.settle(budget.reserve("gpt-4o", 0.1, 10), 0.02, 5)
            assert budget.spent_usd == pytest.approx(0.02)
    finally:
        server.stop()


def test_a_stalled_write_is_kept_and_counted_once(
    redis_url: str, budgets: list[RedisBudget]
) -> None:
    budget = shared(budgets, redis_url, usd=1.0, timeout=0.2)
    settled = budget.reserve("gpt-4o", 0.5, 100)
    with redis.Redis.from_url(redis_url) as admin:
        admin.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
        try:
            with pytest.raises(BudgetUnavailable, match="settlement is kept"):
                budget.settle(settled, 0.25, 90)
            with pytest.raises(BudgetUnavailable, match="not sent"):
                budget.reserve("gpt-4o", 0.1, 10)
        finally:
            admin.execute_command("CLIENT", "UNPAUSE")
    # Whatever the stalled commands did, the settlement counts once and the hold the
    # failed reservation may have taken is given back.
    state = budget.state()
    assert usd_to_nanos(state.spent_usd) == usd_to_nanos(0.25)
    assert (state.reserved_usd, state.spent_tokens, state.reserved_tokens) == (0, 90, 0)
    budget.settle(budget.reserve("gpt-4o", 0.75, 1), 0.75, 1)  # the rest of the dollar fits


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [({"name": ""}, "name"), ({"name": "a{b}"}, "name"), ({"name": 3}, "name"),
     ({"name": "x"}, "needs a limit"), ({"name": "x", "usd": -1}, "usd"),
     ({"name": "x", "usd": 10_000_000}, "at most"), ({"name": "x", "tokens": "5"}, "tokens"),
     ({"name": "x", "usd": 1, "timeout": 0}, "timeout"),
     ({"name": "x", "usd": 1, "reservation_ttl": -1}, "reservation_ttl"),
     ({"name": "x", "usd": 1, "prefix": None}, "prefix"),
     ({"name": "x", "usd": 1, "on_unknown_price": "free"}, "on_unknown_price")],
)  # fmt: skip
def test_bad_options_are_usage_errors(
    redis_url: str, options: dict[str, object], named: str
) -> None:
    with pytest.raises(UsageError, match=named):
        RedisBudget(redis_url, **options)  # type: ignore[arg-type]


def test_a_bad_url_is_a_configuration_error_without_its_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        RedisBudget(f"http://user:{PASSWORD}@localhost/", name="x", usd=1)
    assert PASSWORD not in str(caught.value)
    assert "http://user:***@localhost/" in str(caught.value)


def test_without_redis_py_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'chatlane\[redis\]'"):
        RedisBudget("redis://localhost:6379/0", name="x", usd=1)


def test_importing_the_budgets_does_not_import_redis() -> None:
    code = (
        "import sys, chatlane.budget.redis_budget, chatlane.budget.budget, "
        "chatlane.budget.ledger, chatlane.budget.pricing; "
        "assert 'redis' not in sys.modules, 'redis was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
