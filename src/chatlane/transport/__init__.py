"""Transports move bytes and nothing else; they are the only code that touches sockets."""

from chatlane.transport.base import (
    AsyncResponse,
    AsyncTransport,
    HTTPRequest,
    SyncResponse,
    SyncTransport,
)
from chatlane.transport.memory import MemoryResponse, MemoryTransport

__all__ = [
    "AsyncResponse",
    "AsyncTransport",
    "HTTPRequest",
    "MemoryResponse",
    "MemoryTransport",
    "SyncResponse",
    "SyncTransport",
]
