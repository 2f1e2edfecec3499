"""The production pieces a client is configured with, in their one order.

From the caller inward (the drawing is in the README)::

    telemetry span -> cache -> fallback over targets -> retries (per target)
        -> budget reservation -> rate limit -> transport      (per attempt)

Each piece is built only when configured, so a client without them runs the bare flow.
The caller's own ``middleware=`` pieces come after these, in the order given.
"""

from __future__ import annotations

from typing import Any

from chatlane._client.layers import Middleware

__all__ = ["production_pieces"]


def production_pieces(*, cache: Any = None) -> tuple[Middleware, ...]:
    """The configured pieces, outermost first."""
    pieces: list[Middleware] = []
    if cache is not None and cache is not False:
        from chatlane.cache.piece import Cache, CachePiece

        configured = Cache.coerce(cache)
        if configured is not None:
            pieces.append(CachePiece(configured))
    return tuple(pieces)
