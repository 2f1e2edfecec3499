"""``python -m chatlane.testing`` / ``chatlane-fake-server``: the fake server from a shell.

Prints one line with the base URL, answers every chat request with the default echo reply,
and exits 0 on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from chatlane.testing.server import FakeServer

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatlane-fake-server",
        description="Serve chatlane's fake OpenAI-compatible API until interrupted.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key", default=None, help="require this key (Bearer or api-key header)"
    )
    parser.add_argument(
        "--model", default="fake-model", help="model listed by /models (default: %(default)s)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake server in the foreground; returns the exit code."""
    args = _parser().parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = FakeServer(args.host, args.port, api_key=args.api_key, model=args.model)
        try:
            server.start()
        except OSError as exc:
            print(
                f"chatlane-fake-server: cannot listen on {args.host}:{args.port}: {exc}",
                file=sys.stderr,
            )
            return 1
        try:
            print(f"chatlane fake server listening on {server.url}", flush=True)
            # A timed wait: the main thread wakes regularly, so signal handlers run promptly.
            while not stop.wait(0.2):
                pass
        finally:
            server.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
