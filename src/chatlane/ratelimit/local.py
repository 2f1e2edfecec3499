"""The in-process rate limiter: GCRA per key, one lock, the monotonic clock."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from chatlane.ratelimit.limits import (
    MAX_HOLD,
    Observed,
    RateLimit,
    check_count,
    check_key,
    check_limit,
    check_observed,
    learned_hold,
)

__all__ = ["LocalLimiter"]

_FIRST_SWEEP = 1024
"""Keys held before idle ones are first forgotten (a key per tenant must not grow the table
for ever)."""


@dataclass(slots=True)
class _Buckets:
    """One key's state, in monotonic seconds. ``-inf``: empty, nothing learned."""

    requests_clear_at: float = -math.inf
    tokens_clear_at: float = -math.inf
    requests_left: int = 0
    requests_reset_at: float = -math.inf
    tokens_left: int = 0
    tokens_reset_at: float = -math.inf

    def take(self, limit: RateLimit, tokens: int, now: float) -> float:
        """Grant a request of ``tokens`` now (0.0), or say the seconds before it could be
        granted and record nothing. One method for both: it runs on every attempt."""
        rpm, tpm, burst = limit.requests_per_minute, limit.tokens_per_minute, limit.burst
        requests_clear_at, tokens_clear_at = self.requests_clear_at, self.tokens_clear_at
        wait = 0.0
        if rpm is not None and requests_clear_at - now - burst > wait:
            wait = requests_clear_at - now - burst
        if tpm is not None and tokens_clear_at - now - burst > wait:
            wait = tokens_clear_at - now - burst
        # What the provider said it would still take (learned from its headers), until its
        # reset: it shrinks by what goes out. Every request uses some tokens, even at 0.
        requests_held = self.requests_reset_at > now
        tokens_held = self.tokens_reset_at > now
        if requests_held and self.requests_left < 1:
            wait = max(wait, self.requests_reset_at - now)
        if tokens_held and self.tokens_left < max(tokens, 1):
            wait = max(wait, self.tokens_reset_at - now)
        if wait > 0:
            return wait
        if rpm is not None:
            self.requests_clear_at = max(requests_clear_at, now) + 60.0 / rpm
        if tpm is not None:
            self.tokens_clear_at = max(tokens_clear_at, now) + tokens * (60.0 / tpm)
        if requests_held:
            self.requests_left -= 1
        if tokens_held:
            self.tokens_left -= tokens
        return 0.0

    def correct_tokens(self, limit: RateLimit, change: int, now: float) -> None:
        """Charge (``change`` > 0) or refund tokens already granted."""
        if limit.tokens_per_minute is None or change == 0:
            return
        shift = change * limit.seconds_per_token
        if change > 0:
            # Held MAX_HOLD at most, as by a provider's reset: a larger reported usage is
            # absurd, and charged in full it would block the key for ever.
            charged = min(max(self.tokens_clear_at, now) + shift, now + MAX_HOLD)
            self.tokens_clear_at = max(self.tokens_clear_at, charged)
        else:  # a refund empties the bucket at most: unused tokens are not banked
            self.tokens_clear_at = max(self.tokens_clear_at + shift, now)

    def learn(self, observed: Observed, now: float, wall_now: float) -> None:
        requests = learned_hold(observed.requests_remaining, observed.requests_reset_at, wall_now)
        if requests is not None:
            self.requests_left, reset_in = requests
            self.requests_reset_at = now + reset_in
        tokens = learned_hold(observed.tokens_remaining, observed.tokens_reset_at, wall_now)
        if tokens is not None:
            self.tokens_left, reset_in = tokens
            self.tokens_reset_at = now + reset_in

    def idle(self, now: float) -> bool:
        """Forgetting this key changes nothing: its buckets are empty, what it learned past."""
        last = max(
            self.requests_clear_at,
            self.tokens_clear_at,
            self.requests_reset_at,
            self.tokens_reset_at,
        )
        return last <= now


def _plainly_sound(key: object, limit: object, tokens: object) -> bool:
    """The usual arguments (the client's own), told apart cheaply; others get the full
    checks and their errors."""
    return (
        type(key) is str
        and key != ""
        and type(limit) is RateLimit
        and type(tokens) is int
        and tokens >= 0
    )


class LocalLimiter:
    """Rate limits kept in this process, for the threads and tasks that share the object.

    Thread-safe (one lock, held only for arithmetic) and task-safe; the async methods never
    wait on anything. Times come from ``time.monotonic``. Keys idle long enough that their
    state no longer matters are forgotten. For limits shared by several processes or
    machines use ``RedisLimiter``. See ``chatlane.ratelimit.limits.Limiter`` for the methods.
    """

    in_process = True
    """Does no I/O: the client calls it directly, not through an I/O step."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, _Buckets] = {}
        self._sweep_at = _FIRST_SWEEP

    def __repr__(self) -> str:
        return f"LocalLimiter(keys={len(self._keys)})"

    def __len__(self) -> int:
        """How many keys the limiter holds state for (idle ones are forgotten in time)."""
        return len(self._keys)

    def try_acquire(self, key: str, limit: RateLimit, *, tokens: int) -> float:
        """0.0 when a request of ``tokens`` tokens is granted now (and recorded); else the
        seconds to wait before it could be, with nothing recorded. Never blocks."""
        if not _plainly_sound(key, limit, tokens):
            check_key(key)
            check_limit(limit)
            check_count("tokens", tokens)
        self._lock.acquire()  # not `with`: half the cost, on every call
        try:
            now = time.monotonic()
            buckets = self._keys.get(key)
            if buckets is None:
                self._sweep(now)
                buckets = self._keys[key] = _Buckets()
            return buckets.take(limit, tokens, now)
        finally:
            self._lock.release()

    async def atry_acquire(self, key: str, limit: RateLimit, *, tokens: int) -> float:
        """``try_acquire`` for async code (it does not wait on anything either)."""
        return self.try_acquire(key, limit, tokens=tokens)

    def settle(self, key: str, limit: RateLimit, *, reserved: int, used: int) -> None:
        """Correct a granted request's tokens: ``reserved`` was the estimate it was granted
        with, ``used`` its real usage. A refund lets the next request in sooner."""
        if not (_plainly_sound(key, limit, used) and type(reserved) is int and reserved >= 0):
            check_key(key)
            check_limit(limit)
            check_count("used", used)
            check_count("reserved", reserved)
        change = used - reserved
        self._lock.acquire()  # not `with`: half the cost, on every call
        try:
            buckets = self._keys.get(key)
            if buckets is None:
                if change <= 0:
                    return
                buckets = self._keys[key] = _Buckets()
            buckets.correct_tokens(limit, change, time.monotonic())
        finally:
            self._lock.release()

    async def asettle(self, key: str, limit: RateLimit, *, reserved: int, used: int) -> None:
        """``settle`` for async code."""
        self.settle(key, limit, reserved=reserved, used=used)

    def learn(self, key: str, observed: Observed) -> None:
        """Hold ``key``'s requests until the provider's reset when it said too little remains
        for one more (see ``Observed``); the configured limits still apply as well."""
        check_key(key)
        check_observed(observed)
        with self._lock:
            buckets = self._keys.get(key)
            if buckets is None:
                buckets = self._keys[key] = _Buckets()
            buckets.learn(observed, time.monotonic(), time.time())

    async def alearn(self, key: str, observed: Observed) -> None:
        """``learn`` for async code."""
        self.learn(key, observed)

    def _sweep(self, now: float) -> None:
        """Forget idle keys once the table has grown; the next sweep waits for it to double."""
        if len(self._keys) < self._sweep_at:
            return
        for key in [key for key, buckets in self._keys.items() if buckets.idle(now)]:
            del self._keys[key]
        self._sweep_at = max(_FIRST_SWEEP, 2 * len(self._keys))
