"""The ``current_datetime`` tool: models do not know what time it is."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

__all__ = ["current_datetime", "format_datetime"]

# English day names, whatever the process locale (strftime's %A follows the locale).
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def current_datetime(timezone: str = "UTC") -> str:
    """The current date, time and weekday in a time zone.

    Args:
        timezone: An IANA time zone name such as "Europe/Paris", "America/New_York",
            "Asia/Tokyo" or "UTC".
    """
    return format_datetime(dt.datetime.now(_zone(timezone)))


def format_datetime(moment: dt.datetime) -> str:
    """``2026-12-03 15:04:05 JST (UTC+09:00), Thursday`` for an aware datetime."""
    offset = moment.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(offset) // dt.timedelta(minutes=1)
    hours, minutes = divmod(minutes, 60)
    abbreviation = moment.tzname() or ""
    label = f"{abbreviation} " if abbreviation and abbreviation[0] not in "+-" else ""
    return (
        f"{moment:%Y-%m-%d %H:%M:%S} {label}(UTC{sign}{hours:02d}:{minutes:02d}),"
        f" {_DAYS[moment.weekday()]}"
    )


def _zone(name: str) -> zoneinfo.ZoneInfo:
    key = name.strip()
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    # Models often get the case wrong ("europe/paris"); the name is still unambiguous.
    canonical = _zones_by_folded_name().get(key.casefold())
    if canonical is not None:
        return zoneinfo.ZoneInfo(canonical)
    raise ValueError(
        f"unknown time zone {name!r}: use an IANA name such as 'Europe/Paris',"
        " 'America/New_York' or 'UTC'"
    )


@functools.cache
def _zones_by_folded_name() -> dict[str, str]:
    # Listing the zones reads the whole zone database: once, and only after a miss.
    return {zone.casefold(): zone for zone in zoneinfo.available_timezones()}
