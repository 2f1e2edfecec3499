"""Run one structured scenario through the sync or the async client (each test runs both)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import chatlane
from chatlane.structured import Parsed
from tests.client import drivers


@dataclass
class StreamRun:
    partials: list[Any] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    """The stream's ``attempt`` at each partial."""
    result: Parsed[Any] | None = None
    error: chatlane.ChatlaneError | None = None


class Driver(drivers.Driver):
    """The client driver, plus ``parse`` and ``parse_stream``."""

    def parse(self, **params: Any) -> Parsed[Any]:
        result: Parsed[Any] = self.call("parse", **params)
        return result

    def parse_stream(self, **params: Any) -> StreamRun:
        """Collect the partials and the result; a chatlane error is captured, not raised."""
        if self.mode == "async":
            return asyncio.run(self._aparse_stream(params))
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

    async def _aparse_stream(self, params: dict[str, Any]) -> StreamRun:
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


MakeDriver = Callable[..., Driver]
"""The ``make_driver`` fixture here (``tests/conftest.py``, with this package's driver)."""
