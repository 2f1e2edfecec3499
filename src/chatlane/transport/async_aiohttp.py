"""The async transport: aiohttp, by far the fastest async HTTP client measured here.

One ``ClientSession`` per transport, created on first use inside the running loop. Read
timeouts are applied per read with ``asyncio.timeout`` so the first-token and idle limits
can differ within one response. Proxies come from the environment (HTTPS_PROXY,
HTTP_PROXY, NO_PROXY), resolved once per host here: aiohttp's own ``trust_env`` looks them
(and ~/.netrc) up in a worker thread on every request, which halves throughput.
"""

from __future__ import annotations

import asyncio
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
    __slots__ = ("_response", "_slot")

    def __init__(self, response: aiohttp.ClientResponse, slot: _Slot) -> None:
        self._response = response
        self._slot = slot

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
        self._slot.free()
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
            self._slot.free()
        return data

    def drop(self) -> None:
        self._response.close()
        self._slot.free()

    async def close(self) -> None:
        self.drop()


class _Slot:
    """One of the transport's ``max_connections``, held from sending a request until its
    response is released, given back exactly once."""

    __slots__ = ("_slots",)

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots: asyncio.Semaphore | None = slots

    def free(self) -> None:
        if self._slots is not None:
            self._slots.release()
            self._slots = None


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
        self._slots: asyncio.Semaphore | None = None

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
            # Requests wait for a connection here, not inside aiohttp, so that time is told
            # apart from waiting for the server (PoolTimeout, not FirstTokenTimeout).
            self._slots = asyncio.Semaphore(self._max_connections)
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

    async def _answer(
        self, request: HTTPRequest, timeout: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        """The response headers. A request that failed on a reused connection before any
        byte of the answer is sent once more on a new one: the server had closed that idle
        connection (as curl and browsers do; aiohttp does it only for idempotent methods).
        A failure on a new connection is not sent again (the retry policy decides)."""
        made = self._connections_made
        try:
            return await self._request(request, timeout)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            if self._connections_made != made:
                raise
        return await self._request(request, timeout)

    async def fetch(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> Fetched:
        # aiohttp's own socket-read timer bounds each wait for data here: cheaper than an
        # asyncio.timeout per call, and a whole response has no first-token/idle phases.
        timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        answered = False  # once the server has started answering, nothing is sent again
        slot, _ = await self._slot(read_timeout)
        try:
            async with await self._answer(request, timeout) as response:
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
            slot.free()

    async def send(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> AiohttpResponse:
        slot, waited = await self._slot(read_timeout)
        if read_timeout is not None:
            read_timeout -= waited  # the first-token allowance runs from the start
        response = None
        try:
            # The first-token allowance runs from the start of the request, connecting
            # included; aiohttp's own connect timeout still reports a slow connect as such.
            async with asyncio.timeout(read_timeout):
                response = await self._answer(request, self._connect_only(connect_timeout))
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
                slot.free()
        return AiohttpResponse(response, slot)

    async def _slot(self, timeout: float | None) -> tuple[_Slot, float]:
        """A free connection slot, waited for at most ``timeout`` seconds, and the wait."""
        self._get_session()
        slots = self._slots
        assert slots is not None
        if not slots.locked():
            await slots.acquire()  # free: returns at once
            return _Slot(slots), 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(timeout):
                await slots.acquire()
        except TimeoutError:
            raise errors.PoolTimeout(
                f"no free connection within {timeout}s: all {self._max_connections} were in"
                " use (chatlane.Limits(max_connections=...) sets how many)"
            ) from None
        return _Slot(slots), loop.time() - started

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
