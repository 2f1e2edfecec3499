"""The two drivers of the call flow: run its steps until it delivers chunks or returns.

Each takes ``perform``, the client's way of carrying out one step, sends back its result and
throws its chatlane error back in, so the flow decides (retry, give up) in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, TypeVar, cast

from chatlane._call.steps import Deliver, Step
from chatlane.core import errors

__all__ = ["adrive", "arun", "drive", "run"]

T = TypeVar("T")


def drive(
    flow: Generator[Step, Any, T], perform: Callable[[Step], Any], *, pause: bool = True
) -> T | Deliver:
    """Carry out ``flow``'s steps until it returns, or (``pause``) yields ``Deliver``."""
    send: Any = None
    thrown: errors.ChatlaneError | None = None
    while True:
        try:
            step = flow.send(send) if thrown is None else flow.throw(thrown)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        except errors.ChatlaneError as exc:
            send = None
            raise _bare(exc) from exc.__cause__
        if isinstance(step, Deliver):
            if pause:
                return step
            send = None
            continue
        try:
            send, thrown = perform(step), None
        except errors.ChatlaneError as exc:
            send, thrown = None, exc
        except BaseException:
            # Interrupted, or a bug: end the flow now, as a dropped stream is, so the
            # pieces' cleanup (a cache's flight landing, a reservation released) runs at
            # once, not whenever the garbage collector finds the suspended generator.
            flow.close()
            raise


async def adrive(
    flow: Generator[Step, Any, T],
    perform: Callable[[Step], Awaitable[Any]],
    *,
    pause: bool = True,
) -> T | Deliver:
    """``drive`` for the async client: what ``perform`` returns is awaited."""
    send: Any = None
    thrown: errors.ChatlaneError | None = None
    while True:
        try:
            step = flow.send(send) if thrown is None else flow.throw(thrown)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        except errors.ChatlaneError as exc:
            send = None
            raise _bare(exc) from exc.__cause__
        if isinstance(step, Deliver):
            if pause:
                return step
            send = None
            continue
        try:
            send, thrown = await perform(step), None
        except errors.ChatlaneError as exc:
            send, thrown = None, exc
        except BaseException:  # cancelled, interrupted, or a bug: as in drive()
            flow.close()
            raise


def run(flow: Generator[Step, Any, T], perform: Callable[[Step], Any]) -> T:
    """Run a flow that delivers nothing to a caller (``chat()``, ``ping()``) to its result."""
    return cast(T, drive(flow, perform, pause=False))


def arun(
    flow: Generator[Step, Any, T], perform: Callable[[Step], Awaitable[Any]]
) -> Coroutine[Any, Any, T]:
    # A plain function returning adrive's coroutine: one coroutine per call, not two
    # (each object a call allocates costs garbage-collector time under concurrency).
    return cast(Coroutine[Any, Any, T], adrive(flow, perform, pause=False))


def _bare(error: errors.ChatlaneError) -> errors.ChatlaneError:
    """``error`` without the call flow's frames: their locals hold what the server sent,
    which may echo the key, and a traceback printed with locals would show it. The error's
    own text is scrubbed; a suppressed context (a transport's exception, whose frames hold
    the request headers) is dropped."""
    if error.__suppress_context__:
        error.__context__ = None
    return error.with_traceback(None)
