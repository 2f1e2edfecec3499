"""The production pieces a client is configured with, in their one order.

From the caller inward (the drawing is in the README)::

    telemetry span -> cache -> fallback over targets -> retries (per target)
        -> budget reservation -> rate limit -> transport      (per attempt)

Each piece is built only when configured, so a client without them runs the bare flow.
The caller's own ``middleware=`` pieces come after these, in the order given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatlane._call.call import Call
from chatlane._call.layers import Middleware
from chatlane.core import errors

__all__ = ["ProductionOptions"]


@dataclass(frozen=True)
class ProductionOptions:
    """What a client was given for its production pieces (as the caller passed it)."""

    cache: Any = None
    fallbacks: Sequence[Any] = ()
    fallback_on: Sequence[type[errors.ChatlaneError]] | None = None
    budget: Any = None
    ledger: Any = None
    rate_limits: Any = None
    telemetry: Any = None

    @property
    def falls_back(self) -> bool:
        return bool(self.fallbacks) or self.fallback_on is not None

    @property
    def accounts(self) -> bool:
        return self.budget is not None or self.ledger is not None

    def pieces(
        self,
        prepare: Callable[[Mapping[str, Any], bool], Call],
        falls_back: bool,
        accounts: bool,
        caller_middleware: bool,
    ) -> tuple[Middleware, ...]:
        """The configured pieces, outermost first. ``falls_back`` and ``accounts`` add the
        fallback and accounting pieces even unconfigured (for a call's own ``fallbacks=``,
        ``budget=`` or a budget scope); ``caller_middleware``: the caller's own pieces run
        inside these (and may edit an answer). Each module is imported only when its piece
        is used."""
        pieces: list[Middleware] = []
        if self.telemetry is not None and self.telemetry is not False:
            from chatlane.telemetry.piece import Telemetry, TelemetryPiece

            reporting = Telemetry.coerce(self.telemetry)
            if reporting is not None:
                pieces.append(TelemetryPiece(reporting))
        if self.cache is not None and self.cache is not False:
            from chatlane.cache.piece import Cache, CachePiece

            configured = Cache.coerce(self.cache)
            if configured is not None:
                pieces.append(CachePiece(configured, as_received=not caller_middleware))
        if falls_back:
            from chatlane.fallback.piece import DEFAULT_FALLBACK_ON, FallbackPiece

            on = (
                DEFAULT_FALLBACK_ON
                if self.fallback_on is None
                else _checked_errors(self.fallback_on)
            )
            pieces.append(FallbackPiece(self.fallbacks, prepare, on))
        if accounts:
            from chatlane.budget.ledger import Ledger
            from chatlane.budget.piece import AccountingPiece, budgets_of

            if self.ledger is not None and not isinstance(self.ledger, Ledger):
                raise errors.ConfigurationError(
                    f"self.ledger: expected chatlane.Ledger, got {type(self.ledger).__name__}"
                )
            pieces.append(AccountingPiece(budgets_of(self.budget, "self.budget"), self.ledger))
        if self.rate_limits is not None:
            from chatlane.ratelimit.piece import RateLimitPiece, RateLimits

            limits = RateLimits.coerce(self.rate_limits)
            if limits is not None:
                pieces.append(RateLimitPiece(limits))
        return tuple(pieces)


def _checked_errors(
    classes: Sequence[type[errors.ChatlaneError]],
) -> tuple[type[errors.ChatlaneError], ...]:
    if isinstance(classes, type) or not all(
        isinstance(kind, type) and issubclass(kind, errors.ChatlaneError) for kind in classes
    ):
        raise errors.ConfigurationError(
            "fallback_on: expected a list of chatlane error classes (chatlane.RateLimitError, ...)"
        )
    return tuple(classes)
