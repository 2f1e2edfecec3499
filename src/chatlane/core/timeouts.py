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
    - ``total``: the whole call, retries and the entire stream included. An hour by default:
      far more than a healthy answer takes, and the end of a server that drips a byte just
      inside the idle limit forever. ``Timeout(total=None)`` lifts it.

    The defaults never wait forever on a silent or dripping server and never cut a healthy
    stream.
    """

    connect: float | None = 10.0
    first_token: float | None = 180.0
    idle: float | None = 60.0
    total: float | None = 3600.0

    def __post_init__(self) -> None:
        for name in ("connect", "first_token", "idle", "total"):
            value = getattr(self, name)
            if value is not None and not _seconds(value):
                raise UsageError(
                    f"Timeout.{name} must be a positive number of seconds or None, got {value!r}"
                )

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """A number means a total limit (and caps every phase); None means the defaults."""
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        if not _seconds(value):
            raise UsageError(
                f"timeout must be a Timeout, a positive number of seconds or None, got {value!r}"
            )
        return cls(connect=min(10.0, value), first_token=value, idle=min(60.0, value), total=value)


def _seconds(value: object) -> bool:
    """A positive, finite number (not a bool, not NaN)."""
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < float("inf")
    )
