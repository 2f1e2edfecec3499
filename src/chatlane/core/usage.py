"""Reading token usage: whether a provider reported any, and adding it up over several
calls (agent turns, re-asks, batches)."""

from __future__ import annotations

from collections.abc import Iterable

from chatlane.core.types import CompletionTokensDetails, PromptTokensDetails, Usage

__all__ = ["reported_usage", "sum_usage"]


def reported_usage(usage: Usage | None) -> Usage | None:
    """``usage`` if it reports tokens; None when the provider reported none: no usage, or
    all zeros, as some servers send in place of counting (unknown is never zero)."""
    if usage is None or (usage.prompt_tokens <= 0 and usage.completion_tokens <= 0):
        return None
    return usage


def sum_usage(usages: Iterable[Usage | None]) -> Usage:
    """One ``Usage`` with every count summed; calls that reported none count as zero.

    Cached and reasoning tokens are summed under OpenAI's names whichever way each call
    reported them (DeepSeek's ``prompt_cache_hit_tokens`` included).
    """
    prompt = completion = total = cached = reasoning = 0
    for usage in usages:
        if usage is None:
            continue
        prompt += usage.prompt_tokens
        completion += usage.completion_tokens
        total += usage.total_tokens or usage.prompt_tokens + usage.completion_tokens
        cached += usage.cached_tokens
        reasoning += usage.reasoning_tokens
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached) if cached else None,
        completion_tokens_details=(
            CompletionTokensDetails(reasoning_tokens=reasoning) if reasoning else None
        ),
    )
