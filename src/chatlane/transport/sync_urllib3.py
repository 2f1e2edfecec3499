"""The sync transport: urllib3's thread-safe connection pools.

urllib3 keeps connections alive per host, is safe to share across threads and verifies TLS
with certifi/system roots by default. Proxies come from the usual environment variables
(HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as urllib3 does not read them itself.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import urllib3
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from chatlane.core import errors
from chatlane.transport.base import DEFAULT_MAX_RESPONSE_BYTES, Fetched, HTTPRequest, too_large

__all__ = ["Urllib3Transport"]

_READ_SIZE = 65536
M = TypeVar("M", bound=urllib3.PoolManager)


class Urllib3Response:
    __slots__ = ("_response",)

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    def _set_timeout(self, timeout: float | None) -> None:
        connection = self._response.connection
        sock = getattr(connection, "sock", None)
        if isinstance(sock, socket.socket):
            sock.settimeout(timeout)

    def read(self, timeout: float | None, limit: int | None = None) -> bytes:
        """The rest of the body. More than ``limit`` bytes (decompressed) is an error found
        while inflating, before the rest is read; the connection is then dropped."""
        self._set_timeout(timeout)
        try:
            data = self._response.read() if limit is None else self._response.read(limit + 1)
        except ReadTimeoutError:
            self.close()
            raise errors.TimeoutError("timed out reading the response body") from None
        except (ProtocolError, HTTPError, OSError) as exc:
            self.close()
            raise errors.StreamInterrupted(f"connection broke while reading: {exc}") from None
        if limit is not None and len(data) > limit:
            self.close()
            raise too_large(limit)
        self._response.release_conn()
        return data

    def read_chunk(self, timeout: float | None) -> bytes:
        self._set_timeout(timeout)
        try:
            data = self._response.read1(_READ_SIZE)
        except (ReadTimeoutError, TimeoutError):
            self.close()
            raise errors.TimeoutError("timed out waiting for stream data") from None
        except (ProtocolError, HTTPError, OSError) as exc:
            self.close()
            raise errors.StreamInterrupted(f"connection broke during the stream: {exc}") from None
        if not data:
            self._response.release_conn()
        return data

    def close(self) -> None:
        # Closing (not draining) drops a connection whose stream was not read to the end.
        self._response.close()
        self._response.release_conn()


class _Resending:
    """A pool that sends a request once more on a new connection when it failed on a reused
    one before any byte of the answer: the server had closed that idle connection (as curl
    and browsers do). A failure on a new connection is not sent again (the retry policy
    decides)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._taken = threading.local()  # whether this thread's connection was a live one

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        # A kept-alive connection has its socket; a new one (or one found closed) has none yet.
        self._taken.reused = connection.sock is not None
        return connection

    def urlopen(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().urlopen(method, url, *args, **kwargs)  # type: ignore[misc]
        except ProtocolError as exc:
            if not (getattr(self._taken, "reused", False) and _dropped(exc)):
                raise
        return super().urlopen(method, url, *args, **kwargs)  # type: ignore[misc]


class _ResendingHTTPPool(_Resending, HTTPConnectionPool):
    pass


class _ResendingHTTPSPool(_Resending, HTTPSConnectionPool):
    pass


_POOLS: dict[str, type] = {"http": _ResendingHTTPPool, "https": _ResendingHTTPSPool}


def _resending(manager: M) -> M:
    manager.pool_classes_by_scheme = _POOLS
    return manager


class Urllib3Transport:
    """Sync HTTP over urllib3. ``verify=False`` disables TLS checks (never by default).

    A whole response (``fetch``) larger than ``max_response_bytes`` after decompression is a
    ``ResponseDecodeError`` (None: no limit); a compressed body is inflated only that far.
    """

    def __init__(
        self,
        *,
        verify: bool = True,
        max_connections: int = 32,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._max_bytes = max_response_bytes
        self._maxsize = max_connections
        self._cert_reqs = "CERT_REQUIRED" if verify else "CERT_NONE"
        self._direct = _resending(
            urllib3.PoolManager(maxsize=max_connections, block=False, cert_reqs=self._cert_reqs)
        )
        self._proxies: dict[str, urllib3.ProxyManager] = {}
        self._env_proxies = urllib.request.getproxies()

    def _manager(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        proxy = self._env_proxies.get(parts.scheme)
        if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
            return self._direct
        manager = self._proxies.get(proxy)
        if manager is None:
            manager = self._proxies[proxy] = _resending(
                urllib3.ProxyManager(
                    proxy, maxsize=self._maxsize, block=False, cert_reqs=self._cert_reqs
                )
            )
        return manager

    def _open(
        self,
        request: HTTPRequest,
        connect_timeout: float | None,
        read_timeout: float | None,
        *,
        preload: bool,
    ) -> urllib3.BaseHTTPResponse:
        try:
            return self._manager(request.url).urlopen(
                request.method,
                request.url,
                body=request.body,
                headers=dict(request.headers),
                preload_content=preload,
                retries=False,
                redirect=False,
                timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            )
        except NewConnectionError as exc:  # before its base class, ConnectTimeoutError
            raise errors.ConnectError(f"could not connect: {_reason(exc)}") from None
        except ConnectTimeoutError:
            raise errors.ConnectTimeout("timed out connecting") from None
        except ReadTimeoutError:
            raise errors.TimeoutError("timed out waiting for the response") from None
        except (ProtocolError, HTTPError, OSError) as exc:
            if _not_http(exc):  # it answered, with something else: sending again won't help
                raise errors.ResponseDecodeError(
                    f"the server's answer is not valid HTTP: {_reason(exc)}"
                ) from None
            raise errors.ConnectError(f"connection failed: {_reason(exc)}") from None

    def fetch(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> Fetched:
        # The body is read apart from the headers: once the server has started answering, a
        # cut body is a StreamInterrupted (never retried: it may have been billed).
        response = Urllib3Response(
            self._open(request, connect_timeout, read_timeout, preload=False)
        )
        limit, headers = self._max_bytes, response.headers
        declared = _declared(headers)
        if limit is not None and declared > limit:
            response.close()
            raise too_large(limit)
        if declared and "content-encoding" not in headers:
            limit = None  # its size is known and within the limit: the one-read fast path
        body = response.read(read_timeout, limit)
        return Fetched(response.status, response.headers, body)

    def send(
        self, request: HTTPRequest, *, connect_timeout: float | None, read_timeout: float | None
    ) -> Urllib3Response:
        return Urllib3Response(self._open(request, connect_timeout, read_timeout, preload=False))

    def close(self) -> None:
        self._direct.clear()
        for manager in self._proxies.values():
            manager.clear()


def _not_http(exc: BaseException) -> bool:
    """A malformed status line or header, as opposed to a connection closed or reset before
    any answer (which a retry may cure: a pooled connection the server had dropped)."""
    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, http.client.RemoteDisconnected | ConnectionError):
            return False
        if isinstance(inner, http.client.HTTPException | ValueError):
            return True
        inner = inner.__context__ or inner.__cause__
    return False


def _dropped(exc: BaseException) -> bool:
    """Closed or reset by the server before it answered (not a timeout, not bad HTTP)."""
    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, http.client.RemoteDisconnected | ConnectionError):
            return True
        inner = inner.__context__ or inner.__cause__
    return False


def _declared(headers: Mapping[str, str]) -> int:
    length = headers.get("content-length", "")
    return int(length) if length.isdigit() else 0


def _reason(exc: BaseException) -> str:
    # urllib3 messages embed the pool object's repr; the innermost cause reads better.
    inner: BaseException = exc
    while inner.__context__ is not None and not isinstance(inner, ConnectionError):
        inner = inner.__context__
    return str(inner) or type(inner).__name__
