"""Size limits of a client: what a hostile or broken server can make it hold. Pure data."""

from __future__ import annotations

from dataclasses import dataclass

from chatlane.core.errors import UsageError
from chatlane.core.sse import DEFAULT_MAX_EVENT_BYTES

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "Limits"]

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
"""The largest whole response body read (after decompression): a chat completion is a few KB."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a client takes from a server; ``None`` lifts a limit.

    - ``max_response_bytes``: a whole (non-streamed) response body, after decompression
      (a compressed body is refused while it inflates). 32 MiB: a completion is a few KB.
    - ``max_event_bytes``: one line or event of a stream. 8 MiB.
    - ``max_connections``: connections kept per client (None: the transport's default,
      32 sync and 100 async). The async client waits for a free one and reports a wait
      that outlasts the first-token limit as ``PoolTimeout``; the sync client opens an
      extra connection instead of waiting.

    They apply to the transports the client makes; a transport passed as ``transport=``
    keeps its own ``max_connections`` and ``max_response_bytes``.
    """

    max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES
    max_connections: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_response_bytes", "max_event_bytes", "max_connections"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 1):
                raise UsageError(f"Limits.{name} must be a positive integer or None, got {value!r}")
