"""Resolve a provider (by name, base URL and environment) into a ready endpoint."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from chatlane._version import __version__
from chatlane.core.errors import ConfigurationError
from chatlane.core.request import WireDialect
from chatlane.providers.registry import COMPATIBLE, PROVIDERS, Provider, get_provider

if TYPE_CHECKING:
    from chatlane.providers.profiles import ModelInfo

__all__ = [
    "DEFAULT_AZURE_API_VERSION",
    "Endpoint",
    "Route",
    "default_provider_name",
    "resolve_endpoint",
]

DEFAULT_AZURE_API_VERSION = "2024-10-21"
_USER_AGENT = f"chatlane/{__version__}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to send requests for one provider. Holds the key: never printed."""

    provider: str
    base_url: str
    dialect: WireDialect
    headers: Mapping[str, str] = field(repr=False)
    secret: str | None = field(repr=False)
    deployment_urls: bool = False
    api_version: str | None = None
    foreign_model_ids: bool = False
    in_process: bool = False

    def chat_url(self, model: str) -> str:
        if self.deployment_urls:
            return (
                f"{self.base_url}/openai/deployments/{quote(model, safe='')}/chat/completions"
                f"?api-version={self.api_version}"
            )
        return f"{self.base_url}/chat/completions"

    def models_url(self) -> str:
        if self.deployment_urls:
            return f"{self.base_url}/openai/models?api-version={self.api_version}"
        return f"{self.base_url}/models"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a client sends calls for a model: ``Client.resolve(model)``."""

    provider: str
    model: str
    """The model's name as that provider knows it (a routing prefix removed)."""
    base_url: str
    in_process: bool
    """Served by the embedded model in this process."""
    model_info: ModelInfo | None = None
    """What the client knows about the model: the facts it was given (``models=``), the
    embedded model's settings, or the model table; None when nothing is known."""


def default_provider_name(env: Mapping[str, str]) -> str:
    """The provider an unconfigured client uses: CHATLANE_PROVIDER, else OpenAI when
    OPENAI_BASE_URL is set, else the first provider whose key is set, else the embedded model."""
    named = env.get("CHATLANE_PROVIDER")
    if named:
        return named
    if env.get("OPENAI_BASE_URL"):
        return "openai"
    for row in PROVIDERS.values():
        if row.api_key_env and row.key_required and env.get(row.api_key_env):
            return row.name
    return "local"


def _provider_row(name: str | None, base_url: str | None) -> Provider:
    if name is None:
        return COMPATIBLE
    row = get_provider(name)
    if row is None:
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigurationError(f"unknown provider {name!r}; known providers: {known}")
    return row


def resolve_endpoint(
    provider: str | None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    api_version: str | None = None,
    default_headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """Build the endpoint for ``provider`` (None with ``base_url``: any compatible server)."""
    env = os.environ if env is None else env
    row = _provider_row(provider, base_url)
    url = base_url or (row.base_url_env and env.get(row.base_url_env)) or row.base_url
    if not url:
        hint = f" or set {row.base_url_env}" if row.base_url_env else ""
        raise ConfigurationError(f"provider {row.name!r} needs base_url={{...}}{hint}")
    key = api_key if api_key is not None else (row.api_key_env and env.get(row.api_key_env))
    if not key and row.key_required:
        raise ConfigurationError(
            f"no API key for provider {row.name!r}: set the {row.api_key_env} environment "
            "variable or pass api_key="
        )
    headers = {
        "content-type": "application/json",
        "accept": "application/json",
        "user-agent": _USER_AGENT,
    }
    if key:
        if row.auth == "api-key":
            headers["api-key"] = key
        else:
            headers["authorization"] = f"Bearer {key}"
    if default_headers:
        headers.update({name.lower(): value for name, value in default_headers.items()})
    version = None
    if row.deployment_urls:
        version = (
            api_version
            or env.get("AZURE_OPENAI_API_VERSION")
            or env.get("OPENAI_API_VERSION")
            or DEFAULT_AZURE_API_VERSION
        )
    return Endpoint(
        provider=row.name,
        base_url=url.rstrip("/"),
        dialect=row.dialect,
        headers=headers,
        secret=key or None,
        deployment_urls=row.deployment_urls,
        api_version=version,
        foreign_model_ids=row.foreign_model_ids,
        in_process=row.in_process,
    )
