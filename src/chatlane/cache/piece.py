"""The response cache around each request (outside the retries and fallbacks).

A request whose answer is deterministic (``temperature=0`` or a ``seed``; any request when
``Cache(sampled=True)`` or the call passes ``cache=True``) is looked up by its key
(:mod:`chatlane.cache.keys`). A hit returns the stored completion with ``cached=True`` (for a
stream: its chunks replayed, the summary saying ``cached``); a miss makes the call, once per
key at a time in this process, and stores the answer. Errors, answers that ended in an
error (``finish_reason="error"``) and cut-off answers (``finish_reason="length"``) are never
stored (the last unless ``Cache(truncated=True)``); callers waiting for the same key get a
cut-off answer all the same (they would get it again), not a failed one.
A broken store is a miss, never a failed call (the stores see to that).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec

from chatlane._call.call import Call
from chatlane._call.layers import Flow, Middleware, Proceed
from chatlane._call.steps import Deliver, Io
from chatlane.cache.entries import decode_entry, encode_entry, replay_chunks
from chatlane.cache.flights import Flights, caller
from chatlane.cache.keys import cache_key
from chatlane.cache.store import CacheStore, check_ttl
from chatlane.core.errors import ConfigurationError, UsageError
from chatlane.core.stream import StreamDecoder
from chatlane.core.types import ChatCompletion

__all__ = ["Cache", "CachePiece"]

_TRUNCATED = frozenset({"length", "model_length"})
_FAILED = frozenset({"error"})  # Mistral's and OpenRouter's: the answer broke off


@dataclass(frozen=True)
class Cache:
    """How a client caches answers: ``Client(cache=chatlane.Cache(...))``.

    - ``store``: where entries live (None: an in-memory LRU of 64 MiB); ``MemoryStore``,
      ``SqliteStore`` (survives restarts, shared by processes on one machine) or
      ``RedisStore`` (shared by machines).
    - ``ttl``: seconds an entry lives (None: the store's default).
    - ``sampled``: also cache requests sampled at a temperature above 0 without a seed.
    - ``truncated``: also cache answers cut off at the token limit.
    - ``namespace``: part of every key (bump it to start an empty cache).
    """

    store: CacheStore | None = None
    ttl: float | None = None
    sampled: bool = False
    truncated: bool = False
    namespace: str = ""
    _flights: Flights = field(default_factory=Flights, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.store is None:
            from chatlane.cache.memory import MemoryStore

            object.__setattr__(self, "store", MemoryStore())
        elif not isinstance(self.store, CacheStore):
            raise ConfigurationError(
                f"Cache.store: expected a cache store (MemoryStore, SqliteStore, RedisStore),"
                f" got {type(self.store).__name__}"
            )
        try:
            check_ttl(self.ttl, "Cache.ttl")
        except UsageError as exc:  # what the stores would refuse only after a paid call
            raise ConfigurationError(str(exc)) from None

    @classmethod
    def coerce(cls, value: object) -> Cache | None:
        """What ``Client(cache=...)`` takes: a Cache, a store, True (in memory) or None."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, Cache):
            return value
        if isinstance(value, CacheStore):
            return cls(store=value)
        raise ConfigurationError(
            f"cache: expected chatlane.Cache, a cache store or True, got {type(value).__name__}"
        )


class CachePiece(Middleware):
    """The cache as a piece of the call flow (built by the client from its ``Cache``).

    ``as_received``: the completions reaching the cache are those decoded from their
    response bodies, unchanged (no caller's middleware runs inside it to edit them), so an
    answer is kept as its body was received instead of being encoded again.
    """

    def __init__(self, cache: Cache, *, as_received: bool = True) -> None:
        assert cache.store is not None
        self._cache = cache
        self._store: CacheStore = cache.store
        self._direct = getattr(cache.store, "in_process", False) is True
        self._as_received = as_received

    def around_request(self, call: Call, proceed: Proceed) -> Flow:
        params = call.params
        choice = params.get("cache")
        store, cache = self._store, self._cache
        if choice is False or (
            choice is None
            and not cache.sampled
            and params.get("temperature") != 0
            and params.get("seed") is None
            and params.get("random_seed") is None
        ):
            return (yield from proceed(call))  # not deterministic, and not asked to cache
        key = cache_key(
            call.provider or "", call.request.url, call.wire_model, params, cache.namespace
        )
        if self._direct:
            data = store.get(key)
        else:
            data = yield Io(lambda: store.get(key), lambda: store.aget(key))
        stored = None if data is None else decode_entry(data)
        if stored is not None:
            return (yield from _answer(call, stored))
        flight, leads = cache._flights.join(key, caller())
        if flight is None:  # this thread or task leads it already: it cannot wait for itself
            return (yield from proceed(call))
        if not leads:
            remaining = call.remaining()
            landed = yield Io(lambda: flight.wait(remaining), lambda: flight.await_(remaining))
            answer = None if landed is None else decode_entry(landed)
            if answer is not None:
                return (yield from _answer(call, answer))
            return (yield from proceed(call))  # the leader failed: call for ourselves
        shared = None
        try:
            completion = yield from proceed(call)
            ending = _ending(completion)
            kept = ending is _WHOLE or (ending is _CUT and cache.truncated)
            if kept or (ending is _CUT and flight.awaited):
                shared = entry = self._entry(call, completion)
            if kept:
                if self._direct:
                    store.set(key, entry, cache.ttl)
                else:
                    yield Io(
                        lambda: store.set(key, entry, cache.ttl),
                        lambda: store.aset(key, entry, cache.ttl),
                    )
            return completion
        finally:
            cache._flights.land(key, flight, shared)

    def _entry(self, call: Call, completion: ChatCompletion) -> bytes:
        """The entry for ``completion``: its body as received when that is what it is."""
        answered = call.answered  # the body it came from, unless a fallback's client
        if self._as_received and answered is not None and answered[0] is completion:
            return encode_entry(completion, answered[1])
        return encode_entry(completion)


_WHOLE, _CUT, _BROKEN = "whole", "cut", "broken"


def _ending(completion: ChatCompletion) -> str:
    """How ``completion`` ended: whole; cut off at a token limit (the same request would be
    cut off again); or broken (no choices, or one ended in an error: never kept)."""
    if not completion.choices:
        return _BROKEN
    ending = _WHOLE
    for choice in completion.choices:  # a loop, not any() over a generator: every miss
        reason = choice.finish_reason
        if reason in _FAILED:
            return _BROKEN
        if reason in _TRUNCATED:
            ending = _CUT
    return ending


def _answer(call: Call, stored: ChatCompletion) -> Flow:
    """The stored answer as this call's: whole, or replayed as a stream."""
    if not call.stream:
        return msgspec.structs.replace(
            stored, cached=True, attempts=0, latency=time.perf_counter() - call.started
        )
    decoder = call.decoder = StreamDecoder(call.started, call.context)
    now = time.perf_counter()
    chunks = decoder.replay(replay_chunks(stored, usage=_asked_usage(call)), now)
    call.delivered = True
    yield Deliver(chunks)
    call.ended_at = time.perf_counter()
    completion = decoder.accumulator.completion(latency=call.ended_at - call.started, attempts=0)
    completion.cached = True
    return completion


def _asked_usage(call: Call) -> bool:
    """Whether the stream ends with a usage chunk: asked for by the caller, or, when the
    caller said nothing, by chatlane itself (or sent unasked, as Mistral does)."""
    options = call.params.get("stream_options")
    return True if options is None else bool(options.get("include_usage"))
