"""A cache store in Redis, shared by every process and machine that uses the same server.

redis-py is optional (``pip install 'chatlane[redis]'``) and imported only when a
:class:`RedisStore` is made. When Redis cannot be reached, the store skips it for a backoff
(1 s, doubling up to 30 s) so that a dead server costs one failed attempt per backoff, not
one per call, and uses it again as soon as an attempt works.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from chatlane._redis import (
    PerLoop,
    aconnect,
    check_url,
    connect,
    guard_secrets,
    import_redis,
    redact,
)
from chatlane.cache.store import (
    OutageLog,
    StoreContext,
    check_key,
    check_ttl,
    check_value,
    closed_error,
)
from chatlane.core.errors import ConfigurationError, UsageError

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["RedisStore"]

_T = TypeVar("_T")

_CLEAR_BATCH = 500
_FAILURES = {
    "connection": (
        "Redis cannot be reached",
        "calls skip Redis (misses, nothing stored) and try it again after a backoff",
    ),
    "reads": ("a read failed", "calls are cache misses until reads work again"),
    "writes": ("a write failed", "nothing is stored until writes work again"),
}


class _Backoff:
    """When to try a Redis that failed again: after 1 s, then 2, 4 ... up to 30 s."""

    FIRST = 1.0
    MOST = 30.0

    __slots__ = ("_delay", "_lock", "_until")

    def __init__(self) -> None:
        self._until = 0.0  # 0: Redis is believed up
        self._delay = 0.0
        self._lock = threading.Lock()

    def allows(self) -> bool:
        """Whether a call may use Redis now; after a backoff, only one caller (the probe)."""
        if not self._until:
            return True
        now = time.monotonic()
        with self._lock:
            if not self._until:
                return True
            if now < self._until:
                return False
            # This caller probes; the others keep skipping until it reports.
            self._until = now + self._delay
            return True

    def failed(self) -> None:
        with self._lock:
            self._delay = min(self.MOST, self._delay * 2) if self._delay else self.FIRST
            self._until = time.monotonic() + self._delay

    def worked(self) -> None:
        if self._until:
            with self._lock:
                self._until = 0.0
                self._delay = 0.0


class RedisStore(StoreContext):
    """A cache store in Redis: each entry is the key ``prefix + key``, set with ``PX`` when it
    has a time to live (``ttl``: the default, in seconds; None: until Redis evicts it).

    The sync methods use a ``redis.Redis`` client, the async ones a ``redis.asyncio.Redis``
    client, each made from ``url`` on first use (``redis://``, ``rediss://`` or ``unix://``);
    there is one async client per event loop, closed by :meth:`aclose` or when its loop shuts
    down. Given ``client`` / ``aclient`` are used as they are and left open by :meth:`close`;
    given only one of them, the other kind of call is a UsageError. ``timeout`` (seconds)
    bounds connecting and each reply. No method raises because Redis fails (see the
    module). The password of ``url`` never appears in a repr, log record or error.
    Thread-safe.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "chatlane:cache:",
        ttl: float | None = None,
        timeout: float = 0.25,
        client: redis.Redis | None = None,
        aclient: redis.asyncio.Redis | None = None,
    ) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise UsageError(
                f"prefix must be a non-empty str (clear() deletes every key that starts "
                f"with it), not {prefix!r}"
            )
        self._prefix = prefix
        self._ttl = check_ttl(ttl)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise UsageError(f"timeout must be a number of seconds, not {timeout!r}")
        if not 0 < timeout < math.inf:
            raise UsageError(f"timeout must be positive and finite, not {timeout!r}")
        self._timeout = float(timeout)
        self._redis = import_redis("RedisStore")
        if client is None and aclient is None:
            self._where = _where(check_url(self._redis, url))
            self._url: str | None = url
        else:
            self._where = _check_clients(client, aclient, self._redis)
            self._url = None
        self._client = client
        self._aclient = aclient
        self._aclients: PerLoop[redis.asyncio.Redis] = PerLoop(lambda aclient: aclient.aclose())
        self._lock = threading.Lock()
        self._closed = False
        self._backoff = _Backoff()
        # Hidden from every chatlane error while the store lives, and from its log records.
        secrets = () if self._url is None else guard_secrets(self._url, self)
        self._outages = OutageLog(repr(self), secrets)

    def __repr__(self) -> str:
        return f"RedisStore({self._where!r}, prefix={self._prefix!r}, ttl={self._ttl})"

    def get(self, key: str) -> bytes | None:
        name = self._prefix + check_key(key)
        return self._call("reads", None, lambda client: _as_bytes(client.get(name)))

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        name = self._prefix + check_key(key)
        check_value(value)
        px = _milliseconds(self._ttl if ttl is None else check_ttl(ttl))
        self._call("writes", None, lambda client: client.set(name, value, px=px))

    def delete(self, key: str) -> None:
        name = self._prefix + check_key(key)
        self._call("writes", None, lambda client: client.delete(name))

    def clear(self) -> None:
        """Delete every key that starts with the prefix (SCAN and UNLINK, in batches)."""
        self._call("writes", None, self._clear)

    def close(self) -> None:
        """Close the sync client made from the URL; using the store afterwards is a
        UsageError. Async clients are closed on their own loop: by :meth:`aclose`, or when
        the loop shuts down. Idempotent."""
        with self._lock:
            self._closed = True
            client = self._client if self._url is not None else None
        if client is not None:
            client.close()

    async def aget(self, key: str) -> bytes | None:
        name = self._prefix + check_key(key)

        async def work(client: redis.asyncio.Redis) -> bytes | None:
            return _as_bytes(await client.get(name))

        return await self._acall("reads", None, work)

    async def aset(self, key: str, value: bytes, ttl: float | None = None) -> None:
        name = self._prefix + check_key(key)
        check_value(value)
        px = _milliseconds(self._ttl if ttl is None else check_ttl(ttl))

        async def work(client: redis.asyncio.Redis) -> None:
            await client.set(name, value, px=px)

        await self._acall("writes", None, work)

    async def adelete(self, key: str) -> None:
        name = self._prefix + check_key(key)

        async def work(client: redis.asyncio.Redis) -> None:
            await client.delete(name)

        await self._acall("writes", None, work)

    async def aclear(self) -> None:
        """Delete every key that starts with the prefix (SCAN and UNLINK, in batches)."""
        await self._acall("writes", None, self._aclear)

    async def aclose(self) -> None:
        """Close the clients made from the URL: the sync one, and the async one of the
        running loop (those of other loops are closed when their loop shuts down).
        Idempotent."""
        self.close()
        if self._url is not None:
            await self._aclients.aclose()

    # --- the calls -------------------------------------------------------------------------

    def _clear(self, client: redis.Redis) -> None:
        batch: list[bytes] = []
        for name in client.scan_iter(match=self._pattern(), count=_CLEAR_BATCH):
            batch.append(name)
            if len(batch) >= _CLEAR_BATCH:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)

    async def _aclear(self, client: redis.asyncio.Redis) -> None:
        batch: list[bytes] = []
        async for name in client.scan_iter(match=self._pattern(), count=_CLEAR_BATCH):
            batch.append(name)
            if len(batch) >= _CLEAR_BATCH:
                await client.unlink(*batch)
                batch.clear()
        if batch:
            await client.unlink(*batch)

    def _pattern(self) -> str:
        return re.sub(r"([\\*?\[\]])", r"\\\1", self._prefix) + "*"

    def _call(self, kind: str, default: _T, work: Callable[[redis.Redis], _T]) -> _T:
        client = self._sync_client()
        if not self._backoff.allows():
            return default
        try:
            result = work(client)
        except (self._redis.RedisError, OSError) as error:
            self._failed(kind, error)
            return default
        self._worked(kind)
        return result

    async def _acall(
        self,
        kind: str,
        default: _T,
        work: Callable[[redis.asyncio.Redis], Awaitable[_T]],
    ) -> _T:
        client = await self._async_client()
        if not self._backoff.allows():
            return default
        try:
            result = await work(client)
        except (self._redis.RedisError, OSError) as error:
            self._failed(kind, error)
            return default
        self._worked(kind)
        return result

    def _failed(self, kind: str, error: BaseException) -> None:
        unreachable = isinstance(
            error, self._redis.ConnectionError | self._redis.TimeoutError | OSError
        )
        if unreachable:
            self._backoff.failed()
            kind = "connection"
        else:
            self._backoff.worked()  # Redis answered, with an error
        self._outages.failed(kind, error, *_FAILURES[kind])

    def _worked(self, kind: str) -> None:
        self._backoff.worked()
        self._outages.worked(kind)

    def _sync_client(self) -> redis.Redis:
        if self._closed:
            raise closed_error(self)
        client = self._client
        if client is None:
            if self._url is None:
                raise UsageError(
                    f"{self!r} was given aclient= only: its sync methods need client= too"
                )
            with self._lock:
                if self._client is None:
                    self._client = connect(self._url, timeout=self._timeout)
                client = self._client
        return client

    async def _async_client(self) -> redis.asyncio.Redis:
        if self._closed:
            raise closed_error(self)
        if self._aclient is not None:
            return self._aclient
        if self._url is None:
            raise UsageError(f"{self!r} was given client= only: its async methods need aclient=")
        return await self._aclients.get(self._make_aclient)

    def _make_aclient(self) -> redis.asyncio.Redis:
        assert self._url is not None  # only stores made from a URL make clients
        # No retries inside redis-py: the store's backoff decides when to try again.
        return aconnect(self._url, timeout=self._timeout)


def _as_bytes(value: object) -> bytes | None:
    return value if isinstance(value, bytes) else None


def _milliseconds(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, math.ceil(ttl * 1000))


def _where(url: str) -> str:
    """Where ``url`` (one redis-py takes) points, for reprs and logs: the password hidden,
    the defaults spelled out. Stricter than redis-py, which ignores a database that is not
    a number and takes a socket without a path."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    db = query.get("db", [""])[0]
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigurationError(f"url must name the socket's path: {redact(url)!r}")
        return f"unix://{parts.path}" + (f"?db={db}" if db else "")
    path_db = parts.path.strip("/")
    if path_db and not path_db.isdigit():
        raise ConfigurationError(f"url's database must be a number: {redact(url)!r}")
    user = f"{parts.username}:***@" if parts.password else ""
    host = parts.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{user}{host}:{parts.port or 6379}/{path_db or db or 0}"


def _check_clients(client: object, aclient: object, redis_module: ModuleType) -> str:
    """Where the given clients point, for reprs and logs."""
    where = ""
    for name, value, kind in (
        ("client", client, redis_module.Redis),
        ("aclient", aclient, redis_module.asyncio.Redis),
    ):
        if value is None:
            continue
        if not isinstance(value, kind):
            raise UsageError(
                f"{name} must be a {kind.__module__}.{kind.__name__}, not {type(value).__name__}"
            )
        options = value.connection_pool.connection_kwargs
        if options.get("decode_responses"):
            raise UsageError(f"{name} must not decode responses: the cache stores bytes")
        where = where or _describe(options)
    return where


def _describe(options: dict[str, Any]) -> str:
    if "path" in options:
        return f"unix://{options['path']}?db={options.get('db', 0)}"
    host, port = options.get("host", "localhost"), options.get("port", 6379)
    return f"redis://{host}:{port}/{options.get('db', 0)}"
