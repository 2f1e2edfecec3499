"""chatlane._redis, what RedisStore, RedisLimiter and RedisBudget share: redis-py imported
lazily, URLs checked and shown without their passwords, clients that give up fast, and one
asyncio client per event loop, closed on its own loop."""

from __future__ import annotations

import asyncio
import gc
import socket
import subprocess
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio
from hypothesis import given
from hypothesis import strategies as st

import chatlane
from chatlane._redis import (
    INSTALL_HINT,
    PerLoop,
    aconnect,
    check_url,
    connect,
    guard_secrets,
    import_redis,
    redact,
    scrub,
    secrets_of,
)
from chatlane.budget.redis_budget import RedisBudget
from chatlane.cache.redis_store import RedisStore
from chatlane.ratelimit.limits import RateLimit
from chatlane.ratelimit.redis_limiter import RedisLimiter

pytestmark = pytest.mark.redis

PASSWORD = "Pa55word-of-the-redis-support-tests"


@pytest.fixture
def silent(tmp_path: Path) -> Iterator[tuple[str, list[socket.socket]]]:
    """A unix socket that accepts connections and never answers: the URL, and the
    connections accepted so far (one per try of redis-py)."""
    path = tmp_path / "silent.sock"
    accepted: list[socket.socket] = []
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(16)
    listener.settimeout(0.05)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"unix://{path}", accepted
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


# -- importing redis-py ----------------------------------------------------------------------


def test_without_redis_py_the_error_names_the_piece_and_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(chatlane.ConfigurationError) as caught:
        import_redis("RedisThing")
    assert str(caught.value) == f"RedisThing needs redis-py: {INSTALL_HINT}"
    assert INSTALL_HINT == "pip install 'chatlane[redis]'"


def test_importing_the_module_does_not_import_redis() -> None:
    code = "import sys, chatlane._redis; assert 'redis' not in sys.modules, 'redis was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_import_redis_gives_redis_py() -> None:
    assert import_redis("RedisThing") is redis


# -- URLs and their secrets ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        (f"redis://user:{PASSWORD}@host:6380/2", "redis://user:***@host:6380/2"),
        (f"redis://:{PASSWORD}@host/0", "redis://:***@host/0"),
        (f"rediss://{PASSWORD}@host", "rediss://***@host"),  # a bare user part may be one
        (f"unix://:{PASSWORD}@/run/redis.sock?db=1", "unix://:***@/run/redis.sock?db=1"),
        (
            f"unix:///run/redis.sock?db=0&password={PASSWORD}#top",
            "unix:///run/redis.sock?db=0&password=***",  # a "#" may be in the password
        ),
        (f"redis://host/0?PassWord={PASSWORD}", "redis://host/0?PassWord=***"),
        (f"redis://host/0?pass%77ord={PASSWORD}", "redis://host/0?pass%77ord=***"),
        # Unescaped "@" and "/" in the password: everything up to the last "@" is masked.
        ("redis://user:p@ss/w0rd@host:1/0", "redis://user:***@host:1/0"),
        # An "@" in the query's password; "?", "#" and "@" in the address's.
        ("unix:///run/redis.sock?password=top@secret", "unix:///run/redis.sock?password=***"),
        ("redis://:top?secret@host/0?password=more", "redis://:***@host/0?password=***"),
        ("redis://:Zx?9#k@Lm@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://host/0?db=0?password=more", "redis://host/0?db=0?password=***"),
        # Not URLs redis-py takes, masked all the same.
        (f"http://user:{PASSWORD}@host/0", "http://user:***@host/0"),
        (f"redis://:{PASSWORD}@[::1/0", "redis://:***@[::1/0"),
        (f":{PASSWORD}@host", ":***@host"),
    ],
)
def test_redact_masks_the_passwords_of_the_address_and_the_query(url: str, shown: str) -> None:
    assert redact(url) == shown


PRINTABLE = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=8)


@given(address=PRINTABLE, query=PRINTABLE)
def test_no_password_survives_redact_whatever_it_holds(address: str, query: str) -> None:
    # The address's password as typed, even unescaped, but without "=" (a "&password=" in
    # it would read as the query's); the query's without "&" (which ends it for redis-py
    # too). "pw-" marks where each starts.
    address, query = "pw-" + address.replace("=", "%3D"), "pw-" + query.replace("&", "%26")
    for url in (
        f"redis://user:{address}@host:6379/0",
        f"redis://:{address}@host/0?db=1&password={query}",
        f"unix://:{address}@/run/redis.sock?password={query}",
        f"unix:///run/redis.sock?password={query}",
    ):
        assert "pw-" not in redact(url), url


def test_secrets_of_gives_each_password_as_written_and_decoded_longest_first() -> None:
    url = "redis://user:p%40ss-word-1@host/0?password=second%2Bone&db=0"
    assert secrets_of(url) == ("p%40ss-word-1", "p@ss-word-1", "second+one")
    assert secrets_of("redis://host/0") == ()
    assert secrets_of("redis://user@host/0") == ()
    unparsable = f"redis://:{PASSWORD}@[::1/0"
    assert secrets_of(unparsable) == (unparsable,)


def test_scrub_masks_every_secret() -> None:
    secrets = secrets_of(f"redis://:{PASSWORD}@host/0?password=other-secret")
    text = f"AUTH {PASSWORD} failed, then other-secret, then {PASSWORD}"
    assert scrub(text, secrets) == "AUTH *** failed, then ***, then ***"
    assert scrub("nothing to hide", ()) == "nothing to hide"


def test_check_url_returns_a_url_redis_py_takes() -> None:
    url = f"unix://:{PASSWORD}@/run/redis.sock?db=3"
    assert check_url(redis, url) == url
    assert check_url(redis, "REDIS://localhost") == "REDIS://localhost"


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        (6379, chatlane.UsageError, "url must be a str"),
        (b"redis://localhost", chatlane.UsageError, "url must be a str"),
        (f"http://user:{PASSWORD}@host/0", chatlane.ConfigurationError, "must start with"),
        (f"redis:{PASSWORD}@host", chatlane.ConfigurationError, "must start with"),
        (f"redis://:{PASSWORD}@host:port/0", chatlane.ConfigurationError, "not a valid"),
        (
            f"redis://:{PASSWORD}@host/0?socket_timeout=soon",
            chatlane.ConfigurationError,
            "socket_timeout",
        ),
    ],
)
def test_check_url_errors_never_show_the_password(
    url: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        check_url(redis, url)
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))
    if isinstance(url, str):
        assert redact(url) in str(caught.value)


def test_guard_secrets_hides_the_password_from_errors_while_its_holder_lives() -> None:
    class Holder:
        pass

    holder = Holder()
    url = f"redis://:{PASSWORD}@host/0"
    assert guard_secrets(url, holder) == (PASSWORD,)
    assert PASSWORD not in str(chatlane.ChatlaneError(f"it said {PASSWORD}"))
    del holder
    gc.collect()
    assert PASSWORD in str(chatlane.ChatlaneError(f"it said {PASSWORD}"))


def test_each_piece_hides_its_password_from_its_repr_and_every_error() -> None:
    url = f"redis://user:{PASSWORD}@localhost:1/0"
    store = RedisStore(url)
    limiter = RedisLimiter(url)
    budget = RedisBudget(url, name="team", usd=1)
    for piece in (store, limiter, budget):
        assert PASSWORD not in repr(piece)
        assert "user:***@" in repr(piece)
    # Registered while the pieces live: no chatlane error, whoever makes it, shows it.
    assert PASSWORD not in str(chatlane.ChatlaneError(f"echoed {PASSWORD}"))
    store.close()
    limiter.close()
    budget.close()


# -- clients ---------------------------------------------------------------------------------


def test_connect_makes_a_client_that_gives_up_fast(redis_url: str) -> None:
    client = connect(redis_url, timeout=0.5)
    try:
        assert client.ping()
        options = client.connection_pool.connection_kwargs
        assert (options["socket_timeout"], options["socket_connect_timeout"]) == (0.5, 0.5)
        assert options["retry"].get_retries() == 0
        assert not isinstance(client.connection_pool, redis.BlockingConnectionPool)
    finally:
        client.close()


def test_connect_with_max_connections_makes_a_blocking_pool(redis_url: str) -> None:
    client = connect(redis_url, timeout=0.5, retries=2, max_connections=3)
    try:
        pool = client.connection_pool
        assert isinstance(pool, redis.BlockingConnectionPool)
        assert (pool.max_connections, pool.timeout) == (3, 0.5)
        assert pool.connection_kwargs["retry"].get_retries() == 2
        client.set("k", b"v")
        assert client.get("k") == b"v"
    finally:
        client.close()


@pytest.mark.parametrize("retries", [0, 2])
def test_a_silent_redis_costs_one_timeout_per_try(
    silent: tuple[str, list[socket.socket]], retries: int
) -> None:
    url, accepted = silent
    client = connect(url, timeout=0.1, retries=retries)
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        client.ping()
    elapsed = time.monotonic() - started
    client.close()
    deadline = time.monotonic() + 2
    while len(accepted) < retries + 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(accepted) == retries + 1  # redis-py tried exactly 1 + retries times
    assert 0.1 * (retries + 1) <= elapsed < 0.1 * (retries + 1) + 1


@pytest.mark.asyncio
async def test_aconnect_makes_an_asyncio_client_alike(redis_url: str) -> None:
    client = aconnect(redis_url, timeout=0.5, retries=1)
    try:
        assert await client.ping()
        options = client.connection_pool.connection_kwargs
        assert options["socket_timeout"] == 0.5
        assert options["retry"].get_retries() == 1
    finally:
        await client.aclose()
    pooled = aconnect(redis_url, timeout=0.5, max_connections=2)
    try:
        assert isinstance(pooled.connection_pool, redis.asyncio.BlockingConnectionPool)
        assert pooled.connection_pool.max_connections == 2
        assert await pooled.ping()
    finally:
        await pooled.aclose()


@pytest.mark.parametrize("make", [connect, aconnect])
def test_a_url_the_pool_refuses_is_a_configuration_error_without_its_password(
    make: Callable[..., object],
) -> None:
    url = f"redis://:{PASSWORD}@localhost/0?socket_timeout=soon"
    with pytest.raises(chatlane.ConfigurationError, match="socket_timeout") as caught:
        make(url, timeout=1.0)
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))
    assert redact(url) in str(caught.value)


# -- one client per event loop ---------------------------------------------------------------


class Made:
    """A stand-in for a client: which loop made it, and whether it was closed on it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.closed_on: asyncio.AbstractEventLoop | None = None

    async def aclose(self) -> None:
        self.closed_on = asyncio.get_running_loop()


def test_each_loop_gets_its_own_value_closed_when_the_loop_shuts_down() -> None:
    per_loop: PerLoop[Made] = PerLoop(Made.aclose)

    async def twice() -> tuple[Made, Made]:
        return await per_loop.get(Made), await per_loop.get(Made)

    first, again = asyncio.run(twice())
    second, _ = asyncio.run(twice())
    assert first is again  # one per loop
    assert second is not first
    # asyncio.run's shutdown_asyncgens() closed each on its own loop.
    assert first.closed_on is first.loop
    assert second.closed_on is second.loop


@pytest.mark.asyncio
async def test_aclose_closes_the_running_loops_value_and_the_next_get_makes_another() -> None:
    per_loop: PerLoop[Made] = PerLoop(Made.aclose)
    await per_loop.aclose()  # nothing made yet: nothing to do
    first = await per_loop.get(Made)
    await per_loop.aclose()
    assert first.closed_on is asyncio.get_running_loop()
    await per_loop.aclose()  # idempotent
    second = await per_loop.get(Made)
    assert second is not first
    assert second.closed_on is None
    await per_loop.aclose()
    assert second.closed_on is not None


def test_threads_with_their_own_loops_get_their_own_values() -> None:
    per_loop: PerLoop[Made] = PerLoop(Made.aclose)
    made: list[Made] = []

    def run() -> None:
        made.append(asyncio.run(per_loop.get(Made)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(value) for value in made}) == 4
    assert all(value.closed_on is value.loop for value in made)


def test_an_owner_passing_its_own_method_is_not_kept_alive() -> None:
    class Owner:
        def __init__(self) -> None:
            self.clients: PerLoop[Made] = PerLoop(Made.aclose)

        def make(self) -> Made:
            return Made()

    async def use(owner: Owner) -> Made:
        return await owner.clients.get(owner.make)

    async def main() -> None:
        owner = Owner()
        await use(owner)
        gone = weakref.ref(owner)
        del owner
        assert gone() is None  # freed at once, without waiting for a garbage collection

    asyncio.run(main())


def test_real_clients_are_closed_on_their_loops(redis_url: str) -> None:
    # An unclosed redis.asyncio client is a ResourceWarning, an error in this test suite.
    per_loop: PerLoop[redis.asyncio.Redis] = PerLoop(lambda client: client.aclose())

    async def ping() -> bool:
        client = await per_loop.get(lambda: aconnect(redis_url, timeout=1.0))
        return bool(await client.ping())

    assert asyncio.run(ping())
    assert asyncio.run(ping())


def test_the_limiter_and_the_budget_work_from_one_loop_after_another(redis_url: str) -> None:
    limiter = RedisLimiter(redis_url, on_error="raise")
    budget = RedisBudget(redis_url, name="loops", usd=1.0)

    async def spend() -> float:
        await limiter.atry_acquire("key", RateLimit(requests_per_minute=600), tokens=1)
        reservation = await budget.areserve("gpt-4o", 0.1, 10)
        await budget.asettle(reservation, 0.1, 10)
        return (await budget.astate()).spent_usd

    # Each asyncio.run is a new loop: each gets its own clients, closed when it ends.
    assert asyncio.run(spend()) == pytest.approx(0.1)
    assert asyncio.run(spend()) == pytest.approx(0.2)
    limiter.close()
    budget.close()
