"""Client-side rate limits around each attempt (inside the retries, after the budget): a
request waits (or is refused with ``RateLimited``) until its provider/model may take one
more request of its tokens, so the client stays under the provider's limits instead of
collecting 429s.

Tokens are chatlane's count of the prompt plus the request's output cap; after the answer
the limiter is settled to the real usage. With ``learn`` (the default) the provider's own
``x-ratelimit-*`` headers teach the limiter, on success and failure alike: at 0 requests
(or too few tokens) remaining, later calls wait for the reset the provider named.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chatlane._call.call import Call
from chatlane._call.layers import Flow, Middleware, Proceed
from chatlane._call.steps import Io, Sleep, Step
from chatlane.core.errors import ChatlaneError, ConfigurationError
from chatlane.ratelimit.headers import observed_in, rate_limit_headers
from chatlane.ratelimit.limits import MAX_HOLD, Limiter, RateLimit, RateLimited
from chatlane.ratelimit.local import LocalLimiter

__all__ = ["RateLimitPiece", "RateLimits"]

_UNLIMITED = RateLimit()
_UNKNOWN = ("", _UNLIMITED)  # a rule lookup not made yet (None is "no rule")
logger = logging.getLogger("chatlane.ratelimit")


@dataclass(frozen=True)
class RateLimits:
    """How a client keeps under rate limits: ``Client(rate_limits=chatlane.RateLimits(...))``.

    - ``limits``: by ``provider/model`` (the model as the provider knows it), by provider,
      or ``"*"`` for any; the most specific name that matches applies, and all calls it
      covers share its quota. A plain mapping passed as ``rate_limits=`` is this.
    - ``limiter``: ``LocalLimiter()`` (this process, the default) or ``RedisLimiter(url)``
      (shared by processes and machines).
    - ``on_limit``: ``"wait"`` up to ``max_wait`` seconds, else (or with ``"raise"``) a
      ``RateLimited`` error carrying ``retry_after``; nothing is sent either way.
    - ``learn``: follow the provider's ``x-ratelimit-*`` headers too.
    """

    limits: Mapping[str, RateLimit] = field(default_factory=dict)
    limiter: Limiter | None = None
    on_limit: Literal["wait", "raise"] = "wait"
    max_wait: float = 60.0
    learn: bool = True
    _rules: dict[tuple[str, str], tuple[str, RateLimit] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.limits, Mapping) or not all(
            isinstance(name, str) and isinstance(limit, RateLimit)
            for name, limit in self.limits.items()
        ):
            raise ConfigurationError(
                "RateLimits.limits: expected a mapping of 'provider/model' names to"
                " chatlane.RateLimit"
            )
        if self.on_limit not in ("wait", "raise"):
            raise ConfigurationError(
                f"RateLimits.on_limit must be 'wait' or 'raise', got {self.on_limit!r}"
            )
        if isinstance(self.max_wait, bool) or not (
            isinstance(self.max_wait, int | float) and 0 <= self.max_wait < float("inf")
        ):
            raise ConfigurationError(
                f"RateLimits.max_wait must be a number of seconds, got {self.max_wait!r}"
            )
        if self.limiter is None:
            object.__setattr__(self, "limiter", LocalLimiter())
        elif not callable(getattr(self.limiter, "try_acquire", None)):
            raise ConfigurationError(
                f"RateLimits.limiter: expected LocalLimiter or RedisLimiter,"
                f" got {type(self.limiter).__name__}"
            )
        lowered = {name.strip().lower(): limit for name, limit in self.limits.items()}
        object.__setattr__(self, "limits", lowered)

    @classmethod
    def coerce(cls, value: object) -> RateLimits | None:
        if value is None:
            return None
        if isinstance(value, RateLimits):
            return value
        if isinstance(value, Mapping):
            return cls(limits=value)
        raise ConfigurationError(
            f"rate_limits: expected chatlane.RateLimits or a mapping of names to"
            f" chatlane.RateLimit, got {type(value).__name__}"
        )

    def rule(self, provider: str, model: str) -> tuple[str, RateLimit] | None:
        """The most specific limit for a call: ``provider/model``, ``provider``, ``*``."""
        key = (provider, model)
        known = self._rules.get(key, _UNKNOWN)
        if known is not _UNKNOWN:
            return known
        found = None
        for name in (f"{provider}/{model}".lower(), provider.lower(), "*"):
            limit = self.limits.get(name)
            if limit is not None:
                found = name, limit
                break
        if len(self._rules) < 1024:  # bounded: callers may name endless models
            self._rules[key] = found
        return found


class RateLimitPiece(Middleware):
    """Built by the client from its ``RateLimits``."""

    def __init__(self, config: RateLimits) -> None:
        assert config.limiter is not None
        self._config = config
        self._limiter: Limiter = config.limiter
        self._direct = getattr(config.limiter, "in_process", False) is True

    def around_attempt(self, call: Call, proceed: Proceed) -> Flow:
        config, limiter = self._config, self._limiter
        rule = config.rule(call.provider or "", call.wire_model)
        if rule is None and not config.learn:
            return (yield from proceed(call))
        key, limit = rule if rule is not None else (call.target.lower(), _UNLIMITED)
        tokens = 0
        if limit.tokens_per_minute is not None:
            tokens = call.prompt_tokens() + (call.max_output_tokens() or 0)
            if tokens * limit.seconds_per_token > MAX_HOLD:
                # held an hour at most, as a settlement is (and within a shared limiter's
                # 64-bit arithmetic): more is an estimate no request can use
                tokens = int(MAX_HOLD / limit.seconds_per_token)
        if self._direct:
            wait = limiter.try_acquire(key, limit, tokens=tokens)
        else:
            wait = yield self._asking(key, limit, tokens)
        if wait > 0:
            yield from self._wait(call, key, limit, tokens, wait)
        try:
            completion = yield from proceed(call)
        except ChatlaneError:
            wanted = self._wanted(call)
            if wanted is not None:
                yield from self._learn(key, wanted)
            raise
        wanted = self._wanted(call)
        if wanted is not None:
            yield from self._learn(key, wanted)
        if tokens:
            usage = completion.usage
            used = usage.prompt_tokens + usage.completion_tokens if usage is not None else 0
            if used <= 0:  # none reported (counts below 0 are dropped): the estimate stands
                used = tokens
            if self._direct:
                limiter.settle(key, limit, reserved=tokens, used=used)
            else:
                yield Io(
                    lambda: _quietly(limiter.settle, key, limit, reserved=tokens, used=used),
                    lambda: _aquietly(limiter.asettle, key, limit, reserved=tokens, used=used),
                )
        return completion

    def _wait(
        self, call: Call, key: str, limit: RateLimit, tokens: int, wait: float
    ) -> Generator[Step, Any, None]:
        """Sleep until the limiter grants the attempt, or raise ``RateLimited``."""
        config = self._config
        waited = 0.0
        while wait > 0:
            remaining = call.remaining()
            if (
                config.on_limit == "raise"
                or waited + wait > config.max_wait
                or (remaining is not None and wait >= remaining)
            ):
                raise call.annotate(RateLimited(wait, key=key))
            yield Sleep(wait)
            waited += wait
            if self._direct:
                wait = self._limiter.try_acquire(key, limit, tokens=tokens)
            else:
                wait = yield self._asking(key, limit, tokens)

    def _asking(self, key: str, limit: RateLimit, tokens: int) -> Io:
        """The I/O step that asks a limiter outside this process for the attempt (its answer:
        seconds to wait, 0.0: granted); one in this process is asked directly."""
        limiter = self._limiter
        return Io(
            lambda: limiter.try_acquire(key, limit, tokens=tokens),
            lambda: limiter.atry_acquire(key, limit, tokens=tokens),
        )

    def _wanted(self, call: Call) -> dict[str, str] | None:
        """The rate-limit headers of the latest response, when the limiter learns from them."""
        if not self._config.learn or not call.headers:
            return None
        return rate_limit_headers(call.headers)

    def _learn(self, key: str, wanted: dict[str, str]) -> Generator[Step, Any, None]:
        """Teach the limiter what the provider's rate-limit headers said, if anything."""
        observed = observed_in(wanted, time.time())
        if observed is not None and self._direct:
            self._limiter.learn(key, observed)
        elif observed is not None:
            limiter = self._limiter
            yield Io(
                lambda: _quietly(limiter.learn, key, observed),
                lambda: _aquietly(limiter.alearn, key, observed),
            )


def _quietly(method: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """After an attempt the limiter only learns: a limiter that cannot be reached then is a
    warning, never a failure of the attempt (whose answer may be here)."""
    try:
        method(*args, **kwargs)
    except ChatlaneError as exc:
        logger.warning("chatlane could not update the rate limiter: %s", exc)


async def _aquietly(method: Callable[..., Awaitable[None]], *args: Any, **kwargs: Any) -> None:
    try:
        await method(*args, **kwargs)
    except ChatlaneError as exc:
        logger.warning("chatlane could not update the rate limiter: %s", exc)
