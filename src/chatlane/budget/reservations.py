"""What every budget hands out and offers: the :class:`Reservation` an attempt holds, the
:class:`BudgetState` it reports and the :class:`BudgetLike` interface; with what the two
budgets share in making a reservation and a state.
"""

from __future__ import annotations

import itertools
import math
import os
import uuid
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import msgspec

from chatlane.budget.amounts import (
    _checked_optional_usd,
    _checked_tokens,
    _remaining,
    nanos_of,
    nanos_to_usd,
)
from chatlane.budget.errors import UnknownPriceError
from chatlane.core.errors import UsageError

__all__ = ["BudgetLike", "BudgetState", "Reservation", "UnknownPricePolicy"]

UnknownPricePolicy = Literal["refuse", "tokens_only"]
_POLICIES: tuple[UnknownPricePolicy, ...] = ("refuse", "tokens_only")


def _checked_model(model: object) -> str:
    if not isinstance(model, str) or not model:
        raise UsageError(f"model must be a non-empty string, not {model!r}")
    return model


def _checked_policy(policy: object) -> UnknownPricePolicy:
    for known in _POLICIES:
        if policy == known:
            return known
    raise UsageError(f'on_unknown_price must be "refuse" or "tokens_only", not {policy!r}')


# Reservation ids: unique across processes (a random part per process) and cheap to make
# (a uuid4 per attempt costs microseconds).
_PROCESS = uuid.uuid4().hex[:16] + "-"
_NUMBERS = itertools.count(1)


def _new_process() -> None:
    global _PROCESS
    _PROCESS = uuid.uuid4().hex[:16] + "-"  # a forked child must not repeat its parent's ids


os.register_at_fork(after_in_child=_new_process)


class Reservation(msgspec.Struct, frozen=True, eq=False, gc=False):
    """An attempt's worst case held against one budget until it is settled or released.

    Hand it back to the budget that made it (``settle`` or ``release``) exactly once.
    """

    budget: BudgetLike
    model: str
    usd_nanos: int
    """Nano-dollars held (0 when the price is unknown and the budget counts tokens only)."""
    tokens: int
    priced: bool
    """False when the attempt's price was unknown and only its tokens are held."""
    origin: str
    """The process part of ``id`` (random per process)."""
    serial: int
    """The number part of ``id`` (counted per process)."""

    @property
    def id(self) -> str:
        """Unique across processes: made only when asked for (a shared budget's key), as
        formatting it on every attempt costs more than the rest of the reservation."""
        return f"{self.origin}{self.serial:x}"

    def __repr__(self) -> str:
        return (
            f"Reservation(model={self.model!r}, usd_nanos={self.usd_nanos}, "
            f"tokens={self.tokens}, priced={self.priced}, id={self.id!r})"
        )

    @property
    def usd(self) -> float | None:
        """Dollars held, or None when the price was not known."""
        return nanos_to_usd(self.usd_nanos) if self.priced else None

    @property
    def budget_name(self) -> str:
        return self.budget.name


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget's numbers at one moment. Limits and what remains are None where the budget
    sets no limit; ``remaining`` is never below 0 (a settlement above its reservation can
    take ``spent`` past the limit). ``unpriced`` counts settled attempts whose real price
    was unknown: they are in ``spent_usd`` at the dollars they had reserved (0 for those
    reserved by tokens only)."""

    name: str
    usd_limit: float | None
    spent_usd: float
    reserved_usd: float
    remaining_usd: float | None
    token_limit: int | None
    spent_tokens: int
    reserved_tokens: int
    remaining_tokens: int | None
    unpriced: int


class StateReadings:
    """What both budgets show the same way: the name, the limits, and the one-number reads,
    each from one ``state()`` (a shared budget's is a round trip to Redis: read ``state()``
    once for several, ``astate()`` in async code)."""

    _name: str
    _usd_limit: int | None
    _token_limit: int | None

    def state(self) -> BudgetState:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self._name

    def _limits(self) -> str:
        """The limits as a repr shows them (``usd=5.0, tokens=1000``)."""
        limits = []
        if self._usd_limit is not None:
            limits.append(f"usd={nanos_to_usd(self._usd_limit)!r}")
        if self._token_limit is not None:
            limits.append(f"tokens={self._token_limit!r}")
        return ", ".join(limits)

    @property
    def spent_usd(self) -> float:
        """Dollars settled (see :class:`BudgetState` for unknown prices)."""
        return self.state().spent_usd

    @property
    def reserved_usd(self) -> float:
        """Dollars held by attempts in flight."""
        return self.state().reserved_usd

    @property
    def remaining_usd(self) -> float | None:
        """Dollars that can still be reserved (None: no dollar limit)."""
        return self.state().remaining_usd

    @property
    def spent_tokens(self) -> int:
        return self.state().spent_tokens

    @property
    def reserved_tokens(self) -> int:
        return self.state().reserved_tokens

    @property
    def remaining_tokens(self) -> int | None:
        """Tokens that can still be reserved (None: no token limit)."""
        return self.state().remaining_tokens


@runtime_checkable
class BudgetLike(Protocol):
    """What a budget offers its callers: the in-process
    :class:`chatlane.budget.budget.Budget` and the shared
    :class:`chatlane.budget.redis_budget.RedisBudget` both."""

    @property
    def name(self) -> str: ...

    def reserve(self, model: str, usd: float | None, tokens: int) -> Reservation: ...
    def settle(self, reservation: Reservation, usd: float | None, tokens: int) -> None: ...
    def release(self, reservation: Reservation) -> None: ...
    def state(self) -> BudgetState: ...
    async def areserve(self, model: str, usd: float | None, tokens: int) -> Reservation: ...
    async def asettle(self, reservation: Reservation, usd: float | None, tokens: int) -> None: ...
    async def arelease(self, reservation: Reservation) -> None: ...
    async def astate(self) -> BudgetState: ...


def _new_reservation(
    budget: BudgetLike, model: str, usd: float | None, tokens: int, *, refuse_unpriced: bool
) -> Reservation:
    """What an attempt asks ``budget`` to hold, its arguments checked: its worst case
    rounded up to the next nano-dollar, or UnknownPriceError when its price is unknown
    and ``refuse_unpriced`` (a dollar limit under ``on_unknown_price="refuse"``)."""
    # The checks in full only for what is not plainly sound (the call flow's own values).
    if type(model) is not str or not model:
        model = _checked_model(model)
    if usd is not None and not (type(usd) is float and 0.0 <= usd < math.inf):
        usd = _checked_optional_usd("usd", usd)
    if type(tokens) is not int or tokens < 0:
        tokens = _checked_tokens("tokens", tokens)
    if usd is None and refuse_unpriced:
        raise UnknownPriceError.for_model(budget=budget.name, model=model)
    nanos = 0 if usd is None else nanos_of(usd, "up")
    return Reservation(budget, model, nanos, tokens, usd is not None, _PROCESS, next(_NUMBERS))


def _state(
    name: str,
    *,
    usd_limit: int | None,
    token_limit: int | None,
    spent_nanos: int,
    reserved_nanos: int,
    spent_tokens: int,
    reserved_tokens: int,
    unpriced: int,
) -> BudgetState:
    """A budget's state from its counts (dollars in nano-dollars)."""
    remaining = _remaining(usd_limit, spent_nanos, reserved_nanos)
    return BudgetState(
        name=name,
        usd_limit=None if usd_limit is None else nanos_to_usd(usd_limit),
        spent_usd=nanos_to_usd(spent_nanos),
        reserved_usd=nanos_to_usd(reserved_nanos),
        remaining_usd=None if remaining is None else nanos_to_usd(remaining),
        token_limit=token_limit,
        spent_tokens=spent_tokens,
        reserved_tokens=reserved_tokens,
        remaining_tokens=_remaining(token_limit, spent_tokens, reserved_tokens),
        unpriced=unpriced,
    )
