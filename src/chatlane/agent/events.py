"""What an agent run reports: events as they happen, and its result or limit error.

A streamed run yields, per model turn: ``TextDelta`` pieces of the reply, ``TurnFinished``
(the turn's completion, usage and cost), then for a turn that calls tools
``ToolCallStarted`` for each call (arguments complete) and ``ToolCallFinished`` for each
result, in the model's call order; the last event is ``FinalAnswer``. Calls refused because
``max_tool_calls`` is used up get only a ``ToolCallFinished`` whose result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from chatlane.conversation import Conversation
from chatlane.core.errors import ChatlaneError
from chatlane.core.types import ChatCompletion, ToolCall, Usage
from chatlane.tokens.trimming import TrimResult
from chatlane.tools import ToolResult

__all__ = [
    "AgentEvent",
    "AgentLimitError",
    "AgentResult",
    "FinalAnswer",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "TurnFinished",
]


@dataclass(frozen=True)
class AgentResult:
    """A finished run: the answer and what it took to get there."""

    text: str
    """The final assistant message's text ("" if it had none)."""
    conversation: Conversation
    """The whole history, the final answer included."""
    turns: int
    """Model calls made."""
    tool_results: list[ToolResult] = field(default_factory=list)
    completions: list[ChatCompletion] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    """Summed over every turn."""
    cost: float | None = None
    """US dollars summed over every turn, or None when a price is not known."""
    finish_reason: str | None = None
    """The last reply's: "stop", or "length" when ``max_tokens`` cut the answer off."""
    trims: list[TrimResult] = field(default_factory=list)
    """What context trimming left out, for each model call that needed it."""

    @property
    def tool_calls(self) -> int:
        return len(self.tool_results)

    @property
    def usage_reported(self) -> bool:
        """Every model call reported its usage; otherwise ``usage`` counts only those that
        did, and the tokens of the others are not known."""
        return all(completion.usage is not None for completion in self.completions)


class AgentLimitError(ChatlaneError):
    """A run hit ``max_turns`` or ``max_tool_calls`` before the model gave an answer.

    ``result`` holds the run so far: its conversation is consistent (every tool call has a
    result), so it can be inspected, saved or continued with higher limits.
    """

    def __init__(
        self, message: str, *, limit: Literal["max_turns", "max_tool_calls"], result: AgentResult
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.result = result

    @property
    def conversation(self) -> Conversation:
        return self.result.conversation


@dataclass(frozen=True)
class TextDelta:
    """A piece of the assistant's text as it streams in."""

    turn: int
    text: str


@dataclass(frozen=True)
class TurnFinished:
    """A model call ended. ``trimmed`` says what context trimming dropped for it, if any."""

    turn: int
    completion: ChatCompletion
    cost: float | None
    trimmed: TrimResult | None = None

    @property
    def usage(self) -> Usage | None:
        return self.completion.usage


@dataclass(frozen=True)
class ToolCallStarted:
    """A tool is about to run with these (complete) arguments."""

    turn: int
    call: ToolCall

    @property
    def name(self) -> str:
        return self.call.function.name

    @property
    def arguments(self) -> str:
        return self.call.function.arguments


@dataclass(frozen=True)
class ToolCallFinished:
    """A tool ran (or failed, timed out, was unknown): what goes back to the model."""

    turn: int
    result: ToolResult


@dataclass(frozen=True)
class FinalAnswer:
    """The run is over; the last event."""

    result: AgentResult

    @property
    def text(self) -> str:
        return self.result.text


AgentEvent = TextDelta | TurnFinished | ToolCallStarted | ToolCallFinished | FinalAnswer
