"""Timeouts, set separately for each phase of a call. Pure data."""

from __future__ import annotations

from dataclasses import dataclass

from chatlane.core.errors import UsageError

__all__ = ["Timeout"]


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds allowed for each phase of a call; ``None`` means no limit for that phase.

    - ``connect``: establishing the connection.
    - ``first_token``: from sending the request to the response (for a stream: to its first
      chunk). Generous by default: reasoning models think before they answer.
    - ``idle``: the longest silence between two chunks of a stream (or reads of a body).
    - ``total``: the whole call, retries and the entire stream included. Off by default so a
      long but healthy stream is never cut; the idle limit already catches a dead one.

    The defaults never wait forever on a silent server and never cut a live stream.
    """

    connect: float | None = 10.0
    first_token: float | None = 180.0
    idle: float | None = 60.0
    total: float | None = None

    def __post_init__(self) -> None:
        for name in ("connect", "first_token", "idle", "total"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value <= 0):
                raise UsageError(f"Timeout.{name} must be a positive number of seconds or None")

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """A number means a total limit (and caps every phase); None means the defaults."""
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        return cls(connect=min(10.0, value), first_token=value, idle=min(60.0, value), total=value)
