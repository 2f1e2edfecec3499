"""The ``driver`` and ``make_driver`` fixtures live in ``tests/conftest.py`` (shared with
``tests/structured``); ``MakeDriver`` stays importable from here. ``raw_server`` is a bare
loopback socket for answers no HTTP server library would send."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.client.drivers import MakeDriver

__all__ = ["MakeDriver", "RawServer"]

Answer = bytes | Callable[[socket.socket], None]
RawServer = Callable[[Answer], str]


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    """``raw_server(answer)`` starts a loopback socket and returns its base URL. Every
    request read from it gets ``answer``: those bytes, or whatever the function given
    writes to the connection; then the connection closes."""
    sockets: list[socket.socket] = []

    def serve(answer: Answer) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        sockets.append(listener)
        respond = answer if callable(answer) else lambda connection: connection.sendall(answer)

        def run() -> None:
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:
                    return
                with connection:
                    connection.recv(65536)
                    respond(connection)

        threading.Thread(target=run, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/v1"

    yield serve
    for listener in sockets:
        listener.close()
