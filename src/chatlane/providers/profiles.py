"""What chatlane knows about providers and their models: the one place to edit those facts.

Three tables, each read by everything that needs its facts:

- ``_PROVIDERS``: per provider, the model used when none is named
  (``Provider.default_model``), how its models take structured output
  (``Provider.structured_output``: see ``chatlane.structured``) and whether its decoder
  enforces pydantic's whole schema (the embedded model's grammar does);
- ``_ROWS``: per model, a :class:`ModelInfo`: context window, output limit, tiktoken
  encoding and list prices (what trimming, token counting and cost use);
- ``_FAMILIES``: OpenAI's model families by name, for snapshots and fine-tunes the rows do
  not list: their encoding, and the structured output of models from before structured
  outputs (JSON mode only).

Prices are facts that change. They are the providers' published list prices, in US dollars
per million tokens, as of :data:`PRICES_AS_OF`; batch discounts, regional surcharges, long-
context tiers and cache *writes* are not modelled. To update, edit the rows (one line per
model) and the date.

Lookups (:func:`model_info`) are case-insensitive and accept:

- a ``provider/`` prefix, or several (``openrouter/openai/gpt-4o``): the longest suffix of
  the path that names a row wins, so provider-specific rows (``groq/...``) can override;
- dated snapshots: ``gpt-4o-2024-08-06`` -> ``gpt-4o``, ``claude-sonnet-4-5-20250929`` ->
  ``claude-sonnet-4-5``, ``mistral-small-2506`` -> ``mistral-small-latest``. A snapshot
  gets its family's current price unless it has a row of its own (``gpt-4o-2024-05-13``);
- OpenRouter's spellings: ``anthropic/claude-sonnet-4.5`` and ``:free`` (priced at 0) or
  other ``:variant`` suffixes.

Unknown models give None. Facts that are not the table's come from their owners: the
embedded model's window is the client's ``LocalModel(n_ctx=...)``
(``LocalModel.model_info()``), and a user gives any model its facts with
``Client(models={"my-model": ModelInfo(context_window=...)})`` or per call (``model_info=``
of the agent and the token functions). Given facts replace the table's row as a whole; to
change one fact of a listed model, ``dataclasses.replace(model_info("gpt-4o"), ...)``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from chatlane.core.errors import UsageError

if TYPE_CHECKING:
    from chatlane.providers.modes import StructuredOutputMode

__all__ = [
    "MODELS",
    "PRICES_AS_OF",
    "ModelInfo",
    "ProviderProfile",
    "encoding_for_model",
    "model_info",
    "provider_profile",
    "structured_output_mode",
]

PRICES_AS_OF: Final = "2025-11-30"
"""The date the prices in the table were taken from the providers' price pages."""


def _check_count(name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise UsageError(f"ModelInfo.{name} must be a positive integer or None, not {value!r}")


def _check_price(name: str, value: object) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0
    ):
        raise UsageError(f"ModelInfo.{name} must be a non-negative number or None, not {value!r}")


@dataclass(frozen=True)
class ModelInfo:
    """What chatlane knows about one model; None where a fact is not known (or, for the
    output limit, where only the context window limits it). Prices are USD per million
    tokens.

    Give a model the table lacks its facts with ``Client(models={"my-model": ModelInfo(
    context_window=32_768, input_per_mtok=0.2, output_per_mtok=0.6)})``.
    """

    name: str = ""
    """The table's name for the model (``gpt-4o`` for ``openai/gpt-4o-2024-08-06``); for
    facts given to a client, the name they were given under."""
    context_window: int | None = None
    """Tokens of prompt plus output the model accepts in one request."""
    max_output_tokens: int | None = None
    """The most tokens one reply may have (None: only the context window limits it)."""
    encoding: str | None = None
    """The tiktoken encoding of OpenAI models (``o200k_base``, ``cl100k_base``), else None."""
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    cached_input_per_mtok: float | None = None
    """Price of prompt tokens served from the provider's cache (None: not offered/known)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise UsageError(f"ModelInfo.name must be a string, not {self.name!r}")
        _check_count("context_window", self.context_window)
        _check_count("max_output_tokens", self.max_output_tokens)
        if self.encoding is not None and not isinstance(self.encoding, str):
            raise UsageError(f"ModelInfo.encoding must be a string or None, not {self.encoding!r}")
        _check_price("input_per_mtok", self.input_per_mtok)
        _check_price("output_per_mtok", self.output_per_mtok)
        _check_price("cached_input_per_mtok", self.cached_input_per_mtok)


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """How a provider's models behave, where it differs from any compatible server."""

    default_model: str | None = None
    """What the agent and the command line use when no model is named."""
    structured_output: StructuredOutputMode = "json_schema"
    """The best way this provider's models take a schema for structured output."""
    full_schema: bool = False
    """Its decoder enforces JSON Schema as pydantic writes it: no strict form is needed."""


# -- providers -----------------------------------------------------------------------------

_PROVIDERS: Final[dict[str, ProviderProfile]] = {
    "openai": ProviderProfile(default_model="gpt-4o-mini"),
    "mistral": ProviderProfile(default_model="mistral-small-latest"),
    "groq": ProviderProfile(structured_output="json_object"),  # json_schema on few models
    "deepseek": ProviderProfile(default_model="deepseek-chat", structured_output="json_object"),
    # The compatible endpoint ignores response_format.
    "anthropic": ProviderProfile(structured_output="tools"),
    # llama.cpp's grammar takes lengths, item counts, tuples and dicts, all of which the
    # strict dialect would have to drop or refuse; numeric ranges are left to validation.
    "local": ProviderProfile(default_model="smollm2", full_schema=True),
    # llama-cpp-python's server takes only text/json_object response formats (json_schema is
    # refused); a named tool_choice constrains the arguments to the tool's schema by grammar.
    "llamacpp": ProviderProfile(structured_output="tools"),
}
_ANY_SERVER: Final = ProviderProfile()


# -- models --------------------------------------------------------------------------------

_O200K = "o200k_base"
_CL100K = "cl100k_base"
_HARMONY = "o200k_harmony"  # gpt-oss: o200k_base's vocabulary with the harmony chat format

# name, context window, max output, encoding, input, output, cached input ($ per 1M tokens);
# None: not limited / not applicable / not known.
_Row = tuple[str, int, int | None, str | None, float | None, float | None, float | None]
_ROWS: Final[tuple[_Row, ...]] = (
    # -- OpenAI -------------------------------------------------------------------------
    ("gpt-5.1", 400_000, 128_000, _O200K, 1.25, 10.00, 0.125),
    ("gpt-5", 400_000, 128_000, _O200K, 1.25, 10.00, 0.125),
    ("gpt-5-mini", 400_000, 128_000, _O200K, 0.25, 2.00, 0.025),
    ("gpt-5-nano", 400_000, 128_000, _O200K, 0.05, 0.40, 0.005),
    ("gpt-5-chat-latest", 128_000, 16_384, _O200K, 1.25, 10.00, 0.125),
    ("gpt-4.1", 1_047_576, 32_768, _O200K, 2.00, 8.00, 0.50),
    ("gpt-4.1-mini", 1_047_576, 32_768, _O200K, 0.40, 1.60, 0.10),
    ("gpt-4.1-nano", 1_047_576, 32_768, _O200K, 0.10, 0.40, 0.025),
    ("gpt-4o", 128_000, 16_384, _O200K, 2.50, 10.00, 1.25),
    ("gpt-4o-2024-05-13", 128_000, 4_096, _O200K, 5.00, 15.00, None),
    ("chatgpt-4o-latest", 128_000, 16_384, _O200K, 5.00, 15.00, None),
    ("gpt-4o-mini", 128_000, 16_384, _O200K, 0.15, 0.60, 0.075),
    ("o1", 200_000, 100_000, _O200K, 15.00, 60.00, 7.50),
    ("o3", 200_000, 100_000, _O200K, 2.00, 8.00, 0.50),
    ("o3-pro", 200_000, 100_000, _O200K, 20.00, 80.00, None),
    ("o3-mini", 200_000, 100_000, _O200K, 1.10, 4.40, 0.55),
    ("o4-mini", 200_000, 100_000, _O200K, 1.10, 4.40, 0.275),
    ("gpt-4-turbo", 128_000, 4_096, _CL100K, 10.00, 30.00, None),
    ("gpt-4", 8_192, 8_192, _CL100K, 30.00, 60.00, None),
    ("gpt-3.5-turbo", 16_385, 4_096, _CL100K, 0.50, 1.50, None),
    ("text-embedding-3-small", 8_191, None, _CL100K, 0.02, None, None),
    ("text-embedding-3-large", 8_191, None, _CL100K, 0.13, None, None),
    ("text-embedding-ada-002", 8_191, None, _CL100K, 0.10, None, None),
    # gpt-oss, priced as Groq serves it
    ("gpt-oss-120b", 131_072, 65_536, _HARMONY, 0.15, 0.75, None),
    ("gpt-oss-20b", 131_072, 65_536, _HARMONY, 0.10, 0.50, None),
    # -- Anthropic (cached input = cache reads; cache writes cost more and are not modelled)
    ("claude-opus-4-5", 200_000, 64_000, None, 5.00, 25.00, 0.50),
    ("claude-opus-4-1", 200_000, 32_000, None, 15.00, 75.00, 1.50),
    ("claude-opus-4", 200_000, 32_000, None, 15.00, 75.00, 1.50),
    ("claude-sonnet-4-5", 200_000, 64_000, None, 3.00, 15.00, 0.30),
    ("claude-sonnet-4", 200_000, 64_000, None, 3.00, 15.00, 0.30),
    ("claude-haiku-4-5", 200_000, 64_000, None, 1.00, 5.00, 0.10),
    ("claude-3-7-sonnet", 200_000, 64_000, None, 3.00, 15.00, 0.30),
    ("claude-3-5-haiku", 200_000, 8_192, None, 0.80, 4.00, 0.08),
    # -- Mistral ------------------------------------------------------------------------
    ("mistral-large-latest", 131_072, None, None, 2.00, 6.00, None),
    ("mistral-medium-latest", 131_072, None, None, 0.40, 2.00, None),
    ("mistral-small-latest", 131_072, None, None, 0.10, 0.30, None),
    ("magistral-medium-latest", 131_072, None, None, 2.00, 5.00, None),
    ("magistral-small-latest", 131_072, None, None, 0.50, 1.50, None),
    ("codestral-latest", 256_000, None, None, 0.30, 0.90, None),
    ("ministral-8b-latest", 131_072, None, None, 0.10, 0.10, None),
    ("ministral-3b-latest", 131_072, None, None, 0.04, 0.04, None),
    ("open-mistral-nemo", 131_072, None, None, 0.15, 0.15, None),
    # -- DeepSeek (cached input = cache hits) -------------------------------------------
    ("deepseek-chat", 128_000, 8_192, None, 0.28, 0.42, 0.028),
    ("deepseek-reasoner", 128_000, 65_536, None, 0.28, 0.42, 0.028),
    # -- Google Gemini (prompts up to 200k tokens) ---------------------------------------
    ("gemini-2.5-pro", 1_048_576, 65_536, None, 1.25, 10.00, 0.125),
    ("gemini-2.5-flash", 1_048_576, 65_536, None, 0.30, 2.50, 0.03),
    ("gemini-2.5-flash-lite", 1_048_576, 65_536, None, 0.10, 0.40, 0.01),
    # -- Groq ---------------------------------------------------------------------------
    ("llama-3.3-70b-versatile", 131_072, 32_768, None, 0.59, 0.79, None),
    ("llama-3.1-8b-instant", 131_072, 131_072, None, 0.05, 0.08, None),
    ("meta-llama/llama-4-scout-17b-16e-instruct", 131_072, 8_192, None, 0.11, 0.34, None),
    ("meta-llama/llama-4-maverick-17b-128e-instruct", 131_072, 8_192, None, 0.20, 0.60, None),
    ("qwen/qwen3-32b", 131_072, 40_960, None, 0.29, 0.59, None),
    ("moonshotai/kimi-k2-instruct", 131_072, 16_384, None, 1.00, 3.00, None),
    # -- Together -----------------------------------------------------------------------
    ("meta-llama/llama-3.3-70b-instruct-turbo", 131_072, None, None, 0.88, 0.88, None),
    ("meta-llama/meta-llama-3.1-8b-instruct-turbo", 131_072, None, None, 0.18, 0.18, None),
    ("meta-llama/llama-4-maverick-17b-128e-instruct-fp8", 1_048_576, None, None, 0.27, 0.85, None),
    ("deepseek-ai/deepseek-v3", 131_072, None, None, 1.25, 1.25, None),
    ("deepseek-ai/deepseek-r1", 163_840, None, None, 3.00, 7.00, None),
    ("qwen/qwen2.5-72b-instruct-turbo", 32_768, None, None, 1.20, 1.20, None),
    # -- OpenRouter: open models are routed to many hosts at different prices, so only
    # their limits are listed (OpenRouter reports each call's cost itself); its
    # "openai/...", "anthropic/...", "deepseek/..." ids resolve to the rows above.
    ("meta-llama/llama-3.3-70b-instruct", 131_072, None, None, None, None, None),
    ("meta-llama/llama-3.1-8b-instruct", 131_072, None, None, None, None, None),
    # -- The embedded model (runs in-process: free). A client's LocalModel(n_ctx=...) sets
    # the window it runs with; this row is what the model was trained for.
    ("smollm2", 8_192, None, None, 0.0, 0.0, 0.0),
)

MODELS: Final[dict[str, ModelInfo]] = {row[0]: ModelInfo(*row) for row in _ROWS}
"""Every row of the table by name (lower case)."""

_ALIASES: Final[dict[str, str]] = {
    "claude-opus-4-0": "claude-opus-4",
    "claude-sonnet-4-0": "claude-sonnet-4",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet",
    "claude-3-5-haiku-latest": "claude-3-5-haiku",
    "gpt-4-turbo-preview": "gpt-4-turbo",
    "deepseek/deepseek-chat-v3.1": "deepseek-chat",
    "deepseek/deepseek-v3.2-exp": "deepseek-chat",
    "deepseek/deepseek-r1": "deepseek-reasoner",
    "mistral-large": "mistral-large-latest",
    "mistral-medium": "mistral-medium-latest",
    "mistral-small": "mistral-small-latest",
    "magistral-medium": "magistral-medium-latest",
    "magistral-small": "magistral-small-latest",
    "codestral": "codestral-latest",
    "mistral-nemo": "open-mistral-nemo",
    "smollm2-135m-instruct": "smollm2",
}

# Date suffixes of snapshots: -2024-08-06 (OpenAI), -20250929 (Anthropic), -2506 (Mistral),
# -0125 (older OpenAI), -preview-06-17 is left alone (previews differ from the release).
_SNAPSHOT: Final = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")

# (pattern on the last part of the name, encoding, structured output where it differs from
# the provider's), first match wins. Models from before structured outputs
# (gpt-4o-2024-08-06) take JSON mode only.
_Family = tuple[re.Pattern[str], str, "StructuredOutputMode | None"]
_FAMILIES: Final[tuple[_Family, ...]] = (
    (re.compile(r"^(?:gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d(?:-|$))"), _O200K, None),
    (re.compile(r"^(?:gpt-4(?:-|$)|gpt-3\.5|gpt-35)"), _CL100K, "json_object"),
    (re.compile(r"^(?:gpt-4|text-embedding-3|text-embedding-ada)"), _CL100K, None),
    (re.compile(r"^gpt-oss"), _HARMONY, None),
)


def _names(model: str) -> Iterator[str]:
    """Candidate table names for ``model``, most specific first."""
    parts = model.split("/")
    for start in range(len(parts)):
        name = "/".join(parts[start:])
        if not name:
            continue
        yield name
        if name.startswith("claude-"):
            yield name.replace(".", "-")  # OpenRouter writes claude-sonnet-4.5
        base = _SNAPSHOT.sub("", name)
        if base != name:
            yield base
            yield f"{base}-latest"


def model_info(model: str) -> ModelInfo | None:
    """What the table knows about ``model`` (``provider/`` prefixes allowed), or None."""
    key = model.strip().lower()
    if key.startswith("ft:"):
        return None  # fine-tuned models have their own prices
    key, _sep, variant = key.partition(":")
    for name in _names(key):
        info = MODELS.get(_ALIASES.get(name, name))
        if info is not None:
            if variant == "free":
                return dataclasses.replace(
                    info, input_per_mtok=0.0, output_per_mtok=0.0, cached_input_per_mtok=0.0
                )
            return info
    return None


def _family(model: str) -> _Family | None:
    last = model.strip().lower().removeprefix("ft:").split("/")[-1]
    for family in _FAMILIES:
        if family[0].match(last):
            return family
    return None


def encoding_for_model(model: str) -> str | None:
    """The tiktoken encoding name of an OpenAI model (also behind a prefix), else None."""
    info = model_info(model)
    if info is not None:
        return info.encoding
    family = _family(model)
    return None if family is None else family[1]


def provider_profile(provider: str) -> ProviderProfile:
    """How ``provider``'s models behave (a compatible server's defaults when not listed)."""
    return _PROVIDERS.get(provider.lower(), _ANY_SERVER)


def structured_output_mode(provider: str, model: str) -> StructuredOutputMode:
    """The structured-output mode for ``model`` (the provider's own name for it) at
    ``provider``: the model's family where it takes less, else the provider's."""
    family = _family(model)
    if family is not None and family[2] is not None:
        return family[2]
    return provider_profile(provider).structured_output
