"""SqliteStore on real files: shared by processes, evicting, expiring, surviving broken files."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import chatlane
from chatlane.cache.sqlite import SqliteStore


def rows(path: Path) -> list[tuple[str, int, float | None]]:
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT key, size, expires_at FROM chatlane_cache ORDER BY key")
        return found.fetchall()


def moved_aside(folder: Path) -> list[Path]:
    """The database files moved aside (each with its -wal and -shm beside it)."""
    return [
        path
        for path in folder.glob("cache.db.corrupt-*")
        if not path.name.endswith(("-wal", "-shm"))
    ]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "chatlane.cache" and record.levelno == logging.WARNING
    ]


def test_the_file_is_in_wal_mode_and_shared_by_two_stores(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with SqliteStore(path) as writer, SqliteStore(str(path)) as reader:
        writer.set("k", b"written by one")
        assert reader.get("k") == b"written by one"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    with SqliteStore(path) as reopened:
        assert reopened.get("k") == b"written by one"


def test_nothing_is_opened_until_first_use(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "cache.db")
    assert not (tmp_path / "cache.db").exists()
    store.close()


def test_expired_rows_are_never_returned_and_are_purged_by_later_writes(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with SqliteStore(path) as store:
        store.set("soon", b"a", ttl=0.05)
        store.set("later", b"b", ttl=60)
        time.sleep(0.1)
        assert store.get("soon") is None
        assert [key for key, _, _ in rows(path)] == ["later", "soon"]  # lazily purged
        store.set("next", b"c")
        assert [key for key, _, _ in rows(path)] == ["later", "next"]


def test_max_bytes_evicts_the_oldest_written_entries(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with SqliteStore(path, max_bytes=1000) as store:
        for number in range(10):
            store.set(f"key{number}", bytes(196))  # 4 + 196 = 200 bytes each
        assert [key for key, _, _ in rows(path)] == [f"key{n}" for n in range(5, 10)]
        assert sum(size for _, size, _ in rows(path)) == 1000
        store.set("key5", bytes(500))  # rewritten: now the newest, and heavier
        assert [key for key, _, _ in rows(path)] == ["key5", "key8", "key9"]
        store.set("huge", bytes(1000))  # heavier than max_bytes alone: not stored
        assert store.get("huge") is None
        assert store.get("key9") is not None
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT bytes FROM chatlane_cache_weight").fetchone() == (
                sum(size for _, size, _ in rows(path)),
            )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (123, "path must be a str or os.PathLike"),
        (None, "path must be a str or os.PathLike"),
        (b"/tmp/cache.db", "path must be a str or os.PathLike"),
        ("", "path must be a file's path"),
        (":memory:", "MemoryStore"),
        ("file:cache.db?mode=memory", "path must be a file's path"),
    ],
)
def test_a_bad_path_is_a_usage_error(path: object, message: str) -> None:
    with pytest.raises(chatlane.UsageError, match=message):
        SqliteStore(path)  # type: ignore[arg-type]


def test_a_directory_is_not_a_path(tmp_path: Path) -> None:
    with pytest.raises(chatlane.UsageError, match="not the directory"):
        SqliteStore(tmp_path)


def test_bad_limits_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(chatlane.UsageError, match="max_bytes must be"):
        SqliteStore(tmp_path / "c.db", max_bytes=0)
    with pytest.raises(chatlane.UsageError, match="ttl must be"):
        SqliteStore(tmp_path / "c.db", ttl=0)


def test_repr_says_the_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqliteStore("cache.db", max_bytes=10)
    assert repr(store) == f"SqliteStore({str(tmp_path / 'cache.db')!r}, ttl=None, max_bytes=10)"
    assert store.path == str(tmp_path / "cache.db")


def test_a_file_that_is_not_a_database_is_moved_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.db"
    garbage = b"this is not an sqlite database " * 200
    path.write_bytes(garbage)
    with SqliteStore(path) as store:
        assert store.get("k") is None
        store.set("k", b"fresh")
        assert store.get("k") == b"fresh"
    moved = moved_aside(tmp_path)
    assert len(moved) == 1
    assert moved[0].read_bytes() == garbage
    assert rows(path) == [("k", 6, None)]
    assert len(warnings_of(caplog)) == 1
    assert "moved it to" in warnings_of(caplog)[0]


def test_a_file_that_becomes_corrupt_while_open_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.db"
    with SqliteStore(path) as store:
        for number in range(200):
            store.set(f"key{number}", os.urandom(3000))
        with sqlite3.connect(path) as db:  # everything into the main file
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with path.open("r+b") as file:  # keep the header, garble every page after it
            file.seek(4096)
            file.write(os.urandom(path.stat().st_size - 4096))
        for number in range(0, 200, 10):
            assert store.get(f"key{number}") is None  # never an exception
        store.set("after", b"works")
        assert store.get("after") == b"works"
    assert len(moved_aside(tmp_path)) == 1
    assert [key for key, _, _ in rows(path)] == ["after"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert len(warnings_of(caplog)) == 1


def test_two_stores_on_a_file_that_turns_corrupt_replace_it_once(tmp_path: Path) -> None:
    """Two stores on one path (as two processes would be): the one that finds the damage
    moves the file aside; the other must not move the new file too, nor damage it."""
    path = tmp_path / "cache.db"
    first, second = SqliteStore(path), SqliteStore(path)
    for number in range(100):
        first.set(f"key{number}", os.urandom(3000))
    assert second.get("key1") is not None
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with path.open("r+b") as file:
        file.seek(4096)
        file.write(os.urandom(path.stat().st_size - 4096))
    assert first.get("key50") is None  # finds the damage, starts an empty file
    assert len(moved_aside(tmp_path)) == 1
    deadline = time.monotonic() + 5
    while True:  # the second store moves on to the new file (at an error, or within 1 s)
        second.get("key60")
        second.set("from second", b"s")
        if first.get("from second") == b"s":
            break
        assert time.monotonic() < deadline, "the second store never found the new file"
        time.sleep(0.05)
    first.set("from first", b"f")
    assert second.get("from first") == b"f"
    assert len(moved_aside(tmp_path)) == 1
    first.close()
    second.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM chatlane_cache").fetchone() == (2,)


def test_an_unopenable_file_is_a_miss_with_one_warning_per_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "folder"
    folder.write_text("a file where the database's folder should be")
    store = SqliteStore(folder / "cache.db")
    for _ in range(20):
        store.set("k", b"v")
        assert store.get("k") is None
    assert len(warnings_of(caplog)) == 1
    assert "cannot open the database" in warnings_of(caplog)[0]

    folder.unlink()
    folder.mkdir()
    store.set("k", b"v")
    assert store.get("k") == b"v"

    # Broken again: the new outage is logged once more (seen from a thread of its own,
    # since the first thread's connection still has the old file open).
    shutil.rmtree(folder)
    folder.write_text("in the way again")
    seen: list[bytes | None] = []
    thread = threading.Thread(target=lambda: seen.extend(store.get("k") for _ in range(5)))
    thread.start()
    thread.join()
    assert seen == [None] * 5
    assert len(warnings_of(caplog)) == 2
    store.close()


def test_a_deleted_file_is_noticed_and_started_again(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with SqliteStore(path) as store:
        store.set("k", b"v")
        for name in ("cache.db", "cache.db-wal", "cache.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        deadline = time.monotonic() + 5
        while store.get("k") is not None:  # the open connection reads the deleted file...
            assert time.monotonic() < deadline
            time.sleep(0.05)
        store.set("k", b"new")  # ...until the store sees the path names another file
        assert store.get("k") == b"new"
        assert path.exists()


_FULL_DISK = """
import json, logging, os, resource, signal, sys
from chatlane.cache.sqlite import SqliteStore

warnings = []
class Collect(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())
logging.getLogger("chatlane.cache").addHandler(Collect())

store = SqliteStore(sys.argv[1])
store.set("before", b"x" * 1000)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, resource.RLIM_INFINITY))
lost = sum(1 for n in range(60) if (store.set(f"k{n}", os.urandom(10_000)), store.get(f"k{n}"))[1] is None)
readable = store.get("before") is not None
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
store.set("after", b"y")
print(json.dumps({"lost": lost, "readable": readable, "after": store.get("after") is not None,
                  "warnings": warnings}))
"""


def test_a_full_disk_makes_writes_no_ops_and_leaves_reads_working(tmp_path: Path) -> None:
    """A real process whose files may not grow past 150 kB (RLIMIT_FSIZE)."""
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(tmp_path / "cache.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["lost"] > 0
    assert result["readable"]
    assert result["after"]
    assert result["warnings"]
    assert all("a write failed" in warning for warning in result["warnings"])
    with sqlite3.connect(tmp_path / "cache.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _write_and_read(path: str, writer: int, results: multiprocessing.Queue[dict[str, Any]]) -> None:
    """One process of the test below: writes and reads 300 keys shared by all writers."""
    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    logging.getLogger("chatlane.cache").addHandler(Collect(logging.WARNING))
    wrong: list[str] = []
    hits = 0
    try:
        with SqliteStore(path, ttl=60) as store:
            for number in range(300):
                key = f"{(number * 7 + writer) % 120:064x}"
                store.set(key, f"{key}|{writer}|{number}".encode() * 10)
                value = store.get(key)
                if value is not None:
                    hits += 1
                    if not value.startswith(f"{key}|".encode()):
                        wrong.append(key)
    except BaseException as error:
        results.put({"writer": writer, "error": repr(error)})
        return
    results.put(
        {"writer": writer, "error": None, "wrong": wrong, "hits": hits, "warnings": warnings}
    )


def test_four_processes_write_and_read_one_file_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[dict[str, Any]] = context.Queue()
    processes = [
        context.Process(target=_write_and_read, args=(path, writer, results)) for writer in range(4)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    for report in reports:
        assert report == {**report, "error": None, "wrong": [], "warnings": [], "hits": 300}
    with SqliteStore(path) as store:
        for number in range(120):
            key = f"{number:064x}"
            value = store.get(key)
            assert value is not None
            assert value.startswith(f"{key}|".encode())


def test_a_forked_child_uses_connections_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with SqliteStore(path) as store:
        store.set("parent", b"p")
        child = os.fork()
        if child == 0:  # the child: must not reuse the parent's connection
            code = 1
            try:
                store.set("child", b"c")
                code = 0 if store.get("parent") == b"p" else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert store.get("child") == b"c"
        store.set("parent again", b"p2")
        assert store.get("parent again") == b"p2"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.asyncio
async def test_an_async_write_waiting_for_a_locked_database_does_not_block_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache.db"
    store = SqliteStore(path)
    await store.aset("warm", b"up")  # the file and its tables exist
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    writing = asyncio.ensure_future(store.aset("k", b"v"))
    ticks = 0
    while ticks < 20:  # the loop keeps running while the write waits
        await asyncio.sleep(0.005)
        ticks += 1
    assert not writing.done()
    assert await store.aget("warm") == b"up"  # WAL: reads do not wait for the writer
    locker.execute("COMMIT")
    locker.close()
    await writing
    assert await store.aget("k") == b"v"
    await store.aclose()


@pytest.mark.asyncio
async def test_async_calls_on_a_broken_file_are_misses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "folder"
    folder.write_text("in the way")
    store = SqliteStore(folder / "cache.db")
    await store.aset("k", b"v")
    assert await store.aget("k") is None
    await store.adelete("k")
    await store.aclear()
    assert len(warnings_of(caplog)) == 1
    await store.aclose()
