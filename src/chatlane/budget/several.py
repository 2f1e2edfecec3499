"""Several budgets at once: an attempt reserved against every budget in force (the
client's, the call's, the scopes'), all of them or none, and settled or released in each.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence

from chatlane.budget.reservations import BudgetLike, Reservation
from chatlane.core.errors import ChatlaneError, UsageError

__all__ = [
    "arelease_all",
    "areserve_all",
    "asettle_all",
    "release_all",
    "reserve_all",
    "settle_all",
]


def _distinct(budgets: Sequence[BudgetLike]) -> Sequence[BudgetLike]:
    given: object = budgets
    # The client's own tuple of one budget, on every attempt: nothing to check or drop.
    one = type(given) is tuple and len(budgets) == 1
    if one and callable(getattr(budgets[0], "reserve", None)):
        return budgets
    if isinstance(given, str | bytes) or not isinstance(given, Sequence):
        raise UsageError(f"budgets must be a sequence of budgets, not {budgets!r}")
    distinct: list[BudgetLike] = []
    for budget in budgets:
        # A cheap check, not isinstance(BudgetLike): a runtime Protocol check walks every
        # member on each attempt (tens of microseconds).
        if not callable(getattr(budget, "reserve", None)):
            raise UsageError(f"budgets must hold budgets, not {budget!r}")
        # The same budget reached twice (a client's that is also a scope's) counts once.
        if not any(budget is seen for seen in distinct):
            distinct.append(budget)
    return distinct


def _checked_reservations(reservations: Sequence[Reservation]) -> Sequence[Reservation]:
    given: object = reservations
    if type(given) is list and len(reservations) == 1 and type(reservations[0]) is Reservation:
        return reservations
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
    given: object = reservations
    if type(given) is list and len(reservations) == 1 and type(reservations[0]) is Reservation:
        reservations[0].budget.settle(reservations[0], usd, tokens)  # one budget: the usual
        return
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
