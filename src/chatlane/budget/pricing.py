"""What an attempt may cost before it is sent, and what it did cost after.

Both prices come from :func:`chatlane.tokens.estimate_cost`, the one pricing rule of
chatlane (list prices per million tokens, cached input at the cached price, reasoning
tokens inside completion tokens at the output price).
"""

from __future__ import annotations

import msgspec

from chatlane.core.errors import UsageError
from chatlane.core.types import Usage
from chatlane.providers.profiles import ModelInfo
from chatlane.tokens.cost import list_price

__all__ = ["Price", "actual", "actual_of", "worst_case", "worst_case_of"]


class Price(msgspec.Struct, frozen=True, gc=False):
    """Tokens and dollars of one attempt (a worst case, or what it was billed).

    ``usd`` is None when the model's price is not known: an unknown price is never 0.
    ``estimated`` is True when the token counts are chatlane's own counts rather than the
    provider's report (always for a worst case; for an actual price, when the provider
    sent no usage).
    """

    usd: float | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens (cached and reasoning tokens are inside those)."""
        return self.prompt_tokens + self.completion_tokens


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{name} must be a non-negative integer, not {value!r}")
    return value


def _check_info(info: object) -> ModelInfo | None:
    if info is not None and not isinstance(info, ModelInfo):
        raise UsageError(f"info must be a chatlane.ModelInfo or None, not {info!r}")
    return info


def worst_case(
    info: ModelInfo | None, prompt_tokens: int, max_output: int | None, *, model: str = ""
) -> Price:
    """The most an attempt can cost: its prompt at the input price plus its largest
    possible reply at the output price (cached-input discounts are not counted on).

    The largest reply is ``max_output`` (the request's ``max_tokens`` /
    ``max_completion_tokens``) as given; without a cap it is the model's output limit
    (``info.max_output_tokens``), else what the context window leaves after the prompt.
    A request with no cap to a model with neither limit known cannot be bounded: that
    raises :class:`~chatlane.UsageError` (``model`` names it in the message). ``usd`` is
    None when ``info`` is None or lacks prices.
    """
    info = _check_info(info)
    prompt = _check_count("prompt_tokens", prompt_tokens)
    if max_output is not None:
        _check_count("max_output", max_output)
    return worst_case_of(info, prompt, max_output, model)


def worst_case_of(info: ModelInfo | None, prompt: int, max_output: int | None, model: str) -> Price:
    """:func:`worst_case` for counts known to be sound (the call flow's own)."""
    if max_output is not None:
        output = max_output
    elif info is not None and info.max_output_tokens is not None:
        output = info.max_output_tokens
    elif info is not None and info.context_window is not None:
        # A prompt larger than the window is refused by the provider: no reply to pay for.
        output = max(info.context_window - prompt, 0)
    else:
        name = model or (info.name if info is not None else "") or "this model"
        raise UsageError(
            f"max_output is None and the output limit of {name!r} is not known, so the "
            "budget cannot bound the call: set max_tokens on the request, or give the model "
            f"its limits with Client(models={{{name!r}: chatlane.ModelInfo("
            "context_window=..., max_output_tokens=...)}})",
            model=model or None,
        )
    usd = None if info is None else list_price(info, prompt, output)
    # usd, prompt, completion, cached, reasoning, estimated: positional, as on every attempt
    return Price(usd, prompt, output, 0, 0, True)


def actual(
    info: ModelInfo | None,
    usage: Usage | None,
    *,
    estimated_prompt: int,
    estimated_output: int,
) -> Price:
    """What an attempt cost, from the usage the provider reported.

    Cached prompt tokens are priced at the cached-input price; reasoning tokens are part
    of the completion tokens and priced as output, as OpenAI bills them. Without a usage
    report (``usage`` None, or all zeros as some servers send in place of counting) the
    tokens are the caller's estimates and the price says so (``estimated=True``): a call
    that was billed is never counted as free.
    """
    info = _check_info(info)
    estimated_prompt = _check_count("estimated_prompt", estimated_prompt)
    estimated_output = _check_count("estimated_output", estimated_output)
    if usage is not None and not isinstance(usage, Usage):
        raise UsageError(f"usage must be a chatlane.Usage or None, not {usage!r}")
    return actual_of(info, usage, estimated_prompt, estimated_output)


def actual_of(
    info: ModelInfo | None, usage: Usage | None, estimated_prompt: int, estimated_output: int
) -> Price:
    """:func:`actual` for arguments known to be sound (the call flow's own)."""
    if usage is None or (usage.prompt_tokens <= 0 and usage.completion_tokens <= 0):
        # not reported (reported_usage's rule, inline: this runs after every attempt)
        return Price(
            usd=None if info is None else list_price(info, estimated_prompt, estimated_output),
            prompt_tokens=estimated_prompt,
            completion_tokens=estimated_output,
            estimated=True,
        )
    # The decoders drop negative counts, but a Usage may be made (or edited) by anyone;
    # comparisons, not max()/min(): this runs after every attempt.
    prompt, completion = usage.prompt_tokens, usage.completion_tokens
    prompt = prompt if prompt > 0 else 0
    completion = completion if completion > 0 else 0
    cached, reasoning = usage.cached_tokens, usage.reasoning_tokens
    cached = prompt if cached > prompt else cached
    reasoning = completion if reasoning > completion else reasoning
    usd = None if info is None else list_price(info, prompt, completion, cached)
    return Price(usd, prompt, completion, cached, reasoning)
