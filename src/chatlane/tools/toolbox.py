"""``Toolbox``: the tools offered to a model, and running the calls it makes.

::

    box = Toolbox([get_weather, lookup], tool_timeout=30)
    reply = client.chat(model=model, messages=messages, tools=box.definitions())
    message = reply.assistant_message()
    results = box.run_many(message.tool_calls or [])
    messages += [message, *(result.message() for result in results)]

Running never raises for what the model or a tool did: an unknown tool, invalid arguments, an
exception, a timeout all become error results whose text tells the model what went wrong.
Only misuse raises (a call that is not a tool call, a bad option).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from chatlane.core.errors import UsageError
from chatlane.tools.definition import Tool
from chatlane.tools.errors import ToolDefinitionError
from chatlane.tools.execution import (
    CallLike,
    Invocation,
    prepare,
    read_call,
    run_in_tasks,
    run_in_threads,
)
from chatlane.tools.result import ToolResult

__all__ = ["Toolbox"]


class Toolbox:
    """A set of tools with unique names, and the runner of their calls.

    ``tool_timeout`` (seconds, None for no limit) applies to each call of a tool that has no
    ``tool_timeout`` of its own. At most ``max_concurrency`` calls run at once in ``run_many`` and
    ``arun_many``. Plain functions given to the toolbox are wrapped with :func:`tool`.

    A synchronous tool that exceeds its timeout cannot be stopped (Python has no way to kill
    a thread): its result is a timeout error at once, its concurrency slot goes to the next
    call, and the function keeps running in a daemon thread until it returns (the interpreter
    does not wait for it at exit). Asynchronous tools are cancelled at their timeout.
    """

    def __init__(
        self,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        *,
        tool_timeout: float | None = 60.0,
        max_concurrency: int = 8,
    ) -> None:
        if tool_timeout is not None and not (
            isinstance(tool_timeout, int | float) and tool_timeout > 0
        ):
            raise UsageError(
                f"tool_timeout must be a positive number of seconds or None, not {tool_timeout!r}"
            )
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise UsageError(
                f"max_concurrency must be an int, not {type(max_concurrency).__name__}"
            )
        if max_concurrency < 1:
            raise UsageError(f"max_concurrency must be at least 1, not {max_concurrency}")
        self.tool_timeout = None if tool_timeout is None else float(tool_timeout)
        self.max_concurrency = max_concurrency
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, tool_or_function: Tool | Callable[..., Any]) -> Tool:
        """Add a tool (a plain function is made one with :func:`tool`) and return it."""
        added = tool_or_function if isinstance(tool_or_function, Tool) else Tool(tool_or_function)
        if added.name in self._tools:
            raise ToolDefinitionError(
                f"a tool named {added.name!r} is already in the toolbox; tool names must be unique"
            )
        self._tools[added.name] = added
        return added

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        """Tool names in the order the tools were added."""
        return list(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __repr__(self) -> str:
        return f"Toolbox({self.names!r})"

    def definitions(self) -> list[dict[str, Any]]:
        """The request's ``tools=`` value: one definition per tool (``[]`` when empty)."""
        return [tool.definition() for tool in self._tools.values()]

    def run(self, call: CallLike) -> ToolResult:
        """Run one call and return its result (blocking; async tools get a loop of their own)."""
        return self.run_many([call])[0]

    async def arun(self, call: CallLike) -> ToolResult:
        """Run one call on the running loop (sync tools in a thread)."""
        return (await self.arun_many([call]))[0]

    def run_many(self, calls: Sequence[CallLike]) -> list[ToolResult]:
        """Run calls concurrently in threads; results in the order of ``calls``.

        Each call is bounded by its timeout, counted from when it starts running; at most
        ``max_concurrency`` run at once. Returns when every call has a result, without
        waiting for threads of timed-out synchronous tools.
        """
        return run_in_threads(self._prepare(calls), self.max_concurrency)

    async def arun_many(self, calls: Sequence[CallLike]) -> list[ToolResult]:
        """Run calls concurrently on the running loop; results in the order of ``calls``.

        Async tools run as tasks, sync tools in threads; each call is bounded by its timeout,
        at most ``max_concurrency`` at once. If the awaiting task is cancelled, the running
        tools are cancelled too and ``CancelledError`` propagates.
        """
        return await run_in_tasks(self._prepare(calls), self.max_concurrency)

    def _prepare(self, calls: Sequence[CallLike]) -> list[Invocation | ToolResult]:
        if isinstance(calls, str | bytes | Mapping) or not isinstance(calls, Sequence):
            raise UsageError(
                f"calls must be a sequence of tool calls, not {type(calls).__name__}"
                " (use run() / arun() for a single call)"
            )
        # Read every call before running any: a malformed one raises with nothing started.
        read = [read_call(call) for call in calls]
        return [prepare(call, self._tools, self.tool_timeout) for call in read]
