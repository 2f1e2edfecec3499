"""The middleware seam: pieces around one request and around each attempt.

A call goes through the client like this (outermost first)::

    caller
      └─ around_request  (each piece, in the order given)   once per call
           └─ retries    (the client: the one retry owner)
                └─ around_attempt (each piece, in order)    once per attempt
                     └─ transport (send, read)

Pieces that decide about the whole call (a cache, a fallback over targets, a telemetry span)
go around the request; pieces that must see every attempt (a budget reservation, a rate
limit, a telemetry event) go around the attempt.

Each method is a generator function written once for the sync and the async client: it runs
the rest of the call with ``yield from proceed(call)`` and returns the completion (for a
stream: the completion accumulated at its end, after every chunk reached the caller). Code
before that line runs before the rest of the call, code after it afterwards; an error of
the rest of the call is raised at that line. A piece may wait without blocking an event
loop by yielding ``Sleep(seconds)`` (from ``chatlane.middleware``), may skip ``proceed`` and
return a completion of its own, and may call ``proceed`` with another ``Call``.
When a caller abandons a stream, ``GeneratorExit`` is raised at the ``yield from`` line:
clean up in ``finally`` without yielding.

The ``Call`` says what is being sent (``params``, ``provider``, ``model``, ``stream``), how
far it got (``attempts``, ``delivered``) and what the latest response said (``status``,
``headers``). Pieces must not retry: the client owns retries.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeAlias

from chatlane._call.call import Call
from chatlane._call.steps import Step
from chatlane.core.types import ChatCompletion

__all__ = ["Flow", "Middleware", "Proceed", "layered"]

Flow: TypeAlias = Generator[Step, Any, ChatCompletion]
"""The rest of a call: yields steps for the client to carry out, returns the completion."""

Proceed: TypeAlias = Callable[[Call], Flow]


class Middleware:
    """Base class of pieces around requests and attempts; override one method or both."""

    def around_request(self, call: Call, proceed: Proceed) -> Flow:
        """Runs once per call, outside the retries."""
        return (yield from proceed(call))

    def around_attempt(self, call: Call, proceed: Proceed) -> Flow:
        """Runs once per attempt, inside the retries (``call.attempts`` is its number)."""
        return (yield from proceed(call))


def layered(pieces: tuple[Middleware, ...], around: str, inner: Proceed) -> Proceed:
    """``inner`` wrapped in each piece's ``around`` method, the first piece outermost.

    Pieces that do not override the method are left out, so they cost nothing there.
    """
    for piece in reversed(pieces):
        method = getattr(type(piece), around)
        if method is not getattr(Middleware, around):
            inner = _wrap(getattr(piece, around), inner)
    return inner


def _wrap(method: Callable[[Call, Proceed], Flow], inner: Proceed) -> Proceed:
    def proceed(call: Call) -> Flow:
        return method(call, inner)

    return proceed
