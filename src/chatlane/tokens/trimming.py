"""Trimming a conversation to fit a model's context window, before anything is sent.

What is kept, always: every ``system``/``developer`` message (wherever it stands) and the
latest user turn: the last ``user`` message and everything after it (in an agent loop, the
tool calls and results of the turn in progress). When there is no user message, the last
message (with its tool results, if it called tools) stands in for that turn.

What goes, oldest first, until ``prompt + max_tokens <= context window``: whole earlier
turns. A turn is a user message with the assistant replies, tool calls and tool results that
follow it, so an assistant message with ``tool_calls`` always leaves together with its tool
results: trimming never leaves a ``tool`` message without its call or a call without its
results, and never leaves a reply without the question it answers.

If the kept part alone does not fit, :class:`PromptTooLongError` says by how much.
The input list and its messages are never changed; the result holds the same message objects
(dicts or ``chatlane.Message`` structs alike) in their original order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatlane.core.errors import RequestValidationError, UsageError
from chatlane.core.messages import MessageParam
from chatlane.tokens.counting import (
    count_message_tokens,
    is_local_model,
    local_context_window,
    message_costs,
    message_dict,
)
from chatlane.tokens.models import model_info

__all__ = ["PromptTooLongError", "TrimResult", "trim_messages"]

_PINNED_ROLES = frozenset({"system", "developer"})


class PromptTooLongError(UsageError):
    """The prompt cannot fit the context window even after trimming; nothing was sent.

    ``prompt_tokens`` is what the part that cannot be dropped (system messages, the latest
    user turn, tool definitions) takes; ``max_tokens`` what the reply reserves.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        prompt_tokens: int,
        max_tokens: int,
        context_window: int,
    ) -> None:
        super().__init__(message, model=model)
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.context_window = context_window


@dataclass(frozen=True)
class TrimResult:
    """The messages to send and what trimming took away."""

    messages: list[Any]
    dropped_messages: int
    dropped_tokens: int
    """Prompt tokens before trimming minus ``prompt_tokens``."""
    prompt_tokens: int
    """Prompt tokens of ``messages`` (and the tools), as ``count_message_tokens`` counts."""


def _role(message: Any) -> str:
    role = message_dict(message).get("role")
    return role if isinstance(role, str) else ""


def _turns(roles: Sequence[str]) -> list[list[int]]:
    """The droppable turns, oldest first, each as the indices of its messages."""
    # Units: a message, with the tool results that follow it attached (a tool group).
    units: list[list[int]] = []
    for index, role in enumerate(roles):
        if role in _PINNED_ROLES:
            continue
        if role == "tool" and units:
            units[-1].append(index)
        else:
            units.append([index])
    last_user = max((i for i, role in enumerate(roles) if role == "user"), default=None)
    if last_user is not None:
        tail_start = last_user
    elif units:
        tail_start = units[-1][0]
    else:
        tail_start = len(roles)
    turns: list[list[int]] = []
    for unit in units:
        if unit[0] >= tail_start:
            break
        if not turns or roles[unit[0]] == "user":
            turns.append(list(unit))
        else:
            turns[-1].extend(unit)
    return turns


def _context_window(model: str) -> int | None:
    info = model_info(model)
    window = info.context_window if info is not None else None
    if is_local_model(model):
        engine_window = local_context_window(model)
        if engine_window is not None:
            window = engine_window if window is None else min(window, engine_window)
    return window


def trim_messages(
    messages: Sequence[MessageParam],
    *,
    model: str,
    max_tokens: int,
    context_window: int | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> TrimResult:
    """Drop the oldest turns of ``messages`` until the prompt and ``max_tokens`` fit.

    ``context_window`` defaults to the model's (``model_info``; for the embedded model, the
    engine's ``n_ctx`` when smaller). When it is not known, nothing is dropped. Counting is
    ``count_message_tokens(..., model, tools=tools)``: exact for OpenAI and local models,
    an estimate for others (leave headroom in ``max_tokens`` there).

    Raises PromptTooLongError when the system messages, the latest user turn and the tools
    alone leave less than ``max_tokens`` of the window.
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
        raise RequestValidationError(
            "max_tokens must be a non-negative integer", field="max_tokens"
        )
    if context_window is not None and (
        isinstance(context_window, bool)
        or not isinstance(context_window, int)
        or context_window < 1
    ):
        raise RequestValidationError(
            "context_window must be a positive integer", field="context_window"
        )
    items = list(messages)
    window = context_window if context_window is not None else _context_window(model)
    costs = message_costs(items, model, tools=tools)

    def count(indices: Sequence[int]) -> int:
        if costs is not None:
            fixed, per_message = costs
            return fixed + sum(per_message[i] for i in indices)
        return count_message_tokens([items[i] for i in indices], model, tools=tools).tokens

    everything = range(len(items))
    total = count(everything)
    if window is None or total + max_tokens <= window:
        return TrimResult(items, 0, 0, total)

    budget = window - max_tokens
    turns = _turns([_role(m) for m in items])
    counted: dict[int, int] = {}

    def kept_after(dropped_turns: int) -> list[int]:
        gone = {i for turn in turns[:dropped_turns] for i in turn}
        return [i for i in everything if i not in gone]

    def tokens_after(dropped_turns: int) -> int:
        if dropped_turns not in counted:
            counted[dropped_turns] = count(kept_after(dropped_turns))
        return counted[dropped_turns]

    needed = tokens_after(len(turns))
    if needed > budget:
        with_tools = ", the tool definitions" if tools else ""
        raise PromptTooLongError(
            f"the prompt cannot fit the context window of {model} ({window} tokens): the "
            f"system messages{with_tools} and the latest user turn take {needed} tokens and "
            f"max_tokens reserves {max_tokens} ({needed + max_tokens} > {window})",
            model=model,
            prompt_tokens=needed,
            max_tokens=max_tokens,
            context_window=window,
        )
    # The fewest oldest turns to drop: counts shrink as turns go, so search for the edge.
    low, high = 1, len(turns)  # dropping `high` turns fits; dropping none does not
    while low < high:
        middle = (low + high) // 2
        if tokens_after(middle) <= budget:
            high = middle
        else:
            low = middle + 1
    kept = kept_after(high)
    prompt_tokens = tokens_after(high)
    return TrimResult(
        [items[i] for i in kept],
        len(items) - len(kept),
        total - prompt_tokens,
        prompt_tokens,
    )
