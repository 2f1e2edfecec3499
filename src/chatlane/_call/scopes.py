"""The budgets in force for the code running now (``with chatlane.budget_scope(...)``): a
context variable, so each thread and each task sees its own, and the client can tell in
one lookup whether a call must be counted against any."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["BUDGET_SCOPES"]

BUDGET_SCOPES: ContextVar[tuple[Any, ...]] = ContextVar("chatlane_budget_scopes", default=())
