"""Amounts as budgets count them, and their checks: dollars in whole nano-dollars
(``NANOS_PER_USD`` to the dollar), so sums do not drift as floats do (a $0.05 budget takes
five $0.01 calls, not four), and tokens as tokens. A reservation is rounded up to the next
nano-dollar, a real cost to the nearest, a limit down.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

from chatlane.core.errors import UsageError

__all__ = ["NANOS_PER_USD", "nanos_of", "nanos_to_usd", "usd_to_nanos"]


NANOS_PER_USD = 1_000_000_000
"""The unit budgets count dollars in: one nano-dollar (a cheap model's token costs a few)."""


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


_SLACK = 1e-15  # a float's relative error, a few units in its last place
_FLOAT_EXACT = 1e12  # below it that error is far below a nano-dollar
_ROUNDINGS = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}


def usd_to_nanos(usd: float, *, rounding: Literal["up", "down", "nearest"] = "nearest") -> int:
    """``usd`` dollars as whole nano-dollars, from its shortest decimal form (so ``0.01`` is
    exactly 10,000,000 and not one more from the float's binary error)."""
    return nanos_of(_checked_usd("usd", usd), rounding)


def nanos_of(usd: float, rounding: Literal["up", "down", "nearest"] = "nearest") -> int:
    """:func:`usd_to_nanos` for an amount already checked (finite, not below 0)."""
    # Integer arithmetic on the scaled float, forgiving only its last-bit binary error
    # (0.01 * 1e9 is 10000000.000000002, which is 10,000,000): Decimal costs microseconds.
    scaled = usd * NANOS_PER_USD
    if scaled >= _FLOAT_EXACT:  # $1000 and up: from the shortest decimal form, exactly
        return int(Decimal(repr(usd)).scaleb(9).to_integral_value(_ROUNDINGS[rounding]))
    if rounding == "up":
        nanos = math.ceil(scaled)
        return nanos - 1 if nanos - 1 >= scaled * (1 - _SLACK) else nanos
    if rounding == "down":
        nanos = math.floor(scaled)
        return nanos + 1 if nanos + 1 <= scaled * (1 + _SLACK) else nanos
    return math.floor(scaled + 0.5)


def nanos_to_usd(nanos: int) -> float:
    """Whole nano-dollars as dollars."""
    return nanos / NANOS_PER_USD


def _remaining(limit: int | None, spent: int, reserved: int) -> int | None:
    return None if limit is None else max(limit - spent - reserved, 0)
