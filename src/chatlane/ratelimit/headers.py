"""Reading the rate-limit headers providers send into an ``Observed``.

Understood (names in any case):

- OpenAI, Groq and most compatible servers: ``x-ratelimit-remaining-requests`` /
  ``x-ratelimit-reset-requests`` and the same for ``-tokens``; resets are durations
  (``1s``, ``6m0s``, ``20ms``, ``1h2m3.5s``) or plain seconds (``0.5``);
- Cerebras' windowed forms (``x-ratelimit-remaining-requests-day``,
  ``x-ratelimit-reset-tokens-minute``...);
- Anthropic: ``anthropic-ratelimit-requests-remaining`` / ``-reset`` and the same for
  ``tokens``, ``input-tokens`` and ``output-tokens``; resets are RFC 3339 times;
- the generic ``x-ratelimit-remaining`` / ``x-ratelimit-reset`` and the IETF draft's
  ``ratelimit-remaining`` / ``ratelimit-reset``, counted as requests.

A plain number of at least 1e9 is a Unix time (1e12 and more: in milliseconds), as some
servers send it; smaller ones are seconds from now. Where several windows are reported for
one dimension, the one with the least remaining (then the latest reset) is kept, among
those whose reset is understood and still ahead if there are any.

Headers are hostile input: any value gives a result or is ignored, never an exception.
Remaining counts must be non-negative whole numbers of at most 15 digits; anything else
(negative, NaN, exponents, longer than 64 characters) is ignored. Reset times are clamped
to between now and one hour from now (``MAX_HOLD``): a reset in the past means "already
reset", a later one (or an absurd one) holds requests one hour at most.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from chatlane.core.errors import UsageError
from chatlane.ratelimit.limits import MAX_HOLD, Observed

__all__ = ["observe", "observed_in", "parse_duration", "rate_limit_headers"]

_REQUESTS = (
    ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("x-ratelimit-remaining-requests-minute", "x-ratelimit-reset-requests-minute"),
    ("x-ratelimit-remaining-requests-hour", "x-ratelimit-reset-requests-hour"),
    ("x-ratelimit-remaining-requests-day", "x-ratelimit-reset-requests-day"),
    ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
    ("x-ratelimit-remaining", "x-ratelimit-reset"),
    ("ratelimit-remaining", "ratelimit-reset"),
)
_TOKENS = (
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ("x-ratelimit-remaining-tokens-minute", "x-ratelimit-reset-tokens-minute"),
    ("x-ratelimit-remaining-tokens-hour", "x-ratelimit-reset-tokens-hour"),
    ("x-ratelimit-remaining-tokens-day", "x-ratelimit-reset-tokens-day"),
    ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
    ("anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset"),
    ("anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"),
)
_NAMES = frozenset(name for pair in _REQUESTS + _TOKENS for name in pair)
_SHORTEST = min(map(len, _NAMES))

_MAX_LENGTH = 64
_REMAINING = re.compile(r"\d{1,15}", re.ASCII)
_SECONDS = re.compile(r"\d{1,20}(?:\.\d{1,20})?", re.ASCII)
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_UNITS["μs"] = 1e-6  # Greek mu as well as the micro sign: Go writes the micro sign
_PART = r"(\d{1,20}(?:\.\d{1,20})?|\.\d{1,20})(h|ms|m|s|us|µs|μs|ns)"
_DURATION = re.compile(f"(?:{_PART})+", re.ASCII)
_DURATION_PART = re.compile(_PART, re.ASCII)
_UNIX_SECONDS = 1e9  # 2001-09-09 as a Unix time; no reset is 31 years away
_UNIX_MILLISECONDS = 1e12


def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (``1h2m3.5s``, ``6m0s``, ``20ms``) or a plain number
    of seconds, or None if ``text`` is neither (negative values are not durations)."""
    text = text.strip()
    if len(text) > _MAX_LENGTH:
        return None
    if _SECONDS.fullmatch(text):
        return float(text)
    if not _DURATION.fullmatch(text):
        return None
    return sum(float(number) * _UNITS[unit] for number, unit in _DURATION_PART.findall(text))


def _remaining(text: str) -> int | None:
    text = text.strip()
    return int(text) if _REMAINING.fullmatch(text) else None


def _reset_at(text: str, now: float) -> float | None:
    """When a reset header says its window resets, clamped to [now, now + MAX_HOLD]."""
    text = text.strip()
    if len(text) > _MAX_LENGTH:
        return None
    seconds = parse_duration(text)
    if seconds is not None and _SECONDS.fullmatch(text):
        if seconds >= _UNIX_MILLISECONDS:
            at = seconds / 1000.0
        elif seconds >= _UNIX_SECONDS:
            at = seconds
        else:
            at = now + seconds
    elif seconds is not None:
        at = now + seconds
    else:
        parsed = _rfc3339(text)
        if parsed is None:
            return None
        at = parsed
    if not math.isfinite(at):
        return None
    return min(max(at, now), now + MAX_HOLD)


def _rfc3339(text: str) -> float | None:
    if len(text) < 10 or text[4:5] != "-":  # cheap check: a date starts "YYYY-"
        return None
    try:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:  # a time without its zone is taken as UTC
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _binding(
    headers: Mapping[str, str], pairs: tuple[tuple[str, str], ...], now: float
) -> tuple[int | None, float | None]:
    """(remaining, reset time) of the window with the least remaining, then latest reset."""
    windows: list[tuple[int, float | None]] = []
    for remaining_name, reset_name in pairs:
        raw = headers.get(remaining_name)
        remaining = None if raw is None else _remaining(raw)
        if remaining is not None:
            raw_reset = headers.get(reset_name)
            windows.append((remaining, None if raw_reset is None else _reset_at(raw_reset, now)))
    if not windows:
        return None, None
    return min(windows, key=lambda window: _tightest_first(window, now))


def _tightest_first(window: tuple[int, float | None], now: float) -> tuple[bool, int, float]:
    # A window whose reset is unknown or past holds nothing: it must not hide one that does.
    remaining, reset_at = window
    if reset_at is None or reset_at <= now:
        return True, remaining, 0.0
    return False, remaining, -reset_at


def observe(headers: Mapping[str, str], now: float) -> Observed | None:
    """What a response's rate-limit headers say, or None if they say nothing usable.

    ``now``: ``time.time()`` when the response arrived, to place durations. Header names
    are matched in any case; values that do not parse are ignored (see the module's notes
    for the forms understood and the clamps).
    """
    if not isinstance(now, int | float) or isinstance(now, bool) or not math.isfinite(now):
        raise UsageError(f"now must be a finite time.time() value, not {now!r}")
    if not isinstance(headers, Mapping):
        raise UsageError(f"headers must be a mapping of header names to values, not {headers!r}")
    wanted = rate_limit_headers(headers)
    return None if wanted is None else observed_in(wanted, now)


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The rate-limit headers among ``headers`` (names lowered), or None if there are none:
    the cheap first look made on every response."""
    wanted: dict[str, str] | None = None
    for name in headers:
        # The shortest name understood is 15 characters: most headers are passed over
        # without lowering them.
        if isinstance(name, str) and len(name) >= _SHORTEST:
            lowered = name.lower()
            if lowered in _NAMES:
                value = headers[name]
                if isinstance(value, str):
                    if wanted is None:
                        wanted = {}
                    wanted[lowered] = value
    return wanted


def observed_in(wanted: Mapping[str, str], now: float) -> Observed | None:
    """What the rate-limit headers ``wanted`` (from :func:`rate_limit_headers`) say."""
    requests_remaining, requests_reset_at = _binding(wanted, _REQUESTS, now)
    tokens_remaining, tokens_reset_at = _binding(wanted, _TOKENS, now)
    if requests_remaining is None and tokens_remaining is None:
        return None
    return Observed(
        requests_remaining=requests_remaining,
        requests_reset_at=requests_reset_at,
        tokens_remaining=tokens_remaining,
        tokens_reset_at=tokens_reset_at,
    )
