"""Single flight: concurrent identical requests in one process make one upstream call.

The first caller of a key leads (it makes the call); the others wait for its answer, in
threads (``wait``) or tasks of any event loop (``await_``). A leader that fails or gives up
lands without an answer: the waiters then make their own calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

from chatlane.core.types import ChatCompletion

__all__ = ["Flight", "Flights"]


class Flight:
    """One upstream call in progress. Its future is made only when another caller waits
    (most calls have nobody waiting, and a future with its lock and condition costs)."""

    __slots__ = ("_answer", "_landed", "_lock", "_value")

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._answer: concurrent.futures.Future[ChatCompletion | None] | None = None
        self._landed = False
        self._value: ChatCompletion | None = None

    def _future(self) -> concurrent.futures.Future[ChatCompletion | None]:
        with self._lock:
            if self._answer is None:
                self._answer = concurrent.futures.Future()
                if self._landed:
                    self._answer.set_result(self._value)
            return self._answer

    def wait(self, timeout: float | None) -> ChatCompletion | None:
        """The leader's answer; None if it failed or did not land within ``timeout``."""
        try:
            return self._future().result(timeout)
        except concurrent.futures.TimeoutError:
            return None

    async def await_(self, timeout: float | None) -> ChatCompletion | None:
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(asyncio.wrap_future(self._future()))
        except TimeoutError:
            return None

    def land(self, answer: ChatCompletion | None) -> None:
        with self._lock:
            waiting = self._settle(answer)
        if waiting is not None:
            waiting.set_result(answer)

    def _settle(
        self, answer: ChatCompletion | None
    ) -> concurrent.futures.Future[ChatCompletion | None] | None:
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

    def join(self, key: str) -> tuple[Flight, bool]:
        """The flight for ``key`` and whether the caller leads it (makes the call)."""
        self._lock.acquire()  # not `with`: half the cost, on every call
        try:
            flight = self._open.get(key)
            if flight is not None:
                return flight, False
            flight = self._open[key] = Flight(self._lock)
            return flight, True
        finally:
            self._lock.release()

    def land(self, key: str, flight: Flight, answer: ChatCompletion | None) -> None:
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
