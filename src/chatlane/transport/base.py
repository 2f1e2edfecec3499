"""The transport protocol: send one request, read the response whole or piece by piece.

Transports raise only chatlane's transport errors: ``ConnectError`` / ``ConnectTimeout``
while connecting or before the response starts, the generic ``TimeoutError`` when a read
times out (the client knows which phase that was), and ``StreamInterrupted`` when the
connection breaks during the body. Header names are matched case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from chatlane.core.errors import ResponseDecodeError
from chatlane.core.limits import DEFAULT_MAX_RESPONSE_BYTES

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AsyncResponse",
    "AsyncTransport",
    "Fetched",
    "HTTPRequest",
    "SyncResponse",
    "SyncTransport",
    "too_large",
]


def too_large(limit: int) -> ResponseDecodeError:
    """The error for a body past a transport's ``max_response_bytes``."""
    return ResponseDecodeError(
        f"the response body is larger than {limit} bytes"
        " (chatlane.Limits(max_response_bytes=...) lifts it)"
    )


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)  # holds the API key: never shown
    body: bytes | None = None


class Fetched(NamedTuple):
    """A whole response, body read, connection already released."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class SyncResponse(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def read(self, timeout: float | None) -> bytes:
        """The whole (remaining) body; releases the connection for reuse."""
        ...

    def read_chunk(self, timeout: float | None) -> bytes:
        """The next bytes available (waiting at most ``timeout``), b"" at the end."""
        ...

    def close(self) -> None:
        """Stop early: the connection is closed, not reused."""
        ...


class SyncTransport(Protocol):
    def fetch(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> Fetched:
        """Send and read the whole response (``read_timeout`` bounds each wait for data)."""
        ...

    def send(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> SyncResponse:
        """Send and wait for the response headers (at most ``read_timeout`` once connected)."""
        ...

    def close(self) -> None: ...


class AsyncResponse(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    async def read(self, timeout: float | None) -> bytes: ...
    async def read_chunk(self, timeout: float | None) -> bytes: ...
    async def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def fetch(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> Fetched: ...
    async def send(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> AsyncResponse: ...
    async def close(self) -> None: ...
