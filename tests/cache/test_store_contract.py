"""What every cache store promises, checked on all three: MemoryStore, SqliteStore (a real
file) and RedisStore (the private redis-server)."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import chatlane
from chatlane.cache.memory import MemoryStore
from chatlane.cache.redis_store import RedisStore
from chatlane.cache.sqlite import SqliteStore
from chatlane.cache.store import CacheStore

Store = MemoryStore | SqliteStore | RedisStore
KINDS = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]
KEY = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def build(kind: str, request: pytest.FixtureRequest, tmp_path: Path, **options: Any) -> Store:
    if kind == "memory":
        return MemoryStore(**options)
    if kind == "sqlite":
        return SqliteStore(tmp_path / "cache.db", **options)
    return RedisStore(request.getfixturevalue("redis_url"), **options)


@pytest.fixture(params=KINDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Store]]:
    made: list[Store] = []

    def make(**options: Any) -> Store:
        store = build(request.param, request, tmp_path, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store()


@pytest_asyncio.fixture(params=KINDS)
async def astore(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    store = build(request.param, request, tmp_path)
    yield store
    await store.aclose()


def test_every_store_is_a_cache_store(store: Store) -> None:
    assert isinstance(store, CacheStore)


def test_a_value_set_is_got_back_and_a_missing_key_is_a_miss(store: Store) -> None:
    assert store.get(KEY) is None
    store.set(KEY, b"\x00completion\xff")
    assert store.get(KEY) == b"\x00completion\xff"
    store.set(KEY, b"newer")
    assert store.get(KEY) == b"newer"
    assert store.get("0" * 64) is None


def test_an_empty_value_is_a_value_not_a_miss(store: Store) -> None:
    store.set(KEY, b"")
    assert store.get(KEY) == b""


def test_values_of_a_few_megabytes_round_trip(store: Store) -> None:
    value = bytes(range(256)) * (3 * 2**20 // 256)
    store.set(KEY, value)
    assert store.get(KEY) == value


def test_delete_and_clear(store: Store) -> None:
    for number in range(5):
        store.set(f"{number:064x}", b"v%d" % number)
    store.delete(f"{0:064x}")
    store.delete("absent")  # deleting what is not there is fine
    assert store.get(f"{0:064x}") is None
    assert store.get(f"{1:064x}") == b"v1"
    store.clear()
    assert all(store.get(f"{number:064x}") is None for number in range(5))
    store.set(KEY, b"after clear")
    assert store.get(KEY) == b"after clear"


def test_an_entry_expires_after_its_ttl(store: Store) -> None:
    store.set(KEY, b"short", ttl=0.05)
    store.set("long", b"long", ttl=60)
    assert store.get(KEY) == b"short"
    time.sleep(0.12)
    assert store.get(KEY) is None
    assert store.get("long") == b"long"


def test_the_store_default_ttl_applies_when_a_set_names_none(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(ttl=0.05)
    store.set(KEY, b"default ttl")
    store.set("own", b"own ttl", ttl=60)
    time.sleep(0.12)
    assert store.get(KEY) is None
    assert store.get("own") == b"own ttl"


@pytest.mark.parametrize("value", ["text", bytearray(b"x"), memoryview(b"x"), None, 3])
def test_a_value_that_is_not_bytes_is_a_usage_error(store: Store, value: object) -> None:
    with pytest.raises(chatlane.UsageError, match="value must be bytes"):
        store.set(KEY, value)  # type: ignore[arg-type]


def test_a_huge_bad_value_is_not_copied_into_the_error(store: Store) -> None:
    with pytest.raises(chatlane.UsageError) as caught:
        store.set(KEY, "x" * 2**20)  # type: ignore[arg-type]
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf, "5", True])
def test_a_bad_ttl_is_a_usage_error(make_store: Callable[..., Store], ttl: object) -> None:
    store = make_store()
    with pytest.raises(chatlane.UsageError, match="ttl must be"):
        store.set(KEY, b"v", ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises(chatlane.UsageError, match="ttl must be"):
        make_store(ttl=ttl)
    assert store.get(KEY) is None


@pytest.mark.parametrize("key", [b"bytes", 7, None])
def test_a_key_that_is_not_a_str_is_a_usage_error(store: Store, key: object) -> None:
    with pytest.raises(chatlane.UsageError, match="key must be a str"):
        store.get(key)  # type: ignore[arg-type]
    with pytest.raises(chatlane.UsageError, match="key must be a str"):
        store.set(key, b"v")  # type: ignore[arg-type]


def test_using_a_closed_store_is_a_usage_error_and_close_is_idempotent(store: Store) -> None:
    store.set(KEY, b"v")
    store.close()
    store.close()
    with pytest.raises(chatlane.UsageError, match="is closed"):
        store.get(KEY)
    with pytest.raises(chatlane.UsageError, match="is closed"):
        store.set(KEY, b"v")


def test_with_closes_the_store(store: Store) -> None:
    with store as same:
        assert same is store
        store.set(KEY, b"v")
    with pytest.raises(chatlane.UsageError):
        store.get(KEY)


def test_repr_names_the_kind_of_store(store: Store) -> None:
    assert repr(store).startswith(type(store).__name__ + "(")


def test_threads_share_one_store(store: Store) -> None:
    """8 threads write and read overlapping keys: every read is a value some thread wrote
    for that key, and nothing raises."""
    wrong: list[tuple[str, bytes]] = []
    failures: list[BaseException] = []

    def work(number: int) -> None:
        try:
            for round_ in range(150):
                key = f"{round_ % 20:064x}"
                store.set(key, f"{key}:{number}:{round_}".encode())
                value = store.get(key)
                if value is not None and not value.startswith(f"{key}:".encode()):
                    wrong.append((key, value))
        except BaseException as error:  # a thread's exception would otherwise vanish
            failures.append(error)

    threads = [threading.Thread(target=work, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert wrong == []
    assert all(store.get(f"{number:064x}") is not None for number in range(20))


@pytest.mark.asyncio
async def test_the_async_methods_do_what_the_sync_ones_do(astore: Store) -> None:
    assert await astore.aget(KEY) is None
    await astore.aset(KEY, b"async")
    assert await astore.aget(KEY) == b"async"
    await astore.aset("expiring", b"e", ttl=0.05)
    await asyncio.sleep(0.12)
    assert await astore.aget("expiring") is None
    await astore.adelete(KEY)
    assert await astore.aget(KEY) is None
    await astore.aset(KEY, b"again")
    await astore.aclear()
    assert await astore.aget(KEY) is None


@pytest.mark.asyncio
async def test_many_tasks_at_once(astore: Store) -> None:
    keys = [f"{number:064x}" for number in range(60)]
    await asyncio.gather(*(astore.aset(key, key.encode()) for key in keys))
    values = await asyncio.gather(*(astore.aget(key) for key in keys))
    assert values == [key.encode() for key in keys]


@pytest.mark.asyncio
async def test_async_misuse_is_a_usage_error_too(astore: Store) -> None:
    with pytest.raises(chatlane.UsageError, match="value must be bytes"):
        await astore.aset(KEY, "text")  # type: ignore[arg-type]
    with pytest.raises(chatlane.UsageError, match="ttl must be"):
        await astore.aset(KEY, b"v", ttl=-1)
    with pytest.raises(chatlane.UsageError, match="key must be a str"):
        await astore.aget(1)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_async_with_closes_the_store(astore: Store) -> None:
    async with astore as same:
        await same.aset(KEY, b"v")
    with pytest.raises(chatlane.UsageError, match="is closed"):
        await astore.aget(KEY)
