"""The model table: lookups and prices; and cost from usage."""

from __future__ import annotations

import datetime

import pytest

from chatlane import Usage
from chatlane.core.types import CompletionTokensDetails, PromptTokensDetails
from chatlane.tokens import PRICES_AS_OF, ModelInfo, estimate_cost, model_info
from chatlane.tokens.models import MODELS


def test_plain_names() -> None:
    info = model_info("gpt-4o")
    assert info == ModelInfo("gpt-4o", 128_000, 16_384, "o200k_base", 2.50, 10.00, 1.25)
    assert model_info("gpt-4") is not None
    assert model_info("gpt-4.1-mini") is not None
    for name in (
        "o3",
        "o4-mini",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "claude-haiku-4-5",
        "deepseek-chat",
        "deepseek-reasoner",
        "mistral-large-latest",
        "magistral-medium-latest",
        "llama-3.3-70b-versatile",
    ):
        assert model_info(name) is not None, name


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("openai/gpt-4o", "gpt-4o"),
        ("openrouter/openai/gpt-4o-mini", "gpt-4o-mini"),
        ("GPT-4O", "gpt-4o"),
        (" gpt-4.1 ", "gpt-4.1"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("openai/gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # a snapshot with its own price
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("claude-sonnet-4-0", "claude-sonnet-4"),
        ("mistral/mistral-small-2506", "mistral-small-latest"),
        ("magistral-medium-2509", "magistral-medium-latest"),
        ("deepseek/deepseek-chat", "deepseek-chat"),
        ("groq/llama-3.3-70b-versatile", "llama-3.3-70b-versatile"),
        (
            "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "meta-llama/llama-3.3-70b-instruct-turbo",
        ),
        ("groq/openai/gpt-oss-120b", "gpt-oss-120b"),
        ("local/smollm2", "smollm2"),
    ],
)
def test_lookups(model: str, name: str) -> None:
    info = model_info(model)
    assert info is not None, model
    assert info.name == name


@pytest.mark.parametrize(
    "model", ["mystery-model", "ollama/llama3.2:3b", "ft:gpt-4o-mini:org::abc", "", "/"]
)
def test_unknown_models(model: str) -> None:
    assert model_info(model) is None


def test_free_variants_cost_nothing() -> None:
    free = model_info("openrouter/deepseek/deepseek-chat:free")
    assert free is not None
    assert (free.input_per_mtok, free.output_per_mtok) == (0.0, 0.0)
    paid = model_info("openrouter/deepseek/deepseek-chat:nitro")
    assert paid == model_info("deepseek-chat")


def test_local_model_row() -> None:
    info = model_info("local/smollm2")
    assert info is not None
    assert info.context_window == 8192
    assert (info.input_per_mtok, info.output_per_mtok) == (0.0, 0.0)


def test_the_table_is_sane() -> None:
    datetime.date.fromisoformat(PRICES_AS_OF)
    for name, info in MODELS.items():
        assert name == info.name == name.lower().strip()
        assert info.context_window is not None, name  # every row knows its window
        assert info.context_window > 0
        assert info.max_output_tokens is None or 0 < info.max_output_tokens <= info.context_window
        assert info.encoding in {None, "o200k_base", "cl100k_base", "o200k_harmony"}
        prices = (info.input_per_mtok, info.output_per_mtok, info.cached_input_per_mtok)
        assert all(p is None or p >= 0 for p in prices), name
        if info.cached_input_per_mtok is not None:
            assert info.input_per_mtok is not None
            assert info.cached_input_per_mtok <= info.input_per_mtok, name


def _usage(prompt: int, completion: int, *, cached: int = 0, reasoning: int = 0) -> Usage:
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=reasoning),
    )


def test_cost_plain() -> None:
    cost = estimate_cost(_usage(1_000_000, 1_000_000), "gpt-4o")
    assert cost == pytest.approx(2.50 + 10.00)


def test_cost_with_cached_tokens() -> None:
    cost = estimate_cost(_usage(1000, 500, cached=400), "openai/gpt-4o-2024-08-06")
    assert cost == pytest.approx((600 * 2.50 + 400 * 1.25 + 500 * 10.00) / 1e6)


def test_reasoning_tokens_are_billed_once_as_output() -> None:
    with_reasoning = estimate_cost(_usage(1000, 5000, reasoning=4000), "o3")
    assert with_reasoning == pytest.approx((1000 * 2.00 + 5000 * 8.00) / 1e6)
    assert with_reasoning == estimate_cost(_usage(1000, 5000), "o3")


def test_cached_tokens_without_a_cached_price_cost_the_input_price() -> None:
    cost = estimate_cost(_usage(1000, 0, cached=1000), "gpt-4o-2024-05-13")
    assert cost == pytest.approx(1000 * 5.00 / 1e6)


def test_deepseek_cache_hits() -> None:
    usage = Usage(
        prompt_tokens=1000,
        completion_tokens=100,
        prompt_cache_hit_tokens=800,
        prompt_cache_miss_tokens=200,
    )
    assert estimate_cost(usage, "deepseek/deepseek-chat") == pytest.approx(
        (200 * 0.28 + 800 * 0.028 + 100 * 0.42) / 1e6
    )


def test_cost_from_a_dict_and_odd_numbers() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 500},
    }
    assert estimate_cost(usage, "gpt-4o") == pytest.approx((100 * 1.25 + 10 * 10.00) / 1e6)


def test_cost_unknown_or_free() -> None:
    assert estimate_cost(_usage(10, 10), "mystery-model") is None
    assert (
        estimate_cost(_usage(10, 10), "meta-llama/llama-3.3-70b-instruct") is None
    )  # no price listed
    assert estimate_cost(_usage(10, 0), "text-embedding-3-small") == pytest.approx(10 * 0.02 / 1e6)
    assert estimate_cost(_usage(10, 10), "local/smollm2") == 0.0
    assert estimate_cost(Usage(), "gpt-4o") == 0.0
