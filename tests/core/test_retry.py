from __future__ import annotations

import email.utils
import random

import pytest

from chatlane.core.errors import UsageError
from chatlane.core.retry import (
    RETRYABLE_STATUSES,
    RetryPolicy,
    backoff_delay,
    next_delay,
    parse_retry_after,
)

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "150"}, 0.15),
        ({"retry-after-ms": "150", "retry-after": "9"}, 0.15),
        ({"retry-after": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({"retry-after-ms": "abc"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == expected


def test_backoff_grows_exponentially_with_jitter_and_cap() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    for retry, base in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        delays = {backoff_delay(retry, policy, rng) for _ in range(50)}
        assert all(base * 0.5 <= d <= base for d in delays)
        assert len(delays) > 1  # jittered, not constant


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUSES))
def test_retryable_statuses_are_retried(status: int) -> None:
    assert next_delay(retry=0, status=status, headers={}, policy=RetryPolicy(), remaining=None)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_client_errors_are_never_retried(status: int) -> None:
    delay = next_delay(retry=0, status=status, headers={}, policy=RetryPolicy(), remaining=None)
    assert delay is None


def test_connection_failures_are_retried() -> None:
    assert next_delay(retry=0, status=None, headers={}, policy=RetryPolicy(), remaining=None)


def test_retries_stop_at_max_retries() -> None:
    policy = RetryPolicy(max_retries=2)
    assert next_delay(retry=1, status=503, headers={}, policy=policy, remaining=None)
    assert next_delay(retry=2, status=503, headers={}, policy=policy, remaining=None) is None


def test_retry_after_replaces_backoff() -> None:
    delay = next_delay(
        retry=0, status=429, headers={"retry-after": "3"}, policy=RetryPolicy(), remaining=None
    )
    assert delay == 3.0


def test_retry_after_beyond_cap_gives_up_at_once() -> None:
    policy = RetryPolicy(max_retry_after=10)
    headers = {"retry-after": "11"}
    assert next_delay(retry=0, status=429, headers=headers, policy=policy, remaining=None) is None


def test_deadline_stops_a_retry_that_could_not_start_in_time() -> None:
    headers = {"retry-after": "2"}
    policy = RetryPolicy()
    assert next_delay(retry=0, status=429, headers=headers, policy=policy, remaining=1.5) is None
    assert next_delay(retry=0, status=429, headers=headers, policy=policy, remaining=2.5) == 2.0


def test_policy_rejects_negative_values() -> None:
    with pytest.raises(UsageError, match="max_retries"):
        RetryPolicy(max_retries=-1)
