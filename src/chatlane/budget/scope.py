"""``with chatlane.budget_scope(budget):`` counts every call made inside the block against
``budget`` too (an agent run, a structured parse with its re-asks, a batch of calls), in
this thread or task and in the tasks it starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chatlane._call.scopes import BUDGET_SCOPES
from chatlane.budget.budget import BudgetLike
from chatlane.core.errors import UsageError

__all__ = ["budget_scope"]


@contextmanager
def budget_scope(*budgets: BudgetLike) -> Iterator[None]:
    """Count the calls made inside the block against ``budgets`` (besides the client's)."""
    for budget in budgets:
        if not callable(getattr(budget, "reserve", None)):
            raise UsageError(
                f"budget_scope: expected chatlane.Budget or RedisBudget objects,"
                f" got {type(budget).__name__}"
            )
    token = BUDGET_SCOPES.set(BUDGET_SCOPES.get() + budgets)
    try:
        yield
    finally:
        BUDGET_SCOPES.reset(token)
