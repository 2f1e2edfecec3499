"""Providers as data rows: where they live, how they authenticate, how their wire differs.

Adding an OpenAI-compatible provider is adding a row. How its models behave (default model,
structured output) and what each model is (context window, prices) belong to the profiles
in :mod:`chatlane.providers.profiles`, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from chatlane.core.request import WireDialect
from chatlane.providers.modes import StructuredOutputMode

__all__ = ["PROVIDERS", "Provider", "StructuredOutputMode", "get_provider"]

_OPENAI_ONLY = frozenset({"safe_prompt", "prompt_mode"})


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    base_url: str
    api_key_env: str | None
    """Environment variable holding the key."""
    key_required: bool = True
    """Local servers (Ollama, vLLM, llama.cpp) run without a key by default."""
    base_url_env: str | None = None
    """Environment variable that overrides ``base_url``."""
    auth: Literal["bearer", "api-key"] = "bearer"
    dialect: WireDialect = field(default_factory=WireDialect)
    deployment_urls: bool = False
    """Azure: the model names a deployment in the URL path, with an ``api-version`` query."""
    foreign_model_ids: bool = False
    """Model ids contain "vendor/" prefixes of their own (OpenRouter, Together)."""
    in_process: bool = False
    """Served by the embedded model in this process, not over HTTP."""

    @property
    def default_model(self) -> str | None:
        """What the agent and the command line use when no model is named (from the
        provider's profile)."""
        from chatlane.providers.profiles import provider_profile

        return provider_profile(self.name).default_model

    @property
    def structured_output(self) -> StructuredOutputMode:
        """The best way this provider's models take a schema for structured output (what
        ``Client.parse`` uses unless told otherwise; from the provider's profile)."""
        from chatlane.providers.profiles import provider_profile

        return provider_profile(self.name).structured_output


_MISTRAL = WireDialect(
    drop=frozenset({"user", "stream_options", "logprobs", "top_logprobs"}),
    rename={"seed": "random_seed", "max_completion_tokens": "max_tokens"},
    stream_usage=False,  # Mistral puts usage on the last chunk without being asked
)
_LLAMACPP = WireDialect(
    # llama-cpp-python's server reads only max_tokens (max_completion_tokens is ignored, so
    # the limit would be lost); llama.cpp's llama-server reads max_tokens too.
    rename={"random_seed": "seed", "max_completion_tokens": "max_tokens"},
    max_stop=None,  # no documented limit
    fill_tool_call_content=True,  # llama-cpp-python's server answers 500 to null content
)
_ANTHROPIC = WireDialect(
    # Anthropic's compatibility layer ignores or rejects these.
    drop=_OPENAI_ONLY
    | {"logprobs", "top_logprobs", "seed", "presence_penalty", "frequency_penalty"},
    tool_call_content=None,  # Anthropic refuses an empty text block ("" content)
)
_DEEPSEEK = WireDialect(max_stop=16)  # DeepSeek documents up to 16 stop sequences
_ANY_STOPS = WireDialect(max_stop=None)  # servers that document no limit: do not invent one

PROVIDERS: dict[str, Provider] = {
    row.name: row
    for row in (
        Provider(
            "openai",
            "https://api.openai.com/v1",
            "OPENAI_API_KEY",
            base_url_env="OPENAI_BASE_URL",
        ),
        Provider(
            "azure",
            "",
            "AZURE_OPENAI_API_KEY",
            base_url_env="AZURE_OPENAI_ENDPOINT",
            auth="api-key",
            deployment_urls=True,
        ),
        Provider(
            "mistral",
            "https://api.mistral.ai/v1",
            "MISTRAL_API_KEY",
            base_url_env="MISTRAL_BASE_URL",
            dialect=_MISTRAL,
        ),
        Provider(
            "groq",
            "https://api.groq.com/openai/v1",
            "GROQ_API_KEY",
            base_url_env="GROQ_BASE_URL",
        ),
        Provider(
            "together",
            "https://api.together.xyz/v1",
            "TOGETHER_API_KEY",
            base_url_env="TOGETHER_BASE_URL",
            foreign_model_ids=True,
            dialect=_ANY_STOPS,
        ),
        Provider(
            "openrouter",
            "https://openrouter.ai/api/v1",
            "OPENROUTER_API_KEY",
            base_url_env="OPENROUTER_BASE_URL",
            foreign_model_ids=True,
            dialect=_ANY_STOPS,
        ),
        Provider(
            "deepseek",
            "https://api.deepseek.com/v1",
            "DEEPSEEK_API_KEY",
            base_url_env="DEEPSEEK_BASE_URL",
            dialect=_DEEPSEEK,
        ),
        Provider(
            "anthropic",
            "https://api.anthropic.com/v1",
            "ANTHROPIC_API_KEY",
            base_url_env="ANTHROPIC_COMPAT_BASE_URL",
            dialect=_ANTHROPIC,
        ),
        Provider(
            "ollama",
            "http://127.0.0.1:11434/v1",
            "OLLAMA_API_KEY",
            key_required=False,
            base_url_env="OLLAMA_BASE_URL",
            dialect=_ANY_STOPS,
        ),
        Provider(
            "vllm",
            "http://127.0.0.1:8000/v1",
            "VLLM_API_KEY",
            key_required=False,
            base_url_env="VLLM_BASE_URL",
            foreign_model_ids=True,
            dialect=_ANY_STOPS,
        ),
        Provider(
            "local",
            "local://embedded/v1",
            None,
            key_required=False,
            in_process=True,
            dialect=_ANY_STOPS,
        ),
        Provider(
            "llamacpp",
            "http://127.0.0.1:8080/v1",
            "LLAMACPP_API_KEY",
            key_required=False,
            base_url_env="LLAMACPP_BASE_URL",
            dialect=_LLAMACPP,
        ),
    )
}

COMPATIBLE = Provider("openai-compatible", "", None, key_required=False, dialect=_ANY_STOPS)
"""Any server reached through an explicit ``base_url``."""


def get_provider(name: str) -> Provider | None:
    return PROVIDERS.get(name.lower())
