"""The in-process budget: a spending limit that attempts reserve their worst case against
before they are sent, and settle to their real cost after.

Dollars are counted in whole nano-dollars (:mod:`chatlane.budget.amounts`), so sums do not
drift as floats do. The errors live in :mod:`chatlane.budget.errors`, reservations and
states in :mod:`chatlane.budget.reservations`, reserving against several budgets at once in
:mod:`chatlane.budget.several`; their public names are importable from here as well.
"""

from __future__ import annotations

import math
import threading

from chatlane.budget.amounts import (
    NANOS_PER_USD,
    _checked_optional_tokens,
    _checked_optional_usd,
    _checked_tokens,
    nanos_of,
    nanos_to_usd,
    usd_to_nanos,
)
from chatlane.budget.errors import BudgetExceeded, UnknownPriceError
from chatlane.budget.errors import Unit as Unit
from chatlane.budget.reservations import (
    BudgetLike,
    BudgetState,
    Reservation,
    StateReadings,
    _checked_policy,
    _new_reservation,
    _state,
)
from chatlane.budget.reservations import UnknownPricePolicy as UnknownPricePolicy
from chatlane.budget.several import (
    arelease_all,
    areserve_all,
    asettle_all,
    release_all,
    reserve_all,
    settle_all,
)
from chatlane.core.errors import UsageError

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


class Budget(StateReadings):
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

    in_process = True
    """Does no I/O: the client calls it directly, not through an I/O step."""

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
        # Serials of open reservations (numbers, not the reservations: those hold the budget).
        self._open: set[int] = set()

    def __repr__(self) -> str:
        return f"Budget({self._limits()}, name={self._name!r})"

    @property
    def on_unknown_price(self) -> UnknownPricePolicy:
        return self._policy

    def reserve(self, model: str, usd: float | None, tokens: int) -> Reservation:
        """Hold an attempt's worst case (``usd`` dollars, None when its price is unknown,
        and ``tokens``), or raise :class:`BudgetExceeded` / :class:`UnknownPriceError`
        and hold nothing."""
        limit = self._usd_limit
        refuse_unpriced = limit is not None and self._policy == "refuse"
        reservation = _new_reservation(self, model, usd, tokens, refuse_unpriced=refuse_unpriced)
        nanos, tokens = reservation.usd_nanos, reservation.tokens
        self._lock.acquire()  # not `with`: half the cost, on every call
        try:
            if limit is not None and self._spent_nanos + self._reserved_nanos + nanos > limit:
                raise self._refusal("usd", nanos, reservation.model)
            if self._token_limit is not None and (
                self._spent_tokens + self._reserved_tokens + tokens > self._token_limit
            ):
                raise self._refusal("tokens", tokens, reservation.model)
            self._reserved_nanos += nanos
            self._reserved_tokens += tokens
            self._open.add(reservation.serial)
        finally:
            self._lock.release()
        return reservation

    def _refusal(self, unit: Unit, requested: int, model: str) -> BudgetExceeded:
        """The error for a reservation of ``requested`` (nano-dollars or tokens) that does
        not fit (the caller holds the lock)."""
        numbers: tuple[float, ...]
        if unit == "usd":
            assert self._usd_limit is not None
            counts = (self._usd_limit, self._spent_nanos, self._reserved_nanos, requested)
            numbers = tuple(nanos_to_usd(count) for count in counts)
        else:
            assert self._token_limit is not None
            numbers = (self._token_limit, self._spent_tokens, self._reserved_tokens, requested)
        limit, spent, reserved, asked = numbers
        return BudgetExceeded.refusing(
            budget=self._name,
            unit=unit,
            limit=limit,
            spent=spent,
            reserved=reserved,
            requested=asked,
            model=model,
        )

    def _close(self, reservation: Reservation, action: str) -> None:
        """Forget an open reservation and what it held (the caller holds the lock)."""
        if reservation.budget is not self or reservation.serial not in self._open:
            raise UsageError(
                f"cannot {action} {reservation!r}: it is not an open reservation of "
                f"{self!r} (settled or released already, or made by another budget)"
            )
        self._open.discard(reservation.serial)
        self._reserved_nanos -= reservation.usd_nanos
        self._reserved_tokens -= reservation.tokens

    def settle(self, reservation: Reservation, usd: float | None, tokens: int) -> None:
        """Replace a reservation by what the attempt really cost: ``usd`` dollars (None
        when not known: the reserved dollars are counted instead) and ``tokens``."""
        if usd is not None and not (type(usd) is float and 0.0 <= usd < math.inf):
            usd = _checked_optional_usd("usd", usd)
        if type(tokens) is not int or tokens < 0:
            tokens = _checked_tokens("tokens", tokens)
        nanos = None if usd is None else nanos_of(usd)
        self._lock.acquire()  # not `with`: half the cost, on every call
        try:
            self._close(reservation, "settle")
            self._spent_nanos += reservation.usd_nanos if nanos is None else nanos
            self._spent_tokens += tokens
            self._unpriced += nanos is None
        finally:
            self._lock.release()

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back whole: its attempt failed before it was billed."""
        with self._lock:
            self._close(reservation, "release")

    def state(self) -> BudgetState:
        """Every number of the budget at one moment."""
        with self._lock:
            return _state(
                self._name,
                usd_limit=self._usd_limit,
                token_limit=self._token_limit,
                spent_nanos=self._spent_nanos,
                reserved_nanos=self._reserved_nanos,
                spent_tokens=self._spent_tokens,
                reserved_tokens=self._reserved_tokens,
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
