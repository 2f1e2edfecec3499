"""RedisStore against real redis-servers: keys, expiry, outages, backoff, secrets."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio

import chatlane
from chatlane.cache.redis_store import RedisStore
from tests.redis_kit import RedisServer, start_redis

pytestmark = pytest.mark.redis

PASSWORD = "s3cret-Redis-pa55word"


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "chatlane.cache" and record.levelno == logging.WARNING
    ]


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        yield client


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path)
    yield server
    server.stop()


def test_entries_live_under_the_prefix_with_px_for_the_ttl(
    redis_url: str, raw: redis.Redis
) -> None:
    with RedisStore(redis_url, prefix="app:", ttl=30) as store:
        store.set("k", b"v")
        store.set("forever", b"f", ttl=None)  # None: the store's default (30 s)
        store.set("short", b"s", ttl=2.5)
        assert raw.get("app:k") == b"v"
        assert 29_000 < raw.pttl("app:k") <= 30_000
        assert 29_000 < raw.pttl("app:forever") <= 30_000
        assert 2_000 < raw.pttl("app:short") <= 2_500
    with RedisStore(redis_url) as store:
        store.set("k", b"v")
        assert raw.pttl("chatlane:cache:k") == -1  # no ttl: kept until Redis evicts it


def test_clear_deletes_only_the_prefix_keys_even_with_glob_characters(
    redis_url: str, raw: redis.Redis
) -> None:
    raw.set("ab:x", b"keep")  # what an unescaped "a*:*" would match
    raw.set("unrelated", b"keep")
    with RedisStore(redis_url, prefix="a*:") as store:
        for number in range(1200):  # more than one SCAN/UNLINK batch
            store.set(f"{number}", b"v")
        store.clear()
        assert store.get("7") is None
    assert sorted(raw.keys()) == [b"ab:x", b"unrelated"]


@pytest.mark.asyncio
async def test_aclear_deletes_only_the_prefix_keys(redis_url: str) -> None:
    async with redis.asyncio.Redis.from_url(redis_url) as raw:
        await raw.set("other:k", b"keep")
        store = RedisStore(redis_url, prefix="mine:")
        for number in range(600):
            await store.aset(f"{number}", b"v")
        await store.aclear()
        assert await raw.keys() == [b"other:k"]
        await store.aclose()


def test_a_stopped_redis_is_a_miss_with_one_warning_and_is_used_again_when_back(
    own_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chatlane.cache")
    store = RedisStore(own_server.url)
    store.set("k", b"v")
    assert store.get("k") == b"v"

    own_server.stop()
    for _ in range(50):
        assert store.get("k") is None
        store.set("k", b"lost")
        store.delete("k")
        store.clear()
    assert len(warnings_of(caplog)) == 1
    assert "Redis cannot be reached" in warnings_of(caplog)[0].getMessage()

    restarted = start_redis(tmp_path)  # the same socket path
    try:
        with redis.Redis(unix_socket_path=str(restarted.socket)) as raw:
            raw.set("chatlane:cache:k", b"from the new server")
            # Within the backoff the store does not even try.
            assert store.get("k") is None
            deadline = time.monotonic() + 5
            while store.get("k") is None:
                assert time.monotonic() < deadline, "the store never used Redis again"
                time.sleep(0.05)
            assert store.get("k") == b"from the new server"
            store.set("k2", b"stored")
            assert raw.get("chatlane:cache:k2") == b"stored"
        assert any("works again" in record.getMessage() for record in caplog.records)

        restarted.stop()  # a second outage is a second warning
        assert store.get("k") is None
        assert len(warnings_of(caplog)) == 2
    finally:
        restarted.stop()
        store.close()


@pytest.mark.asyncio
async def test_async_calls_share_the_outage_and_the_backoff(
    own_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(own_server.url)
    await store.aset("k", b"v")
    assert await store.aget("k") == b"v"
    own_server.stop()
    for _ in range(20):
        assert await store.aget("k") is None
        await store.aset("k", b"v")
        assert store.get("k") is None
    assert len(warnings_of(caplog)) == 1
    await store.aclose()


def test_a_redis_that_never_answers_costs_a_timeout_then_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX) as silent:
        silent.bind(str(path))
        silent.listen(16)  # connections are accepted by the kernel; nothing ever answers
        store = RedisStore(f"unix://{path}", timeout=0.1)
        assert store.get("k") is None
        assert len(warnings_of(caplog)) == 1
        assert "Timeout" in warnings_of(caplog)[0].getMessage()
        for _ in range(100):  # skipped: these would otherwise take 0.1 s each
            assert store.get("k") is None
        store.close()


@pytest.mark.asyncio
async def test_a_silent_redis_does_not_block_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX) as silent:
        silent.bind(str(path))
        silent.listen(16)
        store = RedisStore(f"unix://{path}", timeout=0.2)
        reading = asyncio.ensure_future(store.aget("k"))
        ticks = 0
        while not reading.done():
            await asyncio.sleep(0.01)
            ticks += 1
        assert await reading is None
        assert ticks >= 5  # the loop ran all along
        await store.aclose()


def test_the_password_never_appears_in_reprs_logs_or_errors(
    own_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="chatlane.cache")
    with redis.Redis(unix_socket_path=str(own_server.socket)) as admin:
        admin.config_set("requirepass", PASSWORD)
    right = RedisStore(f"unix://:{PASSWORD}@{own_server.socket}")
    right.set("k", b"v")
    assert right.get("k") == b"v"
    wrong_url = f"unix://:{PASSWORD}-wrong@{own_server.socket}?db=0"
    wrong = RedisStore(wrong_url)
    assert wrong.get("k") is None
    in_query = RedisStore(f"redis://127.0.0.1:1/0?password={PASSWORD}")
    assert in_query.get("k") is None
    for store in (right, wrong, in_query):
        assert PASSWORD not in repr(store)
    assert repr(wrong) == f"RedisStore('unix://{own_server.socket}?db=0', prefix=" + (
        "'chatlane:cache:', ttl=None)"
    )
    assert repr(RedisStore(f"redis://user:{PASSWORD}@127.0.0.1:6380/2")) == (
        "RedisStore('redis://user:***@127.0.0.1:6380/2', prefix='chatlane:cache:', ttl=None)"
    )
    assert len(warnings_of(caplog)) == 2
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()
        assert record.exc_info is None
    for bad in (
        f"http://user:{PASSWORD}@host/0",
        f"redis://:{PASSWORD}@host:port/0",
        f"redis://:{PASSWORD}@@host/db",
        f"redis://host:port/0?password={PASSWORD}",
    ):
        with pytest.raises(chatlane.ConfigurationError) as caught:
            RedisStore(bad)
        assert PASSWORD not in "".join(traceback.format_exception(caught.value))
        assert "***" in str(caught.value)
    for store in (right, wrong, in_query):
        store.close()


def test_given_clients_are_used_and_left_open(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisStore(client=client, prefix="given:")
    store.set("k", b"v")
    assert client.get("given:k") == b"v"
    assert repr(store).startswith("RedisStore('unix://")
    with pytest.raises(chatlane.UsageError, match="aclient"):
        asyncio.run(store.aget("k"))
    store.close()
    assert client.get("given:k") == b"v"  # still open: it is the caller's
    client.close()


@pytest.mark.asyncio
async def test_a_given_async_client_is_used_and_left_open(redis_url: str) -> None:
    aclient = redis.asyncio.Redis.from_url(redis_url)
    store = RedisStore(aclient=aclient)
    await store.aset("k", b"v")
    assert await store.aget("k") == b"v"
    with pytest.raises(chatlane.UsageError, match="client="):
        store.get("k")
    await store.aclose()
    assert await aclient.get("chatlane:cache:k") == b"v"
    await aclient.aclose()


def test_each_event_loop_gets_a_client_closed_when_the_loop_shuts_down(redis_url: str) -> None:
    store = RedisStore(redis_url)

    async def round_trip(value: bytes) -> bytes | None:
        await store.aset("k", value)
        return await store.aget("k")

    # Not closed by the test: asyncio.run's shutdown closes each loop's client (an unclosed
    # connection would be a ResourceWarning, an error here).
    assert asyncio.run(round_trip(b"first")) == b"first"
    assert asyncio.run(round_trip(b"second")) == b"second"
    store.close()


def test_wrong_clients_are_usage_errors(redis_url: str) -> None:
    with pytest.raises(chatlane.UsageError, match=r"client must be a redis\.client\.Redis"):
        RedisStore(client="redis://localhost")  # type: ignore[arg-type]
    with pytest.raises(chatlane.UsageError, match="aclient must be"):
        RedisStore(aclient=redis.Redis.from_url(redis_url))  # type: ignore[arg-type]
    decoding = redis.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(chatlane.UsageError, match="must not decode responses"):
        RedisStore(client=decoding)
    decoding.close()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"url": 6379}, chatlane.UsageError, "url must be a str"),
        ({"url": "http://localhost:6379/0"}, chatlane.ConfigurationError, "redis://"),
        ({"url": "redis://localhost:port/0"}, chatlane.ConfigurationError, "not a valid"),
        ({"url": "redis://localhost:6379/cache"}, chatlane.ConfigurationError, "database"),
        ({"url": "unix://"}, chatlane.ConfigurationError, "socket's path"),
        ({"prefix": ""}, chatlane.UsageError, "prefix must be a non-empty str"),
        ({"prefix": b"p:"}, chatlane.UsageError, "prefix must be"),
        ({"timeout": 0}, chatlane.UsageError, "timeout must be positive"),
        ({"timeout": float("inf")}, chatlane.UsageError, "timeout must be positive"),
        ({"timeout": "1"}, chatlane.UsageError, "timeout must be a number"),
        ({"timeout": True}, chatlane.UsageError, "timeout must be a number"),
        ({"ttl": -2}, chatlane.UsageError, "ttl must be"),
    ],
)
def test_bad_arguments_name_the_parameter(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        RedisStore(**options)  # type: ignore[arg-type]


def test_without_redis_py_the_store_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(chatlane.ConfigurationError, match=r"pip install 'chatlane\[redis\]'"):
        RedisStore()


def test_importing_the_cache_stores_does_not_import_redis() -> None:
    probe = (
        "import sys\n"
        "import chatlane.cache.redis_store, chatlane.cache.sqlite, chatlane.cache.memory\n"
        "assert 'redis' not in sys.modules, 'redis was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
