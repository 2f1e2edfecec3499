"""Run one agent scenario with the sync or the async agent, so both are tested alike."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import chatlane
from chatlane.agent import Agent, AgentEvent, AgentResult, AsyncAgent, FinalAnswer
from chatlane.conversation import Conversation
from tests.conftest import API_KEY, FAST_RETRY


@dataclass
class Run:
    result: AgentResult | None = None
    events: list[AgentEvent] = field(default_factory=list)
    error: chatlane.ChatlaneError | None = None


def run_agent(
    mode: str,
    url: str,
    prompt: str | None,
    *,
    streaming: bool = False,
    conversation: Conversation | None = None,
    **options: Any,
) -> Run:
    """``mode`` is "sync" or "async"; errors are captured, not raised."""
    options.setdefault("model", "gpt-4o-mini")
    if mode == "async":
        return asyncio.run(_arun(url, prompt, streaming, conversation, options))
    run = Run()
    with chatlane.Client(base_url=url, api_key=API_KEY, retry=FAST_RETRY) as client:
        agent = Agent(client, **options)
        try:
            if streaming:
                for event in agent.stream(prompt, conversation=conversation):
                    run.events.append(event)
                    if isinstance(event, FinalAnswer):
                        run.result = event.result
            else:
                run.result = agent.run(prompt, conversation=conversation)
        except chatlane.ChatlaneError as exc:
            run.error = exc
    return run


async def _arun(
    url: str,
    prompt: str | None,
    streaming: bool,
    conversation: Conversation | None,
    options: dict[str, Any],
) -> Run:
    run = Run()
    async with chatlane.AsyncClient(base_url=url, api_key=API_KEY, retry=FAST_RETRY) as client:
        agent = AsyncAgent(client, **options)
        try:
            if streaming:
                async for event in agent.stream(prompt, conversation=conversation):
                    run.events.append(event)
                    if isinstance(event, FinalAnswer):
                        run.result = event.result
            else:
                run.result = await agent.run(prompt, conversation=conversation)
        except chatlane.ChatlaneError as exc:
            run.error = exc
    return run
