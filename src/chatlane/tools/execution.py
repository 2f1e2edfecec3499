"""Running tool calls with timeouts and bounded concurrency, in threads or in asyncio.

Both worlds share the steps: read the call, find the tool, validate the arguments (all in the
caller, cheap and synchronous), then run the function and turn whatever happens into a
:class:`~chatlane.tools.ToolResult`. Only what the *caller* got wrong raises (a call that is
not a call); whatever the model or a tool did becomes a result.

"Whatever a tool did" includes ``BaseException``s: a tool calling ``sys.exit()`` (or a
library doing it for it) gets a failed result, it does not end the program. Two exceptions
still propagate, because they are the user's or the caller's, not the tool's:
``KeyboardInterrupt`` (wherever it is raised) and an ``asyncio.CancelledError`` that arrives
because the task running the tools is being cancelled. A ``CancelledError`` a tool raises on
its own while nobody cancels the caller is the tool's outcome: a ``cancelled`` result.

Why daemon threads rather than a thread pool: Python cannot stop a running function. When a
synchronous tool outlives its timeout, its thread is abandoned and keeps running until the
function returns. A pool's worker would stay busy (starving later calls), and the interpreter
waits for pool workers at exit; a daemon thread blocks neither. Asynchronous tools are really
cancelled at their timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from chatlane.core.errors import UsageError
from chatlane.core.types import ToolCall
from chatlane.tools import result as results
from chatlane.tools.definition import Tool
from chatlane.tools.errors import ToolArgumentsError
from chatlane.tools.result import ToolResult

__all__ = ["CallLike", "Invocation", "prepare", "read_call", "run_in_tasks", "run_in_threads"]

CallLike = ToolCall | Mapping[str, Any]
"""A tool call: chatlane's ``ToolCall`` or a mapping in the same (OpenAI) shape."""

T = TypeVar("T")

# An async tool run from the threaded path cancels itself at its timeout; the thread waiting
# for it allows this much longer before giving up on a loop that is blocked and cannot cancel.
_ASYNC_GRACE = 1.0


@dataclass(frozen=True)
class Invocation:
    """A call that found its tool and passed validation: ready to run."""

    call_id: str
    tool: Tool
    arguments: dict[str, Any]
    timeout: float | None
    received: float
    """``time.perf_counter()`` when the call was taken, for ``ToolResult.duration``."""

    def elapsed(self) -> float:
        return time.perf_counter() - self.received


def read_call(call: CallLike) -> tuple[str, str, str | Mapping[str, Any]]:
    """``(id, tool name, arguments)`` of a call. Raises ``UsageError`` for a non-call."""
    if isinstance(call, ToolCall):
        return call.id, call.function.name, call.function.arguments
    if not isinstance(call, Mapping):
        raise UsageError(
            f"a tool call must be a chatlane.ToolCall or a mapping, not {type(call).__name__}"
        )
    function = call.get("function")
    call_id = call.get("id")
    if isinstance(function, Mapping) and isinstance(call_id, str):
        name = function.get("name")
        # Some servers send null (or an already parsed object) for the arguments.
        arguments = function.get("arguments") or ""
        if isinstance(name, str) and isinstance(arguments, str | Mapping):
            return call_id, name, arguments
    raise UsageError(
        "a tool call mapping needs the shape"
        " {'id': str, 'function': {'name': str, 'arguments': str}}, got"
        f" {dict(call)!r:.200}"
    )


def prepare(
    call: tuple[str, str, str | Mapping[str, Any]],
    tools: Mapping[str, Tool],
    default_timeout: float | None,
) -> Invocation | ToolResult:
    """The call ready to run, or already its result (unknown tool, invalid arguments)."""
    received = time.perf_counter()
    call_id, name, arguments = call
    tool = tools.get(name)
    if tool is None:
        return results.unknown_tool(call_id, name, tools, time.perf_counter() - received)
    try:
        validated = tool.validate(arguments)
    except ToolArgumentsError as error:
        return results.invalid_arguments(call_id, name, error, time.perf_counter() - received)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # a validator of the tool's own types raised: the tool's bug
        # Validation is synchronous (no await), so even a CancelledError is the validator's.
        return results.failed(call_id, name, error, time.perf_counter() - received)
    timeout = tool.tool_timeout if tool.tool_timeout is not None else default_timeout
    return Invocation(call_id, tool, validated, timeout, received)


def run_in_threads(
    prepared: Sequence[Invocation | ToolResult], max_concurrency: int
) -> list[ToolResult]:
    """Run the invocations, at most ``max_concurrency`` at once; results in input order.

    Each timeout counts from the moment its call starts running, not from when it was queued.
    Returns as soon as every call has a result, leaving timed-out threads behind.
    """
    done: list[ToolResult | None] = [
        item if isinstance(item, ToolResult) else None for item in prepared
    ]
    queue = deque(index for index, item in enumerate(prepared) if isinstance(item, Invocation))
    running: dict[concurrent.futures.Future[ToolResult], tuple[Invocation, int, float]] = {}
    while queue or running:
        while queue and len(running) < max_concurrency:
            index = queue.popleft()
            invocation = prepared[index]
            assert isinstance(invocation, Invocation)
            deadline = _deadline(invocation)
            future = start_thread(functools.partial(_run_blocking, invocation), invocation)
            running[future] = (invocation, index, deadline)
        nearest = min(deadline for _, _, deadline in running.values())
        wait = None if nearest == float("inf") else max(0.0, nearest - time.perf_counter())
        concurrent.futures.wait(
            running, timeout=wait, return_when=concurrent.futures.FIRST_COMPLETED
        )
        now = time.perf_counter()
        for future, (invocation, index, deadline) in list(running.items()):
            if future.done():
                done[index] = future.result()  # raises only a KeyboardInterrupt
            elif now >= deadline:
                # Abandoned: the thread runs on until the function returns, unobserved.
                done[index] = _timed_out(invocation)
            else:
                continue
            del running[future]
    return [result for result in done if result is not None]


class _Interrupted(Exception):
    """Stands in for a tool's ``KeyboardInterrupt`` inside the task group of ``run_in_tasks``."""


async def run_in_tasks(
    prepared: Sequence[Invocation | ToolResult], max_concurrency: int
) -> list[ToolResult]:
    """Run the invocations as asyncio tasks, at most ``max_concurrency`` at once.

    Async tools run on this loop, sync tools in daemon threads. If the awaiting task is
    cancelled, every running tool task is cancelled (and awaited) before the
    ``CancelledError`` propagates. A ``KeyboardInterrupt`` from a tool likewise cancels the
    other tool tasks, then is raised here, in the awaiting task.
    """
    semaphore = asyncio.Semaphore(max_concurrency)
    interrupts: list[KeyboardInterrupt] = []

    async def bounded(invocation: Invocation) -> ToolResult:
        async with semaphore:
            try:
                return await arun_one(invocation)
            except KeyboardInterrupt as interrupt:
                # Raised out of this task it would leave the event loop at once, past the
                # awaiting task, which would be left holding it unretrieved. Stop the group.
                interrupts.append(interrupt)
                raise _Interrupted from None

    tasks: dict[int, asyncio.Task[ToolResult]] = {}
    try:
        async with asyncio.TaskGroup() as group:
            for index, item in enumerate(prepared):
                if isinstance(item, Invocation):
                    tasks[index] = group.create_task(bounded(item), name=f"tool {item.tool.name}")
    except BaseException:
        if interrupts:
            raise interrupts[0] from None
        raise
    return [
        tasks[index].result() if isinstance(item, Invocation) else item
        for index, item in enumerate(prepared)
    ]


async def arun_one(invocation: Invocation) -> ToolResult:
    """Run one invocation on the current loop, bounded by its timeout."""
    tool, call_id = invocation.tool, invocation.call_id
    scope = asyncio.timeout(invocation.timeout)
    try:
        async with scope:
            if tool.is_async:
                value = await tool.function(**invocation.arguments)
            else:
                call = functools.partial(tool.function, **invocation.arguments)
                value = await asyncio.wrap_future(start_thread(call, invocation))
            if inspect.isawaitable(value):  # a sync wrapper that returned a coroutine
                value = await value
        return results.success(call_id, tool.name, value, invocation.elapsed())
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: left alone, it would stop the loop
        if isinstance(error, TimeoutError) and scope.expired():
            return _timed_out(invocation)
        if isinstance(error, asyncio.CancelledError):
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we are being cancelled, not the tool on its own
        return _raised(invocation, error)


def _run_blocking(invocation: Invocation) -> ToolResult:
    """Run one invocation in the current (worker) thread."""
    tool = invocation.tool
    if tool.is_async:
        # A loop of its own, so the tool's own timeout really cancels it.
        return asyncio.run(arun_one(invocation))
    try:
        value = tool.function(**invocation.arguments)
        if inspect.isawaitable(value):  # a sync wrapper that returned a coroutine
            value = asyncio.run(_awaited(value))
        return results.success(invocation.call_id, tool.name, value, invocation.elapsed())
    except KeyboardInterrupt:
        raise  # handed to the caller's thread by the future
    except BaseException as error:  # a CancelledError too: no caller task here, the tool's own
        return _raised(invocation, error)


def _raised(invocation: Invocation, error: BaseException) -> ToolResult:
    """The result of a tool that raised ``error``: ``cancelled`` for a ``CancelledError``."""
    outcome = results.cancelled if isinstance(error, asyncio.CancelledError) else results.failed
    return outcome(invocation.call_id, invocation.tool.name, error, invocation.elapsed())


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _deadline(invocation: Invocation) -> float:
    if invocation.timeout is None:
        return float("inf")
    grace = _ASYNC_GRACE if invocation.tool.is_async else 0.0
    return time.perf_counter() + invocation.timeout + grace


def _timed_out(invocation: Invocation) -> ToolResult:
    timeout = invocation.timeout if invocation.timeout is not None else 0.0
    return results.timed_out(
        invocation.call_id, invocation.tool.name, timeout, invocation.elapsed()
    )


def start_thread(function: Callable[[], T], invocation: Invocation) -> concurrent.futures.Future[T]:
    """Call ``function`` in a new daemon thread (with the caller's context variables).

    The returned future holds its result or exception. Daemon, so that a call nobody waits
    for any more keeps neither the interpreter from exiting nor a pool worker busy.
    """
    future: concurrent.futures.Future[T] = concurrent.futures.Future()
    context = contextvars.copy_context()  # tracing spans and the like follow the call

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            value = context.run(function)
        except BaseException as error:  # handed to whoever waits; a thread has no caller
            future.set_exception(error)
        else:
            future.set_result(value)

    name = f"chatlane-tool-{invocation.tool.name}-{invocation.call_id}"
    threading.Thread(target=target, name=name, daemon=True).start()
    return future
