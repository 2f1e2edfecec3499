"""What the call flow asks its driver to do. The flow (``flow.py``) yields these; the sync and
async drivers (``drive.py``) carry them out and send back the result, or throw in the
transport's error. Keeping I/O to these few verbs is what lets one flow serve both clients.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from chatlane.core.types import ChatCompletionChunk
from chatlane.transport.base import HTTPRequest

__all__ = ["Deliver", "Fetch", "Io", "Open", "Read", "ReadChunk", "Release", "Sleep", "Step"]


@dataclass(slots=True)
class Fetch:
    """Send ``request`` and read the whole response -> ``Fetched``."""

    request: HTTPRequest
    connect_timeout: float | None
    read_timeout: float | None
    in_process: bool


@dataclass(slots=True)
class Open:
    """Send ``request`` and wait for the response headers -> a response object."""

    request: HTTPRequest
    connect_timeout: float | None
    read_timeout: float | None
    in_process: bool


@dataclass(slots=True)
class ReadChunk:
    """The next bytes of ``response`` (b"" at its end). Reused across reads of one stream."""

    response: Any
    timeout: float | None


@dataclass(slots=True)
class Read:
    """The rest of ``response``'s body."""

    response: Any
    timeout: float | None


@dataclass(slots=True)
class Release:
    """Close ``response`` (its connection is not reused)."""

    response: Any


@dataclass(slots=True)
class Sleep:
    seconds: float


@dataclass(slots=True)
class Deliver:
    """Hand these chunks to the caller of a stream (the flow resumes when they want more)."""

    chunks: list[ChatCompletionChunk]


@dataclass(slots=True)
class Io:
    """Work a piece does apart from the transport (a shared cache, a limiter, waiting for
    another call): ``run()`` in the sync client, ``arun()`` awaited in the async one -> its
    result. Either may raise only chatlane errors."""

    run: Callable[[], Any]
    arun: Callable[[], Awaitable[Any]]


Step = Fetch | Open | ReadChunk | Read | Release | Sleep | Deliver | Io
