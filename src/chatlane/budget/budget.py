"""Budgets: spending limits that attempts reserve their worst case against before they are
sent, and settle to their real cost after.

Dollars are counted in whole nano-dollars (``NANOS_PER_USD`` to the dollar), so sums do
not drift as floats do: a $0.05 budget takes five $0.01 calls, not four. A reservation
is rounded up to the next nano-dollar, a real cost to the nearest.
"""

from __future__ import annotations

import contextlib
import math
import threading
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal, Protocol, runtime_checkable

from chatlane.core.errors import ChatlaneError, ConfigurationError, UsageError

__all__ = [
    "NANOS_PER_USD",
    "Budget",
    "BudgetExceeded",
    "BudgetLike",
    "BudgetState",
    "Reservation",
    "UnknownPriceError",
    "arelease_all",
    "areserve_all",
    "asettle_all",
    "nanos_to_usd",
    "release_all",
    "reserve_all",
    "settle_all",
    "usd_to_nanos",
]

NANOS_PER_USD = 1_000_000_000
"""The unit budgets count dollars in: one nano-dollar (a cheap model's token costs a few)."""

UnknownPricePolicy = Literal["refuse", "tokens_only"]
_POLICIES: tuple[UnknownPricePolicy, ...] = ("refuse", "tokens_only")
Unit = Literal["usd", "tokens"]


# -- errors --------------------------------------------------------------------------------


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


# -- units and checks ----------------------------------------------------------------------


def _usd_error(name: str, value: object, *, optional: bool) -> UsageError:
    kind = "a non-negative number" + (" or None" if optional else "")
    return UsageError(f"{name} must be {kind} (US dollars), not {value!r}")


def _checked_usd(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise _usd_error(name, value, optional=False)
    return float(value)


def _checked_optional_usd(name: str, value: object) -> float | None:
    if value is None:
        return None
    try:
        return _checked_usd(name, value)
    except UsageError:
        raise _usd_error(name, value, optional=True) from None


def _checked_tokens(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{name} must be a non-negative integer, not {value!r}")
    return value


def _checked_optional_tokens(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{name} must be a non-negative integer or None, not {value!r}")
    return value


def _checked_model(model: object) -> str:
    if not isinstance(model, str) or not model:
        raise UsageError(f"model must be a non-empty string, not {model!r}")
    return model


def _checked_policy(policy: object) -> UnknownPricePolicy:
    for known in _POLICIES:
        if policy == known:
            return known
    raise UsageError(f'on_unknown_price must be "refuse" or "tokens_only", not {policy!r}')


_ROUNDINGS = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}


def usd_to_nanos(usd: float, *, rounding: Literal["up", "down", "nearest"] = "nearest") -> int:
    """``usd`` dollars as whole nano-dollars, from its shortest decimal form (so ``0.01`` is
    exactly 10,000,000 and not one more from the float's binary error)."""
    nanos = (
        Decimal(repr(_checked_usd("usd", usd))).scaleb(9).to_integral_value(_ROUNDINGS[rounding])
    )
    return int(nanos)


def nanos_to_usd(nanos: int) -> float:
    """Whole nano-dollars as dollars."""
    return nanos / NANOS_PER_USD


# -- reservations --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Reservation:
    """An attempt's worst case held against one budget until it is settled or released.

    Hand it back to the budget that made it (``settle`` or ``release``) exactly once.
    """

    budget: BudgetLike = field(repr=False)
    model: str
    usd_nanos: int
    """Nano-dollars held (0 when the price is unknown and the budget counts tokens only)."""
    tokens: int
    priced: bool
    """False when the attempt's price was unknown and only its tokens are held."""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

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


def _remaining(limit: int | None, spent: int, reserved: int) -> int | None:
    return None if limit is None else max(limit - spent - reserved, 0)


@runtime_checkable
class BudgetLike(Protocol):
    """What a budget offers its callers: the in-process :class:`Budget` and the shared
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


# -- the in-process budget -----------------------------------------------------------------


class Budget:
    """A spending limit in dollars (``usd``), tokens (``tokens``) or both, for one process.

    Before each attempt, :meth:`reserve` its worst case: it raises :class:`BudgetExceeded`
    when spent + reserved + this attempt would pass a limit (an attempt that lands exactly
    on the limit fits). After, :meth:`settle` the reservation to the real amount (which
    may be more than reserved: it is counted, and later reservations see it), or
    :meth:`release` it when the attempt failed before it was billed.

    A call whose price is unknown (``usd`` None) is refused by a dollar budget with
    :class:`UnknownPriceError` under ``on_unknown_price="refuse"``; under
    ``"tokens_only"`` only its tokens are counted. A budget with only a token limit takes
    such calls either way.

    Safe to share between threads and asyncio tasks: each operation holds a lock for a
    few additions, never across I/O. The ``a``-prefixed methods are the same operations
    for code that awaits every budget alike.
    """

    def __init__(
        self,
        usd: float | None = None,
        tokens: int | None = None,
        *,
        name: str = "",
        on_unknown_price: UnknownPricePolicy = "refuse",
    ) -> None:
        usd_limit = _checked_optional_usd("usd", usd)
        token_limit = _checked_optional_tokens("tokens", tokens)
        if usd_limit is None and token_limit is None:
            raise UsageError("Budget needs a limit: usd=..., tokens=... or both")
        if not isinstance(name, str):
            raise UsageError(f"name must be a string, not {name!r}")
        self._name = name
        self._policy = _checked_policy(on_unknown_price)
        self._usd_limit = None if usd_limit is None else usd_to_nanos(usd_limit, rounding="down")
        self._token_limit = token_limit
        self._lock = threading.Lock()
        self._spent_nanos = self._reserved_nanos = 0
        self._spent_tokens = self._reserved_tokens = 0
        self._unpriced = 0
        self._open: set[str] = set()

    def __repr__(self) -> str:
        limits = []
        if self._usd_limit is not None:
            limits.append(f"usd={nanos_to_usd(self._usd_limit)!r}")
        if self._token_limit is not None:
            limits.append(f"tokens={self._token_limit!r}")
        return f"Budget({', '.join(limits)}, name={self._name!r})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def on_unknown_price(self) -> UnknownPricePolicy:
        return self._policy

    def reserve(self, model: str, usd: float | None, tokens: int) -> Reservation:
        """Hold an attempt's worst case (``usd`` dollars, None when its price is unknown,
        and ``tokens``), or raise :class:`BudgetExceeded` / :class:`UnknownPriceError`
        and hold nothing."""
        model = _checked_model(model)
        usd = _checked_optional_usd("usd", usd)
        tokens = _checked_tokens("tokens", tokens)
        if usd is None and self._usd_limit is not None and self._policy == "refuse":
            raise UnknownPriceError.for_model(budget=self._name, model=model)
        nanos = 0 if usd is None else usd_to_nanos(usd, rounding="up")
        reservation = Reservation(self, model, nanos, tokens, priced=usd is not None)
        with self._lock:
            if self._usd_limit is not None and (
                self._spent_nanos + self._reserved_nanos + nanos > self._usd_limit
            ):
                raise BudgetExceeded.refusing(
                    budget=self._name,
                    unit="usd",
                    limit=nanos_to_usd(self._usd_limit),
                    spent=nanos_to_usd(self._spent_nanos),
                    reserved=nanos_to_usd(self._reserved_nanos),
                    requested=nanos_to_usd(nanos),
                    model=model,
                )
            if self._token_limit is not None and (
                self._spent_tokens + self._reserved_tokens + tokens > self._token_limit
            ):
                raise BudgetExceeded.refusing(
                    budget=self._name,
                    unit="tokens",
                    limit=self._token_limit,
                    spent=self._spent_tokens,
                    reserved=self._reserved_tokens,
                    requested=tokens,
                    model=model,
                )
            self._reserved_nanos += nanos
            self._reserved_tokens += tokens
            self._open.add(reservation.id)
        return reservation

    def _close(self, reservation: Reservation, action: str) -> None:
        """Forget an open reservation and what it held (the caller holds the lock)."""
        if reservation.budget is not self or reservation.id not in self._open:
            raise UsageError(
                f"cannot {action} {reservation!r}: it is not an open reservation of "
                f"{self!r} (settled or released already, or made by another budget)"
            )
        self._open.discard(reservation.id)
        self._reserved_nanos -= reservation.usd_nanos
        self._reserved_tokens -= reservation.tokens

    def settle(self, reservation: Reservation, usd: float | None, tokens: int) -> None:
        """Replace a reservation by what the attempt really cost: ``usd`` dollars (None
        when not known: the reserved dollars are counted instead) and ``tokens``."""
        usd = _checked_optional_usd("usd", usd)
        tokens = _checked_tokens("tokens", tokens)
        nanos = None if usd is None else usd_to_nanos(usd)
        with self._lock:
            self._close(reservation, "settle")
            self._spent_nanos += reservation.usd_nanos if nanos is None else nanos
            self._spent_tokens += tokens
            self._unpriced += nanos is None

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back whole: its attempt failed before it was billed."""
        with self._lock:
            self._close(reservation, "release")

    def state(self) -> BudgetState:
        """Every number of the budget at one moment."""
        with self._lock:
            usd_limit, token_limit = self._usd_limit, self._token_limit
            return BudgetState(
                name=self._name,
                usd_limit=None if usd_limit is None else nanos_to_usd(usd_limit),
                spent_usd=nanos_to_usd(self._spent_nanos),
                reserved_usd=nanos_to_usd(self._reserved_nanos),
                remaining_usd=(
                    None
                    if usd_limit is None
                    else nanos_to_usd(max(usd_limit - self._spent_nanos - self._reserved_nanos, 0))
                ),
                token_limit=token_limit,
                spent_tokens=self._spent_tokens,
                reserved_tokens=self._reserved_tokens,
                remaining_tokens=_remaining(token_limit, self._spent_tokens, self._reserved_tokens),
                unpriced=self._unpriced,
            )

    async def areserve(self, model: str, usd: float | None, tokens: int) -> Reservation:
        return self.reserve(model, usd, tokens)

    async def asettle(self, reservation: Reservation, usd: float | None, tokens: int) -> None:
        self.settle(reservation, usd, tokens)

    async def arelease(self, reservation: Reservation) -> None:
        self.release(reservation)

    async def astate(self) -> BudgetState:
        return self.state()

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


# -- several budgets at once ---------------------------------------------------------------


def _distinct(budgets: Sequence[BudgetLike]) -> list[BudgetLike]:
    given: object = budgets
    if isinstance(given, str | bytes) or not isinstance(given, Sequence):
        raise UsageError(f"budgets must be a sequence of budgets, not {budgets!r}")
    distinct: list[BudgetLike] = []
    for budget in budgets:
        if not isinstance(budget, BudgetLike):
            raise UsageError(f"budgets must hold budgets, not {budget!r}")
        # The same budget reached twice (a client's that is also a scope's) counts once.
        if not any(budget is seen for seen in distinct):
            distinct.append(budget)
    return distinct


def _checked_reservations(reservations: Sequence[Reservation]) -> Sequence[Reservation]:
    if not isinstance(reservations, Sequence) or not all(
        isinstance(reservation, Reservation) for reservation in reservations
    ):
        raise UsageError(f"reservations must be a sequence of Reservation, not {reservations!r}")
    return reservations


def reserve_all(
    budgets: Sequence[BudgetLike], model: str, usd: float | None, tokens: int
) -> list[Reservation]:
    """Reserve an attempt against every budget, in order (each budget once): all of them
    fit, or none is held. When one refuses, those already made are released and its error
    is raised. Another attempt may see the held amounts for that moment and be refused
    too: budgets are never exceeded, only briefly conservative."""
    made: list[Reservation] = []
    try:
        for budget in _distinct(budgets):
            made.append(budget.reserve(model, usd, tokens))
    except BaseException:
        for reservation in reversed(made):
            # A shared budget that cannot be reached keeps the release for later.
            with contextlib.suppress(ChatlaneError):
                reservation.budget.release(reservation)
        raise
    return made


async def areserve_all(
    budgets: Sequence[BudgetLike], model: str, usd: float | None, tokens: int
) -> list[Reservation]:
    """:func:`reserve_all` for async code (a shared budget's I/O does not block the loop)."""
    made: list[Reservation] = []
    try:
        for budget in _distinct(budgets):
            made.append(await budget.areserve(model, usd, tokens))
    except BaseException:
        for reservation in reversed(made):
            with contextlib.suppress(ChatlaneError):
                await reservation.budget.arelease(reservation)
        raise
    return made


def _each(reservations: Sequence[Reservation], close: Callable[[Reservation], None]) -> None:
    """Close every reservation even when some fail; then raise the first failure."""
    first: ChatlaneError | None = None
    for reservation in _checked_reservations(reservations):
        try:
            close(reservation)
        except ChatlaneError as exc:
            first = first or exc
    if first is not None:
        raise first


async def _aeach(
    reservations: Sequence[Reservation], close: Callable[[Reservation], Awaitable[None]]
) -> None:
    first: ChatlaneError | None = None
    for reservation in _checked_reservations(reservations):
        try:
            await close(reservation)
        except ChatlaneError as exc:
            first = first or exc
    if first is not None:
        raise first


def settle_all(reservations: Sequence[Reservation], usd: float | None, tokens: int) -> None:
    """Settle every reservation of one attempt (from :func:`reserve_all`) to its real cost;
    each budget is settled even if another fails (the first failure is raised after)."""
    _each(reservations, lambda reservation: reservation.budget.settle(reservation, usd, tokens))


def release_all(reservations: Sequence[Reservation]) -> None:
    """Release every reservation of one attempt that was not billed (each one, as above)."""
    _each(reservations, lambda reservation: reservation.budget.release(reservation))


async def asettle_all(reservations: Sequence[Reservation], usd: float | None, tokens: int) -> None:
    """:func:`settle_all` for async code."""
    await _aeach(
        reservations, lambda reservation: reservation.budget.asettle(reservation, usd, tokens)
    )


async def arelease_all(reservations: Sequence[Reservation]) -> None:
    """:func:`release_all` for async code."""
    await _aeach(reservations, lambda reservation: reservation.budget.arelease(reservation))
