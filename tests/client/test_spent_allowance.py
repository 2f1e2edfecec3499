"""A first-token allowance spent while the response headers trickled in is a timeout, not
a broken connection: a socket given a timeout of 0 turns non-blocking instead of timing
out, so the client never hands a transport one."""

from __future__ import annotations

import socket
import time

import pytest

import chatlane
from tests.client.conftest import RawServer
from tests.client.drivers import Driver

HI = [{"role": "user", "content": "Hi"}]


def trickle(connection: socket.socket) -> None:
    """A stream's headers in pieces 40 ms apart (each within a 60 ms read timeout, all of
    them past it), then nothing for two seconds."""
    for piece in (
        b"HTTP/1.1 200 OK\r\n",
        b"content-type: text/event-stream\r\n",
        b"transfer-encoding: chunked\r\n\r\n",
    ):
        connection.sendall(piece)
        time.sleep(0.04)
    time.sleep(2.0)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_allowance_spent_on_the_headers_is_a_first_token_timeout(
    mode: str, raw_server: RawServer
) -> None:
    driver = Driver(
        mode,
        base_url=raw_server(trickle),
        api_key="k",
        max_retries=0,
        timeout=chatlane.Timeout(first_token=0.06),
    )
    run = driver.stream(model="m", messages=HI)
    assert isinstance(run.error, chatlane.FirstTokenTimeout), run.error
