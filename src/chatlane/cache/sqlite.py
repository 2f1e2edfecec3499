"""A cache store in one SQLite file, shared by every thread and process that opens it.

Each thread has its own connection: in WAL mode readers never wait for a writer, so a
thread blocked on another process's write lock does not hold up the other threads' reads
(one shared connection behind a lock would). Writes are short ``BEGIN IMMEDIATE``
transactions and wait up to a busy timeout for the lock. The async methods run the same
work on the store's own few worker threads, so a locked database never blocks the event loop.

A file that is not a database, or that turns out corrupt, is moved aside to
``<path>.corrupt-<UTC time>`` (with its ``-wal`` and ``-shm`` files) and an empty database
is started in its place. Any other failure (an unreadable file, a full disk) makes reads
misses and writes no-ops until the file works again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from chatlane.cache.store import (
    OutageLog,
    StoreContext,
    check_key,
    check_optional_count,
    check_ttl,
    check_value,
    closed_error,
    log,
)
from chatlane.core.errors import UsageError

__all__ = ["SqliteStore"]

_T = TypeVar("_T")

_BUSY_TIMEOUT = 5.0
"""Seconds a write waits for another connection's write lock before it gives up."""
_RECHECK_FILE = 1.0
"""Seconds between checks that the path still names the file a connection has open (another
process may have moved a corrupt file aside, or someone deleted it)."""
_ASYNC_WORKERS = 4
_SCHEMA_VERSION = 1
_CORRUPT = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_FAILURES = {
    "connection": (
        "cannot open the database",
        "calls are cache misses and nothing is stored until it opens again",
    ),
    "reads": ("a read failed", "calls are cache misses until reads work again"),
    "writes": ("a write failed", "nothing is stored until writes work again"),
}

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS chatlane_cache (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        size INTEGER NOT NULL,
        expires_at REAL,
        stored_at REAL NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS chatlane_cache_expiry
        ON chatlane_cache (expires_at) WHERE expires_at IS NOT NULL""",
    "CREATE INDEX IF NOT EXISTS chatlane_cache_age ON chatlane_cache (stored_at)",
    # The total weight, kept by triggers so that no write has to add up the table.
    """CREATE TABLE IF NOT EXISTS chatlane_cache_weight (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        bytes INTEGER NOT NULL
    )""",
    "INSERT OR IGNORE INTO chatlane_cache_weight (id, bytes) VALUES (0, 0)",
    """CREATE TRIGGER IF NOT EXISTS chatlane_cache_added AFTER INSERT ON chatlane_cache
        BEGIN UPDATE chatlane_cache_weight SET bytes = bytes + new.size; END""",
    """CREATE TRIGGER IF NOT EXISTS chatlane_cache_removed AFTER DELETE ON chatlane_cache
        BEGIN UPDATE chatlane_cache_weight SET bytes = bytes - old.size; END""",
    """CREATE TRIGGER IF NOT EXISTS chatlane_cache_changed
        AFTER UPDATE OF size ON chatlane_cache
        BEGIN UPDATE chatlane_cache_weight SET bytes = bytes + new.size - old.size; END""",
    f"PRAGMA user_version = {_SCHEMA_VERSION}",
)
_UPSERT = """INSERT INTO chatlane_cache (key, value, size, expires_at, stored_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, size = excluded.size,
        expires_at = excluded.expires_at, stored_at = excluded.stored_at"""

_forks = 0
"""How many times this process is a fork's child: connections made before a fork are not
the child's to use (nor to close, which could delete the parent's WAL file)."""
_abandoned: list[sqlite3.Connection] = []
"""Connections to a file that is no longer at the path, kept open: closing one may checkpoint
and delete the WAL file by name, which is now the new database's."""


def _after_fork() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_after_fork)

_FileId = tuple[int, int]


def _file_id(path: str) -> _FileId | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


class _Connection:
    """One thread's connection, and which file and store generation it belongs to."""

    __slots__ = ("__weakref__", "checked_at", "db", "epoch", "file", "forks", "lock", "path")

    def __init__(self, path: str, epoch: int) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None
        self.file: _FileId | None = None
        self.epoch = epoch
        self.forks = _forks
        self.checked_at = time.monotonic()
        self.lock = threading.Lock()  # close() from another thread waits for a call in flight

    def close(self) -> None:
        """Close the connection (the caller holds the lock), unless closing is unsafe."""
        db, self.db = self.db, None
        if db is None:
            return
        if self._unsafe_to_close():
            _abandoned.append(db)
            return
        # If it fails, it failed already: what became of the file is the caller's business.
        with contextlib.suppress(sqlite3.Error):
            db.close()

    def _unsafe_to_close(self) -> bool:
        if self.forks != _forks:
            return True  # the parent's
        try:
            return _file_id(self.path) != self.file
        except OSError:
            return False  # cannot tell: the file is still there as far as anyone knows

    def __del__(self) -> None:
        # The thread ended, or the store went away.
        if self.db is not None and self._unsafe_to_close():
            _abandoned.append(self.db)


class SqliteStore(StoreContext):
    """A cache store in the SQLite file at ``path``, safe for many threads and processes.

    ``ttl`` is the default time to live in seconds (None: until evicted); expiry is on the
    wall clock, which all processes share. Expired rows are never returned and are deleted
    by later writes. With ``max_bytes`` the oldest written entries are deleted to keep the
    weight (``len(key) + len(value)`` per entry) within it, and a bigger value is not
    stored. Nothing is opened until first use; no method raises because the file is broken.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        ttl: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self._path = _check_path(path)
        self._ttl = check_ttl(ttl)
        self._max_bytes = check_optional_count(max_bytes, "max_bytes")
        self._local = threading.local()
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._epoch = 0
        """Bumped when the file is replaced: every thread then opens a new connection."""
        self._closed = False
        self._setup = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_pid = 0
        self._outages = OutageLog(repr(self))

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r}, ttl={self._ttl}, max_bytes={self._max_bytes})"

    @property
    def path(self) -> str:
        """The database file's absolute path."""
        return self._path

    def get(self, key: str) -> bytes | None:
        check_key(key)
        return self._run("reads", None, self._read, key)

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        check_key(key)
        check_value(value)
        ttl = self._ttl if ttl is None else check_ttl(ttl)
        self._run("writes", None, self._write, key, value, ttl)

    def delete(self, key: str) -> None:
        check_key(key)
        self._run("writes", None, self._delete, key)

    def clear(self) -> None:
        self._run("writes", None, self._clear)

    def close(self) -> None:
        """Close every connection and the worker threads; using the store afterwards is a
        UsageError. Waits for calls in flight. Idempotent."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None and self._executor_pid == os.getpid():
            executor.shutdown(wait=True)
        for connection in list(self._connections):
            with connection.lock:
                connection.close()

    async def aget(self, key: str) -> bytes | None:
        check_key(key)
        return await self._in_worker(self.get, key)

    async def aset(self, key: str, value: bytes, ttl: float | None = None) -> None:
        check_key(key)
        check_value(value)
        check_ttl(ttl)
        await self._in_worker(self.set, key, value, ttl)

    async def adelete(self, key: str) -> None:
        check_key(key)
        await self._in_worker(self.delete, key)

    async def aclear(self) -> None:
        await self._in_worker(self.clear)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    # --- the work, on one connection -------------------------------------------------------

    def _read(self, db: sqlite3.Connection, key: str) -> bytes | None:
        row = db.execute(
            "SELECT value, expires_at FROM chatlane_cache WHERE key = ?", (key,)
        ).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        value: bytes = row[0]
        return value

    def _write(self, db: sqlite3.Connection, key: str, value: bytes, ttl: float | None) -> None:
        size = len(key) + len(value)
        now = time.time()
        with _transaction(db):
            db.execute("DELETE FROM chatlane_cache WHERE expires_at <= ?", (now,))
            if self._max_bytes is not None and size > self._max_bytes:
                db.execute("DELETE FROM chatlane_cache WHERE key = ?", (key,))
                return
            expires = None if ttl is None else now + ttl
            db.execute(_UPSERT, (key, value, size, expires, now))
            if self._max_bytes is not None:
                _evict_oldest(db, self._max_bytes, keep=key)

    def _delete(self, db: sqlite3.Connection, key: str) -> None:
        with _transaction(db):
            db.execute("DELETE FROM chatlane_cache WHERE key = ?", (key,))

    def _clear(self, db: sqlite3.Connection) -> None:
        with _transaction(db):
            db.execute("DELETE FROM chatlane_cache")

    # --- connections, failures and recovery ------------------------------------------------

    def _run(self, kind: str, default: _T, work: Callable[..., _T], *args: Any) -> _T:
        """``work(db, *args)`` on this thread's connection; ``default`` if the file fails."""
        may_retry = True
        while True:
            if self._closed:
                raise closed_error(self)
            connection: _Connection | None = None
            stage = "connection"
            try:
                connection = self._connection()
                with connection.lock:
                    db = connection.db or self._open(connection)
                    stage = kind
                    result = work(db, *args)
            except (sqlite3.Error, OSError) as error:
                if connection is not None:
                    with connection.lock:
                        connection.close()
                if may_retry and getattr(error, "sqlite_errorcode", 0) & 0xFF in _CORRUPT:
                    may_retry = False
                    try:
                        self._replace_corrupt(connection, error)
                    except OSError as move_error:
                        error = move_error  # what keeps the store broken now
                        stage = "connection"
                    else:
                        continue  # once more, on the new empty database
                self._outages.failed(stage, error, *_FAILURES[stage])
                return default
            self._outages.worked(kind)
            return result

    def _connection(self) -> _Connection:
        connection: _Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            if connection.epoch == self._epoch and connection.forks == _forks:
                if time.monotonic() - connection.checked_at < _RECHECK_FILE:
                    return connection
                connection.checked_at = time.monotonic()
                if connection.db is None or _file_id(self._path) == connection.file:
                    return connection
            with connection.lock:
                connection.close()
        connection = _Connection(self._path, self._epoch)
        self._local.connection = connection
        with self._lock:
            self._connections.add(connection)
        return connection

    def _open(self, connection: _Connection) -> sqlite3.Connection:
        """Open this thread's connection (the caller holds its lock)."""
        if self._closed:  # close() ran while this call waited for the lock
            raise closed_error(self)
        connection.file = _file_id(self._path)
        db = sqlite3.connect(
            self._path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        try:
            # Switching a new file to WAL and making its tables take the whole file: threads
            # opening their first connections at once would refuse each other without waiting
            # ("database is locked"), so this process does it one connection at a time.
            with self._setup:
                db.execute("PRAGMA journal_mode = WAL").fetchone()
                db.execute("PRAGMA synchronous = NORMAL")  # durable enough for a cache, and fast
                if db.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
                    with _transaction(db):
                        for statement in _SCHEMA:
                            db.execute(statement)
            if connection.file is None:  # the file was made just now
                connection.file = _file_id(self._path)
        except BaseException:
            db.close()
            raise
        connection.db = db
        return db

    def _replace_corrupt(self, connection: _Connection | None, error: BaseException) -> None:
        """Move the corrupt file aside (unless someone else already did) and make every
        thread open a new connection. Raises OSError if the file cannot be moved."""
        seen = None if connection is None else connection.file
        with self._lock:
            if connection is not None and connection.epoch != self._epoch:
                return  # another thread replaced the file already
            if seen is not None and _file_id(self._path) == seen:
                # Close every connection to it first: the last close of a WAL database
                # deletes its -wal file by name, which must not be the new one's.
                for other in list(self._connections):
                    with other.lock:
                        other.close()
                aside = _move_aside(self._path)
                log.warning(
                    "%r: the file is not a usable database (%s: %s); moved it to %r "
                    "and started an empty one",
                    self,
                    type(error).__name__,
                    error,
                    aside,
                )
            self._epoch += 1

    async def _in_worker(self, work: Callable[..., _T], *args: Any) -> _T:
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._workers(), work, *args)
        except RuntimeError:  # close() shut the workers down just now
            if self._closed:
                raise closed_error(self) from None
            raise
        return await future

    def _workers(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise closed_error(self)
            if self._executor is None or self._executor_pid != os.getpid():
                # A fork's child has none of the parent's worker threads.
                self._executor = ThreadPoolExecutor(
                    _ASYNC_WORKERS, thread_name_prefix="chatlane-sqlite-cache"
                )
                self._executor_pid = os.getpid()
            return self._executor


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: take the write lock first, so that the busy
    timeout applies (a read that later turns into a write may fail at once instead)."""

    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the first error is the one that matters
                self._db.execute("ROLLBACK")


def _evict_oldest(db: sqlite3.Connection, max_bytes: int, keep: str) -> None:
    total: int = db.execute("SELECT bytes FROM chatlane_cache_weight").fetchone()[0]
    excess = total - max_bytes
    if excess <= 0:
        return
    victims: list[tuple[int]] = []
    freed = 0
    rows = db.execute(
        "SELECT rowid, size FROM chatlane_cache WHERE key != ? ORDER BY stored_at, rowid",
        (keep,),
    )
    while freed < excess:
        batch = rows.fetchmany(64)
        if not batch:
            break
        for rowid, size in batch:
            victims.append((rowid,))
            freed += size
            if freed >= excess:
                break
    rows.close()
    db.executemany("DELETE FROM chatlane_cache WHERE rowid = ?", victims)


def _move_aside(path: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = f"{path}.corrupt-{stamp}"
    number = 1
    while os.path.lexists(aside):
        number += 1
        aside = f"{path}.corrupt-{stamp}-{number}"
    os.rename(path, aside)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.rename(path + suffix, aside + suffix)
    return aside


def _check_path(path: object) -> str:
    if not isinstance(path, str | os.PathLike):
        raise UsageError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    name = os.fspath(path)
    if not isinstance(name, str):
        raise UsageError(f"path must name a file with a str, not {name!r}")
    if name in ("", ":memory:") or name.startswith("file:"):
        raise UsageError(
            f"path must be a file's path, not {name!r} (for a cache in memory: MemoryStore)"
        )
    name = os.path.abspath(name)  # a later chdir must not split the cache in two
    if os.path.isdir(name):
        raise UsageError(f"path must be a file's path, not the directory {name!r}")
    return name
