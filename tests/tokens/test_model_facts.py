"""Facts a caller gives a model (``model_info=``), the embedded model's facts, one calling
convention for the token functions, and misuse of them."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import pytest

import chatlane
from chatlane.tokens import (
    ModelInfo,
    count_message_tokens,
    count_tokens,
    estimate_cost,
    model_info,
    trim_messages,
)

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the capital of France?"},
]
USAGE = {"prompt_tokens": 1000, "completion_tokens": 500}


def test_facts_not_given_are_not_known() -> None:
    facts = ModelInfo(context_window=32_768)
    assert facts == ModelInfo("", 32_768, None, None, None, None, None)


@pytest.mark.parametrize(
    "fact",
    [
        {"context_window": 0},
        {"context_window": True},
        {"context_window": 1.5},
        {"max_output_tokens": -1},
        {"input_per_mtok": -0.1},
        {"output_per_mtok": "1"},
        {"cached_input_per_mtok": float("nan")},
        {"name": 3},
        {"encoding": 1},
    ],
)
def test_impossible_facts_are_refused(fact: dict[str, Any]) -> None:
    with pytest.raises(chatlane.UsageError, match=f"ModelInfo.{next(iter(fact))}"):
        ModelInfo(**fact)


def test_given_prices_price_a_call_and_unknown_prices_stay_none() -> None:
    facts = ModelInfo(input_per_mtok=1.0, output_per_mtok=2.0)
    assert estimate_cost(USAGE, "my-model", model_info=facts) == pytest.approx(2000 / 1e6)
    assert estimate_cost(USAGE, "my-model") is None
    # Given facts replace the table's row: no prices given, none known.
    assert estimate_cost(USAGE, "gpt-4o", model_info=ModelInfo(context_window=8192)) is None
    row = model_info("gpt-4o")
    assert row is not None
    cheaper = dataclasses.replace(row, input_per_mtok=1.0)
    assert estimate_cost(USAGE, "gpt-4o", model_info=cheaper) == pytest.approx(6000 / 1e6)


def test_given_facts_choose_the_encoding() -> None:
    pytest.importorskip("tiktoken")
    o200k = ModelInfo(encoding="o200k_base")
    assert count_message_tokens(MESSAGES, "my-proxy", model_info=o200k) == count_message_tokens(
        MESSAGES, "gpt-4o"
    )
    cl100k = ModelInfo(encoding="cl100k_base")
    assert count_tokens("hello world!", "my-proxy", model_info=cl100k) == count_tokens(
        "hello world!", "gpt-4"
    )
    assert count_message_tokens(MESSAGES, "gpt-4o", model_info=ModelInfo()).method == "estimate"


def test_an_encoding_chatlane_does_not_ship_is_refused() -> None:
    with pytest.raises(chatlane.UsageError, match="'p50k_base'"):
        count_tokens("hi", "davinci", model_info=ModelInfo(encoding="p50k_base"))


def test_the_embedded_models_facts_come_from_its_settings() -> None:
    facts = chatlane.LocalModel(n_ctx=8192).model_info()
    assert facts == ModelInfo("smollm2", 8192, None, None, 0.0, 0.0, 0.0)
    assert chatlane.LocalModel().model_info().context_window == 4096
    other = chatlane.LocalModel("/models/qwen2.5-0.5b-instruct.gguf", n_ctx=2048).model_info()
    assert (other.name, other.context_window) == ("qwen2.5-0.5b-instruct", 2048)
    assert estimate_cost(USAGE, "local/qwen2.5-0.5b-instruct", model_info=other) == 0.0


@pytest.mark.parametrize(
    "function", [count_tokens, count_message_tokens, trim_messages, estimate_cost]
)
def test_every_token_function_takes_the_model_second(function: Callable[..., Any]) -> None:
    first, model, *options = inspect.signature(function).parameters.values()
    assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert (model.name, model.kind) == ("model", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    assert all(option.kind is inspect.Parameter.KEYWORD_ONLY for option in options)
    assert "model_info" in {option.name for option in options}


MISUSE: list[tuple[Callable[[], object], str | None]] = [
    (lambda: count_tokens(b"hi", "gpt-4o"), None),  # type: ignore[arg-type]
    (lambda: count_tokens("hi", ""), "model"),
    (lambda: count_tokens("hi", None), "model"),  # type: ignore[arg-type]
    (lambda: count_message_tokens("hello", "gpt-4o"), "messages"),  # type: ignore[arg-type]
    (lambda: count_message_tokens([42], "gpt-4o"), "messages"),  # type: ignore[list-item]
    (lambda: count_message_tokens(MESSAGES, "gpt-4o", tools={"type": "function"}), "tools"),  # type: ignore[arg-type]
    (lambda: count_message_tokens(MESSAGES, "gpt-4o", tools=["lookup"]), "tools"),  # type: ignore[list-item]
    (lambda: count_message_tokens(MESSAGES, "gpt-4o", model_info={"x": 1}), None),  # type: ignore[arg-type]
    (lambda: trim_messages(MESSAGES[0], "gpt-4o", max_tokens=1), "messages"),  # type: ignore[arg-type]
    (lambda: trim_messages(MESSAGES, 3, max_tokens=1), "model"),  # type: ignore[arg-type]
    (lambda: trim_messages(MESSAGES, "gpt-4o", max_tokens=1, model_info="big"), None),  # type: ignore[arg-type]
    (lambda: trim_messages(MESSAGES, "gpt-4o", max_tokens=1, tools=[1]), "tools"),  # type: ignore[list-item]
    (lambda: estimate_cost("lots", "gpt-4o"), None),  # type: ignore[arg-type]
    (lambda: estimate_cost(USAGE, "gpt-4o", model_info=8192), None),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("call", "field"), MISUSE)
def test_misuse_is_a_usage_error(call: Callable[[], object], field: str | None) -> None:
    with pytest.raises(chatlane.UsageError) as caught:
        call()
    if field is not None:
        assert isinstance(caught.value, chatlane.RequestValidationError)
        assert caught.value.field == field
