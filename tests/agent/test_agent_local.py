"""The agent on the embedded model: a real tool call, a real answer, offline."""

from __future__ import annotations

import asyncio

import pytest

import chatlane
from chatlane.agent import Agent, AsyncAgent, FinalAnswer, TextDelta, ToolCallStarted
from chatlane.tools import builtin_tools
from tests.local.conftest import needs_model

pytestmark = [pytest.mark.local_model, needs_model]

QUESTION = "What is the date and time right now?"


def clock() -> list[chatlane.Tool]:
    return [tool for tool in builtin_tools() if tool.name == "current_datetime"]


def test_the_embedded_model_calls_the_tool_then_answers() -> None:
    with chatlane.Client() as client:  # nothing configured: the embedded model
        agent = Agent(client, tools=clock(), params={"temperature": 0, "max_tokens": 80})
        assert agent.model == "local/smollm2"
        events = list(agent.stream(QUESTION))
    final = events[-1]
    assert isinstance(final, FinalAnswer)
    result = final.result
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert [e.name for e in started][:1] == ["current_datetime"]
    first = result.tool_results[0]
    assert not first.is_error, first.content
    assert first.content.startswith("20")  # a real date from the real clock
    assert result.turns >= 2
    assert result.text.strip()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip()
    assert result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0
    assert result.cost == 0.0
    roles = [m["role"] for m in result.conversation]
    assert roles[:3] == ["user", "assistant", "tool"]
    assert roles[-1] == "assistant"


def test_the_async_agent_runs_the_same_loop_on_the_embedded_model() -> None:
    async def run() -> chatlane.AgentResult:
        async with chatlane.AsyncClient() as client:
            agent = AsyncAgent(client, tools=clock(), params={"temperature": 0, "max_tokens": 60})
            return await agent.run(QUESTION)

    result = asyncio.run(run())
    assert result.tool_results[0].name == "current_datetime"
    assert not result.tool_results[0].is_error
    assert result.text.strip()


@pytest.mark.parametrize("max_turns", [1])
def test_a_bound_stops_the_embedded_model_too(max_turns: int) -> None:
    with chatlane.Client() as client:
        agent = Agent(client, tools=clock(), max_turns=max_turns)
        with pytest.raises(chatlane.AgentLimitError) as caught:
            agent.run(QUESTION)  # the first turn must call a tool: no answer within one turn
    chatlane.Conversation.from_json(caught.value.conversation.to_json())  # still consistent
    assert caught.value.result.tool_calls == 1
