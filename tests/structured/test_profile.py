"""Which structured-output mode a provider and model get: facts of the profiles table."""

from __future__ import annotations

import pytest

from chatlane.providers.registry import COMPATIBLE, PROVIDERS
from chatlane.structured.profile import default_mode, enforces_full_schema


def test_provider_rows_read_their_profile() -> None:
    defaults = {name: row.default_model for name, row in PROVIDERS.items() if row.default_model}
    assert defaults == {
        "openai": "gpt-4o-mini",
        "mistral": "mistral-small-latest",
        "deepseek": "deepseek-chat",
        "local": "smollm2",
    }
    modes = {name: row.structured_output for name, row in PROVIDERS.items()}
    assert {name for name, mode in modes.items() if mode != "json_schema"} == {
        "groq",
        "deepseek",
        "anthropic",
        "llamacpp",
    }
    assert (COMPATIBLE.default_model, COMPATIBLE.structured_output) == (None, "json_schema")


@pytest.mark.parametrize(
    ("provider", "model", "mode"),
    [
        ("openai", "gpt-4o-2024-08-06", "json_schema"),
        ("openai", "gpt-4.1-mini", "json_schema"),
        ("openai", "gpt-4", "json_object"),
        ("openai", "gpt-4-0613", "json_object"),
        ("openai", "gpt-4-turbo-2024-04-09", "json_object"),
        ("openai", "gpt-3.5-turbo", "json_object"),
        # the model's limits hold wherever it is served
        ("openrouter", "openai/gpt-3.5-turbo", "json_object"),
        ("azure", "gpt-35-turbo", "json_object"),
        ("openrouter", "openai/gpt-4o", "json_schema"),
        ("anthropic", "claude-sonnet-4-5", "tools"),
        ("groq", "openai/gpt-oss-120b", "json_object"),
        ("local", "smollm2", "json_schema"),
        ("openai-compatible", "my-model", "json_schema"),
    ],
)
def test_the_model_then_the_provider_decides(provider: str, model: str, mode: str) -> None:
    assert default_mode(provider, model) == mode


def test_only_the_embedded_model_enforces_the_whole_schema() -> None:
    assert [name for name in PROVIDERS if enforces_full_schema(name)] == ["local"]
    assert not enforces_full_schema("openai-compatible")
