"""The async transport: aiohttp, by far the fastest async HTTP client measured here.

One ``ClientSession`` per transport, created on first use inside the running loop. Read
timeouts are applied per read with ``asyncio.timeout`` so the first-token and idle limits
can differ within one response. Proxies come from the environment (HTTPS_PROXY,
HTTP_PROXY, NO_PROXY), resolved once per host here: aiohttp's own ``trust_env`` looks them
(and ~/.netrc) up in a worker thread on every request, which halves throughput.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from chatlane.core import errors
from chatlane.transport.base import DEFAULT_MAX_RESPONSE_BYTES, Fetched, HTTPRequest, too_large

__all__ = ["AiohttpTransport"]

_BROKEN = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, ConnectionError)


class AiohttpResponse:
    __slots__ = ("_response", "_slots")

    def __init__(self, response: aiohttp.ClientResponse, slots: _Slots) -> None:
        self._response = response
        self._slots: _Slots | None = slots  # the connection slot it holds until released

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self, timeout: float | None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                data = await self._response.read()
        except TimeoutError:
            self.drop()
            raise errors.TimeoutError("timed out reading the response body") from None
        except _BROKEN as exc:
            self.drop()
            raise errors.StreamInterrupted(f"connection broke while reading: {exc}") from None
        self._response.release()
        self._free()
        return data

    async def read_chunk(self, timeout: float | None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                data = await self._response.content.readany()
        except TimeoutError:
            self.drop()
            raise errors.TimeoutError("timed out waiting for stream data") from None
        except _BROKEN as exc:
            self.drop()
            raise errors.StreamInterrupted(f"connection broke during the stream: {exc}") from None
        if not data:
            self._response.release()
            self._free()
        return data

    def drop(self) -> None:
        self._response.close()
        self._free()

    def _free(self) -> None:
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.give_back()

    async def close(self) -> None:
        self.drop()


class _Slots:
    """The transport's ``max_connections`` as a count of free ones: a request takes one
    before it is sent and its response gives it back once released. Taking a free one is a
    subtraction (the common case costs nothing); the rest wait in order, timed, so that
    waiting for a connection is told apart from waiting for the server."""

    __slots__ = ("_waiting", "free", "size")

    def __init__(self, size: int) -> None:
        self.size = self.free = size
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    def take_now(self) -> bool:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return True
        return False

    async def take(self, timeout: float | None) -> float:
        """Wait for a slot at most ``timeout`` seconds; the seconds waited."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        turn: asyncio.Future[None] = loop.create_future()
        self._waiting.append(turn)
        try:
            async with asyncio.timeout(timeout):
                await turn
        except TimeoutError:
            if turn.done() and not turn.cancelled():
                self.give_back()  # handed one just as the wait ran out
            else:
                turn.cancel()
            raise errors.PoolTimeout(
                f"no free connection within {timeout}s: all {self.size} were in use"
                " (chatlane.Limits(max_connections=...) sets how many)"
            ) from None
        return loop.time() - started

    def give_back(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes straight to the next in line
                return
        self.free += 1


class AiohttpTransport:
    """Async HTTP over aiohttp. Proxies from the environment; TLS verified. A whole response
    larger than ``max_response_bytes`` after decompression is a ``ResponseDecodeError``."""

    def __init__(
        self,
        *,
        verify: bool = True,
        max_connections: int = 100,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._max_bytes = max_response_bytes
        self._verify = verify
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}
        self._env_proxies = urllib.request.getproxies()
        self._proxy_by_origin: dict[tuple[str, str], str | None] = {}
        self._connections_made = 0
        self._slots = _Slots(max_connections)

    def _proxy(self, url: str) -> str | None:
        if not self._env_proxies:
            return None
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        if origin not in self._proxy_by_origin:
            proxy = self._env_proxies.get(parts.scheme)
            if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
                proxy = None
            self._proxy_by_origin[origin] = proxy
        return self._proxy_by_origin[origin]

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            # ssl=True: aiohttp's default verified context; False turns checks off.
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, ssl=self._verify, socket_factory=self._new_socket
            )
            # Requests wait for a connection in _Slots, not inside aiohttp, so that time is
            # told apart from waiting for the server (PoolTimeout, not FirstTokenTimeout).
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,  # proxies are resolved in _proxy(), once per host
                timeout=aiohttp.ClientTimeout(total=None),
                skip_auto_headers=("User-Agent",),
            )
        return session

    def _new_socket(self, address: tuple[Any, ...]) -> socket.socket:
        # Counting new connections tells a failure on a reused one (see _answer).
        self._connections_made += 1
        family, kind, proto = address[0], address[1], address[2]
        return socket.socket(family=family, type=kind, proto=proto)

    async def _again(
        self,
        request: HTTPRequest,
        timeout: aiohttp.ClientTimeout,
        made: int,
        failure: aiohttp.ClientError,
    ) -> aiohttp.ClientResponse:
        """After a failure before any byte of the answer: a request that went out on a
        reused connection is sent once more on a new one, as the server had closed that idle
        connection (curl and browsers do so; aiohttp only for idempotent methods). One that
        failed on a new connection is not (the retry policy decides): the error is raised."""
        if self._connections_made != made:
            raise failure
        return await self._request(request, timeout)

    async def fetch(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> Fetched:
        # aiohttp's own socket-read timer bounds each wait for data here: cheaper than an
        # asyncio.timeout per call, and a whole response has no first-token/idle phases.
        timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        answered = False  # once the server has started answering, nothing is sent again
        slots = self._slots
        if not slots.take_now():
            await slots.take(read_timeout)
        made = self._connections_made
        try:
            try:
                response = await self._request(request, timeout)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as failure:
                response = await self._again(request, timeout, made, failure)
            async with response:
                answered = True
                limit, declared = self._max_bytes, response.content_length or 0
                if limit is not None and declared > limit:
                    raise too_large(limit)
                if limit is None or (declared and "content-encoding" not in response.headers):
                    body = await response.read()  # size known and within the limit
                else:
                    body = await _capped(response, limit)
                return Fetched(response.status, response.headers, body)
        except aiohttp.ConnectionTimeoutError:
            raise errors.ConnectTimeout("timed out connecting") from None
        except TimeoutError:
            what = "reading the response body" if answered else "waiting for the response"
            raise errors.TimeoutError(f"timed out {what}") from None
        except aiohttp.ClientResponseError as exc:  # aiohttp's parser refused the answer
            raise errors.ResponseDecodeError(
                f"the server's answer is not valid HTTP: {exc.message}"
            ) from None
        except _BROKEN as exc:
            if answered:  # a cut body: never retried, it may have been billed
                raise errors.StreamInterrupted(f"connection broke while reading: {exc}") from None
            raise errors.ConnectError(f"connection failed: {exc}") from None
        finally:
            slots.give_back()

    async def send(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> AiohttpResponse:
        slots = self._slots
        if not slots.take_now():
            waited = await slots.take(read_timeout)
            if read_timeout is not None:
                read_timeout -= waited  # the first-token allowance runs from the start
        response = None
        made = self._connections_made
        timeout = self._connect_only(connect_timeout)
        try:
            # The first-token allowance runs from the start of the request, connecting
            # included; aiohttp's own connect timeout still reports a slow connect as such.
            async with asyncio.timeout(read_timeout):
                try:
                    response = await self._request(request, timeout)
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as failure:
                    response = await self._again(request, timeout, made, failure)
        except aiohttp.ConnectionTimeoutError:
            raise errors.ConnectTimeout("timed out connecting") from None
        except TimeoutError:
            raise errors.TimeoutError("timed out waiting for the response") from None
        except aiohttp.ClientResponseError as exc:  # aiohttp's parser refused the answer
            raise errors.ResponseDecodeError(
                f"the server's answer is not valid HTTP: {exc.message}"
            ) from None
        except _BROKEN as exc:
            raise errors.ConnectError(f"connection failed: {exc}") from None
        finally:
            if response is None:
                slots.give_back()
        return AiohttpResponse(response, slots)

    def _connect_only(self, connect_timeout: float | None) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(connect_timeout)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout)
            self._timeouts[connect_timeout] = timeout
        return timeout

    def _request(
        self, request: HTTPRequest, timeout: aiohttp.ClientTimeout
    ) -> aiohttp.client._RequestContextManager:
        return self._get_session().request(
            request.method,
            request.url,
            data=request.body,
            headers=request.headers,
            timeout=timeout,
            allow_redirects=False,
            proxy=self._proxy(request.url),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body of unknown or compressed size, refused once it passes ``limit`` bytes
    (counted as it inflates, so a small gzip bomb stops early)."""
    pieces: list[bytes] = []
    size = 0
    while piece := await response.content.readany():
        size += len(piece)
        if size > limit:
            raise too_large(limit)
        pieces.append(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)
