"""MemoryStore: LRU by bytes and entries, against a model, and under threads."""

from __future__ import annotations

import random
import threading
from collections import OrderedDict

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import chatlane
from chatlane.cache.memory import MemoryStore


def weight(entries: OrderedDict[str, bytes]) -> int:
    return sum(len(key) + len(value) for key, value in entries.items())


def test_the_least_recently_used_entry_goes_first() -> None:
    store = MemoryStore(max_bytes=30)  # three entries of 1 + 9 bytes
    for key in "abc":
        store.set(key, key.encode() * 9)
    assert store.get("a") is not None  # "b" is now the least recently used
    store.set("d", b"d" * 9)
    assert store.get("b") is None
    assert [store.get(key) for key in "acd"] == [b"a" * 9, b"c" * 9, b"d" * 9]
    assert store.total_bytes == 30
    assert len(store) == 3


def test_setting_a_key_again_makes_it_the_most_recently_used() -> None:
    store = MemoryStore(max_bytes=30)
    for key in "abc":
        store.set(key, key.encode() * 9)
    store.set("a", b"A" * 9)
    store.set("d", b"d" * 9)
    assert store.get("b") is None
    assert store.get("a") == b"A" * 9


def test_a_value_bigger_than_max_bytes_is_not_stored_and_drops_the_old_one() -> None:
    store = MemoryStore(max_bytes=100)
    store.set("k", b"old")
    store.set("other", b"kept")
    store.set("k", b"x" * 100)  # 1 + 100 > 100
    assert store.get("k") is None
    assert store.get("other") == b"kept"
    assert store.total_bytes == len("other") + 4
    store.set("k", b"x" * 99)  # exactly max_bytes fits, alone
    assert store.get("k") == b"x" * 99
    assert store.get("other") is None
    assert store.total_bytes == 100


def test_max_entries_bounds_the_count() -> None:
    store = MemoryStore(max_entries=2)
    for key in "abc":
        store.set(key, b"v")
    assert len(store) == 2
    assert store.get("a") is None


def test_an_expired_entry_is_removed_when_looked_up() -> None:
    import time

    store = MemoryStore(ttl=0.03)
    store.set("k", b"value")
    assert store.total_bytes == 6
    time.sleep(0.06)
    assert store.get("k") is None
    assert store.total_bytes == 0
    assert len(store) == 0


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"max_bytes": 0}, "max_bytes"),
        ({"max_bytes": -5}, "max_bytes"),
        ({"max_bytes": 1.5}, "max_bytes"),
        ({"max_bytes": True}, "max_bytes"),
        ({"max_bytes": None}, "max_bytes"),
        ({"max_entries": 0}, "max_entries"),
        ({"max_entries": "10"}, "max_entries"),
        ({"ttl": -1}, "ttl"),
    ],
)
def test_bad_limits_are_usage_errors_naming_the_parameter(
    options: dict[str, object], name: str
) -> None:
    with pytest.raises(chatlane.UsageError, match=f"^{name} must be"):
        MemoryStore(**options)  # type: ignore[arg-type]


def test_repr_says_the_limits() -> None:
    assert repr(MemoryStore(max_bytes=1000, max_entries=5, ttl=2)) == (
        "MemoryStore(max_bytes=1000, max_entries=5, ttl=2.0)"
    )


KEYS = st.sampled_from(["a", "bb", "ccc", "dddd", "eeeee"])


class AgainstAnLruModel(RuleBasedStateMachine):
    """Any sequence of set/get/delete: the store holds what a plain LRU dict would."""

    @initialize(max_bytes=st.integers(1, 40), max_entries=st.none() | st.integers(1, 4))
    def start(self, max_bytes: int, max_entries: int | None) -> None:
        self.store = MemoryStore(max_bytes=max_bytes, max_entries=max_entries)
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.model: OrderedDict[str, bytes] = OrderedDict()  # least recently used first
        self.writes = 0

    @rule(key=KEYS, size=st.integers(0, 16))
    def set(self, key: str, size: int) -> None:
        self.writes += 1
        value = bytes([self.writes % 256]) * size
        self.store.set(key, value)
        self.model.pop(key, None)
        if len(key) + size <= self.max_bytes:
            self.model[key] = value
            while weight(self.model) > self.max_bytes or (
                self.max_entries is not None and len(self.model) > self.max_entries
            ):
                self.model.popitem(last=False)

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        expected = self.model.get(key)
        if expected is not None:
            self.model.move_to_end(key)
        assert self.store.get(key) == expected

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        self.store.delete(key)
        self.model.pop(key, None)

    @invariant()
    def same_weight_and_count_within_the_cap(self) -> None:
        if hasattr(self, "store"):
            assert self.store.total_bytes == weight(self.model) <= self.max_bytes
            assert len(self.store) == len(self.model)

    def teardown(self) -> None:
        if hasattr(self, "store"):
            for key, value in list(self.model.items()):  # the same order of use on both sides
                assert self.store.get(key) == value


AgainstAnLruModel.TestCase.settings = settings(max_examples=120, deadline=None)
test_contents_equal_an_lru_model_and_never_exceed_max_bytes = AgainstAnLruModel.TestCase


def test_eight_threads_never_break_the_byte_and_entry_caps() -> None:
    max_bytes, max_entries = 4096, 40
    store = MemoryStore(max_bytes=max_bytes, max_entries=max_entries)
    keys = [f"{number:02d}" for number in range(100)]
    problems: list[str] = []
    done = threading.Event()

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(4000):
                key = rng.choice(keys)
                roll = rng.random()
                if roll < 0.5:
                    store.set(key, f"{key}|{seed}|".encode().ljust(rng.randrange(6, 600), b"."))
                elif roll < 0.9:
                    value = store.get(key)
                    if value is not None and not value.startswith(f"{key}|".encode()):
                        problems.append(f"{key} holds {value[:20]!r}")
                else:
                    store.delete(key)
        except BaseException as error:
            problems.append(repr(error))

    def watch() -> None:
        while not done.is_set():
            held, count = store.total_bytes, len(store)
            if held > max_bytes or count > max_entries:
                problems.append(f"{held} bytes in {count} entries")

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    assert problems == []
    # The accounting matches what is actually held.
    held = {key: value for key in keys if (value := store.get(key)) is not None}
    assert len(held) == len(store)
    assert sum(len(key) + len(value) for key, value in held.items()) == store.total_bytes
