"""What every cache store is: the :class:`CacheStore` interface, the checks of its arguments,
and how a store reports a broken backend.

A store keeps bytes under short string keys (the cache middleware's request digests) and is
only ever a cache: a broken backend (Redis down, a corrupt SQLite file, a full disk) makes
``get`` a miss and ``set`` a no-op, never an exception. Each outage is logged once, as a
warning on the ``chatlane.cache`` logger (:class:`OutageLog`). Misuse (a value that is not
bytes, a bad ttl, using a closed store) is a :class:`~chatlane.UsageError`.
"""

from __future__ import annotations

import logging
import reprlib
import threading
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from chatlane.core.errors import UsageError

__all__ = ["CacheStore"]

log = logging.getLogger("chatlane.cache")

_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40


@runtime_checkable
class CacheStore(Protocol):
    """Bytes under string keys, with an optional time to live; sync and async.

    ``ttl`` is in seconds; None means the store's default (itself None: kept until evicted).
    ``get`` returns None for a missing or expired key. No method raises because the backend
    is broken: the cache is skipped instead. Stores are thread-safe.
    """

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...

    async def aget(self, key: str) -> bytes | None: ...

    async def aset(self, key: str, value: bytes, ttl: float | None = None) -> None: ...

    async def adelete(self, key: str) -> None: ...

    async def aclear(self) -> None: ...

    async def aclose(self) -> None: ...


class StoreContext:
    """``with store:`` and ``async with store:`` close the store on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def check_key(key: object) -> str:
    if not isinstance(key, str):
        raise UsageError(f"key must be a str, not {type(key).__name__} {_short.repr(key)}")
    return key


def check_value(value: object) -> bytes:
    if not isinstance(value, bytes):
        # The type, and only the start of the value: it may be megabytes.
        raise UsageError(f"value must be bytes, not {type(value).__name__} {_short.repr(value)}")
    return value


MAX_TTL = 1e9
"""The longest time to live taken, in seconds (about 31 years; None is "until evicted"):
longer ones overflow the stores' clocks (Redis counts milliseconds in 64 bits)."""


def check_ttl(ttl: object, name: str = "ttl") -> float | None:
    """``ttl`` as seconds (None stays None); anything but a positive number of at most
    ``MAX_TTL`` seconds is misuse."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= MAX_TTL:
        raise UsageError(
            f"{name} must be a positive number of seconds, at most {MAX_TTL:.0e} (None: until"
            f" evicted), not {_short.repr(ttl)}"
        )
    return float(ttl)


def check_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a positive integer, not {_short.repr(value)}")
    return value


def check_optional_count(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a positive integer or None, not {_short.repr(value)}")
    return value


def closed_error(store: object) -> UsageError:
    return UsageError(f"{store!r} is closed")


class OutageLog:
    """One warning per outage of a store, on the ``chatlane.cache`` logger.

    A store reports each failed call with :meth:`failed` and each call that worked with
    :meth:`worked`; a warning is logged when a kind of call starts failing, and again only
    after it worked in between. The kinds are ``"connection"`` (the backend as a whole:
    cleared by any call that works), ``"reads"`` and ``"writes"``, tracked apart because a
    full disk fails every write while reads still work. ``secrets`` (a password) are masked
    in what is logged.
    """

    __slots__ = ("_down", "_lock", "_secrets", "_store")

    def __init__(self, store: str, secrets: tuple[str, ...] = ()) -> None:
        self._store = store
        self._secrets = tuple(secret for secret in secrets if secret)
        self._down: set[str] = set()
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        """True while some kind of call is failing."""
        return bool(self._down)

    def failed(self, kind: str, error: BaseException, problem: str, consequence: str) -> None:
        with self._lock:
            if kind in self._down:
                return
            self._down.add(kind)
        log.warning("%s: %s (%s); %s", self._store, problem, self.describe(error), consequence)

    def worked(self, kind: str) -> None:
        if not self._down:  # the common case, on every call: no lock
            return
        with self._lock:
            back = [name for name in (kind, "connection") if name in self._down]
            self._down.difference_update(back)
        for name in back:
            log.info("%s works again (%s)", self._store, name)

    def describe(self, error: BaseException) -> str:
        """``error``'s type and text, without the secrets."""
        text = f"{type(error).__name__}: {error}"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
