"""A private redis-server for the tests that need one: started on a unix socket in a
temporary directory, flushed before each test, stopped after the session.

Without a redis-server on PATH those tests are skipped, except under ``CI=true``, where the
run fails (``.ci/run`` installs Debian's redis-server, so missing it there is a defect).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["RedisServer", "redis_server", "redis_url"]


@dataclass
class RedisServer:
    socket: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def flush(self) -> None:
        import redis

        with redis.Redis(unix_socket_path=str(self.socket)) as connection:
            connection.flushall()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_redis(directory: Path) -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; .ci/run installs it", pytrace=False)
        pytest.skip(message)
    socket = directory / "redis.sock"
    options = ["--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700"]
    options += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
    process = subprocess.Popen(
        [binary, *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"redis-server did not start (exit {process.poll()})", pytrace=False)
        time.sleep(0.01)
    return RedisServer(socket, process)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="chatlane-redis-") as directory:
        server = start_redis(Path(directory))
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of an empty private Redis (``unix:///...``), for ``redis.Redis.from_url``."""
    redis_server.flush()
    return redis_server.url
