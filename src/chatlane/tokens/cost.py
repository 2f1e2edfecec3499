"""What a call cost, from its reported usage and the model table's list prices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from chatlane.core.errors import UsageError
from chatlane.core.types import Usage
from chatlane.providers import profiles
from chatlane.providers.profiles import ModelInfo

__all__ = ["estimate_cost", "list_price"]


def estimate_cost(
    usage: Usage | Mapping[str, Any], model: str, *, model_info: ModelInfo | None = None
) -> float | None:
    """The cost of one call in US dollars, or None when the model's prices are not known.

    - input: ``(prompt_tokens - cached_tokens) * input + cached_tokens * cached_input``,
      where cached tokens are those the provider served from its prompt cache
      (``prompt_tokens_details.cached_tokens``; DeepSeek's ``prompt_cache_hit_tokens``) and
      the cached price falls back to the input price when the table has none;
    - output: ``completion_tokens * output``. Reasoning tokens are part of
      ``completion_tokens`` (as OpenAI, DeepSeek and OpenAI-compatible servers report them)
      and are billed as output, so they are not added again.

    ``usage`` is a ``chatlane.Usage`` or the same shape as a dict. Prices are
    ``model_info``'s when given (the model's facts in place of the table's), else the
    table's (see ``chatlane.PRICES_AS_OF``); cache writes and batch discounts are not
    modelled.
    """
    if not isinstance(usage, Usage):
        try:
            usage = msgspec.convert(usage, Usage)
        except msgspec.ValidationError as exc:
            raise UsageError(f"usage: not a usage record: {exc}", model=model) from None
    if model_info is not None and not isinstance(model_info, ModelInfo):
        raise UsageError(
            f"model_info must be a chatlane.ModelInfo (or None), not {type(model_info).__name__}"
        )
    info = profiles.model_info(model) if model_info is None else model_info
    if info is None:
        return None
    prompt = max(usage.prompt_tokens, 0)
    return list_price(
        info, prompt, max(usage.completion_tokens, 0), min(max(usage.cached_tokens, 0), prompt)
    )


def list_price(info: ModelInfo, prompt: int, completion: int, cached: int = 0) -> float | None:
    """The pricing rule of :func:`estimate_cost` for counts already checked (none below 0,
    ``cached`` within ``prompt``): the budgets' hot path, where a call's counts are known
    to be sound."""
    input_price = info.input_per_mtok
    if input_price is None:
        return None
    output_price = info.output_per_mtok
    if completion and output_price is None:
        return None
    cached_price = info.cached_input_per_mtok
    if cached_price is None:
        cached_price = input_price
    dollars = (prompt - cached) * input_price + cached * cached_price
    dollars += completion * (output_price or 0.0)
    return dollars / 1_000_000
