"""What the sync and async clients share: configuration, routing, building a call and the
composed call flows. Only the drivers (``sync.py``, ``aio.py``) differ between them."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from chatlane._call.call import Call
from chatlane._call.flow import chat_attempt, retrying, stream_attempt
from chatlane._call.layers import Flow, Middleware, Proceed, layered
from chatlane._call.scopes import BUDGET_SCOPES
from chatlane.core import errors
from chatlane.core.error_mapping import ErrorContext
from chatlane.core.limits import Limits
from chatlane.core.request import build_body
from chatlane.core.retry import RetryPolicy
from chatlane.core.timeouts import Timeout
from chatlane.local.settings import LocalModel
from chatlane.providers.endpoints import (
    ENVIRONMENT,
    Endpoint,
    Route,
    default_provider_name,
    resolve_endpoint,
)
from chatlane.providers.registry import get_provider
from chatlane.transport.base import HTTPRequest

if TYPE_CHECKING:
    from chatlane.providers.profiles import ModelInfo

__all__ = ["ClientCore"]


class Production(Protocol):
    """The production pieces a client was configured with (``chatlane._client.production``),
    seen from here only through this, so the call flow imports none of them."""

    @property
    def falls_back(self) -> bool: ...
    @property
    def accounts(self) -> bool: ...
    @property
    def ledger(self) -> Any: ...

    def pieces(
        self,
        prepare: Callable[[Mapping[str, Any], bool], Call],
        falls_back: bool,
        accounts: bool,
        caller_middleware: bool,
    ) -> tuple[Middleware, ...]:
        """The pieces, outermost first; ``falls_back`` / ``accounts`` add the fallback and
        accounting pieces even unconfigured (for a call's own options or a budget scope);
        ``caller_middleware``: the caller's own pieces run inside them."""
        ...


class ClientCore:
    """Configuration and per-call logic shared by ``Client`` and ``AsyncClient``."""

    def __init__(
        self,
        *,
        provider: str | None,
        base_url: str | None,
        api_key: str | None,
        api_version: str | None,
        timeout: Timeout | float | None,
        max_retries: int | None,
        retry: RetryPolicy | None,
        default_headers: Mapping[str, str] | None,
        middleware: Sequence[Middleware] = (),
        models: Mapping[str, ModelInfo] | None = None,
        local_model: LocalModel | None = None,
        limits: Limits | None = None,
        production: Production | None = None,
    ) -> None:
        if limits is None:
            limits = Limits()
        elif not isinstance(limits, Limits):
            raise errors.ConfigurationError(
                f"limits: expected chatlane.Limits, got {type(limits).__name__}"
            )
        self.limits = limits
        self.models = _given_facts(models)
        self._facts = self.model_info  # bound once: every Call holds it
        self._known_facts: dict[tuple[str, str, bool], ModelInfo | None] = {}
        self.refused_formats: set[tuple[str, str]] = set()
        """(base URL, model) of servers of unknown kind that refused json_schema output."""
        self.local_model = local_model or LocalModel()
        self.timeout = Timeout.coerce(timeout)
        if retry is None:
            retry = RetryPolicy() if max_retries is None else RetryPolicy(max_retries=max_retries)
        elif max_retries is not None:
            raise errors.ConfigurationError("pass max_retries= or retry=, not both")
        self.retry = retry
        self._options: dict[str, Any] = {
            "api_key": api_key,
            "api_version": api_version,
            "default_headers": default_headers,
        }
        self.bound = provider is not None or base_url is not None
        self._endpoints: dict[str, Endpoint] = {}
        if self.bound:
            self.default = resolve_endpoint(provider, base_url=base_url, **self._options)
            self._endpoints[self.default.provider] = self.default
        else:
            self.default = self._endpoint(default_provider_name(ENVIRONMENT))
        self.provider = self.default.provider
        pieces = tuple(middleware)
        for piece in pieces:
            if not isinstance(piece, Middleware):
                raise errors.ConfigurationError(
                    f"middleware: expected Middleware instances, got {type(piece).__name__}"
                )
        self._production = production
        self._user_pieces = pieces
        self._falls_back = production is not None and production.falls_back
        self._accounts = production is not None and production.accounts
        self._flows = {
            (self._falls_back, self._accounts): self._composed(self._falls_back, self._accounts)
        }
        self._plain = self._flows[self._falls_back, self._accounts]
        self.ledger = None if production is None else production.ledger

    def _composed(self, falls_back: bool, accounts: bool) -> tuple[Proceed, Proceed]:
        pieces = self._user_pieces
        if self._production is not None:
            built = self._production.pieces(self._prepare_for, falls_back, accounts, bool(pieces))
            pieces = built + pieces
        return self._compose(pieces, chat_attempt), self._compose(pieces, stream_attempt)

    def chat_flow(self, call: Call) -> Flow:
        params = call.params
        if params.get("fallbacks") or params.get("budget") is not None or BUDGET_SCOPES.get():
            return self._flow_for(call)[0](call)
        return self._plain[0](call)

    def stream_flow(self, call: Call) -> Flow:
        params = call.params
        if params.get("fallbacks") or params.get("budget") is not None or BUDGET_SCOPES.get():
            return self._flow_for(call)[1](call)
        return self._plain[1](call)

    def _flow_for(self, call: Call) -> tuple[Proceed, Proceed]:
        """The flows for a call with its own ``fallbacks=`` or ``budget=``, or in a budget
        scope: the client's own if it has those pieces, else (built once) with them."""
        params = call.params
        falls_back = self._falls_back or bool(params.get("fallbacks"))
        accounts = self._accounts or params.get("budget") is not None or bool(BUDGET_SCOPES.get())
        flows = self._flows.get((falls_back, accounts))
        if flows is None:
            flows = self._flows[falls_back, accounts] = self._composed(falls_back, accounts)
        return flows

    def _compose(self, pieces: tuple[Middleware, ...], attempt: Proceed) -> Proceed:
        """request pieces -> retries -> attempt pieces -> ``attempt``, built once."""
        per_attempt = layered(pieces, "around_attempt", attempt)
        policy = self.retry

        def with_retries(call: Call) -> Flow:
            return retrying(policy, call, per_attempt)

        return layered(pieces, "around_request", with_retries)

    def __repr__(self) -> str:
        return f"provider={self.provider!r}, base_url={self.default.base_url!r}"

    def _endpoint(self, name: str) -> Endpoint:
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            options = self._options if not self.bound else {}
            endpoint = self._endpoints[name] = resolve_endpoint(name, **options)
        return endpoint

    def route(self, model: str, provider: str | None) -> tuple[Endpoint, str]:
        """The endpoint for a call and the model name that provider knows.

        "provider/model" routes to that provider when the client is not tied to one (no
        provider= or base_url=) and its default provider does not use "vendor/" model ids
        itself (OpenRouter, Together); otherwise the name goes to the default endpoint as is,
        minus a prefix naming that endpoint's own provider.
        """
        default = self.default
        if provider is not None:
            endpoint = default if default.provider == provider else self._endpoint(provider)
            return endpoint, _strip(model, endpoint.provider)
        prefix, slash, rest = model.partition("/")
        prefix = prefix.lower()
        if slash and prefix == default.provider:
            return default, rest
        routable = not self.bound and not default.foreign_model_ids
        if routable and slash and rest and get_provider(prefix) is not None:
            return self._endpoint(prefix), rest
        return default, model

    def _routed(self, model: object, provider: object) -> tuple[Endpoint, str]:
        """``route`` for what a caller passed: both checked first, naming the field."""
        if not isinstance(model, str) or not model.strip():
            raise errors.RequestValidationError(
                "model: is required (a non-empty string)", field="model"
            )
        if provider is not None and not (isinstance(provider, str) and provider.strip()):
            raise errors.RequestValidationError(
                f"provider: must be a provider name (a string), got {provider!r:.40}",
                field="provider",
            )
        return self.route(model, provider)

    def resolve(self, model: str, provider: str | None = None) -> Route:
        endpoint, wire_model = self._routed(model, provider)
        info = self.model_info(model, wire_model, endpoint.in_process)
        return Route(endpoint.provider, wire_model, endpoint.base_url, endpoint.in_process, info)

    def model_info(self, model: str, wire_model: str, in_process: bool) -> ModelInfo | None:
        """The facts this client has for ``model``: those it was given (by the name as
        written, or as its provider knows it), else the embedded model's settings for a model
        served in-process, else the model table's row. Looked up once per model (the pieces
        ask on every attempt)."""
        key = (model, wire_model, in_process)
        if key in self._known_facts:
            return self._known_facts[key]
        given = self.models.get(model.strip().lower()) or self.models.get(wire_model.lower())
        if given is not None:
            info: ModelInfo | None = given
        elif in_process:
            info = self.local_model.model_info()
        else:
            from chatlane.providers import profiles  # the table loads on first use

            info = profiles.model_info(model)
        if len(self._known_facts) < 1024:  # bounded: callers may name endless models
            self._known_facts[key] = info
        return info

    def prepare(self, params: Mapping[str, Any], *, stream: bool) -> Call:
        """Validate and build the request; nothing is sent."""
        model = params.get("model")
        endpoint, wire_model = self._routed(model, params.get("provider"))
        body = build_body(params, model=wire_model, dialect=endpoint.dialect, stream=stream)
        headers = endpoint.headers
        extra = params.get("extra_headers")
        if stream or extra:
            headers = dict(headers)
            if stream:
                headers["accept"] = "text/event-stream"
            if extra:
                headers.update({name.lower(): value for name, value in extra.items()})
        timeout = self.timeout
        if params.get("timeout") is not None:
            timeout = Timeout.coerce(params["timeout"])
        return Call(
            request=HTTPRequest("POST", endpoint.chat_url(wire_model), headers, body),
            context=ErrorContext(provider=endpoint.provider, model=model, secret=endpoint.secret),
            timeout=timeout,
            started=time.perf_counter(),
            params=params,
            stream=stream,
            in_process=endpoint.in_process,
            max_event_bytes=self.limits.max_event_bytes,
            wire_model=wire_model,
            facts=self._facts,
        )

    def _prepare_for(self, params: Mapping[str, Any], stream: bool) -> Call:
        return self.prepare(params, stream=stream)

    def ping_call(self, provider: str | None) -> Call:
        endpoint = self._endpoint(provider) if provider else self.default
        return Call(
            request=HTTPRequest("GET", endpoint.models_url(), endpoint.headers),
            context=ErrorContext(provider=endpoint.provider, secret=endpoint.secret),
            timeout=self.timeout,
            started=time.perf_counter(),
            in_process=endpoint.in_process,
        )


def _given_facts(models: Mapping[str, ModelInfo] | None) -> dict[str, ModelInfo]:
    """``models=`` checked, by lower-case name, each named after its key when it has no name."""
    if models is None:
        return {}
    from chatlane.providers.profiles import ModelInfo

    if not isinstance(models, Mapping):
        raise errors.ConfigurationError(
            f"models: expected a mapping of model names to chatlane.ModelInfo, got "
            f"{type(models).__name__}"
        )
    facts: dict[str, ModelInfo] = {}
    for name, info in models.items():
        if not isinstance(name, str) or not name.strip():
            raise errors.ConfigurationError(f"models: a key must be a model name, not {name!r}")
        if not isinstance(info, ModelInfo):
            raise errors.ConfigurationError(
                f"models[{name!r}]: expected a chatlane.ModelInfo, got {type(info).__name__}"
            )
        facts[name.strip().lower()] = info if info.name else dataclasses.replace(info, name=name)
    return facts


def _strip(model: str, provider: str) -> str:
    prefix, slash, rest = model.partition("/")
    return rest if slash and prefix.lower() == provider else model
