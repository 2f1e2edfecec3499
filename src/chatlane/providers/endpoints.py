"""Resolve a provider (by name, base URL and environment) into a ready endpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from chatlane._version import __version__
from chatlane.core.errors import ConfigurationError, register_secret
from chatlane.core.headers import name_problem, value_problem
from chatlane.core.request import WireDialect
from chatlane.providers.registry import COMPATIBLE, PROVIDERS, Provider, get_provider

if TYPE_CHECKING:
    from chatlane.providers.profiles import ModelInfo

__all__ = [
    "DEFAULT_AZURE_API_VERSION",
    "ENVIRONMENT",
    "Endpoint",
    "Route",
    "default_provider_name",
    "resolve_endpoint",
]

DEFAULT_AZURE_API_VERSION = "2024-10-21"
_USER_AGENT = f"chatlane/{__version__}"
_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})


@dataclass(frozen=True, slots=True, weakref_slot=True)
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


class _Environment(Mapping[str, str]):
    """``os.environ``, read live, with a repr that shows none of it: a traceback printed
    with its locals must not print every key in the environment."""

    def __getitem__(self, name: str) -> str:
        return os.environ[name]

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)

    def __repr__(self) -> str:
        return "<the process environment>"


ENVIRONMENT: Mapping[str, str] = _Environment()


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


def _checked_url(url: str, source: str) -> str:
    """``url`` if it carries no credentials. A user-info part (``https://user:key@host``) is
    refused rather than sent: chatlane would otherwise show it in reprs and errors. The
    message names where the URL came from and never shows what was before the ``@``."""
    try:
        parts = urlsplit(url)
        has_userinfo = "@" in parts.netloc
    except ValueError:
        parts, has_userinfo = None, "@" in url
    if not has_userinfo:
        return _well_formed(url, source)
    host = parts.netloc.rpartition("@")[2] if parts is not None else "<host>"
    scheme = f"{parts.scheme}://" if parts is not None and parts.scheme else ""
    del url, parts  # a traceback formatted with its locals shows this frame's
    raise ConfigurationError(
        f"{source}: a URL with credentials ({scheme}***@{host}/...) is not supported: pass the"
        " key as api_key= (or its environment variable) and the URL without user-info"
    )


def _well_formed(url: str, source: str) -> str:
    """``url`` if a transport can send to it; else a ConfigurationError naming the problem
    (today both transports fail later, each its own way, one with a raw exception)."""
    if url.startswith("local://"):
        return url
    problem = None
    try:
        parts = urlsplit(url)
        port = parts.port  # parses it: out of range or not a number raises
    except ValueError as exc:
        problem, parts, port = str(exc), None, None
    if parts is not None:
        if parts.scheme not in ("http", "https"):
            problem = "give an http:// or https:// URL, like http://localhost:8000/v1"
        elif any(char.isspace() for char in url):
            problem = "a URL has no spaces (encode one as %20)"
        elif not parts.hostname:
            problem = "the URL names no host"
        elif port == 0:
            problem = "port 0 cannot be connected to"
    if problem is None:
        return url
    raise ConfigurationError(f"{source}: {url!r:.80} is not a URL chatlane can send to: {problem}")


def _checked_key(key: str, source: str, what: str = "the API key") -> str:
    """``key`` if it can go in an HTTP header as is; the error names ``source``, never the key."""
    if not isinstance(key, str):
        raise ConfigurationError(f"{source}: {what} must be a str, not {type(key).__name__}")
    problem = value_problem(key)
    if problem is not None:
        del key  # a traceback formatted with its locals shows this frame's
        raise ConfigurationError(
            f"{source}: {what} {problem}; it cannot be sent in an HTTP header"
            " (check for a stray newline or quote when it was copied)"
        )
    return key


def _checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if name_problem(name) is not None:
            raise ConfigurationError(f"default_headers: {name!r} {name_problem(name)}")
        try:
            _checked_key(value, f"default_headers[{name!r}]", "the value")
        except ConfigurationError:
            del value, headers, checked  # a traceback formatted with its locals shows them
            raise
        checked[name.lower()] = value
    return checked


def resolve_endpoint(
    provider: str | None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    api_version: str | None = None,
    default_headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """Build the endpoint for ``provider`` (None with ``base_url``: any compatible server).

    The key must be a valid header value, and a URL must not carry user-info
    (``https://user:key@host``): both are a ``ConfigurationError`` that does not show them.
    """
    env = ENVIRONMENT if env is None else env
    row = _provider_row(provider, base_url)
    url_source = "base_url="
    url = base_url
    if not url and row.base_url_env and env.get(row.base_url_env):
        url, url_source = env[row.base_url_env], row.base_url_env
    if not url:
        url, url_source = row.base_url, f"provider {row.name!r}"
    if not url:
        hint = f" or set {row.base_url_env}" if row.base_url_env else ""
        raise ConfigurationError(f"provider {row.name!r} needs base_url={{...}}{hint}")
    url = _checked_url(url, url_source)
    key: str | None = api_key
    if key is not None:
        key = _checked_key(key, "api_key=")
    elif row.api_key_env and env.get(row.api_key_env):
        key = _checked_key(env[row.api_key_env], row.api_key_env)
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
        headers.update(_checked_headers(default_headers))
    version = None
    if row.deployment_urls:
        version = (
            api_version
            or env.get("AZURE_OPENAI_API_VERSION")
            or env.get("OPENAI_API_VERSION")
            or DEFAULT_AZURE_API_VERSION
        )
    endpoint = Endpoint(
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
    # Hidden from every error while the endpoint (so the client) that holds them lives.
    register_secret(key, endpoint)
    for name in _SECRET_HEADERS & headers.keys():
        value = headers[name]
        register_secret(value.partition(" ")[2] if " " in value else value, endpoint)
    return endpoint
