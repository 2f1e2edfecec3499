"""``ToolResult``: what running one tool call produced, and the text the model reads back.

Every outcome is a result, errors included, because the model is the one who can fix them:
an unknown tool name, bad arguments, a tool that raised or ran out of time. The text of an
error is short and says what to do next; the exception itself stays on the result for logs
and is never sent to the model (tracebacks leak paths and waste context).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from chatlane.core.messages import ToolMessageParam, tool_result

__all__ = ["ErrorKind", "ToolResult", "value_text"]

ErrorKind = Literal["unknown_tool", "invalid_arguments", "failed", "timeout", "cancelled", "limit"]
"""Why a call gave no value; "limit": not run because a run's tool-call limit was reached."""

_MAX_ERROR_TEXT = 1000  # characters of an exception message the model gets to read


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call."""

    tool_call_id: str
    name: str
    """The tool name the model asked for (even when no such tool exists)."""
    content: str
    """The text that goes back to the model: the value as text, or an error message."""
    is_error: bool = False
    error_kind: ErrorKind | None = None
    value: Any = None
    """The function's return value; None when the call failed."""
    exception: BaseException | None = None
    """What the tool (or validation) raised, for logging; not sent to the model."""
    duration: float = 0.0
    """Seconds from taking the call to having its result: validation and any wait for a free
    slot (``max_concurrency``) included."""

    def message(self) -> ToolMessageParam:
        """The ``tool`` message that answers the call in the next request."""
        return tool_result(self.tool_call_id, self.content)


def value_text(value: Any) -> str:
    """A return value as text for the model: strings as they are, anything else as JSON.

    JSON by pydantic's encoder, which knows models, dataclasses, datetimes, enums, sets and
    bytes; ``str(value)`` when even that fails. ``None`` becomes ``null``.
    """
    if isinstance(value, str):
        return value
    from pydantic_core import to_json

    try:
        return to_json(value).decode()
    except Exception:  # not JSON-able: its str() is the best description left
        return str(value)


def success(call_id: str, name: str, value: Any, duration: float) -> ToolResult:
    return ToolResult(call_id, name, value_text(value), value=value, duration=duration)


def unknown_tool(call_id: str, name: str, available: Iterable[str], duration: float) -> ToolResult:
    names = ", ".join(available) or "none"
    content = f"Error: unknown tool {name!r}. Available tools: {names}."
    return ToolResult(call_id, name, content, True, "unknown_tool", duration=duration)


def invalid_arguments(
    call_id: str, name: str, exception: BaseException, duration: float
) -> ToolResult:
    details = _clip(str(exception)).rstrip(".")
    content = (
        f"Error: invalid arguments for {name}: {details}."
        f" Call {name} again with corrected arguments."
    )
    return ToolResult(
        call_id, name, content, True, "invalid_arguments", exception=exception, duration=duration
    )


def failed(call_id: str, name: str, exception: BaseException, duration: float) -> ToolResult:
    message = _clip(str(exception))
    kind = type(exception).__name__
    content = (
        f"Error: {name} failed: {kind}: {message}" if message else f"Error: {name} failed: {kind}"
    )
    return ToolResult(
        call_id, name, content, True, "failed", exception=exception, duration=duration
    )


def timed_out(call_id: str, name: str, timeout: float, duration: float) -> ToolResult:
    content = f"Error: {name} timed out after {timeout:g} s."
    return ToolResult(call_id, name, content, True, "timeout", duration=duration)


def cancelled(call_id: str, name: str, exception: BaseException, duration: float) -> ToolResult:
    content = f"Error: {name} was cancelled."
    return ToolResult(
        call_id, name, content, True, "cancelled", exception=exception, duration=duration
    )


def _clip(text: str) -> str:
    if len(text) <= _MAX_ERROR_TEXT:
        return text
    return text[:_MAX_ERROR_TEXT] + f"... [{len(text) - _MAX_ERROR_TEXT} more characters]"
