"""Toolbox: the registry, and running calls into results (never into exceptions)."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import gc
import json
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import pydantic
import pytest

import chatlane
from chatlane.tools import Tool, Toolbox, ToolDefinitionError, ToolResult, tool


def call(name: str, arguments: Any = "", call_id: str = "call_1") -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


@tool
def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    """Current weather for a city."""
    return f"Sunny in {city}, 20 {unit.upper()}"


@tool
def explode(reason: str) -> str:
    raise ValueError(reason)


class Forecast(pydantic.BaseModel):
    city: str
    high: int


@dataclasses.dataclass
class Reading:
    value: float


class Release:
    """Lets slow test tools finish once a test is over, so no thread outlives the run."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def wait(self, seconds: float) -> None:
        self.event.wait(seconds)


@pytest.fixture
def release() -> Iterator[Release]:
    gate = Release()
    yield gate
    gate.event.set()


def test_registry() -> None:
    def lookup(key: str) -> str:
        return key

    box = Toolbox([get_weather, lookup])
    added = box.add(explode)
    assert added is explode
    assert isinstance(box.get("lookup"), Tool)
    assert box.get("missing") is None
    assert box.names == ["get_weather", "lookup", "explode"]
    assert len(box) == 3
    assert [item.name for item in box] == box.names
    assert "lookup" in box
    assert "missing" not in box
    assert [d["function"]["name"] for d in box.definitions()] == box.names
    assert box.definitions()[0] == get_weather.definition()
    assert Toolbox().definitions() == []
    with pytest.raises(ToolDefinitionError, match="'lookup' is already in the toolbox"):
        box.add(lookup)
    with pytest.raises(ToolDefinitionError):
        Toolbox([get_weather, get_weather])


def test_bad_options_raise() -> None:
    with pytest.raises(chatlane.UsageError, match="timeout"):
        Toolbox(tool_timeout=0)
    with pytest.raises(chatlane.UsageError, match="timeout must be a positive number of seconds"):
        Toolbox(tool_timeout="5")  # type: ignore[arg-type]
    with pytest.raises(chatlane.UsageError, match="max_concurrency"):
        Toolbox(max_concurrency=0)
    for bad in (2.0, True):
        with pytest.raises(chatlane.UsageError, match="max_concurrency must be an int"):
            Toolbox(max_concurrency=bad)  # type: ignore[arg-type]


def test_run_a_tool_call_struct_and_a_mapping() -> None:
    box = Toolbox([get_weather])
    struct = chatlane.ToolCall(
        id="call_9",
        function=chatlane.FunctionCall(name="get_weather", arguments='{"city": "Rome"}'),
    )
    result = box.run(struct)
    assert result == ToolResult(
        tool_call_id="call_9",
        name="get_weather",
        content="Sunny in Rome, 20 C",
        is_error=False,
        error_kind=None,
        value="Sunny in Rome, 20 C",
        exception=None,
        duration=result.duration,
    )
    assert 0 < result.duration < 1
    assert result.message() == {
        "role": "tool",
        "tool_call_id": "call_9",
        "content": "Sunny in Rome, 20 C",
    }
    assert box.run(call("get_weather", {"city": "Oslo", "unit": "f"})).content == (
        "Sunny in Oslo, 20 F"
    )
    # Some servers send the arguments as an object, or null for a call without any.
    mapping = {"id": "c", "function": {"name": "get_weather", "arguments": {"city": "Nice"}}}
    assert box.run(mapping).content == "Sunny in Nice, 20 C"
    no_arguments = {"id": "d", "function": {"name": "get_weather", "arguments": None}}
    assert box.run(no_arguments).content == (
        "Error: invalid arguments for get_weather: city: Field required."
        " Call get_weather again with corrected arguments."
    )


def test_return_values_become_text() -> None:
    @tool
    def produce(kind: str) -> Any:
        values: dict[str, Any] = {
            "text": "plain",
            "dict": {"a": [1, 2]},
            "model": Forecast(city="Oslo", high=3),
            "dataclass": Reading(1.5),
            "none": None,
            "object": object,
        }
        return values[kind]

    box = Toolbox([produce])
    contents = {
        kind: box.run(call("produce", {"kind": kind})).content
        for kind in ("text", "dict", "model", "dataclass", "none", "object")
    }
    assert contents == {
        "text": "plain",
        "dict": '{"a":[1,2]}',
        "model": '{"city":"Oslo","high":3}',
        "dataclass": '{"value":1.5}',
        "none": "null",
        "object": "<class 'object'>",
    }
    assert box.run(call("produce", {"kind": "model"})).value == Forecast(city="Oslo", high=3)


def test_unknown_tool() -> None:
    box = Toolbox([get_weather, explode])
    result = box.run(call("foo", "{}"))
    assert result.content == "Error: unknown tool 'foo'. Available tools: get_weather, explode."
    assert (result.is_error, result.error_kind, result.name) == (True, "unknown_tool", "foo")
    assert Toolbox().run(call("foo")).content == "Error: unknown tool 'foo'. Available tools: none."


def test_invalid_arguments() -> None:
    box = Toolbox([get_weather])
    result = box.run(call("get_weather", {"city": "Paris", "unit": "k"}))
    assert result.content == (
        "Error: invalid arguments for get_weather: unit: Input should be 'c' or 'f'."
        " Call get_weather again with corrected arguments."
    )
    assert (result.error_kind, result.value) == ("invalid_arguments", None)
    assert isinstance(result.exception, ValueError)
    bad_json = box.run(call("get_weather", '{"city": '))
    assert bad_json.content.startswith(
        "Error: invalid arguments for get_weather: arguments are not valid JSON: Expecting value"
    )


def test_a_raising_tool_is_an_error_result_without_traceback() -> None:
    result = Toolbox([explode]).run(call("explode", {"reason": "bad input"}))
    assert result.content == "Error: explode failed: ValueError: bad input"
    assert (result.is_error, result.error_kind, result.value) == (True, "failed", None)
    assert isinstance(result.exception, ValueError)
    assert "Traceback" not in result.content
    long = Toolbox([explode]).run(call("explode", {"reason": "x" * 5000})).content
    assert len(long) < 1100
    assert long.endswith("[4000 more characters]")


def test_misuse_raises() -> None:
    box = Toolbox([get_weather])
    with pytest.raises(chatlane.UsageError, match="ToolCall or a mapping"):
        box.run("get_weather")  # type: ignore[arg-type]
    with pytest.raises(chatlane.UsageError, match="shape"):
        box.run({"function": {"name": "get_weather"}})  # no id
    with pytest.raises(chatlane.UsageError, match="sequence"):
        box.run_many(call("get_weather"))  # type: ignore[arg-type]
    started: list[str] = []

    @tool
    def record(x: int) -> None:
        started.append("ran")

    # A malformed call anywhere raises before any call runs.
    with pytest.raises(chatlane.UsageError):
        Toolbox([record]).run_many([call("record", {"x": 1}), {"id": 3}])
    assert started == []


def test_sync_timeout(release: Release) -> None:
    @tool
    def slow(seconds: float) -> str:
        release.wait(seconds)
        return "done"

    box = Toolbox([slow], tool_timeout=0.2)
    started = time.perf_counter()
    result = box.run(call("slow", {"seconds": 5}))
    elapsed = time.perf_counter() - started
    assert result.content == "Error: slow timed out after 0.2 s."
    assert (result.error_kind, result.is_error) == ("timeout", True)
    assert 0.15 < elapsed < 1.0
    assert 0.15 < result.duration < 1.0
    assert box.run(call("slow", {"seconds": 0})).content == "done"


def test_a_tool_timeout_overrides_the_toolbox_timeout(release: Release) -> None:
    @tool(tool_timeout=0.1)
    def quick(seconds: float) -> str:
        release.wait(seconds)
        return "done"

    result = Toolbox([quick], tool_timeout=30).run(call("quick", {"seconds": 5}))
    assert result.content == "Error: quick timed out after 0.1 s."


def test_async_tool_in_sync_run_is_cancelled_at_its_timeout() -> None:
    observed: list[str] = []

    @tool
    async def sleepy(seconds: float) -> str:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            observed.append("cancelled")
            raise
        return "awake"

    box = Toolbox([sleepy], tool_timeout=0.2)
    assert box.run(call("sleepy", {"seconds": 0.01})).content == "awake"
    started = time.perf_counter()
    result = box.run(call("sleepy", {"seconds": 10}))
    assert time.perf_counter() - started < 1.0
    assert result.content == "Error: sleepy timed out after 0.2 s."
    assert observed == ["cancelled"]


def test_a_timeout_error_raised_by_the_tool_is_a_failure_not_a_timeout() -> None:
    @tool
    async def flaky() -> str:
        raise TimeoutError("upstream took too long")

    result = Toolbox([flaky]).run(call("flaky"))
    assert result.content == "Error: flaky failed: TimeoutError: upstream took too long"


def slow_and_fast_tools(release: Release) -> list[Tool]:
    @tool
    def slow_sync(tag: str) -> str:
        release.wait(5)
        return tag

    @tool
    async def slow_async(tag: str) -> str:
        await asyncio.sleep(5)
        return tag

    @tool
    def nap(tag: str, seconds: float = 0.0) -> str:
        time.sleep(seconds)
        return tag

    @tool
    async def anap(tag: str, seconds: float = 0.0) -> str:
        await asyncio.sleep(seconds)
        return tag

    return [slow_sync, slow_async, nap, anap]


MIXED_CALLS = [
    call("slow_sync", {"tag": "a"}, "1"),
    call("nap", {"tag": "b", "seconds": 0.05}, "2"),
    call("slow_async", {"tag": "c"}, "3"),
    call("anap", {"tag": "d"}, "4"),
    call("missing", {}, "5"),
    call("nap", {"tag": 7}, "6"),
]
EXPECTED_MIXED = [
    ("1", "Error: slow_sync timed out after 0.3 s."),
    ("2", "b"),
    ("3", "Error: slow_async timed out after 0.3 s."),
    ("4", "d"),
    ("5", "Error: unknown tool 'missing'. Available tools: slow_sync, slow_async, nap, anap."),
    ("6", "Error: invalid arguments for nap: tag: Input should be a valid string."
     " Call nap again with corrected arguments."),
]  # fmt: skip


def test_run_many_keeps_call_order_with_the_slowest_first(release: Release) -> None:
    box = Toolbox(slow_and_fast_tools(release), tool_timeout=0.3)
    started = time.perf_counter()
    results = box.run_many(MIXED_CALLS)
    elapsed = time.perf_counter() - started
    assert [(r.tool_call_id, r.content) for r in results] == EXPECTED_MIXED
    assert elapsed < 1.0  # the calls ran side by side, and nobody waited for the sync thread


@pytest.mark.asyncio
async def test_arun_many_keeps_call_order_with_the_slowest_first(release: Release) -> None:
    box = Toolbox(slow_and_fast_tools(release), tool_timeout=0.3)
    started = time.perf_counter()
    results = await box.arun_many(MIXED_CALLS)
    elapsed = time.perf_counter() - started
    assert [(r.tool_call_id, r.content) for r in results] == EXPECTED_MIXED
    assert elapsed < 1.0


def test_run_many_order_when_the_first_call_finishes_last() -> None:
    @tool
    def wait(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    results = Toolbox([wait]).run_many(
        [call("wait", {"seconds": s}, str(i)) for i, s in enumerate([0.2, 0.1, 0.0])]
    )
    assert [(r.tool_call_id, r.value) for r in results] == [("0", 0.2), ("1", 0.1), ("2", 0.0)]


class Gauge:
    """Counts tools running at the same time, and the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def test_run_many_honours_max_concurrency() -> None:
    gauge = Gauge()

    @tool
    def busy(n: int) -> int:
        gauge.enter()
        time.sleep(0.05)
        gauge.leave()
        return n

    box = Toolbox([busy], max_concurrency=3)
    results = box.run_many([call("busy", {"n": n}, str(n)) for n in range(9)])
    assert [r.value for r in results] == list(range(9))
    assert gauge.most == 3


@pytest.mark.asyncio
async def test_arun_many_honours_max_concurrency_for_sync_and_async_tools() -> None:
    gauge = Gauge()

    @tool
    async def abusy(n: int) -> int:
        gauge.enter()
        await asyncio.sleep(0.05)
        gauge.leave()
        return n

    @tool
    def busy(n: int) -> int:
        gauge.enter()
        time.sleep(0.05)
        gauge.leave()
        return n

    box = Toolbox([abusy, busy], max_concurrency=2)
    calls = [call("abusy" if n % 2 else "busy", {"n": n}, str(n)) for n in range(8)]
    results = await box.arun_many(calls)
    assert [r.value for r in results] == list(range(8))
    assert gauge.most == 2


@pytest.mark.asyncio
async def test_cancelling_arun_many_cancels_the_running_tools() -> None:
    observed: list[str] = []

    @tool
    async def sleeper(n: int) -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            observed.append(f"cancelled {n}")
            raise
        return "woke"

    box = Toolbox([sleeper])
    task = asyncio.create_task(box.arun_many([call("sleeper", {"n": n}) for n in range(3)]))
    await asyncio.sleep(0.1)
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - started < 0.5
    assert sorted(observed) == ["cancelled 0", "cancelled 1", "cancelled 2"]


@pytest.mark.asyncio
async def test_a_tool_cancelled_on_its_own_is_a_cancelled_result() -> None:
    @tool
    async def gives_up() -> str:
        raise asyncio.CancelledError

    result = await Toolbox([gives_up]).arun(call("gives_up"))
    assert (result.error_kind, result.content) == ("cancelled", "Error: gives_up was cancelled.")


@pytest.mark.asyncio
async def test_arun_sync_and_async_tools_and_their_errors() -> None:
    @tool
    async def shout(text: str) -> str:
        return text.upper()

    box = Toolbox([shout, get_weather, explode])
    assert (await box.arun(call("shout", {"text": "hi"}))).content == "HI"
    assert (await box.arun(call("get_weather", {"city": "Lima"}))).content == "Sunny in Lima, 20 C"
    failed = await box.arun(call("explode", {"reason": "no"}))
    assert failed.content == "Error: explode failed: ValueError: no"
    assert (await box.arun(call("nope"))).error_kind == "unknown_tool"


@pytest.mark.asyncio
async def test_sync_run_works_inside_a_running_loop() -> None:
    @tool
    async def shout(text: str) -> str:
        return text.upper()

    assert Toolbox([shout]).run(call("shout", {"text": "hey"})).content == "HEY"


@pytest.mark.asyncio
async def test_sync_and_async_runs_give_the_same_results() -> None:
    box = Toolbox([get_weather, explode])
    calls = [
        call("get_weather", {"city": "Kyiv"}, "1"),
        call("explode", {"reason": "x"}, "2"),
        call("get_weather", {"unit": "x"}, "3"),
        call("ghost", {}, "4"),
    ]
    sync = [(r.tool_call_id, r.content, r.error_kind) for r in box.run_many(calls)]
    asynchronous = [(r.tool_call_id, r.content, r.error_kind) for r in await box.arun_many(calls)]
    assert sync == asynchronous


@pytest.mark.asyncio
async def test_a_sync_wrapper_returning_a_coroutine_is_awaited() -> None:
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        return f"fetched {url}"

    @tool
    def wrapper(url: str) -> Any:
        return fetch(url)  # a coroutine, from a function that is not async itself

    box = Toolbox([wrapper])
    assert not wrapper.is_async
    expected = ("fetched x", "fetched x")
    assert (
        box.run(call("wrapper", {"url": "x"})).content,
        box.run(call("wrapper", {"url": "x"})).value,
    ) == expected
    result = await box.arun(call("wrapper", {"url": "x"}))
    assert (result.content, result.value) == expected


def test_context_variables_reach_tools_running_in_threads() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")

    @tool
    def which() -> str:
        return request_id.get("unset")

    request_id.set("req-42")
    assert Toolbox([which]).run(call("which")).content == "req-42"


def test_no_timeout_means_no_limit() -> None:
    @tool
    def nap() -> str:
        time.sleep(0.05)
        return "rested"

    assert Toolbox([nap], tool_timeout=None).run(call("nap")).content == "rested"


class Doom(BaseException):
    """Neither an Exception nor an interruption: still the tool's own failure."""


@tool
def die(code: int) -> str:
    raise SystemExit(code)


@tool
async def adie(code: int) -> str:
    raise SystemExit(code)


@tool
def doom() -> str:
    raise Doom("the end")


@tool
def interrupt() -> str:
    raise KeyboardInterrupt


@tool
async def ainterrupt() -> str:
    raise KeyboardInterrupt


@tool
def gives_up_in_a_thread() -> str:
    raise asyncio.CancelledError


class Exits(pydantic.BaseModel):
    value: int

    @pydantic.field_validator("value")
    @classmethod
    def leave(cls, value: int) -> int:
        raise SystemExit(value)


@tool
def validated_exit(item: Exits) -> str:
    return "unreachable"


def test_a_tool_raising_system_exit_or_any_base_exception_is_a_failed_result() -> None:
    box = Toolbox([die, adie, doom, validated_exit])
    results = box.run_many(
        [
            call("die", {"code": 3}, "1"),
            call("adie", {"code": 4}, "2"),
            call("doom", {}, "3"),
            call("validated_exit", {"item": {"value": 5}}, "4"),
        ]
    )
    assert [(r.error_kind, r.content) for r in results] == [
        ("failed", "Error: die failed: SystemExit: 3"),
        ("failed", "Error: adie failed: SystemExit: 4"),
        ("failed", "Error: doom failed: Doom: the end"),
        ("failed", "Error: validated_exit failed: SystemExit: 5"),
    ]
    assert isinstance(results[0].exception, SystemExit)


@pytest.mark.asyncio
async def test_system_exit_in_arun_is_a_failed_result_and_the_loop_goes_on() -> None:
    box = Toolbox([die, adie, doom, get_weather])
    results = await box.arun_many(
        [
            call("die", {"code": 3}, "1"),
            call("adie", {"code": 4}, "2"),
            call("doom", {}, "3"),
            call("get_weather", {"city": "Rome"}, "4"),
        ]
    )
    assert [r.content for r in results] == [
        "Error: die failed: SystemExit: 3",
        "Error: adie failed: SystemExit: 4",
        "Error: doom failed: Doom: the end",
        "Sunny in Rome, 20 C",
    ]
    await asyncio.sleep(0)  # the loop is alive


def test_keyboard_interrupt_from_a_tool_still_propagates() -> None:
    box = Toolbox([interrupt, ainterrupt])
    with pytest.raises(KeyboardInterrupt):
        box.run(call("interrupt"))
    with pytest.raises(KeyboardInterrupt):
        box.run(call("ainterrupt"))
    unretrieved: list[str] = []

    async def arun(name: str) -> ToolResult:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: unretrieved.append(context["message"]))
        return await box.arun(call(name))

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(arun("interrupt"))
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(arun("ainterrupt"))
    gc.collect()  # a task still holding an exception nobody retrieved reports it when freed
    assert unretrieved == []


@pytest.mark.parametrize("name", ["interrupt", "ainterrupt"])
def test_a_tools_keyboard_interrupt_reaches_the_awaiting_task(name: str) -> None:
    """It can be caught there and the loop goes on; the other tools are cancelled first."""
    observed: list[str] = []

    @tool
    async def sleeper() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            observed.append("cancelled")
            raise
        return "woke"

    box = Toolbox([interrupt, ainterrupt, sleeper])

    async def main() -> str:
        try:
            await box.arun_many([call("sleeper"), call(name, call_id="call_2")])
        except KeyboardInterrupt:
            observed.append("caught")
        await asyncio.sleep(0)
        assert asyncio.all_tasks() == {asyncio.current_task()}  # no tool task left behind
        return "went on"

    assert asyncio.run(main()) == "went on"
    assert observed == ["cancelled", "caught"]


@pytest.mark.asyncio
async def test_a_sync_tool_raising_cancelled_error_is_a_cancelled_result() -> None:
    # Nobody cancelled the caller: the tool gave up on its own, in either kind of run.
    box = Toolbox([gives_up_in_a_thread])
    expected = ("cancelled", "Error: gives_up_in_a_thread was cancelled.")
    result = box.run(call("gives_up_in_a_thread"))
    assert (result.error_kind, result.content) == expected
    result = await box.arun(call("gives_up_in_a_thread"))
    assert (result.error_kind, result.content) == expected


@pytest.mark.asyncio
async def test_cancelling_the_caller_still_propagates_while_a_sync_tool_runs(
    release: Release,
) -> None:
    @tool
    def slow() -> str:
        release.wait(5)
        return "done"

    task = asyncio.create_task(Toolbox([slow]).arun(call("slow")))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
