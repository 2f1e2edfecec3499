"""Client-side rate limits: ``Client(rate_limits={"openai/gpt-4o": chatlane.RateLimit(
requests_per_minute=500, tokens_per_minute=30_000)})``, in this process (``LocalLimiter``)
or shared through Redis (``RedisLimiter``). See :mod:`chatlane.ratelimit.piece`."""

from chatlane.ratelimit.headers import observe
from chatlane.ratelimit.limits import Observed, RateLimit, RateLimited, RateLimiterUnavailable
from chatlane.ratelimit.local import LocalLimiter
from chatlane.ratelimit.piece import RateLimits
from chatlane.ratelimit.redis_limiter import RedisLimiter

__all__ = [
    "LocalLimiter",
    "Observed",
    "RateLimit",
    "RateLimited",
    "RateLimiterUnavailable",
    "RateLimits",
    "RedisLimiter",
    "observe",
]
