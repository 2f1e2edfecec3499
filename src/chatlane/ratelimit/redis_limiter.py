"""The rate limiter shared by many processes and machines: GCRA kept in Redis.

Each decision is one Lua script, run atomically by Redis (EVALSHA, loaded again if Redis
forgot it), so there is no read-modify-write race between clients; the time is Redis's
own ``TIME`` inside the script, so machines whose clocks differ still agree. Each key is
one hash (``prefix + key``) that expires once its state no longer matters.

When Redis cannot be reached the limiter fails open by default (``on_error="allow"``):
requests are granted unlimited and one warning per outage goes to the
``chatlane.ratelimit`` logger (and a note when Redis is back). A limiter outage must not
stop a service that the provider's own limits, and its 429s, still protect. With
``on_error="raise"`` each call raises ``RateLimiterUnavailable`` instead.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Any, Literal

from chatlane._redis import (
    PerLoop,
    aconnect,
    check_url,
    connect,
    guard_secrets,
    import_redis,
    redact,
    scrub,
)
from chatlane.core.errors import UsageError
from chatlane.ratelimit.limits import (
    MAX_HOLD,
    Observed,
    RateLimit,
    RateLimiterUnavailable,
    check_count,
    check_key,
    check_limit,
    check_observed,
    learned_hold,
)

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["RedisLimiter"]

logger = logging.getLogger("chatlane.ratelimit")

# Reads the key's state; keep() writes it back and sets the key to expire once every part
# of it lies in the past (an absent key reads as empty buckets with nothing learned).
_PRELUDE = """
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', key, 'requests_clear_at', 'tokens_clear_at',
  'requests_left', 'requests_reset_at', 'tokens_left', 'tokens_reset_at')
local requests_clear_at = tonumber(state[1]) or now
local tokens_clear_at = tonumber(state[2]) or now
local requests_left = tonumber(state[3]) or 0
local requests_reset_at = tonumber(state[4]) or 0
local tokens_left = tonumber(state[5]) or 0
local tokens_reset_at = tonumber(state[6]) or 0
local function number(value) return string.format('%.17g', value) end
local function keep()
  redis.call('HSET', key,
    'requests_clear_at', number(requests_clear_at), 'tokens_clear_at', number(tokens_clear_at),
    'requests_left', number(requests_left), 'requests_reset_at', number(requests_reset_at),
    'tokens_left', number(tokens_left), 'tokens_reset_at', number(tokens_reset_at))
  local last = math.max(now, requests_clear_at, tokens_clear_at, requests_reset_at,
    tokens_reset_at)
  redis.call('PEXPIRE', key, math.ceil((last - now) * 1000) + 1000)
end
"""

# ARGV: seconds per request, seconds per token (0: not limited), burst, tokens.
# Returns the wait as text ('0': granted); Lua numbers would reach Redis truncated.
_ACQUIRE = (
    _PRELUDE
    + """
local per_request = tonumber(ARGV[1])
local per_token = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local wait = 0
if per_request > 0 then wait = math.max(wait, requests_clear_at - now - burst) end
if per_token > 0 then wait = math.max(wait, tokens_clear_at - now - burst) end
if requests_reset_at > now and requests_left < 1 then
  wait = math.max(wait, requests_reset_at - now)
end
if tokens_reset_at > now and tokens_left < math.max(tokens, 1) then
  wait = math.max(wait, tokens_reset_at - now)
end
if wait > 0 then return number(math.max(wait, 0.000001)) end
if per_request > 0 then requests_clear_at = math.max(requests_clear_at, now) + per_request end
if per_token > 0 then tokens_clear_at = math.max(tokens_clear_at, now) + tokens * per_token end
if requests_reset_at > now then requests_left = requests_left - 1 end
if tokens_reset_at > now then tokens_left = tokens_left - tokens end
keep()
return '0'
"""
)

# ARGV: seconds per token, tokens to charge (negative: to refund), MAX_HOLD.
_SETTLE = (
    _PRELUDE
    + """
local per_token = tonumber(ARGV[1])
local change = tonumber(ARGV[2])
if change > 0 then
  -- held MAX_HOLD at most, as by a provider's reset: a larger reported usage is absurd,
  -- and charged in full it would block the key for ever
  local charged = math.min(math.max(tokens_clear_at, now) + change * per_token,
    now + tonumber(ARGV[3]))
  tokens_clear_at = math.max(tokens_clear_at, charged)
else  -- a refund empties the bucket at most: unused tokens are not banked
  tokens_clear_at = math.max(tokens_clear_at + change * per_token, now)
end
keep()
return 1
"""
)

# ARGV: requests left ('' : not observed), seconds to its reset, tokens left, seconds to reset.
_LEARN = (
    _PRELUDE
    + """
if ARGV[1] ~= '' then
  requests_left = tonumber(ARGV[1])
  requests_reset_at = now + tonumber(ARGV[2])
end
if ARGV[3] ~= '' then
  tokens_left = tonumber(ARGV[3])
  tokens_reset_at = now + tonumber(ARGV[4])
end
keep()
return 1
"""
)

_RETRIES = 1
"""Tries again inside redis-py, at once: a pooled connection may have dropped."""


class _Outage:
    """Whether the store is down, so that each outage is reported once."""

    def __init__(self, where: str, secrets: tuple[str, ...], on_error: str) -> None:
        self._where = where
        self._secrets = secrets
        self._on_error = on_error
        self._lock = threading.Lock()
        self._down = False

    def failed(self, error: Exception) -> None:
        """Report a failed call: raise (``on_error="raise"``), or warn once per outage."""
        detail = scrub(f"{type(error).__name__}: {error}", self._secrets)[:300]
        if self._on_error == "raise":
            raise RateLimiterUnavailable(
                f"the rate limiter's Redis at {self._where} cannot be reached ({detail})"
            ) from error
        with self._lock:
            first, self._down = not self._down, True
        if first:
            logger.warning(
                "the rate limiter's Redis at %s cannot be reached (%s): requests are not "
                "rate limited until it is back",
                self._where,
                detail,
            )

    def succeeded(self) -> None:
        if self._down:  # unlocked peek: the common case costs nothing
            with self._lock:
                back, self._down = self._down, False
            if back:
                logger.info("the rate limiter's Redis at %s is back", self._where)


class _Scripts:
    """The three scripts, registered with one client (sync or async)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.acquire = client.register_script(_ACQUIRE)
        self.settle = client.register_script(_SETTLE)
        self.learn = client.register_script(_LEARN)


def _learn_args(observed: Observed) -> list[str]:
    args: list[str] = []
    now = time.time()
    for remaining, reset_at in (
        (observed.requests_remaining, observed.requests_reset_at),
        (observed.tokens_remaining, observed.tokens_reset_at),
    ):
        hold = learned_hold(remaining, reset_at, now)
        args += ["", "0"] if hold is None else [str(hold[0]), repr(hold[1])]
    return args


class RedisLimiter:
    """Rate limits shared by every process and machine using the same Redis and prefix.

    ``url``: a redis-py URL (``redis://:password@host:6379/0``, ``unix:///path.sock``);
    or pass ready clients: ``client`` (a ``redis.Redis``, for the sync methods) and
    ``aclient`` (a ``redis.asyncio.Redis``, for the async ones); clients passed in are the
    caller's to close. ``prefix`` starts every Redis key. ``on_error``: ``"allow"`` (fail
    open, one warning per outage on the ``chatlane.ratelimit`` logger) or ``"raise"``
    (``RateLimiterUnavailable``). ``timeout``: seconds a connect or a command to a Redis
    made from ``url`` may take; it is tried twice (a pooled connection may have dropped),
    so a hung Redis delays a call by about twice that at most. The URL's password never
    appears in a repr, log record or error.

    Thread-safe. The async methods use redis.asyncio and never block the event loop; each
    loop that uses them gets its own client made from ``url``, closed by ``aclose()`` on
    that loop or when the loop shuts down. Close with ``close()`` / ``aclose()``. See
    ``chatlane.ratelimit.limits.Limiter`` for the methods.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "chatlane:rl:",
        client: redis.Redis | None = None,
        aclient: redis.asyncio.Redis | None = None,
        on_error: Literal["allow", "raise"] = "allow",
        timeout: float = 1.0,
    ) -> None:
        redis = import_redis("RedisLimiter")
        if url is not None:
            check_url(redis, url)
        elif client is None and aclient is None:
            raise UsageError("RedisLimiter needs a url, a client or an aclient")
        if not isinstance(prefix, str):
            raise UsageError(f"prefix must be a string, not {prefix!r}")
        if on_error not in ("allow", "raise"):
            raise UsageError(f"on_error must be 'allow' or 'raise', not {on_error!r}")
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not (0 < timeout < math.inf)
        ):
            raise UsageError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self._redis = redis
        self._url = url
        self._prefix = prefix
        self._timeout = float(timeout)
        self._on_error = on_error
        secrets = guard_secrets(url, self) if url is not None else ()
        where = redact(url) if url is not None else "the client given"
        self._shown = where
        self._outage = _Outage(where, secrets, on_error)
        self._owns_client = client is None and url is not None
        if self._owns_client:
            client = connect(self._url_given(), timeout=self._timeout, retries=_RETRIES)
        self._client = client
        self._owns_aclient = aclient is None and url is not None
        self._scripts = None if client is None else _Scripts(client)
        self._ascripts = None if aclient is None else _Scripts(aclient)
        self._own_ascripts: PerLoop[_Scripts] = PerLoop(lambda made: made.client.aclose())

    def __repr__(self) -> str:
        return (
            f"RedisLimiter({self._shown!r}, prefix={self._prefix!r}, on_error={self._on_error!r})"
        )

    def _url_given(self) -> str:
        assert self._url is not None  # only a limiter given a URL makes clients
        return self._url

    def _sync_scripts(self) -> _Scripts:
        if self._scripts is None:
            raise UsageError("this RedisLimiter has only an aclient: use the async methods")
        return self._scripts

    async def _async_scripts(self) -> _Scripts:
        if self._ascripts is not None:
            return self._ascripts
        if not self._owns_aclient:
            raise UsageError("this RedisLimiter has only a (sync) client: use the sync methods")
        return await self._own_ascripts.get(self._make_ascripts)

    def _make_ascripts(self) -> _Scripts:
        return _Scripts(aconnect(self._url_given(), timeout=self._timeout, retries=_RETRIES))

    def _name(self, key: str) -> str:
        return self._prefix + check_key(key)

    # -- acquire ---------------------------------------------------------------------------

    @staticmethod
    def _acquire_args(limit: RateLimit, tokens: int) -> list[str]:
        check_limit(limit)
        check_count("tokens", tokens)
        return [
            repr(limit.seconds_per_request),
            repr(limit.seconds_per_token),
            repr(float(limit.burst)),
            str(tokens),
        ]

    def try_acquire(self, key: str, limit: RateLimit, *, tokens: int) -> float:
        """0.0 when a request of ``tokens`` tokens is granted now (and recorded); else the
        seconds to wait before it could be, with nothing recorded. Never sleeps; while
        Redis is down (``on_error="allow"``), 0.0."""
        name = self._name(key)
        args = self._acquire_args(limit, tokens)
        scripts = self._sync_scripts()
        try:
            reply = scripts.acquire(keys=[name], args=args)
        except self._redis.RedisError as error:
            self._outage.failed(error)
            return 0.0
        self._outage.succeeded()
        return float(reply)

    async def atry_acquire(self, key: str, limit: RateLimit, *, tokens: int) -> float:
        """``try_acquire`` through redis.asyncio."""
        name = self._name(key)
        args = self._acquire_args(limit, tokens)
        scripts = await self._async_scripts()
        try:
            reply = await scripts.acquire(keys=[name], args=args)
        except self._redis.RedisError as error:
            self._outage.failed(error)
            return 0.0
        self._outage.succeeded()
        return float(reply)

    # -- settle ----------------------------------------------------------------------------

    @staticmethod
    def _settle_args(limit: RateLimit, reserved: int, used: int) -> list[str] | None:
        check_limit(limit)
        change = check_count("used", used) - check_count("reserved", reserved)
        if change == 0 or limit.tokens_per_minute is None:
            return None
        return [repr(limit.seconds_per_token), str(change), repr(MAX_HOLD)]

    def settle(self, key: str, limit: RateLimit, *, reserved: int, used: int) -> None:
        """Correct a granted request's tokens: ``reserved`` was the estimate it was granted
        with, ``used`` its real usage. A refund lets the next request in sooner."""
        name = self._name(key)
        args = self._settle_args(limit, reserved, used)
        if args is None:
            return
        scripts = self._sync_scripts()
        try:
            scripts.settle(keys=[name], args=args)
        except self._redis.RedisError as error:
            self._outage.failed(error)
            return
        self._outage.succeeded()

    async def asettle(self, key: str, limit: RateLimit, *, reserved: int, used: int) -> None:
        """``settle`` through redis.asyncio."""
        name = self._name(key)
        args = self._settle_args(limit, reserved, used)
        if args is None:
            return
        scripts = await self._async_scripts()
        try:
            await scripts.settle(keys=[name], args=args)
        except self._redis.RedisError as error:
            self._outage.failed(error)
            return
        self._outage.succeeded()

    # -- learn -----------------------------------------------------------------------------

    def learn(self, key: str, observed: Observed) -> None:
        """Hold ``key``'s requests, for every process, until the provider's reset when it
        said too little remains for one more (see ``Observed``); the configured limits
        still apply as well."""
        name = self._name(key)
        args = _learn_args(check_observed(observed))
        if args[0] == args[2] == "":
            return
        scripts = self._sync_scripts()
        try:
            scripts.learn(keys=[name], args=args)
        except self._redis.RedisError as error:
            self._outage.failed(error)
            return
        self._outage.succeeded()

    async def alearn(self, key: str, observed: Observed) -> None:
        """``learn`` through redis.asyncio."""
        name = self._name(key)
        args = _learn_args(check_observed(observed))
        if args[0] == args[2] == "":
            return
        scripts = await self._async_scripts()
        try:
            await scripts.learn(keys=[name], args=args)
        except self._redis.RedisError as error:
            self._outage.failed(error)
            return
        self._outage.succeeded()

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the sync client made from ``url`` (clients passed in are left open)."""
        if self._owns_client and self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Close the async client made from ``url`` for the running loop (those of other
        loops are closed when their loop shuts down)."""
        if self._owns_aclient:
            await self._own_ascripts.aclose()
