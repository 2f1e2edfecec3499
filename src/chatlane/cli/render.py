"""How the command line shows an agent run: streamed text, and one line per tool call,
tool result, model turn and answer."""

from __future__ import annotations

from typing import TextIO

from chatlane.agent import (
    AgentEvent,
    AgentResult,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
)
from chatlane.core.types import Usage

__all__ = ["CUT_OFF", "EventWriter", "dollars", "tokens_text", "usage_line"]

_SHOWN = 200  # characters of a tool result shown; the model gets all of it
CUT_OFF = "(the answer was cut off by the token limit: raise --max-tokens)"


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…"


def tool_started(event: ToolCallStarted) -> str:
    return f"→ {event.name}({_clip(event.arguments)})"


def tool_finished(event: ToolCallFinished) -> str:
    result = event.result
    mark = "✗" if result.is_error else "←"
    return f"{mark} {result.name}: {_clip(result.content)} ({result.duration * 1000:.0f} ms)"


def dollars(cost: float | None) -> str | None:
    if cost is None:
        return None
    return "$0" if cost == 0 else f"${cost:.6f}"


def turn_line(event: TurnFinished) -> str:
    """Per model call: latency and tokens, and what trimming dropped."""
    parts = [f"turn {event.turn}: {event.completion.latency:.2f} s"]
    usage = event.usage
    if usage is not None:
        parts.append(f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens")
    cost = dollars(event.cost)
    if cost:
        parts.append(cost)
    if event.trimmed is not None:
        parts.append(f"trimmed {event.trimmed.dropped_messages} old messages")
    return "[" + ", ".join(parts) + "]"


def tokens_text(usage: Usage, *, reported: bool) -> str:
    """Token counts, or that the server did not report them (unknown is not zero)."""
    if not reported:
        return "tokens not reported by the server"
    return f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"


def usage_line(result: AgentResult) -> str:
    usage = result.usage
    calls = result.tool_calls
    parts = [
        f"{result.turns} turn{'s' if result.turns != 1 else ''}",
        f"{calls} tool call{'s' if calls != 1 else ''}",
        tokens_text(usage, reported=result.usage_reported),
    ]
    cost = dollars(result.cost)
    if cost:
        parts.append(cost)
    return "[" + ", ".join(parts) + "]"


def answer_lines(result: AgentResult) -> list[str]:
    """What follows an answer: a warning if it was cut off, then its usage."""
    cut_off = [CUT_OFF] if result.finish_reason == "length" else []
    return [*cut_off, usage_line(result)]


class EventWriter:
    """Writes a run's events as they come: text to ``text`` (None: not shown), every other
    line to ``notes`` (None: not shown). A note after streamed text starts a new line."""

    def __init__(self, text: TextIO | None, notes: TextIO | None) -> None:
        self.text = text
        self.notes = notes
        self.mid_line = False  # text written without its newline yet

    def write(self, event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            if self.text is not None:
                self.text.write(event.text)
                self.text.flush()
                self.mid_line = True
            return
        if self.notes is None:
            return
        self.end_line()
        if isinstance(event, ToolCallStarted):
            lines = [tool_started(event)]
        elif isinstance(event, ToolCallFinished):
            lines = [tool_finished(event)]
        elif isinstance(event, TurnFinished):
            lines = [turn_line(event)]
        else:
            lines = answer_lines(event.result)
        for line in lines:
            print(line, file=self.notes, flush=True)

    def end_line(self) -> None:
        if self.mid_line and self.text is not None:
            self.text.write("\n")
            self.text.flush()
        self.mid_line = False
