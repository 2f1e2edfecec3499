"""Single flight: concurrent identical requests in one process make one upstream call.

The first caller of a key leads (it makes the call); the others wait for its answer, in
threads (``wait``) or tasks of any event loop (``await_``). The answer travels as the
cache entry's bytes, so each waiter decodes a reply of its own (one it may change without
changing another caller's). A leader that fails or gives up lands without an answer: the
waiters then make their own calls. A caller that finds its own thread or task leading the
key (a stream it holds open, not read to its end yet) does not wait for itself: it calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

__all__ = ["Flight", "Flights", "caller"]


def caller() -> object:
    """Who is asking: the current task under a running event loop, else the thread."""
    loop = asyncio._get_running_loop()  # the public get_running_loop() raises without one
    if loop is not None:
        return asyncio.current_task(loop)
    return threading.get_ident()


class Flight:
    """One upstream call in progress. Its future is made only when another caller waits
    (most calls have nobody waiting, and a future with its lock and condition costs)."""

    __slots__ = ("_answer", "_landed", "_lock", "_value", "leader")

    def __init__(self, lock: threading.Lock, leader: object) -> None:
        self._lock = lock
        self.leader = leader
        self._answer: concurrent.futures.Future[bytes | None] | None = None
        self._landed = False
        self._value: bytes | None = None

    @property
    def awaited(self) -> bool:
        """Whether another caller waits for this flight's answer (so far)."""
        return self._answer is not None

    def _future(self) -> concurrent.futures.Future[bytes | None]:
        with self._lock:
            if self._answer is None:
                self._answer = concurrent.futures.Future()
                if self._landed:
                    self._answer.set_result(self._value)
            return self._answer

    def wait(self, timeout: float | None) -> bytes | None:
        """The leader's answer as entry bytes; None if it failed or did not land within
        ``timeout``."""
        try:
            return self._future().result(timeout)
        except concurrent.futures.TimeoutError:
            return None

    async def await_(self, timeout: float | None) -> bytes | None:
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(asyncio.wrap_future(self._future()))
        except TimeoutError:
            return None

    def _settle(self, answer: bytes | None) -> concurrent.futures.Future[bytes | None] | None:
        """Record the answer (the caller holds the lock); the future to resolve, if any."""
        if self._landed:
            return None
        self._landed, self._value = True, answer
        return self._answer


class Flights:
    """The flights in progress, by cache key. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, Flight] = {}

    def join(self, key: str, who: object) -> tuple[Flight | None, bool]:
        """The flight for ``key`` and whether ``who`` leads it (makes the call); no flight
        when ``who`` leads it already (it must not wait for itself)."""
        self._lock.acquire()  # not `with`: half the cost, on every call
        try:
            flight = self._open.get(key)
            if flight is not None:
                return (None if flight.leader == who else flight), False
            flight = self._open[key] = Flight(self._lock, who)
            return flight, True
        finally:
            self._lock.release()

    def land(self, key: str, flight: Flight, answer: bytes | None) -> None:
        """End the leader's flight: waiters get ``answer`` (None: call for yourselves)."""
        # one lock for both: the flights' and each flight's
        self._lock.acquire()  # not `with`: half the cost, on every call
        try:
            if self._open.get(key) is flight:
                del self._open[key]
            waiting = flight._settle(answer)
        finally:
            self._lock.release()
        if waiting is not None:
            waiting.set_result(answer)
