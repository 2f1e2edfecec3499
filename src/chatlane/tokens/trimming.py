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

The window is ``context_window=`` when given, else that of ``model_info=`` (the model's facts,
as a client's ``resolve(model).model_info`` has them), else the model table's. A window that
is not known is an error, never a silent "nothing trimmed": the server would refuse the prompt
later, with less to go on. The agent, which cannot raise mid-run for it, warns instead
(:class:`UnknownContextWindowWarning`, once per model and client) and sends the whole history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatlane.core.errors import ChatlaneWarning, RequestValidationError, UsageError
from chatlane.core.messages import MessageParam
from chatlane.providers import profiles
from chatlane.providers.profiles import ModelInfo
from chatlane.tokens.counting import (
    checked_facts,
    checked_messages,
    checked_model,
    count_message_tokens,
    is_local_model,
    local_context_window,
    message_costs,
    message_dict,
)

__all__ = [
    "PromptTooLongError",
    "TrimResult",
    "UnknownContextWindowWarning",
    "context_window_of",
    "trim_messages",
    "unknown_window_advice",
]

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


class UnknownContextWindowWarning(ChatlaneWarning):
    """The context window of a model is not known, so the agent sends its whole history
    untrimmed (a prompt too long for the model is then refused by the server)."""


def unknown_window_advice(model: str) -> str:
    """How to give ``model`` its context window, for errors and warnings that lack it."""
    return (
        f"give the model its facts: chatlane.Client(models={{{model!r}: "
        "chatlane.ModelInfo(context_window=...)}), or model_info=chatlane.ModelInfo("
        "context_window=...) on the call or the Agent"
    )


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


def context_window_of(model: str, model_info: ModelInfo | None = None) -> int | None:
    """The window ``model`` is trimmed to: ``model_info``'s when given, else the table's (for
    a bare ``local/...`` name, the default ``LocalModel()``'s ``n_ctx`` when smaller); None
    when it is not known."""
    if model_info is not None:
        return model_info.context_window
    info = profiles.model_info(model)
    window = info.context_window if info is not None else None
    if is_local_model(model):
        engine_window = local_context_window(model)
        if engine_window is not None:
            window = engine_window if window is None else min(window, engine_window)
    return window


def trim_messages(
    messages: Sequence[MessageParam],
    model: str,
    *,
    max_tokens: int,
    context_window: int | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    model_info: ModelInfo | None = None,
) -> TrimResult:
    """Drop the oldest turns of ``messages`` until the prompt and ``max_tokens`` fit.

    The window is ``context_window``, else ``model_info``'s (the model's facts in place of
    the table's), else the model table's (for the embedded model, the engine's ``n_ctx``
    when smaller). Counting is ``count_message_tokens(messages, model, tools=tools,
    model_info=model_info)``: exact for OpenAI and local models, an estimate for others
    (leave headroom in ``max_tokens`` there).

    Raises PromptTooLongError when the system messages, the latest user turn and the tools
    alone leave less than ``max_tokens`` of the window, and UsageError when the window is
    not known (it names the model and how to give its facts).
    """
    items = checked_messages(messages)
    model = checked_model(model)
    model_info = checked_facts(model_info)
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
    window = context_window if context_window is not None else context_window_of(model, model_info)
    if window is None:
        raise UsageError(
            f"the context window of {model!r} is not known, so its messages cannot be trimmed "
            f"to fit: pass context_window=, or {unknown_window_advice(model)}",
            model=model,
        )
    costs = message_costs(items, model, tools=tools, model_info=model_info)

    def count(indices: Sequence[int]) -> int:
        if costs is not None:
            fixed, per_message = costs
            return fixed + sum(per_message[i] for i in indices)
        kept = [items[i] for i in indices]
        return count_message_tokens(kept, model, tools=tools, model_info=model_info).tokens

    everything = range(len(items))
    total = count(everything)
    if total + max_tokens <= window:
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
