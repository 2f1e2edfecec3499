"""The budgets' errors: a call refused by a budget (``BudgetExceeded``), a model without a
known price (``UnknownPriceError``) and a shared budget that cannot be reached
(``BudgetUnavailable``), each with a message that says why and what to do.
"""

from __future__ import annotations

from typing import Literal

from chatlane.core.errors import ChatlaneError, ConfigurationError

__all__ = ["BudgetExceeded", "BudgetUnavailable", "Unit", "UnknownPriceError"]

Unit = Literal["usd", "tokens"]


def _money(usd: float) -> str:
    if usd >= 1 or usd == 0:
        return f"${usd:,.2f}"
    text = f"{usd:.9f}".rstrip("0")
    return "$" + (text if len(text.split(".")[1]) >= 2 else f"{usd:.2f}")


def _amount(unit: Unit, value: float) -> str:
    return _money(value) if unit == "usd" else f"{int(value):,} tokens"


def _budget_label(name: str) -> str:
    return f"budget {name!r}" if name else "the budget"


class BudgetExceeded(ChatlaneError):
    """An attempt was refused before it was sent: its worst case does not fit a budget.

    ``budget`` is the budget's name, ``unit`` what ran out (``"usd"`` or ``"tokens"``);
    ``limit``, ``spent``, ``reserved`` (by attempts in flight) and ``requested`` (this
    attempt's worst case) are in that unit, dollars or tokens.
    """

    def __init__(
        self,
        message: str,
        *,
        budget: str,
        unit: Unit,
        limit: float,
        spent: float,
        reserved: float,
        requested: float,
        model: str | None = None,
    ) -> None:
        super().__init__(message, model=model)
        self.budget = budget
        self.unit = unit
        self.limit = limit
        self.spent = spent
        self.reserved = reserved
        self.requested = requested

    @classmethod
    def refusing(
        cls,
        *,
        budget: str,
        unit: Unit,
        limit: float,
        spent: float,
        reserved: float,
        requested: float,
        model: str | None = None,
    ) -> BudgetExceeded:
        """The error for a refused reservation, with a message that explains it."""
        left = max(limit - spent - reserved, 0)
        verb, spent_as, held_as = (
            ("cost", "is spent", "is") if unit == "usd" else ("use", "are used", "are")
        )
        message = (
            f"{_budget_label(budget)} would be exceeded: this call may {verb} up to "
            f"{_amount(unit, requested)}, but of its limit of {_amount(unit, limit)}, "
            f"{_amount(unit, spent)} {spent_as} and {_amount(unit, reserved)} {held_as} "
            f"reserved by calls in flight ({_amount(unit, left)} left)"
        )
        return cls(
            message,
            budget=budget,
            unit=unit,
            limit=limit,
            spent=spent,
            reserved=reserved,
            requested=requested,
            model=model,
        )


class UnknownPriceError(ConfigurationError):
    """A dollar budget cannot check a call: the model's price is not known, and the budget
    refuses such calls (``on_unknown_price="refuse"``). ``model`` names the model,
    ``budget`` the budget; the message says how to give the model a price."""

    def __init__(self, message: str, *, budget: str, model: str) -> None:
        super().__init__(message, model=model)
        self.budget = budget

    @classmethod
    def for_model(cls, *, budget: str, model: str) -> UnknownPriceError:
        """The error for ``model``, telling how to price it or to count its tokens only."""
        message = (
            f"{_budget_label(budget)} cannot check a call to {model!r}: its price is not "
            f"known. Give it one with Client(models={{{model!r}: chatlane.ModelInfo("
            "input_per_mtok=..., output_per_mtok=...)}), or create the budget with "
            'on_unknown_price="tokens_only" to count only its tokens'
        )
        return cls(message, budget=budget, model=model)


class BudgetUnavailable(ChatlaneError):
    """A shared budget could not be reached or read (Redis down, refusing or timing out).

    Raised by ``reserve``: a budget that cannot be checked does not allow spending, so the
    call is not sent. Raised by ``settle`` / ``release`` too, after the budget has kept the
    operation: it is applied, once, when Redis answers again. ``budget`` is its name.
    """

    def __init__(self, message: str, *, budget: str, model: str | None = None) -> None:
        super().__init__(message, model=model)
        self.budget = budget
