"""The usage record: one per request, what a service logs about every call it made.

Prompts and answers are in it only when asked (``content=True``); keys never are (error
messages are scrubbed when they are made).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from chatlane._call.call import Call
from chatlane.core.error_mapping import request_id_from
from chatlane.core.errors import ChatlaneError
from chatlane.core.types import ChatCompletion
from chatlane.core.usage import reported_usage

__all__ = ["UsageRecord", "usage_record"]


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """What one request did. ``None`` is unknown (never 0): tokens a provider did not
    report are chatlane's estimate only when ``tokens_estimated`` says so."""

    request_id: str | None
    provider: str | None
    model: str | None
    """The model as the caller named it."""
    target: str
    """``provider/model`` that answered (or failed last), after any fallback."""
    stream: bool
    attempts: int
    latency: float
    time_to_first_token: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    tokens_estimated: bool
    cost_usd: float | None
    cached: bool
    fallback: bool
    """Another target than the call's own model answered (or was tried)."""
    error_type: str | None
    messages: list[Any] | None = None
    answer: str | None = None

    def as_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        if self.messages is None:
            del fields["messages"]
        if self.answer is None:
            del fields["answer"]
        return fields


def usage_record(
    call: Call,
    requested_model: str | None,
    completion: ChatCompletion | None,
    error: ChatlaneError | None,
    *,
    content: bool,
) -> UsageRecord:
    """The record of ``call``, ended with ``completion`` or ``error``."""
    usage = completion.usage if completion is not None else None
    if usage is None and call.decoder is not None:
        usage = call.decoder.accumulator.usage
    usage = reported_usage(usage)  # all zeros is no report: unknown, never 0 tokens at $0
    prompt = completion_tokens = None
    estimated = False
    if usage is not None:
        prompt, completion_tokens = usage.prompt_tokens, usage.completion_tokens
    elif completion is not None and not (completion.cached or error):
        prompt, estimated = call.prompt_tokens(), True
    cost = None
    if usage is not None and completion is not None and not completion.cached:
        from chatlane.tokens.cost import estimate_cost

        cost = estimate_cost(usage, call.wire_model, model_info=call.model_info())
    elif completion is not None and completion.cached:
        cost = 0.0  # answered from the cache: nothing was billed
    first = None
    decoder = call.decoder
    if decoder is not None and decoder.first_token_at is not None:
        first = decoder.first_token_at - call.started
    answer = completion.text if content and completion is not None else None
    return UsageRecord(
        request_id=(error.request_id if error is not None else None)
        or request_id_from(call.headers)
        or (completion.id if completion is not None else None),
        provider=call.provider,
        model=requested_model,
        target=call.target,
        stream=call.stream,
        attempts=call.attempts + call.earlier_attempts,
        latency=time.perf_counter() - call.notes.get("request_started", call.started),
        time_to_first_token=first,
        prompt_tokens=prompt,
        completion_tokens=completion_tokens,
        tokens_estimated=estimated,
        cost_usd=cost,
        cached=completion is not None and completion.cached,
        fallback=bool(call.notes.get("fell_back")),
        error_type=None if error is None else type(error).__name__,
        messages=list(call.params.get("messages") or []) if content else None,
        answer=answer,
    )
