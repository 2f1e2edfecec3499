"""Cost budgets and the ledger: ``Client(budget=chatlane.Budget(usd=5), ledger=chatlane.Ledger())``.

A ``Budget`` (in this process) or ``RedisBudget`` (shared by processes) caps dollars and/or
tokens; every attempt reserves its worst case first and settles to its real cost after, so
concurrent calls never overspend (:mod:`chatlane.budget.piece`). ``budget_scope`` adds
budgets for a block of code; ``Ledger`` keeps running totals by model.
"""

from chatlane.budget.budget import Budget, BudgetExceeded, BudgetState, UnknownPriceError
from chatlane.budget.ledger import Ledger, LedgerSnapshot, ModelTotals
from chatlane.budget.pricing import Price
from chatlane.budget.redis_budget import BudgetUnavailable, RedisBudget
from chatlane.budget.scope import budget_scope

__all__ = [
    "Budget",
    "BudgetExceeded",
    "BudgetState",
    "BudgetUnavailable",
    "Ledger",
    "LedgerSnapshot",
    "ModelTotals",
    "Price",
    "RedisBudget",
    "UnknownPriceError",
    "budget_scope",
]
