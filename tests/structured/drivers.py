"""Run one structured scenario through the sync or the async client (each test runs both)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import chatlane
from chatlane.structured import Parsed


@dataclass
class StreamRun:
    partials: list[Any] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    """The stream's ``attempt`` at each partial."""
    result: Parsed[Any] | None = None
    error: chatlane.ChatlaneError | None = None


class Driver:
    """``parse`` and ``parse_stream`` with the same results, whichever client runs them."""

    def __init__(self, mode: str, **client_options: Any) -> None:
        self.mode = mode
        self.options = client_options

    def __repr__(self) -> str:
        return self.mode

    def parse(self, **params: Any) -> Parsed[Any]:
        if self.mode == "sync":
            with chatlane.Client(**self.options) as client:
                return client.parse(**params)
        return asyncio.run(self._aparse(params))

    async def _aparse(self, params: dict[str, Any]) -> Parsed[Any]:
        async with chatlane.AsyncClient(**self.options) as client:
            return await client.parse(**params)

    def parse_stream(self, **params: Any) -> StreamRun:
        """Collect the partials and the result; a chatlane error is captured, not raised."""
        if self.mode == "async":
            return asyncio.run(self._astream(params))
        run = StreamRun()
        with chatlane.Client(**self.options) as client:
            try:
                with client.parse_stream(**params) as stream:
                    for partial in stream:
                        run.partials.append(partial)
                        run.attempts.append(stream.attempt)
                    run.result = stream.final()
            except chatlane.ChatlaneError as exc:
                run.error = exc
        return run

    async def _astream(self, params: dict[str, Any]) -> StreamRun:
        run = StreamRun()
        async with chatlane.AsyncClient(**self.options) as client:
            try:
                async with client.parse_stream(**params) as stream:
                    async for partial in stream:
                        run.partials.append(partial)
                        run.attempts.append(stream.attempt)
                    run.result = await stream.final()
            except chatlane.ChatlaneError as exc:
                run.error = exc
        return run
