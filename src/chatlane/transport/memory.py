"""An in-memory transport for unit tests: a function answers each request, no sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from chatlane.transport.base import Fetched, HTTPRequest

__all__ = ["MemoryResponse", "MemoryTransport"]


@dataclass(slots=True)
class MemoryResponse:
    """A canned response; ``body`` may be a list of pieces to deliver one read at a time."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    _pieces: list[bytes] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.headers = {name.lower(): value for name, value in self.headers.items()}
        self._pieces = [self.body] if isinstance(self.body, bytes) else list(self.body)
        self._pieces.reverse()

    def _next(self) -> bytes:
        return self._pieces.pop() if self._pieces else b""

    def _rest(self) -> bytes:
        rest = b"".join(reversed(self._pieces))
        self._pieces.clear()
        return rest

    # The sync protocol; the async transport reads through a view of the same object.
    def read(self, timeout: float | None) -> bytes:
        return self._rest()

    def read_chunk(self, timeout: float | None) -> bytes:
        return self._next()

    def close(self) -> None:
        self._pieces.clear()


class _AsyncView:
    __slots__ = ("_response",)

    def __init__(self, response: MemoryResponse) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self, timeout: float | None) -> bytes:
        return self._response.read(timeout)

    async def read_chunk(self, timeout: float | None) -> bytes:
        return self._response.read_chunk(timeout)

    async def close(self) -> None:
        self._response.close()


class MemoryTransport:
    """Calls ``handler(request)`` for every request; records the requests in ``requests``.

    It is a sync transport, for ``chatlane.Client``. An ``AsyncClient`` takes its async face,
    ``transport.as_async()``, which shares the handler and the ``requests`` list::

        transport = MemoryTransport(lambda request: MemoryResponse(body=b'{"choices": []}'))
        client = chatlane.Client(base_url="http://test/v1", transport=transport)
        aclient = chatlane.AsyncClient(base_url="http://test/v1", transport=transport.as_async())
    """

    def __init__(self, handler: Callable[[HTTPRequest], MemoryResponse]) -> None:
        self.handler = handler
        self.requests: list[HTTPRequest] = []

    def send(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> MemoryResponse:
        self.requests.append(request)
        return self.handler(request)

    def fetch(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> Fetched:
        response = self.send(request, connect_timeout=None, read_timeout=None)
        return Fetched(response.status, response.headers, response.read(None))

    def close(self) -> None:
        pass

    def as_async(self) -> AsyncMemoryTransport:
        """This transport for an ``AsyncClient`` (same handler, same ``requests``)."""
        return AsyncMemoryTransport(self)


class AsyncMemoryTransport:
    """The async face of a ``MemoryTransport`` (shares its handler and records)."""

    def __init__(self, inner: MemoryTransport) -> None:
        self.inner = inner

    async def fetch(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> Fetched:
        return self.inner.fetch(request, connect_timeout=None, read_timeout=None)

    async def send(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> _AsyncView:
        response = self.inner.send(request, connect_timeout=None, read_timeout=None)
        return _AsyncView(response)

    async def close(self) -> None:
        pass
