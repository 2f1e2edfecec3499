"""The current_datetime tool."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest

from chatlane.tools.builtin.clock import current_datetime, format_datetime

SHAPE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+ )?\(UTC([+-]\d\d:\d\d)\), "
    r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)$"
)


def test_format() -> None:
    tokyo = dt.datetime(2026, 12, 3, 15, 4, 5, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert format_datetime(tokyo) == "2026-12-03 15:04:05 JST (UTC+09:00), Thursday"
    new_york = dt.datetime(2026, 7, 4, 9, 0, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    assert format_datetime(new_york) == "2026-07-04 09:00:00 EDT (UTC-04:00), Saturday"
    kolkata = dt.datetime(2026, 1, 1, tzinfo=zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert format_datetime(kolkata) == "2026-01-01 00:00:00 IST (UTC+05:30), Thursday"
    # Zones whose abbreviation is just the offset do not say it twice.
    plus_three = dt.datetime(2026, 1, 1, tzinfo=zoneinfo.ZoneInfo("Etc/GMT-3"))
    assert format_datetime(plus_three) == "2026-01-01 00:00:00 (UTC+03:00), Thursday"


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "Europe/Paris", "europe/paris"])
def test_current_time_in_a_zone(zone: str) -> None:
    text = current_datetime(zone)
    match = SHAPE.match(text)
    assert match, text
    shown = dt.datetime.fromisoformat(f"{match.group(1)}{match.group(3)}")
    assert abs(shown - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_default_is_utc() -> None:
    assert " UTC (UTC+00:00), " in current_datetime()


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "EST5EDT/x"])
def test_unknown_zone(zone: str) -> None:
    with pytest.raises(ValueError, match=r"unknown time zone .* such as 'Europe/Paris'"):
        current_datetime(zone)
