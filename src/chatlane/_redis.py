"""What chatlane's Redis-backed pieces (``RedisStore``, ``RedisLimiter``, ``RedisBudget``)
share: redis-py imported only when one is made, a Redis URL checked and its passwords kept
out of every repr, log record and error, clients that give up fast, and one asyncio client
per event loop.

redis-py is optional (``pip install 'chatlane[redis]'``): importing this module does not
import it.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

from chatlane.core.errors import ConfigurationError, UsageError, register_secret

if TYPE_CHECKING:
    import redis
    import redis.asyncio
    from redis.backoff import AbstractBackoff

__all__ = [
    "INSTALL_HINT",
    "MASK",
    "PerLoop",
    "aconnect",
    "check_url",
    "connect",
    "guard_secrets",
    "import_redis",
    "redact",
    "scrub",
    "secrets_of",
]

_T = TypeVar("_T")

INSTALL_HINT = "pip install 'chatlane[redis]'"
MASK = "***"
_SCHEMES = ("redis://", "rediss://", "unix://")


def import_redis(who: str) -> ModuleType:
    """redis-py, with the parts the pieces use; without it, a ConfigurationError saying
    what ``who`` needs and how to install it."""
    try:
        import redis
        import redis.asyncio
        import redis.asyncio.retry
        import redis.backoff
        import redis.retry
    except ImportError as exc:
        raise ConfigurationError(f"{who} needs redis-py: {INSTALL_HINT}") from exc
    return redis


# -- URLs and their secrets ------------------------------------------------------------------


def secrets_of(url: str) -> tuple[str, ...]:
    """The passwords in ``url`` (the address's and any ``password=`` of the query), as
    written and as decoded, longest first; the whole URL when it does not parse."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
        found += [value for name, value in parse_qsl(parts.query) if name.lower() == "password"]
    except ValueError:
        return (url,)
    variants = {text for secret in found for text in (secret, unquote(secret)) if text}
    return tuple(sorted(variants, key=len, reverse=True))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with each of ``secrets`` masked (longest first, as ``secrets_of`` gives)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def redact(url: str) -> str:
    """``url`` for reprs, logs and errors, even when it does not parse: the password of the
    address masked (``user:***@host``; a bare ``x@host`` may be a password too:
    ``***@host``), and so is the value of any ``password=`` of the query, up to the next
    ``&`` (a ``#`` may be part of it)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    hidden = _query_passwords(rest)
    # The address ends at the last "@" that is not in a query's password: a password typed
    # unescaped may hold "@", "/", "?" or "#", and too much masked is better than too little.
    at = max(
        (i for i, char in enumerate(rest) if char == "@" and not _within(i, hidden)),
        default=-1,
    )
    shown = []
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        shown.append(f"{user}:{MASK}" if colon else MASK)
    position = at if at >= 0 else 0
    for start, end in hidden:
        if start >= position:
            shown += [rest[position:start], MASK]
            position = end
    shown.append(rest[position:])
    return scheme + sep + "".join(shown)


def _query_passwords(text: str) -> list[tuple[int, int]]:
    """Where the values of ``password=`` fields are in ``text``, wherever a field may
    start (a "?" or "&"): their name decoded as parse_qs decodes it, so "pass%77ord=" is
    one too; each runs to the next "&"."""
    spans = []
    for start, char in enumerate(text):
        if char not in "?&":
            continue
        equals = text.find("=", start + 1)
        name = text[start + 1 : equals]
        if equals < 0 or any(mark in name for mark in "?&#"):
            continue
        if unquote_plus(name).lower() == "password":
            end = text.find("&", equals + 1)
            spans.append((equals + 1, len(text) if end < 0 else end))
    return spans


def _within(index: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= index < end for start, end in spans)


def check_url(redis_module: ModuleType, url: object) -> str:
    """``url`` if redis-py takes it, or a UsageError (not a str) or ConfigurationError that
    shows it redacted; the parser's message is scrubbed too, as it may quote the URL."""
    if not isinstance(url, str):
        raise UsageError(f"url must be a str (a Redis URL), not {type(url).__name__}")
    if not url.lower().startswith(_SCHEMES):
        raise ConfigurationError(
            f"url must start with redis://, rediss:// or unix://, not {redact(url)!r}"
        )
    try:
        redis_module.connection.parse_url(url)
    except ValueError as exc:
        detail = scrub(str(exc), secrets_of(url))
        # Not chained: the parser's error may hold the password.
        raise ConfigurationError(
            f"url is not a valid Redis URL: {redact(url)!r} ({detail})"
        ) from None
    return url


def guard_secrets(url: str, holder: object) -> tuple[str, ...]:
    """The secrets of ``url``, hidden from every chatlane error while ``holder`` lives."""
    secrets = secrets_of(url)
    for secret in secrets:
        register_secret(secret, holder=holder)
    return secrets


# -- clients ---------------------------------------------------------------------------------


def _options(retry: object, timeout: float, max_connections: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": retry,
    }
    if max_connections is not None:
        # A blocking pool: many calls at once wait (up to the timeout) for a connection
        # rather than fail.
        options |= {"max_connections": max_connections, "timeout": timeout}
    return options


def _bad_url(url: str, error: ValueError) -> ConfigurationError:
    detail = scrub(str(error), secrets_of(url))
    return ConfigurationError(f"url is not a Redis URL redis-py takes ({redact(url)}): {detail}")


def connect(
    url: str,
    *,
    timeout: float,
    retries: int = 0,
    backoff: AbstractBackoff | None = None,
    max_connections: int | None = None,
) -> redis.Redis:
    """A ``redis.Redis`` for ``url`` that gives up fast: ``timeout`` seconds per connect and
    per reply, and ``retries`` tries again inside redis-py (after ``backoff``, none by
    default), so that the piece, not redis-py, decides when to try a failing Redis again.
    With ``max_connections``, a blocking pool of that many connections. Call
    ``import_redis`` first."""
    import redis
    import redis.backoff
    import redis.retry

    retry = redis.retry.Retry(backoff or redis.backoff.NoBackoff(), retries)
    options = _options(retry, timeout, max_connections)
    try:
        if max_connections is None:
            return redis.Redis.from_url(url, **options)
        return redis.Redis.from_pool(redis.BlockingConnectionPool.from_url(url, **options))
    except ValueError as exc:
        raise _bad_url(url, exc) from None


def aconnect(
    url: str,
    *,
    timeout: float,
    retries: int = 0,
    backoff: AbstractBackoff | None = None,
    max_connections: int | None = None,
) -> redis.asyncio.Redis:
    """:func:`connect` for ``redis.asyncio`` (the client belongs to the loop that uses it
    first: see :class:`PerLoop`)."""
    import redis.asyncio
    import redis.asyncio.retry
    import redis.backoff

    retry = redis.asyncio.retry.Retry(backoff or redis.backoff.NoBackoff(), retries)
    options = _options(retry, timeout, max_connections)
    try:
        if max_connections is None:
            return redis.asyncio.Redis.from_url(url, **options)
        pool = redis.asyncio.BlockingConnectionPool.from_url(url, **options)
        return redis.asyncio.Redis.from_pool(pool)
    except ValueError as exc:
        raise _bad_url(url, exc) from None


class PerLoop(Generic[_T]):
    """One asyncio client (or what holds one) per event loop: made on the loop's first
    :meth:`get`, closed by ``close`` on that loop, by :meth:`aclose` or when the loop shuts
    down if nothing closed it before.

    A ``redis.asyncio`` client's connections belong to the loop that opened them: used from
    another loop they fail, and left open when their loop closes they leak. Thread-safe.
    """

    __slots__ = ("_close", "_lock", "_made")

    def __init__(self, close: Callable[[_T], Awaitable[object]]) -> None:
        self._close = close
        self._made: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[_T, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    async def get(self, make: Callable[[], _T]) -> _T:
        """The running loop's value, made now by ``make`` if it has none (``make`` is given
        here, not kept, so that an owner passing its own method is not held in a cycle)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            made = self._made.get(loop)
        if made is None:
            value = make()
            keeper = self._keep(loop, value)
            await anext(keeper)  # runs to its yield without suspending: no other task interleaves
            made = (value, keeper)
            with self._lock:
                self._made[loop] = made
        return made[0]

    async def aclose(self) -> None:
        """Close the running loop's value, if it has one (those of other loops are closed
        when their loop shuts down). Idempotent."""
        with self._lock:
            made = self._made.pop(asyncio.get_running_loop(), None)
        if made is not None:
            await made[1].aclose()  # runs the keeper's finally: closes the value

    async def _keep(self, loop: asyncio.AbstractEventLoop, value: _T) -> AsyncGenerator[None, None]:
        """Started on ``loop``, this generator is closed by the loop's ``shutdown_asyncgens()``
        (``asyncio.run`` and ``asyncio.Runner`` call it before closing the loop) if nothing
        closed it before: the value is closed on its own loop, and forgotten (it holds the
        loop)."""
        try:
            yield
        finally:
            with self._lock:
                made = self._made.get(loop)
                if made is not None and made[0] is value:  # not a newer one made since
                    del self._made[loop]
            await self._close(value)
