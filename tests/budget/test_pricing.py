"""Worst cases bound what an attempt can cost; actual prices follow the provider's usage,
or say they are estimates when there is none."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatlane.budget.pricing import Price, actual, worst_case
from chatlane.core.errors import UsageError
from chatlane.core.types import CompletionTokensDetails, PromptTokensDetails, Usage
from chatlane.providers.profiles import ModelInfo, model_info
from chatlane.tokens.cost import estimate_cost

PRICED = ModelInfo(
    name="priced",
    context_window=10_000,
    max_output_tokens=2_000,
    input_per_mtok=2.0,
    output_per_mtok=8.0,
    cached_input_per_mtok=0.5,
)
WINDOW_ONLY = ModelInfo(
    name="window", context_window=4_000, input_per_mtok=1.0, output_per_mtok=1.0
)
UNPRICED = ModelInfo(name="limits-only", context_window=8_000, max_output_tokens=1_000)


def test_worst_case_with_a_cap_prices_the_prompt_and_the_whole_cap() -> None:
    price = worst_case(PRICED, 1_000, 500)
    assert price.usd == pytest.approx((1_000 * 2.0 + 500 * 8.0) / 1e6)
    assert (price.prompt_tokens, price.completion_tokens, price.tokens) == (1_000, 500, 1_500)
    assert price.estimated


def test_worst_case_without_a_cap_uses_the_models_output_limit() -> None:
    price = worst_case(PRICED, 1_000, None)
    assert price.completion_tokens == 2_000
    assert price.usd == pytest.approx((1_000 * 2.0 + 2_000 * 8.0) / 1e6)


def test_worst_case_without_an_output_limit_uses_what_the_window_leaves() -> None:
    assert worst_case(WINDOW_ONLY, 1_500, None).completion_tokens == 2_500
    # A prompt larger than the window gets refused: there is no reply to pay for.
    assert worst_case(WINDOW_ONLY, 5_000, None).completion_tokens == 0


def test_worst_case_of_a_table_model() -> None:
    info = model_info("gpt-4o")
    assert info is not None
    price = worst_case(info, 100, None)
    assert price.completion_tokens == info.max_output_tokens
    assert price.usd == estimate_cost(
        Usage(prompt_tokens=100, completion_tokens=price.completion_tokens), "gpt-4o"
    )


def test_unknown_prices_give_no_dollars_but_still_tokens() -> None:
    assert worst_case(UNPRICED, 100, None) == Price(
        usd=None, prompt_tokens=100, completion_tokens=1_000, estimated=True
    )
    price = worst_case(None, 100, 50)
    assert price.usd is None
    assert price.tokens == 150


def test_a_request_that_cannot_be_bounded_is_a_usage_error_naming_the_model() -> None:
    with pytest.raises(UsageError, match="max_tokens") as caught:
        worst_case(None, 100, None, model="my-model")
    assert "'my-model'" in str(caught.value)
    assert "ModelInfo(" in str(caught.value)
    with pytest.raises(UsageError, match="'bare'"):
        worst_case(ModelInfo(name="bare", input_per_mtok=1.0, output_per_mtok=1.0), 100, None)


@pytest.mark.parametrize(
    ("prompt_tokens", "max_output", "named"),
    [(-1, 10, "prompt_tokens"), (1.5, 10, "prompt_tokens"), (True, 10, "prompt_tokens"),
     (10, -5, "max_output"), (10, "100", "max_output")],
)  # fmt: skip
def test_bad_token_counts_are_usage_errors_naming_the_parameter(
    prompt_tokens: object, max_output: object, named: str
) -> None:
    with pytest.raises(UsageError, match=named):
        worst_case(PRICED, prompt_tokens, max_output)  # type: ignore[arg-type]


def test_info_must_be_model_info() -> None:
    with pytest.raises(UsageError, match=r"info must be a chatlane\.ModelInfo"):
        worst_case({"input_per_mtok": 1}, 10, 10)  # type: ignore[arg-type]


def test_actual_prices_cached_input_at_the_cached_price_and_reasoning_as_output() -> None:
    usage = Usage(
        prompt_tokens=1_000,
        completion_tokens=300,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=400),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=200),
    )
    price = actual(PRICED, usage, estimated_prompt=1, estimated_output=1)
    # Reasoning tokens are inside the 300 completion tokens, not added again.
    assert price.usd == pytest.approx((600 * 2.0 + 400 * 0.5 + 300 * 8.0) / 1e6)
    assert (price.prompt_tokens, price.completion_tokens) == (1_000, 300)
    assert (price.cached_tokens, price.reasoning_tokens) == (400, 200)
    assert not price.estimated


def test_deepseek_cache_hits_count_as_cached() -> None:
    usage = Usage(prompt_tokens=100, completion_tokens=10, prompt_cache_hit_tokens=60)
    assert actual(PRICED, usage, estimated_prompt=0, estimated_output=0).cached_tokens == 60


def test_without_usage_the_estimates_are_used_and_marked() -> None:
    price = actual(PRICED, None, estimated_prompt=120, estimated_output=80)
    assert price.estimated
    assert (price.prompt_tokens, price.completion_tokens) == (120, 80)
    assert price.usd == pytest.approx((120 * 2.0 + 80 * 8.0) / 1e6)


def test_a_usage_of_zeros_is_no_report_not_a_free_call() -> None:
    price = actual(PRICED, Usage(), estimated_prompt=50, estimated_output=5)
    assert price.estimated
    assert price.tokens == 55
    assert price.usd is not None
    assert price.usd > 0


def test_actual_of_an_unknown_price_is_none_never_zero() -> None:
    usage = Usage(prompt_tokens=10, completion_tokens=10)
    assert actual(None, usage, estimated_prompt=0, estimated_output=0).usd is None
    assert actual(UNPRICED, None, estimated_prompt=5, estimated_output=5).usd is None


@pytest.mark.parametrize("bad", [-1, 2.0, None])
def test_bad_estimates_are_usage_errors(bad: object) -> None:
    with pytest.raises(UsageError, match="estimated_prompt"):
        actual(PRICED, None, estimated_prompt=bad, estimated_output=1)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="estimated_output"):
        actual(PRICED, None, estimated_prompt=1, estimated_output=bad)  # type: ignore[arg-type]


def test_usage_must_be_a_usage() -> None:
    with pytest.raises(UsageError, match=r"usage must be a chatlane\.Usage"):
        actual(PRICED, {"prompt_tokens": 1}, estimated_prompt=1, estimated_output=1)  # type: ignore[arg-type]


PRICES = st.floats(min_value=0, max_value=100, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    input_price=PRICES,
    output_price=PRICES,
    cached_price=st.none() | PRICES,
    prompt=st.integers(0, 200_000),
    cap=st.integers(0, 100_000),
    data=st.data(),
)
def test_the_worst_case_bounds_every_reply_within_the_cap(
    input_price: float,
    output_price: float,
    cached_price: float | None,
    prompt: int,
    cap: int,
    data: st.DataObject,
) -> None:
    info = ModelInfo(
        name="m",
        input_per_mtok=input_price,
        output_per_mtok=output_price,
        cached_input_per_mtok=None if cached_price is None else min(cached_price, input_price),
    )
    completion = data.draw(st.integers(0, cap), label="completion")
    cached = data.draw(st.integers(0, prompt), label="cached")
    reasoning = data.draw(st.integers(0, completion), label="reasoning")
    usage = Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=reasoning),
    )
    bound = worst_case(info, prompt, cap)
    billed = actual(info, usage, estimated_prompt=prompt, estimated_output=cap)
    assert bound.usd is not None
    assert billed.usd is not None
    assert billed.usd <= bound.usd * (1 + 1e-12)
    assert billed.tokens <= bound.tokens
    if prompt or completion:  # all zeros is no report: the estimates are priced instead
        assert billed.usd == estimate_cost(usage, "m", model_info=info)
