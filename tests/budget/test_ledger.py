"""The ledger's totals are exact under threads, keep unknown costs out of the sum (and
say so), and count requests apart from attempts."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from chatlane.budget.ledger import Ledger, ModelTotals
from chatlane.budget.pricing import Price
from chatlane.core.errors import UsageError

BILLED = Price(
    usd=0.002, prompt_tokens=100, completion_tokens=50, cached_tokens=40, reasoning_tokens=10
)
ESTIMATED = Price(usd=0.001, prompt_tokens=30, completion_tokens=20, estimated=True)
UNPRICED = Price(usd=None, prompt_tokens=10, completion_tokens=5)


def test_totals_per_model_and_overall() -> None:
    ledger = Ledger()
    ledger.record("gpt-4o", BILLED)
    ledger.record("gpt-4o", ESTIMATED, attempt=2)
    ledger.record("mini", BILLED)
    gpt = ledger.by_model["gpt-4o"]
    assert (gpt.requests, gpt.attempts) == (1, 2)
    assert (gpt.prompt_tokens, gpt.completion_tokens) == (130, 70)
    assert (gpt.cached_tokens, gpt.reasoning_tokens) == (40, 10)
    assert gpt.cost_usd == pytest.approx(0.003)
    assert gpt.estimated == 1
    total = ledger.snapshot().total
    assert (total.requests, total.attempts, total.prompt_tokens) == (2, 3, 230)
    assert ledger.total_cost == pytest.approx(0.005)
    assert not total.cost_is_partial


def test_an_unknown_cost_is_counted_not_added_as_zero() -> None:
    ledger = Ledger()
    ledger.record("local", UNPRICED)
    ledger.record("gpt-4o", BILLED)
    assert ledger.total_cost == pytest.approx(0.002)
    total = ledger.total
    assert total.cost_unknown == 1
    assert total.cost_is_partial
    assert ledger.by_model["local"].cost_unknown == 1
    assert ledger.by_model["local"].prompt_tokens == 10  # its tokens still count
    assert not ledger.by_model["gpt-4o"].cost_is_partial


def test_an_attempt_that_was_not_billed_counts_as_an_attempt_only() -> None:
    ledger = Ledger()
    ledger.record("gpt-4o", None)
    ledger.record("gpt-4o", BILLED, attempt=2)
    assert ledger.by_model["gpt-4o"] == ModelTotals(
        requests=1,
        attempts=2,
        prompt_tokens=100,
        completion_tokens=50,
        cached_tokens=40,
        reasoning_tokens=10,
        cost_usd=0.002,
    )


def test_a_snapshot_does_not_change_afterwards_and_cannot_be_changed() -> None:
    ledger = Ledger()
    ledger.record("gpt-4o", BILLED)
    snapshot = ledger.snapshot()
    ledger.record("gpt-4o", BILLED)
    ledger.record("other", BILLED)
    assert snapshot.by_model["gpt-4o"].attempts == 1
    assert "other" not in snapshot.by_model
    with pytest.raises(TypeError):
        snapshot.by_model["x"] = ModelTotals()  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.total = ModelTotals()  # type: ignore[misc]


def test_reset_starts_from_zero() -> None:
    ledger = Ledger()
    ledger.record("gpt-4o", UNPRICED)
    ledger.reset()
    assert ledger.snapshot().by_model == {}
    assert ledger.total == ModelTotals()
    assert ledger.total_cost == 0


@pytest.mark.parametrize(
    ("args", "kwargs", "named"),
    [((3, BILLED), {}, "model"), (("m", 0.1), {}, "price"),
     (("m", BILLED), {"attempt": 0}, "attempt"), (("m", BILLED), {"attempt": True}, "attempt")],
)  # fmt: skip
def test_bad_arguments_are_usage_errors(
    args: tuple[object, ...], kwargs: dict[str, object], named: str
) -> None:
    ledger = Ledger()
    with pytest.raises(UsageError, match=named):
        ledger.record(*args, **kwargs)  # type: ignore[arg-type]
    assert ledger.total == ModelTotals()


def test_records_from_many_threads_all_count() -> None:
    ledger = Ledger()
    start = threading.Barrier(16)
    reads: list[ModelTotals] = []

    def work(index: int) -> None:
        start.wait()
        for attempt in range(500):
            ledger.record(f"m{index % 4}", BILLED, attempt=1 + attempt % 2)
            if attempt % 50 == 0:
                reads.append(ledger.total)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snapshot = ledger.snapshot()
    assert snapshot.total.attempts == 16 * 500
    assert snapshot.total.requests == 16 * 250
    assert snapshot.total.prompt_tokens == 16 * 500 * 100
    assert snapshot.total.cost_usd == pytest.approx(16 * 500 * 0.002)
    assert {name: totals.attempts for name, totals in snapshot.by_model.items()} == {
        f"m{i}": 4 * 500 for i in range(4)
    }
    # Every read taken while others recorded was whole: its tokens match its attempts.
    assert all(read.prompt_tokens == read.attempts * 100 for read in reads)
