"""Any sequence of reserve / settle / release leaves a budget where a plain model of it
says: what is spent and held, and which reservations fit. The in-process budget and the
shared one follow the same model."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from chatlane.budget.budget import (
    Budget,
    BudgetExceeded,
    BudgetLike,
    Reservation,
    UnknownPriceError,
    UnknownPricePolicy,
    nanos_to_usd,
    usd_to_nanos,
)
from chatlane.budget.redis_budget import RedisBudget

NANOS = st.integers(0, 3_000_000)
TOKENS = st.integers(0, 3_000)


@dataclass
class Model:
    """The budget as plain integers: what it should say."""

    usd_limit: int | None
    token_limit: int | None
    policy: UnknownPricePolicy
    spent: int = 0
    reserved: int = 0
    spent_tokens: int = 0
    reserved_tokens: int = 0
    unpriced: int = 0

    def refusal(self, nanos: int | None, tokens: int) -> str | None:
        if nanos is None and self.usd_limit is not None and self.policy == "refuse":
            return "unknown price"
        if (
            self.usd_limit is not None
            and self.spent + self.reserved + (nanos or 0) > self.usd_limit
        ):
            return "usd"
        if self.token_limit is not None and (
            self.spent_tokens + self.reserved_tokens + tokens > self.token_limit
        ):
            return "tokens"
        return None


class BudgetMachine(RuleBasedStateMachine):
    reservations = Bundle("reservations")

    def __init__(self, redis_url: str | None = None) -> None:
        super().__init__()
        self.redis_url = redis_url  # given: the machine runs a RedisBudget
        self.budget: BudgetLike
        self.model: Model

    @initialize(
        usd_limit=st.none() | st.integers(0, 10_000_000),
        token_limit=st.none() | st.integers(0, 10_000),
        policy=st.sampled_from(["refuse", "tokens_only"]),
    )
    def make_budget(
        self, usd_limit: int | None, token_limit: int | None, policy: UnknownPricePolicy
    ) -> None:
        if usd_limit is None and token_limit is None:
            usd_limit = 5_000_000
        usd = None if usd_limit is None else nanos_to_usd(usd_limit)
        if self.redis_url is None:
            self.budget = Budget(usd, token_limit, on_unknown_price=policy)
        else:  # a fresh name: every run starts from an empty budget
            self.budget = RedisBudget(
                self.redis_url,
                name=uuid.uuid4().hex,
                usd=usd,
                tokens=token_limit,
                on_unknown_price=policy,
            )
        self.model = Model(usd_limit, token_limit, policy)

    def teardown(self) -> None:
        budget = getattr(self, "budget", None)
        if isinstance(budget, RedisBudget):
            budget.close()

    @rule(target=reservations, nanos=st.none() | NANOS, tokens=TOKENS)
    def reserve(self, nanos: int | None, tokens: int) -> object:
        expected = self.model.refusal(nanos, tokens)
        usd = None if nanos is None else nanos_to_usd(nanos)
        reservation: Reservation | None = None
        outcome: str | None = None
        try:
            reservation = self.budget.reserve("some-model", usd, tokens)
        except UnknownPriceError:
            outcome = "unknown price"
        except BudgetExceeded as exc:
            outcome = exc.unit
        assert outcome == expected
        if reservation is None:
            return multiple()
        held = 0 if nanos is None else nanos
        assert reservation.usd_nanos == held
        self.model.reserved += held
        self.model.reserved_tokens += tokens
        return reservation

    @rule(reservation=consumes(reservations), nanos=st.none() | NANOS, tokens=TOKENS)
    def settle(self, reservation: Reservation, nanos: int | None, tokens: int) -> None:
        self.budget.settle(reservation, None if nanos is None else nanos_to_usd(nanos), tokens)
        self.model.reserved -= reservation.usd_nanos
        self.model.reserved_tokens -= reservation.tokens
        self.model.spent += reservation.usd_nanos if nanos is None else nanos
        self.model.spent_tokens += tokens
        self.model.unpriced += nanos is None

    @rule(reservation=consumes(reservations))
    def release(self, reservation: Reservation) -> None:
        self.budget.release(reservation)
        self.model.reserved -= reservation.usd_nanos
        self.model.reserved_tokens -= reservation.tokens

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not hasattr(self, "model"):
            return
        state = self.budget.state()
        model = self.model
        assert usd_to_nanos(state.spent_usd) == model.spent
        assert usd_to_nanos(state.reserved_usd) == model.reserved
        assert (state.spent_tokens, state.reserved_tokens) == (
            model.spent_tokens,
            model.reserved_tokens,
        )
        assert state.unpriced == model.unpriced
        if model.usd_limit is None:
            assert state.remaining_usd is None
        else:
            left = max(model.usd_limit - model.spent - model.reserved, 0)
            assert state.remaining_usd is not None
            assert usd_to_nanos(state.remaining_usd) == left


def test_the_in_process_budget_follows_the_model() -> None:
    run_state_machine_as_test(
        BudgetMachine, settings=settings(max_examples=100, stateful_step_count=30, deadline=None)
    )


@pytest.mark.redis
def test_the_shared_budget_follows_the_model(redis_url: str) -> None:
    class SharedBudgetMachine(BudgetMachine):
        def __init__(self) -> None:
            super().__init__(redis_url)

    run_state_machine_as_test(
        SharedBudgetMachine,
        settings=settings(
            max_examples=80,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
