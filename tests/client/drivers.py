"""Run one scenario through the sync or the async client, so every behaviour is tested on both."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import chatlane


@dataclass
class StreamRun:
    chunks: list[chatlane.ChatCompletionChunk] = field(default_factory=list)
    final: chatlane.ChatCompletion | None = None
    summary: chatlane.StreamSummary | None = None
    error: chatlane.ChatlaneError | None = None
    attempts: int = 0


class Driver:
    """Same calls, same results, whichever client runs them."""

    def __init__(self, mode: str, **client_options: Any) -> None:
        self.mode = mode
        self.options = client_options

    def __repr__(self) -> str:
        return self.mode

    def call(self, method: str, **params: Any) -> Any:
        """``client.<method>(**params)`` on a new client of this driver's kind (awaited if async)."""
        if self.mode == "sync":
            with chatlane.Client(**self.options) as client:
                return getattr(client, method)(**params)
        return asyncio.run(self._acall(method, params))

    async def _acall(self, method: str, params: dict[str, Any]) -> Any:
        async with chatlane.AsyncClient(**self.options) as client:
            return await getattr(client, method)(**params)

    def chat(self, **params: Any) -> chatlane.ChatCompletion:
        completion: chatlane.ChatCompletion = self.call("chat", **params)
        return completion

    def ping(self) -> chatlane.PingResult:
        result: chatlane.PingResult = self.call("ping")
        return result

    def stream(self, stop_after: int | None = None, **params: Any) -> StreamRun:
        """Collect a stream; stop early after ``stop_after`` chunks; errors are captured."""
        if self.mode == "async":
            return asyncio.run(self._astream(stop_after, params))
        run = StreamRun()
        with chatlane.Client(**self.options) as client:
            try:
                with client.stream(**params) as stream:
                    for chunk in stream:
                        run.chunks.append(chunk)
                        if stop_after is not None and len(run.chunks) >= stop_after:
                            break
                run.final = stream.final()
                run.summary = stream.summary()
                run.attempts = stream.attempts
            except chatlane.ChatlaneError as exc:
                run.error = exc
        return run

    async def _astream(self, stop_after: int | None, params: dict[str, Any]) -> StreamRun:
        run = StreamRun()
        async with chatlane.AsyncClient(**self.options) as client:
            try:
                async with client.stream(**params) as stream:
                    async for chunk in stream:
                        run.chunks.append(chunk)
                        if stop_after is not None and len(run.chunks) >= stop_after:
                            break
                run.final = await stream.final()
                run.summary = stream.summary()
                run.attempts = stream.attempts
            except chatlane.ChatlaneError as exc:
                run.error = exc
        return run


MakeDriver = Callable[..., Driver]
"""The ``make_driver`` fixture (``tests/conftest.py``): options override the defaults."""
