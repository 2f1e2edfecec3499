"""The agent loop against the fake server, with the sync and the async agent alike."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import chatlane
from chatlane.agent import (
    AgentLimitError,
    AsyncAgent,
    FinalAnswer,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
)
from chatlane.conversation import Conversation
from chatlane.core.messages import validate_messages
from chatlane.testing import Completion, FakeServer, Stream, ToolCallSpec
from chatlane.testing.recorded import RecordedRequest
from chatlane.tokens import PromptTooLongError, UnknownContextWindowWarning, estimate_cost
from chatlane.tools import tool
from tests.agent.runs import run_agent
from tests.conftest import API_KEY, FAST_RETRY

MODES = ["sync", "async"]


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    if city == "Atlantis":
        raise ValueError("no such city")
    return f"{city}: 21 C, sunny"


class Overlap:
    """Counts how many calls of a tool run at the same time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def wait(self, seconds: float, label: str) -> str:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(seconds)
        with self.lock:
            self.running -= 1
        return label


def calls_then_answer(*calls: ToolCallSpec, answer: str = "Done.") -> list[Completion]:
    return [
        Completion(content=None, tool_calls=calls, usage=(10, 5)),
        Completion(content=answer, usage=(30, 8)),
    ]


def bodies(server: FakeServer) -> list[dict[str, Any]]:
    records: list[RecordedRequest] = server.chat_requests
    return [record.json() for record in records]


@pytest.mark.parametrize("streaming", [False, True], ids=["run", "stream"])
@pytest.mark.parametrize("mode", MODES)
def test_tool_call_then_answer(server: FakeServer, mode: str, streaming: bool) -> None:
    server.enqueue(
        *calls_then_answer(
            ToolCallSpec("get_weather", {"city": "Paris"}, id="call_1"),
            answer="It is sunny in Paris.",
        )
    )
    run = run_agent(
        mode,
        server.url,
        "Weather in Paris?",
        streaming=streaming,
        tools=[get_weather],
        system="Use tools.",
    )
    assert run.error is None
    result = run.result
    assert result is not None
    assert result.text == "It is sunny in Paris."
    assert (result.turns, result.tool_calls) == (2, 1)
    assert result.tool_results[0].content == "Paris: 21 C, sunny"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (40, 13)
    assert result.usage.total_tokens == 53

    first, second = bodies(server)
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert "tool_choice" not in first  # remote models decide for themselves
    assert first["messages"] == [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    assert second["messages"][2]["tool_calls"][0]["id"] == "call_1"
    assert second["messages"][3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "Paris: 21 C, sunny",
    }
    assert [m["role"] for m in result.conversation] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    if streaming:
        assert first["stream"] is True
        assert first["stream_options"] == {"include_usage": True}
        kinds = [type(event).__name__ for event in run.events if not isinstance(event, TextDelta)]
        assert kinds == [
            "TurnFinished",
            "ToolCallStarted",
            "ToolCallFinished",
            "TurnFinished",
            "FinalAnswer",
        ]
        started = next(e for e in run.events if isinstance(e, ToolCallStarted))
        assert (started.name, started.arguments) == ("get_weather", '{"city":"Paris"}')
        text = "".join(e.text for e in run.events if isinstance(e, TextDelta))
        assert text == "It is sunny in Paris."
        assert all(e.turn == 2 for e in run.events if isinstance(e, TextDelta))
        turns = [e for e in run.events if isinstance(e, TurnFinished)]
        assert [t.usage.total_tokens if t.usage else None for t in turns] == [15, 38]


@pytest.mark.parametrize("mode", MODES)
def test_parallel_calls_run_at_once_and_come_back_in_call_order(
    server: FakeServer, mode: str
) -> None:
    overlap = Overlap()
    delays = [0.4, 0.1, 0.25]  # the first call finishes last
    server.enqueue(
        *calls_then_answer(
            *[
                ToolCallSpec("wait", {"seconds": d, "label": f"L{i}"}, id=f"call_{i}")
                for i, d in enumerate(delays)
            ]
        )
    )
    run = run_agent(mode, server.url, "go", tools=[tool(overlap.wait)])
    assert run.result is not None
    assert overlap.most == 3
    tool_messages = [m for m in bodies(server)[1]["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [
        ("call_0", "L0"),
        ("call_1", "L1"),
        ("call_2", "L2"),
    ]


@pytest.mark.parametrize("mode", MODES)
def test_concurrency_is_bounded(server: FakeServer, mode: str) -> None:
    overlap = Overlap()
    server.enqueue(
        *calls_then_answer(
            *[ToolCallSpec("wait", {"seconds": 0.1, "label": str(i)}) for i in range(5)]
        )
    )
    run = run_agent(mode, server.url, "go", tools=[tool(overlap.wait)], max_concurrency=2)
    assert run.result is not None
    assert run.result.tool_calls == 5
    assert overlap.most == 2


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": ', "Error: invalid arguments for get_weather: arguments are not valid JSON"),
        ({"city": 5}, "Error: invalid arguments for get_weather: city"),
        ({}, "Error: invalid arguments for get_weather: city"),
    ],
    ids=["bad-json", "wrong-type", "missing"],
)
@pytest.mark.parametrize("mode", MODES)
def test_bad_arguments_go_back_to_the_model(
    server: FakeServer, mode: str, arguments: Any, expected: str
) -> None:
    server.enqueue(*calls_then_answer(ToolCallSpec("get_weather", arguments, id="c1")))
    run = run_agent(mode, server.url, "Weather?", tools=[get_weather])
    assert run.result is not None
    assert run.result.text == "Done."
    sent = bodies(server)[1]["messages"][-1]
    assert sent["role"] == "tool"
    assert sent["tool_call_id"] == "c1"
    assert sent["content"].startswith(expected)
    assert "Call get_weather again with corrected arguments" in sent["content"]
    assert run.result.tool_results[0].is_error


@pytest.mark.parametrize("mode", MODES)
def test_unknown_tool_and_failing_tool_become_error_messages(server: FakeServer, mode: str) -> None:
    server.enqueue(
        *calls_then_answer(
            ToolCallSpec("launch_rocket", {}, id="a"),
            ToolCallSpec("get_weather", {"city": "Atlantis"}, id="b"),
            ToolCallSpec("get_weather", {"city": "Oslo"}, id="c"),
        )
    )
    run = run_agent(mode, server.url, "go", tools=[get_weather])
    assert run.result is not None
    contents = [m["content"] for m in bodies(server)[1]["messages"] if m["role"] == "tool"]
    assert contents == [
        "Error: unknown tool 'launch_rocket'. Available tools: get_weather.",
        "Error: get_weather failed: ValueError: no such city",
        "Oslo: 21 C, sunny",
    ]
    kinds = [r.error_kind for r in run.result.tool_results]
    assert kinds == ["unknown_tool", "failed", None]


def endless(_: RecordedRequest) -> Completion:
    return Completion(
        content=None, tool_calls=[ToolCallSpec("get_weather", {"city": "Paris"})], usage=(7, 3)
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_model_that_never_stops_calling_tools_hits_max_turns(
    server: FakeServer, mode: str
) -> None:
    server.handler = endless
    run = run_agent(mode, server.url, "loop", tools=[get_weather], max_turns=3)
    error = run.error
    assert isinstance(error, AgentLimitError)
    assert error.limit == "max_turns"
    assert "max_turns=3" in str(error)
    assert len(server.chat_requests) == 3
    messages = error.conversation.messages
    validate_messages(messages)  # consistent: every call has its result
    assert [m["role"] for m in messages[-2:]] == ["assistant", "tool"]
    assert error.result.turns == 3
    assert error.result.tool_calls == 3
    assert error.result.usage.total_tokens == 30


@pytest.mark.parametrize("mode", MODES)
def test_max_tool_calls_answers_the_extra_calls_and_stops(server: FakeServer, mode: str) -> None:
    pair = [ToolCallSpec("get_weather", {"city": c}) for c in ("Rome", "Oslo")]
    server.handler = lambda _: Completion(content=None, tool_calls=pair)
    run = run_agent(mode, server.url, "loop", tools=[get_weather], max_tool_calls=3)
    error = run.error
    assert isinstance(error, AgentLimitError)
    assert error.limit == "max_tool_calls"
    assert len(server.chat_requests) == 2
    assert error.result.tool_calls == 3  # the refused call did not run
    last = error.conversation.messages[-1]
    assert last["role"] == "tool"
    assert "limit of 3 tool calls" in last["content"]
    validate_messages(error.conversation.messages)
    streamed = run_agent(
        mode, server.url, "loop", streaming=True, tools=[get_weather], max_tool_calls=3
    )
    finished = [e.result for e in streamed.events if isinstance(e, ToolCallFinished)]
    assert [r.error_kind for r in finished] == [None, None, None, "limit"]
    started = [e for e in streamed.events if isinstance(e, ToolCallStarted)]
    assert len(started) == 3  # the refused call never started


@pytest.mark.parametrize("mode", MODES)
def test_a_slow_tool_times_out_and_the_run_goes_on(server: FakeServer, mode: str) -> None:
    def slow(seconds: float) -> str:
        time.sleep(seconds)
        return "late"

    server.enqueue(*calls_then_answer(ToolCallSpec("slow", {"seconds": 1.5}, id="s")))
    started = time.perf_counter()
    run = run_agent(mode, server.url, "go", tools=[tool(slow)], tool_timeout=0.2)
    assert time.perf_counter() - started < 1.2  # did not wait for the tool
    assert run.result is not None
    assert run.result.text == "Done."
    assert run.result.tool_results[0].error_kind == "timeout"
    assert "timed out" in bodies(server)[1]["messages"][-1]["content"]


@pytest.mark.parametrize("mode", MODES)
def test_usage_and_cost_are_summed_over_turns(server: FakeServer, mode: str) -> None:
    server.enqueue(*calls_then_answer(ToolCallSpec("get_weather", {"city": "Rome"})))
    run = run_agent(mode, server.url, "Weather?", tools=[get_weather])
    assert run.result is not None
    expected = sum(
        estimate_cost({"prompt_tokens": p, "completion_tokens": c}, "gpt-4o-mini") or 0.0
        for p, c in [(10, 5), (30, 8)]
    )
    assert run.result.cost == pytest.approx(expected)
    assert expected > 0

    server.enqueue(Completion(content="hi", usage=(3, 1)))
    with pytest.warns(UnknownContextWindowWarning, match="'my-own-model'"):
        unpriced = run_agent(mode, server.url, "hi", model="my-own-model")
    assert unpriced.result is not None
    assert unpriced.result.cost is None


@pytest.mark.parametrize("mode", MODES)
def test_a_conversation_carries_over_between_runs(server: FakeServer, mode: str) -> None:
    chat = Conversation(system="Be brief.")
    server.enqueue(Completion(content="Hello, Ada."), Completion(content="Your name is Ada."))
    first = run_agent(mode, server.url, "I am Ada.", conversation=chat)
    second = run_agent(mode, server.url, "Who am I?", conversation=chat)
    assert first.result is not None
    assert second.result is not None
    assert bodies(server)[1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "I am Ada."},
        {"role": "assistant", "content": "Hello, Ada."},
        {"role": "user", "content": "Who am I?"},
    ]
    assert chat.last_text == "Your name is Ada."
    assert "tools" not in bodies(server)[0]  # no tools, no tool parameters


@pytest.mark.parametrize("mode", MODES)
def test_old_turns_are_trimmed_to_fit_the_window(server: FakeServer, mode: str) -> None:
    chat = Conversation(system="Be brief.")
    for index in range(8):
        chat.add_user(f"question {index} " + "word " * 1500)
        chat.add({"role": "assistant", "content": "ok"})
    server.enqueue(Completion(content="fits"))
    run = run_agent(
        mode,
        server.url,
        "last question",
        streaming=True,
        conversation=chat,
        model="gpt-4",
        params={"max_tokens": 500},
    )
    assert run.result is not None
    sent = bodies(server)[0]["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert sent[-1] == {"role": "user", "content": "last question"}
    assert 3 <= len(sent) < 18
    trimmed = next(e for e in run.events if isinstance(e, TurnFinished)).trimmed
    assert trimmed is not None
    assert trimmed.dropped_messages == 18 - len(sent)
    assert trimmed.prompt_tokens + 500 <= 8192
    assert run.result.trims == [trimmed]  # run() callers see it too
    assert len(chat) == 19  # the history itself keeps everything


@pytest.mark.parametrize("mode", MODES)
def test_a_prompt_that_cannot_fit_fails_before_any_call(server: FakeServer, mode: str) -> None:
    run = run_agent(mode, server.url, "word " * 9000, model="gpt-4")
    assert isinstance(run.error, PromptTooLongError)
    assert server.chat_requests == []


def test_closing_a_sync_event_stream_stops_the_run_at_once(server: FakeServer) -> None:
    server.enqueue(Stream(chunks=["a"] * 50, chunk_delay=0.1))
    with chatlane.Client(base_url=server.url, api_key=API_KEY, retry=FAST_RETRY) as client:
        events = chatlane.agent.Agent(client, model="gpt-4o-mini").stream("go")
        first = next(iter(events))
        started = time.perf_counter()
        assert isinstance(first, TextDelta)
        events.close()
        assert time.perf_counter() - started < 0.5


@pytest.mark.asyncio
async def test_cancelling_an_async_run_cancels_running_tools(server: FakeServer) -> None:
    entered = asyncio.Event()
    cancelled = asyncio.Event()

    async def dawdle() -> str:
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    server.enqueue(*calls_then_answer(ToolCallSpec("dawdle", {})))
    async with chatlane.AsyncClient(
        base_url=server.url, api_key=API_KEY, retry=FAST_RETRY
    ) as client:
        agent = AsyncAgent(client, model="gpt-4o-mini", tools=[tool(dawdle)])
        task = asyncio.create_task(agent.run("go"))
        await asyncio.wait_for(entered.wait(), 5)
        started = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.perf_counter() - started < 0.5
        assert cancelled.is_set()
    assert len(server.chat_requests) == 1


@pytest.mark.asyncio
async def test_cancelling_an_async_stream_closes_it(server: FakeServer) -> None:
    server.enqueue(Stream(chunks=["a"] * 50, chunk_delay=0.1))
    async with chatlane.AsyncClient(
        base_url=server.url, api_key=API_KEY, retry=FAST_RETRY
    ) as client:
        agent = AsyncAgent(client, model="gpt-4o-mini")
        seen: list[str] = []

        streaming = asyncio.Event()

        async def consume() -> None:
            async for event in agent.stream("go"):
                if isinstance(event, TextDelta):
                    seen.append(event.text)
                    streaming.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(streaming.wait(), 5)
        started = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.perf_counter() - started < 0.5
        assert len(seen) < 50


def test_misuse_is_refused_before_anything_is_sent(server: FakeServer) -> None:
    with chatlane.Client(base_url=server.url, api_key=API_KEY) as client:
        with pytest.raises(chatlane.UsageError, match="max_turns must be a positive integer"):
            chatlane.agent.Agent(client, model="m", max_turns=0)
        with pytest.raises(chatlane.UsageError, match="'tools' is set by the agent"):
            chatlane.agent.Agent(client, model="m", params={"tools": []})
        agent = chatlane.agent.Agent(client, model="m")
        with pytest.raises(chatlane.UsageError, match="give a prompt"):
            agent.run()
    assert server.chat_requests == []


def test_final_answer_is_the_last_event(server: FakeServer) -> None:
    server.enqueue(Stream(chunks=["Hel", "lo"]))
    run = run_agent("sync", server.url, "hi", streaming=True)
    assert isinstance(run.events[-1], FinalAnswer)
    assert run.events[-1].text == "Hello"
    assert [type(e) for e in run.events[:-1] if not isinstance(e, TextDelta)] == [TurnFinished]
    assert not any(isinstance(e, ToolCallFinished) for e in run.events)


@pytest.mark.parametrize("mode", MODES)
def test_an_answer_cut_off_by_max_tokens_says_so(server: FakeServer, mode: str) -> None:
    server.enqueue(Completion(content="The answer is", finish_reason="length"))
    run = run_agent(mode, server.url, "q", params={"max_tokens": 3})
    assert run.result is not None
    assert run.result.finish_reason == "length"
    assert run.result.text == "The answer is"
    server.enqueue(Completion(content="Done."))
    whole = run_agent(mode, server.url, "q")
    assert whole.result is not None
    assert whole.result.finish_reason == "stop"
    assert whole.result.trims == []


def test_the_wrong_client_or_conflicting_options_are_refused(server: FakeServer) -> None:
    sync_client = chatlane.Client(base_url=server.url, api_key=API_KEY)
    async_client = chatlane.AsyncClient(base_url=server.url, api_key=API_KEY)
    with pytest.raises(chatlane.UsageError, match=r"needs a chatlane\.Client, not AsyncClient"):
        chatlane.agent.Agent(async_client, model="m")  # type: ignore[arg-type]
    with pytest.raises(chatlane.UsageError, match=r"needs a chatlane\.AsyncClient, not Client"):
        AsyncAgent(sync_client, model="m")  # type: ignore[arg-type]
    box = chatlane.Toolbox([get_weather], tool_timeout=60)
    with pytest.raises(chatlane.UsageError, match="tool_timeout cannot apply to a ready Toolbox"):
        chatlane.agent.Agent(sync_client, model="m", tools=box, tool_timeout=0.5)
    with pytest.raises(chatlane.UsageError, match="unknown agent option"):
        chatlane.agent.Agent(sync_client, model="m", temperature=0)  # type: ignore[call-arg]
    sync_client.close()
    assert server.chat_requests == []
