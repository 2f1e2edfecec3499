"""What the sync and async clients share: configuration, routing, request building, retry
decisions and turning responses into results. Only the I/O loops differ between them."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatlane.core import errors
from chatlane.core.chunks import decode_completion
from chatlane.core.error_mapping import ErrorContext, api_error, request_id_from
from chatlane.core.request import build_body
from chatlane.core.retry import RetryPolicy, next_delay
from chatlane.core.stream import StreamDecoder
from chatlane.core.timeouts import Timeout
from chatlane.core.types import ChatCompletion
from chatlane.endpoints import Endpoint, default_provider_name, resolve_endpoint
from chatlane.providers.registry import get_provider
from chatlane.transport.base import HTTPRequest

__all__ = ["Call", "ClientCore"]


def _cap(limit: float | None, remaining: float | None) -> float | None:
    if remaining is None:
        return limit
    if limit is None:
        return max(remaining, 0.0)
    return max(min(limit, remaining), 0.0)


@dataclass(slots=True)
class Call:
    """One logical call (all its attempts): the request and what errors need to know."""

    request: HTTPRequest
    context: ErrorContext
    timeout: Timeout
    started: float
    attempts: int = 0
    in_process: bool = False
    """Served by the embedded model (the local transport) instead of over HTTP."""

    def remaining(self) -> float | None:
        total = self.timeout.total
        return None if total is None else total - (time.perf_counter() - self.started)

    def connect_timeout(self) -> float | None:
        return _cap(self.timeout.connect, self.remaining())

    def read_timeout(self, phase: float | None) -> float | None:
        return _cap(phase, self.remaining())

    def first_token_timeout(self) -> float | None:
        """What is left of the first-token allowance (it runs from the first attempt)."""
        limit = self.timeout.first_token
        if limit is not None:
            limit = max(limit - (time.perf_counter() - self.started), 0.0)
        return _cap(limit, self.remaining())

    def annotate(self, error: errors.ChatlaneError) -> errors.ChatlaneError:
        error.provider = error.provider or self.context.provider
        error.model = error.model or self.context.model
        error.attempts = self.attempts
        return error

    def timeout_error(self, phase: type[errors.TimeoutError]) -> errors.ChatlaneError:
        """The error for a read that timed out in ``phase`` (or in the total deadline)."""
        remaining = self.remaining()
        if remaining is not None and remaining <= 0.001:
            return self.annotate(
                errors.TotalTimeout(f"call exceeded the total timeout of {self.timeout.total}s")
            )
        limit = self.timeout.first_token if phase is errors.FirstTokenTimeout else self.timeout.idle
        what = "the first token" if phase is errors.FirstTokenTimeout else "the next chunk"
        return self.annotate(phase(f"no data within {limit}s waiting for {what}"))

    def expired(self) -> errors.ChatlaneError | None:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            return self.timeout_error(errors.TotalTimeout)
        return None


class ClientCore:
    """Configuration and pure per-call logic shared by ``Client`` and ``AsyncClient``."""

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
    ) -> None:
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
            self.default = self._endpoint(default_provider_name(os.environ))
        self.provider = self.default.provider

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

    def prepare(self, params: Mapping[str, Any], *, stream: bool) -> Call:
        """Validate and build the request; nothing is sent."""
        model = params.get("model")
        if not isinstance(model, str) or not model.strip():
            raise errors.RequestValidationError(
                "model: is required (a non-empty string)", field="model"
            )
        endpoint, wire_model = self.route(model, params.get("provider"))
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
            in_process=endpoint.in_process,
        )

    def ping_call(self, provider: str | None) -> Call:
        endpoint = self._endpoint(provider) if provider else self.default
        return Call(
            request=HTTPRequest("GET", endpoint.models_url(), endpoint.headers),
            context=ErrorContext(provider=endpoint.provider, secret=endpoint.secret),
            timeout=self.timeout,
            started=time.perf_counter(),
            in_process=endpoint.in_process,
        )

    def error_for(
        self, call: Call, status: int, headers: Mapping[str, str], body: bytes
    ) -> errors.APIError:
        error = api_error(status, headers, body, call.context)
        error.attempts = call.attempts
        return error

    def retry_delay(
        self, call: Call, status: int | None, headers: Mapping[str, str]
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        return next_delay(
            retry=call.attempts - 1,
            status=status,
            headers=headers,
            policy=self.retry,
            remaining=call.remaining(),
        )

    def completion(
        self, call: Call, status: int, headers: Mapping[str, str], body: bytes
    ) -> ChatCompletion:
        try:
            completion = decode_completion(body)
        except errors.ResponseDecodeError as exc:
            exc.status, exc.request_id = status, request_id_from(headers)
            raise call.annotate(exc) from None
        completion.latency = time.perf_counter() - call.started
        completion.attempts = call.attempts
        return completion

    def stream_decoder(self, call: Call, headers: Mapping[str, str]) -> StreamDecoder:
        return StreamDecoder(call.started, call.context, request_id=request_id_from(headers))


def _strip(model: str, provider: str) -> str:
    prefix, slash, rest = model.partition("/")
    return rest if slash and prefix.lower() == provider else model


class _Failed(Exception):
    """An attempt got an HTTP error: the typed error plus what the retry policy looks at."""

    def __init__(self, error: errors.APIError, status: int, headers: Mapping[str, str]) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status
        self.headers = headers


RETRYABLE_TRANSPORT = (errors.ConnectError, errors.ConnectTimeout)
"""Failures before any response byte: safe to retry (the request was not processed)."""
