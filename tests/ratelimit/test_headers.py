"""Reading providers' rate-limit headers: the forms each provider sends, the clamps, and
that hostile values give a result or are ignored, never an exception."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatlane.core.errors import UsageError
from chatlane.ratelimit.headers import observe, parse_duration
from chatlane.ratelimit.limits import MAX_HOLD, Observed

NOW = 1_800_000_000.0
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


def rfc3339(seconds_from_now: float) -> str:
    return (datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=seconds_from_now)).isoformat()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("2m59.56s", 179.56),
        ("150us", 0.00015),
        ("7µs", 0.000007),
        ("0.5", 0.5),
        ("17", 17.0),
        (" 3s ", 3.0),
    ],
)
def test_durations_in_go_form_and_plain_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "-1s", "1e3", "NaN", "inf", "1d", "1 s", "1s-2s", "1.s"])
def test_what_is_not_a_duration(text: str) -> None:
    assert parse_duration(text) is None


def test_openai_headers() -> None:
    headers = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-tokens": "150000",
        "x-ratelimit-remaining-tokens": "149984",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert observe(headers, NOW) == Observed(
        requests_remaining=59,
        requests_reset_at=NOW + 1,
        tokens_remaining=149984,
        tokens_reset_at=NOW + 360,
    )


def test_header_names_are_matched_in_any_case() -> None:
    headers = {"X-RateLimit-Remaining-Requests": "0", "X-RATELIMIT-RESET-REQUESTS": "20ms"}
    assert observe(headers, NOW) == Observed(requests_remaining=0, requests_reset_at=NOW + 0.02)


def test_anthropic_headers_with_rfc3339_resets() -> None:
    headers = {
        "anthropic-ratelimit-requests-remaining": "4",
        "anthropic-ratelimit-requests-reset": rfc3339(30),
        "anthropic-ratelimit-input-tokens-remaining": "9000",
        "anthropic-ratelimit-input-tokens-reset": rfc3339(5),
        "anthropic-ratelimit-output-tokens-remaining": "120",
        "anthropic-ratelimit-output-tokens-reset": "2027-01-15T09:00:12.5+01:00",
    }
    observed = observe(headers, NOW)
    assert observed is not None
    assert observed.requests_remaining == 4
    assert observed.requests_reset_at == pytest.approx(NOW + 30)
    assert observed.tokens_remaining == 120  # the tightest of the token windows
    expected = datetime(2027, 1, 15, 8, 0, 12, 500_000, tzinfo=UTC).timestamp()
    assert observed.tokens_reset_at == pytest.approx(expected)  # NOW + 12.5


def test_a_time_without_its_zone_is_utc() -> None:
    naive = (datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=9)).replace(tzinfo=None)
    headers = {
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": naive.isoformat(),
    }
    observed = observe(headers, NOW)
    assert observed is not None
    assert observed.tokens_reset_at == pytest.approx(NOW + 9)


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        (str(int(NOW) + 40), NOW + 40),  # Unix seconds
        (str(int(NOW * 1000) + 2500), NOW + 2.5),  # Unix milliseconds (OpenRouter)
        ("12", NOW + 12),  # seconds from now (the IETF draft's form)
    ],
)
def test_generic_names_and_plain_number_resets(reset: str, expected: float) -> None:
    for prefix in ("x-ratelimit", "ratelimit"):
        headers = {f"{prefix}-remaining": "0", f"{prefix}-reset": reset}
        observed = observe(headers, NOW)
        assert observed is not None
        assert observed.requests_remaining == 0
        assert observed.requests_reset_at == pytest.approx(expected)


def test_the_tightest_window_is_kept() -> None:
    headers = {
        "x-ratelimit-remaining-requests-minute": "30",
        "x-ratelimit-reset-requests-minute": "20s",
        "x-ratelimit-remaining-requests-day": "0",
        "x-ratelimit-reset-requests-day": "40m",
        "x-ratelimit-remaining-tokens-minute": "5",
        "x-ratelimit-reset-tokens-minute": "3s",
        "x-ratelimit-remaining-tokens": "5",
        "x-ratelimit-reset-tokens": "9s",
    }
    assert observe(headers, NOW) == Observed(
        requests_remaining=0,
        requests_reset_at=NOW + 2400,
        tokens_remaining=5,
        tokens_reset_at=NOW + 9,  # same remaining: the later reset
    )


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        ("99999999s", NOW + MAX_HOLD),
        ("5h", NOW + MAX_HOLD),
        (rfc3339(86_400), NOW + MAX_HOLD),
        ("9999-12-31T23:59:59Z", NOW + MAX_HOLD),
        (rfc3339(-60), NOW),  # already past: reset
        ("1000000000", NOW),  # a Unix time in 2001
        ("0", NOW),
    ],
)
def test_resets_are_clamped_to_between_now_and_an_hour(reset: str, expected: float) -> None:
    observed = observe(
        {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": reset}, NOW
    )
    assert observed is not None
    assert observed.requests_reset_at == pytest.approx(expected)


@pytest.mark.parametrize(
    "reset",
    ["-5s", "NaN", "nan", "inf", "1e300", "-1", "soon", "2026-13-45T99:00:00Z", "9" * 65, ""],
)
def test_absurd_resets_are_ignored(reset: str) -> None:
    observed = observe(
        {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": reset}, NOW
    )
    assert observed == Observed(requests_remaining=0)


@pytest.mark.parametrize(
    "reset", [None, "-5s", "NaN", "inf", "-1", "soon", "9" * 65, rfc3339(-60), "1000000000"]
)
def test_a_window_without_a_usable_reset_does_not_hide_one_with_it(reset: str | None) -> None:
    headers = {
        "x-ratelimit-remaining-tokens-day": "0",
        "x-ratelimit-remaining-tokens-minute": "50",
        "x-ratelimit-reset-tokens-minute": "30s",
    }
    if reset is not None:
        headers["x-ratelimit-reset-tokens-day"] = reset
    assert observe(headers, NOW) == Observed(tokens_remaining=50, tokens_reset_at=NOW + 30)


@pytest.mark.parametrize("remaining", ["-1", "NaN", "1e3", "1.5", "", "lots", "9" * 16, "٣"])
def test_absurd_remaining_counts_are_ignored(remaining: str) -> None:
    headers = {"x-ratelimit-remaining-requests": remaining, "x-ratelimit-reset-requests": "1s"}
    assert observe(headers, NOW) is None


def test_headers_without_remaining_counts_say_nothing() -> None:
    assert observe({}, NOW) is None
    assert observe({"content-type": "application/json"}, NOW) is None
    assert (
        observe({"x-ratelimit-reset-requests": "1s", "x-ratelimit-limit-requests": "60"}, NOW)
        is None
    )


def test_misuse_is_a_usage_error_naming_the_parameter() -> None:
    with pytest.raises(UsageError, match="now"):
        observe({}, math.nan)
    with pytest.raises(UsageError, match="now"):
        observe({}, "1800000000")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="headers"):
        observe([("x-ratelimit-remaining-requests", "0")], NOW)  # type: ignore[arg-type]


# -- hostile input -------------------------------------------------------------------------

NAMES = [
    "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
    "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
    "x-ratelimit-remaining-tokens-minute", "x-ratelimit-reset-tokens-minute",
    "x-ratelimit-remaining-requests-day", "x-ratelimit-reset-requests-day",
    "anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset",
    "x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit-remaining", "ratelimit-reset",
]  # fmt: skip
NAME = st.sampled_from(NAMES).flatmap(
    lambda name: st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(name, upper, strict=True))
    )
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
DURATIONS = st.lists(
    st.tuples(
        st.one_of(st.integers(min_value=0, max_value=10**25).map(str), st.floats().map(repr)),
        st.sampled_from(["h", "m", "s", "ms", "us", "µs", "ns", "d", ""]),
    ),
    min_size=1,
    max_size=6,
).map(lambda parts: "".join(number + unit for number, unit in parts))
DATES = st.datetimes(
    timezones=st.none() | st.timezones() | st.just(UTC),
).map(lambda moment: moment.isoformat())
VALUES = st.one_of(st.text(max_size=80), NUMBERS, DURATIONS, DATES)
TIMES = st.floats(min_value=0, max_value=4e9)


def check_observation(observed: Observed | None, now: float) -> None:
    if observed is None:
        return
    for remaining in (observed.requests_remaining, observed.tokens_remaining):
        assert remaining is None or (isinstance(remaining, int) and remaining >= 0)
    for reset_at in (observed.requests_reset_at, observed.tokens_reset_at):
        assert reset_at is None or now <= reset_at <= now + MAX_HOLD


@PROPERTY
@given(st.dictionaries(NAME, VALUES, max_size=10), TIMES)
def test_any_values_under_known_names_give_an_observation_or_none(
    headers: dict[str, str], now: float
) -> None:
    check_observation(observe(headers, now), now)


@PROPERTY
@given(st.dictionaries(st.text(max_size=40), st.text(max_size=80), max_size=10), TIMES)
def test_any_headers_at_all_give_an_observation_or_none(
    headers: dict[str, str], now: float
) -> None:
    check_observation(observe(headers, now), now)


REQUEST_WINDOWS = [
    ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("x-ratelimit-remaining-requests-minute", "x-ratelimit-reset-requests-minute"),
    ("x-ratelimit-remaining-requests-day", "x-ratelimit-reset-requests-day"),
    ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
    ("x-ratelimit-remaining", "x-ratelimit-reset"),
    ("ratelimit-remaining", "ratelimit-reset"),
]


def unusable(reset: str | None) -> bool:
    """A reset that, alone, holds nothing: absent, not understood, or already past."""
    if reset is None:
        return True
    alone = observe(
        {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": reset}, NOW
    )
    assert alone is not None
    return alone.requests_reset_at is None or alone.requests_reset_at <= NOW


@PROPERTY
@given(
    st.permutations(REQUEST_WINDOWS).map(lambda windows: windows[:2]),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=1, max_value=int(MAX_HOLD) - 1),
    st.integers(min_value=0, max_value=10**6),
    st.none() | VALUES.filter(unusable),
)
def test_a_garbage_reset_never_loses_a_valid_hold(
    windows: list[tuple[str, str]],
    remaining: int,
    reset_in: int,
    garbage_remaining: int,
    garbage_reset: str | None,
) -> None:
    (valid_remaining_name, valid_reset_name), (garbage_remaining_name, garbage_reset_name) = windows
    headers = {
        valid_remaining_name: str(remaining),
        valid_reset_name: f"{reset_in}s",
        garbage_remaining_name: str(garbage_remaining),
    }
    if garbage_reset is not None:
        headers[garbage_reset_name] = garbage_reset
    observed = observe(headers, NOW)
    assert observed == Observed(requests_remaining=remaining, requests_reset_at=NOW + reset_in)


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10_000),
            st.sampled_from(["h", "m", "s", "ms", "us", "ns"]),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_go_durations_are_the_sum_of_their_parts(parts: list[tuple[int, str]]) -> None:
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    text = "".join(f"{number}{unit}" for number, unit in parts)
    assert parse_duration(text) == pytest.approx(sum(n * scale[u] for n, u in parts))
