"""A cache store in this process's memory: least recently used entries go first."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from chatlane.cache.store import (
    StoreContext,
    check_count,
    check_key,
    check_optional_count,
    check_ttl,
    check_value,
    closed_error,
)

__all__ = ["MemoryStore"]


class MemoryStore(StoreContext):
    """An in-process LRU cache bounded by bytes (and optionally by entries).

    An entry weighs ``len(key) + len(value)``; ``total_bytes`` never exceeds ``max_bytes``
    (the least recently used entries are dropped to make room), and a value that alone
    weighs more is not stored (an older value under its key is dropped). ``ttl`` is the
    default time to live in seconds (None: until evicted). Expired entries are never
    returned; they are removed when looked up or evicted. Thread-safe. The async methods do
    the same work directly: there is no I/O to wait for.
    """

    in_process = True
    """Does no I/O: the client calls it directly, not through an I/O step."""

    def __init__(
        self,
        max_bytes: int = 64 * 2**20,
        ttl: float | None = None,
        max_entries: int | None = None,
    ) -> None:
        self._max_bytes = check_count(max_bytes, "max_bytes")
        self._max_entries = check_optional_count(max_entries, "max_entries")
        self._ttl = check_ttl(ttl)
        # key -> (value, expiry on the monotonic clock or None); oldest use first.
        self._entries: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        limit = "" if self._max_entries is None else f", max_entries={self._max_entries}"
        return f"MemoryStore(max_bytes={self._max_bytes}{limit}, ttl={self._ttl})"

    def __len__(self) -> int:
        """How many entries are held (expired ones until they are removed)."""
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        """The weight of the entries held: the sum of ``len(key) + len(value)``."""
        return self._bytes

    def get(self, key: str) -> bytes | None:
        if type(key) is not str:  # the cache's own keys are; anything else is checked
            check_key(key)
        self._lock.acquire()  # not `with`: half the cost, on every call
        try:
            if self._closed:
                raise closed_error(self)
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, expires = entry
            if expires is not None and expires <= time.monotonic():
                del self._entries[key]
                self._bytes -= len(key) + len(value)
                return None
            self._entries.move_to_end(key)
            return value
        finally:
            self._lock.release()

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        if type(key) is not str or type(value) is not bytes:
            check_key(key)
            check_value(value)
        ttl = self._ttl if ttl is None else check_ttl(ttl)
        size = len(key) + len(value)
        self._lock.acquire()  # not `with`: half the cost, on every call
        try:
            if self._closed:
                raise closed_error(self)
            self._remove(key)
            if size > self._max_bytes:
                return
            # Make room first, so the bounds hold at every moment anyone can look.
            entries = self._entries
            while entries and (
                self._bytes + size > self._max_bytes
                or (self._max_entries is not None and len(entries) >= self._max_entries)
            ):
                old_key, (old_value, _) = entries.popitem(last=False)
                self._bytes -= len(old_key) + len(old_value)
            entries[key] = (value, None if ttl is None else time.monotonic() + ttl)
            self._bytes += size
        finally:
            self._lock.release()

    def delete(self, key: str) -> None:
        check_key(key)
        with self._lock:
            if self._closed:
                raise closed_error(self)
            self._remove(key)

    def clear(self) -> None:
        with self._lock:
            if self._closed:
                raise closed_error(self)
            self._entries.clear()
            self._bytes = 0

    def close(self) -> None:
        """Drop every entry; using the store afterwards is a UsageError. Idempotent."""
        with self._lock:
            self._closed = True
            self._entries.clear()
            self._bytes = 0

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)

    async def aset(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self.set(key, value, ttl)

    async def adelete(self, key: str) -> None:
        self.delete(key)

    async def aclear(self) -> None:
        self.clear()

    async def aclose(self) -> None:
        self.close()

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(key) + len(entry[0])
