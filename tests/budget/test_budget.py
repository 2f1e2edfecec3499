"""The in-process budget: reservations fit or are refused with a clear error, settlements
replace them, releases refund them, and several budgets are reserved all or none."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatlane.budget.budget import (
    Budget,
    BudgetExceeded,
    BudgetLike,
    UnknownPriceError,
    arelease_all,
    areserve_all,
    asettle_all,
    nanos_to_usd,
    release_all,
    reserve_all,
    settle_all,
    usd_to_nanos,
)
from chatlane.core.errors import ChatlaneError, ConfigurationError, UsageError


def test_five_cent_calls_fill_a_five_cent_budget_exactly() -> None:
    budget = Budget(usd=0.05)
    held = [budget.reserve("gpt-4o", 0.01, 100) for _ in range(5)]
    assert budget.remaining_usd == 0
    with pytest.raises(BudgetExceeded):
        budget.reserve("gpt-4o", 0.000001, 0)
    for reservation in held:
        budget.settle(reservation, 0.01, 100)
    assert budget.spent_usd == 0.05
    assert budget.reserved_usd == 0
    assert budget.spent_tokens == 500


def test_a_refusal_says_what_was_asked_spent_and_reserved() -> None:
    budget = Budget(usd=0.10, name="team-a")
    budget.settle(budget.reserve("gpt-4o", 0.05, 10), 0.04, 10)
    budget.reserve("gpt-4o", 0.03, 10)
    with pytest.raises(BudgetExceeded) as caught:
        budget.reserve("gpt-4o", 0.05, 10)
    error = caught.value
    assert (error.budget, error.unit, error.model) == ("team-a", "usd", "gpt-4o")
    assert (error.limit, error.spent, error.reserved, error.requested) == (0.10, 0.04, 0.03, 0.05)
    text = str(error)
    assert "'team-a'" in text
    for amount in ("$0.05", "$0.04", "$0.03", "$0.10"):
        assert amount in text
    assert isinstance(error, ChatlaneError)
    # It pickles (errors cross process pools) with its fields.
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.budget, copy.spent, str(copy)) == ("team-a", 0.04, text)
    # A refused reservation holds nothing.
    assert budget.reserved_usd == pytest.approx(0.03)


def test_settling_above_the_reservation_counts_in_full_and_later_reservations_see_it() -> None:
    budget = Budget(usd=0.10, tokens=1_000)
    reservation = budget.reserve("gpt-4o", 0.02, 200)
    budget.settle(reservation, 0.09, 900)
    state = budget.state()
    assert (state.spent_usd, state.reserved_usd, state.spent_tokens) == (0.09, 0.0, 900)
    assert state.remaining_usd == pytest.approx(0.01)
    with pytest.raises(BudgetExceeded, match="tokens"):
        budget.reserve("gpt-4o", 0.001, 101)
    # Past the limit: nothing remains, and nothing more fits.
    budget.settle(budget.reserve("gpt-4o", 0.01, 10), 0.05, 10)
    assert budget.spent_usd == pytest.approx(0.14)
    assert budget.remaining_usd == 0
    with pytest.raises(BudgetExceeded):
        budget.reserve("gpt-4o", 0.0, 0)  # even a free call: the budget is past its limit


def test_release_refunds_the_reservation_whole() -> None:
    budget = Budget(usd=0.05, tokens=100)
    reservation = budget.reserve("gpt-4o", 0.05, 100)
    with pytest.raises(BudgetExceeded):
        budget.reserve("gpt-4o", 0.01, 1)
    budget.release(reservation)
    state = budget.state()
    assert (state.spent_usd, state.reserved_usd, state.spent_tokens, state.reserved_tokens) == (
        0, 0, 0, 0
    )  # fmt: skip
    budget.reserve("gpt-4o", 0.05, 100)


def test_a_reservation_is_closed_once_and_only_by_its_budget() -> None:
    budget, other = Budget(usd=1.0), Budget(usd=1.0)
    reservation = budget.reserve("gpt-4o", 0.1, 10)
    with pytest.raises(UsageError, match="not an open reservation"):
        other.settle(reservation, 0.1, 10)
    budget.settle(reservation, 0.1, 10)
    with pytest.raises(UsageError, match="not an open reservation"):
        budget.settle(reservation, 0.1, 10)
    with pytest.raises(UsageError, match="not an open reservation"):
        budget.release(reservation)
    assert budget.spent_usd == pytest.approx(0.1)


def test_unknown_price_is_refused_by_default_with_how_to_price_the_model() -> None:
    budget = Budget(usd=1.0, name="ops")
    with pytest.raises(UnknownPriceError) as caught:
        budget.reserve("my-model", None, 100)
    error = caught.value
    assert isinstance(error, ConfigurationError)
    assert (error.model, error.budget) == ("my-model", "ops")
    assert "Client(models={'my-model': chatlane.ModelInfo(input_per_mtok=" in str(error)
    assert 'on_unknown_price="tokens_only"' in str(error)
    assert budget.reserved_tokens == 0


def test_unknown_price_under_tokens_only_counts_its_tokens() -> None:
    budget = Budget(usd=0.01, tokens=1_000, on_unknown_price="tokens_only")
    reservation = budget.reserve("my-model", None, 600)
    assert reservation.usd is None
    assert not reservation.priced
    assert (budget.reserved_usd, budget.reserved_tokens) == (0, 600)
    with pytest.raises(BudgetExceeded, match="tokens"):
        budget.reserve("my-model", None, 401)
    budget.settle(reservation, None, 550)
    state = budget.state()
    assert (state.spent_usd, state.spent_tokens, state.unpriced) == (0, 550, 1)


def test_an_unknown_real_price_counts_the_reserved_dollars() -> None:
    budget = Budget(usd=1.0)
    budget.settle(budget.reserve("gpt-4o", 0.3, 10), None, 10)
    assert budget.spent_usd == pytest.approx(0.3)
    assert budget.state().unpriced == 1


def test_a_tokens_only_budget_takes_unknown_prices_and_ignores_dollars() -> None:
    budget = Budget(tokens=100)  # on_unknown_price="refuse", but it has no dollars to refuse
    first = budget.reserve("my-model", None, 60)
    budget.reserve("gpt-4o", 1_000.0, 40)
    with pytest.raises(BudgetExceeded) as caught:
        budget.reserve("gpt-4o", 0.0, 1)
    assert caught.value.unit == "tokens"
    assert "100 tokens" in str(caught.value)
    assert budget.remaining_usd is None
    budget.settle(first, None, 10)
    assert (budget.spent_tokens, budget.reserved_tokens, budget.remaining_tokens) == (10, 40, 50)


def test_a_zero_limit_takes_only_free_calls() -> None:
    budget = Budget(usd=0)
    budget.settle(budget.reserve("free-model", 0.0, 10), 0.0, 10)
    with pytest.raises(BudgetExceeded):
        budget.reserve("gpt-4o", 1e-9, 10)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({}, "needs a limit"), ({"usd": -1}, "usd"), ({"usd": float("nan")}, "usd"),
     ({"usd": "5"}, "usd"), ({"usd": True}, "usd"), ({"tokens": 1.5}, "tokens"),
     ({"tokens": -3}, "tokens"), ({"usd": 1, "name": 3}, "name"),
     ({"usd": 1, "on_unknown_price": "allow"}, "on_unknown_price")],
)  # fmt: skip
def test_bad_budgets_are_usage_errors_naming_the_parameter(
    kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(UsageError, match=named):
        Budget(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "named"),
    [(("", 0.1, 1), "model"), ((None, 0.1, 1), "model"), (("m", -0.1, 1), "usd"),
     (("m", float("inf"), 1), "usd"), (("m", float("nan"), 1), "usd"), (("m", True, 1), "usd"),
     (("m", 0.1, -1), "tokens"), (("m", 0.1, 2.0), "tokens"), (("m", 0.1, True), "tokens")],
)  # fmt: skip
def test_bad_reservations_are_usage_errors(args: tuple[object, ...], named: str) -> None:
    budget = Budget(usd=1.0)
    with pytest.raises(UsageError, match=named):
        budget.reserve(*args)  # type: ignore[arg-type]
    reservation = budget.reserve("m", 0.1, 1)
    for bad_usd in (-1.0, float("nan"), float("inf"), True):
        with pytest.raises(UsageError, match="usd"):
            budget.settle(reservation, bad_usd, 1)
    for bad_tokens in (None, -1, True, 2.0):
        with pytest.raises(UsageError, match="tokens"):
            budget.settle(reservation, 0.1, bad_tokens)  # type: ignore[arg-type]
    budget.settle(reservation, 0.1, 1)  # the bad settlements left it open


def test_repr_names_the_limits() -> None:
    assert repr(Budget(usd=0.5, tokens=10, name="x")) == "Budget(usd=0.5, tokens=10, name='x')"


def test_the_budget_is_a_budget_like() -> None:
    assert isinstance(Budget(usd=1), BudgetLike)


# -- several budgets -----------------------------------------------------------------------


def test_reserve_all_holds_every_budget() -> None:
    client, scope = Budget(usd=1.0), Budget(tokens=1_000)
    held = reserve_all([client, scope], "gpt-4o", 0.2, 300)
    assert [r.budget for r in held] == [client, scope]
    assert (client.reserved_usd, scope.reserved_tokens) == (0.2, 300)
    settle_all(held, 0.1, 200)
    assert (client.spent_usd, client.reserved_usd) == (0.1, 0)
    assert (scope.spent_tokens, scope.reserved_tokens) == (200, 0)


def test_reserve_all_rolls_back_when_one_budget_refuses() -> None:
    first, second, third = Budget(usd=1.0), Budget(usd=1.0), Budget(usd=0.1, name="small")
    with pytest.raises(BudgetExceeded) as caught:
        reserve_all([first, second, third], "gpt-4o", 0.5, 10)
    assert caught.value.budget == "small"
    for budget in (first, second, third):
        assert (budget.reserved_usd, budget.reserved_tokens) == (0, 0)
    # Nothing is left open: the full amounts can be reserved again.
    first.reserve("gpt-4o", 1.0, 0)
    second.reserve("gpt-4o", 1.0, 0)


def test_reserve_all_rolls_back_on_an_unknown_price() -> None:
    counting, strict = Budget(usd=1.0, on_unknown_price="tokens_only"), Budget(usd=1.0)
    with pytest.raises(UnknownPriceError):
        reserve_all([counting, strict], "my-model", None, 50)
    assert counting.reserved_tokens == 0


def test_the_same_budget_twice_is_reserved_once() -> None:
    budget = Budget(usd=0.3)
    held = reserve_all([budget, budget], "gpt-4o", 0.2, 10)
    assert len(held) == 1
    assert budget.reserved_usd == pytest.approx(0.2)


def test_release_all_refunds_every_budget_and_reports_misuse_after_the_rest() -> None:
    first, second = Budget(usd=1.0), Budget(usd=1.0)
    held = reserve_all([first, second], "gpt-4o", 0.4, 10)
    first.release(held[0])
    with pytest.raises(UsageError, match="not an open reservation"):
        release_all(held)
    assert second.reserved_usd == 0  # released although the first one failed


def test_reserve_all_checks_its_arguments() -> None:
    with pytest.raises(UsageError, match="budgets"):
        reserve_all("budget", "gpt-4o", 0.1, 1)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="budgets"):
        reserve_all([Budget(usd=1), object()], "gpt-4o", 0.1, 1)  # type: ignore[list-item]
    with pytest.raises(UsageError, match="reservations"):
        settle_all([object()], 0.1, 1)  # type: ignore[list-item]


@pytest.mark.asyncio
async def test_the_async_operations_do_the_same() -> None:
    client, scope = Budget(usd=1.0), Budget(usd=0.3, name="scope")
    held = await areserve_all([client, scope], "gpt-4o", 0.2, 10)
    with pytest.raises(BudgetExceeded):
        await areserve_all([client, scope], "gpt-4o", 0.2, 10)
    assert client.reserved_usd == pytest.approx(0.2)
    await asettle_all(held, 0.1, 5)
    again = await areserve_all([client, scope], "gpt-4o", 0.2, 10)
    await arelease_all(again)
    assert (await client.astate()).spent_usd == pytest.approx(0.1)
    assert (await scope.astate()).reserved_usd == 0


# -- the unit ------------------------------------------------------------------------------


@given(st.integers(0, 10**15 - 1))
def test_dollars_from_nano_dollars_come_back_exactly(nanos: int) -> None:
    assert usd_to_nanos(nanos_to_usd(nanos)) == nanos
    assert usd_to_nanos(nanos_to_usd(nanos), rounding="up") == nanos


@given(st.floats(0, 1e6, allow_nan=False))
def test_rounding_up_never_holds_less_than_the_amount(usd: float) -> None:
    up, down = usd_to_nanos(usd, rounding="up"), usd_to_nanos(usd, rounding="down")
    assert down <= usd * 1e9 * (1 + 1e-15)
    assert up >= usd * 1e9 * (1 - 1e-15)
    assert up - down in (0, 1)


def test_sums_do_not_drift_as_floats_do() -> None:
    assert 0.1 + 0.1 + 0.1 > 0.3  # in floats, three dimes overshoot thirty cents
    budget = Budget(usd=0.3)
    for _ in range(3):
        budget.settle(budget.reserve("gpt-4o", 0.1, 0), 0.1, 0)
    assert budget.spent_usd == 0.3
    assert budget.remaining_usd == 0
