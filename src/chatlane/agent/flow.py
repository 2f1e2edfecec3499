"""The agent loop, written once: a generator that yields steps and receives their outcomes.

``Agent`` (sync) and ``AsyncAgent`` drive it: for ``CallModel`` they send the request and
send back the ``ChatCompletion``; for ``RunTools`` they run the calls and send back the
``ToolResult`` list in call order; ``Emit`` carries an event to the caller. All decisions
(what to send, when to stop, limits, trimming, usage and cost) live here.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

from chatlane.agent.events import (
    AgentEvent,
    AgentLimitError,
    AgentResult,
    FinalAnswer,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
)
from chatlane.conversation import Conversation
from chatlane.core.errors import ResponseDecodeError
from chatlane.core.types import ChatCompletion, ToolCall
from chatlane.core.usage import sum_usage
from chatlane.providers.profiles import ModelInfo
from chatlane.tokens import estimate_cost, trim_messages
from chatlane.tokens.trimming import TrimResult
from chatlane.tools import Toolbox, ToolResult

__all__ = ["AgentSettings", "CallModel", "Emit", "RunTools", "Step", "agent_flow"]

# What a reply may take when the caller set no max_tokens: room kept free when trimming.
DEFAULT_REPLY_RESERVE = 1024


@dataclass(frozen=True)
class CallModel:
    """Send one chat request; the driver sends back its ``ChatCompletion``."""

    turn: int
    params: dict[str, Any]


@dataclass(frozen=True)
class RunTools:
    """Run these calls concurrently; the driver sends back their results in this order."""

    calls: list[ToolCall]


@dataclass(frozen=True)
class Emit:
    """Hand an event to the caller; the driver sends back None."""

    event: AgentEvent


Step = CallModel | RunTools | Emit


@dataclass(frozen=True)
class AgentSettings:
    model: str
    toolbox: Toolbox
    max_turns: int
    max_tool_calls: int
    trim: bool
    """Trim the history to ``model_info``'s context window (True only when it is known)."""
    model_info: ModelInfo | None
    """The model's facts: its context window and prices (None: nothing is known)."""
    tool_choice: Any
    """What every turn sends as ``tool_choice`` (None: "auto" when there are tools)."""
    first_tool_choice: Any
    """What the first turn sends instead, if set (small local models: "required")."""
    params: Mapping[str, Any]
    """Other chat parameters for every call (temperature, max_tokens, ...)."""


def _reply_reserve(params: Mapping[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return DEFAULT_REPLY_RESERVE


def _limit_result(call: ToolCall, limit: int) -> ToolResult:
    content = f"Error: not run: this run's limit of {limit} tool calls is reached."
    return ToolResult(call.id, call.function.name, content, is_error=True, error_kind="limit")


def agent_flow(
    settings: AgentSettings, conversation: Conversation
) -> Generator[Step, Any, AgentResult]:
    """Run model turns and tool calls until the model answers without calling a tool.

    Messages are appended to ``conversation`` as the run goes. Raises AgentLimitError when
    ``max_turns`` model calls or ``max_tool_calls`` tool calls are used up first, and
    PromptTooLongError (before any call) when the prompt cannot fit even after trimming.
    """
    toolbox = settings.toolbox
    definitions = toolbox.definitions()
    completions: list[ChatCompletion] = []
    costs: list[float | None] = []
    results: list[ToolResult] = []
    trims: list[TrimResult] = []

    def result(text: str, finish_reason: str | None = None) -> AgentResult:
        known = [cost for cost in costs if cost is not None]
        return AgentResult(
            text=text,
            conversation=conversation,
            turns=len(completions),
            tool_results=list(results),
            completions=list(completions),
            usage=sum_usage(c.usage for c in completions),
            cost=sum(known) if len(known) == len(costs) else None,
            finish_reason=finish_reason,
            trims=list(trims),
        )

    for turn in range(1, settings.max_turns + 1):
        params = dict(settings.params)
        params["model"] = settings.model
        trimmed: TrimResult | None = None  # only when trimming dropped something
        messages: list[Any] = conversation.messages
        if settings.trim:
            trim = trim_messages(
                messages,
                settings.model,
                max_tokens=_reply_reserve(params),
                tools=definitions or None,
                model_info=settings.model_info,
            )
            messages = trim.messages
            if trim.dropped_messages:
                trimmed = trim
                trims.append(trim)
        params["messages"] = list(messages)
        if definitions:
            params["tools"] = definitions
            choice = settings.tool_choice
            if turn == 1 and settings.first_tool_choice is not None:
                choice = settings.first_tool_choice
            if choice is not None:
                params["tool_choice"] = choice
        completion = yield CallModel(turn, params)
        completions.append(completion)
        cost = (
            estimate_cost(completion.usage, settings.model, model_info=settings.model_info)
            if completion.usage
            else None
        )
        costs.append(cost)
        message = completion.assistant_message()
        if message is None:
            raise ResponseDecodeError(
                "the model's reply has no choices", model=settings.model, attempts=turn
            )
        calls = list(message.tool_calls or ())
        if message.content is None and not calls:
            conversation.add({"role": "assistant", "content": ""})  # keeps the history valid
        else:
            conversation.add(message)
        yield Emit(TurnFinished(turn, completion, cost, trimmed))
        if not calls:
            final = result(message.content or "", completion.choices[0].finish_reason)
            yield Emit(FinalAnswer(final))
            return final

        budget = settings.max_tool_calls - len(results)
        allowed, refused = calls[: max(budget, 0)], calls[max(budget, 0) :]
        for call in allowed:
            yield Emit(ToolCallStarted(turn, call))
        outcomes: list[ToolResult] = (yield RunTools(allowed)) if allowed else []
        outcomes += [_limit_result(call, settings.max_tool_calls) for call in refused]
        for outcome in outcomes:
            conversation.add(outcome.message())
            yield Emit(ToolCallFinished(turn, outcome))
        results.extend(outcomes[: len(allowed)])
        if refused:
            raise AgentLimitError(
                f"the agent stopped: the model asked for more than max_tool_calls="
                f"{settings.max_tool_calls} tool calls without answering",
                limit="max_tool_calls",
                result=result(""),
            )
    raise AgentLimitError(
        f"the agent stopped: max_turns={settings.max_turns} model turns passed and the model "
        "was still calling tools",
        limit="max_turns",
        result=result(""),
    )
