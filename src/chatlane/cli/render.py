"""How the command line shows tool calls, results and usage (one line each)."""

from __future__ import annotations

from chatlane.agent import AgentResult, ToolCallFinished, ToolCallStarted, TurnFinished

__all__ = ["CUT_OFF", "dollars", "note", "tool_finished", "tool_started", "turn_line", "usage_line"]

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


def usage_line(result: AgentResult) -> str:
    usage = result.usage
    calls = result.tool_calls
    parts = [
        f"{result.turns} turn{'s' if result.turns != 1 else ''}",
        f"{calls} tool call{'s' if calls != 1 else ''}",
        f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens",
    ]
    cost = dollars(result.cost)
    if cost:
        parts.append(cost)
    return "[" + ", ".join(parts) + "]"


def note(event: ToolCallStarted | ToolCallFinished | TurnFinished) -> str:
    """The progress line for an event that is not text."""
    if isinstance(event, ToolCallStarted):
        return tool_started(event)
    if isinstance(event, ToolCallFinished):
        return tool_finished(event)
    return turn_line(event)
