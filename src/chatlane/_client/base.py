"""What ``Client`` and ``AsyncClient`` share above the call flow: construction, routing and
planning a structured call. Only the I/O (``sync.py``, ``aio.py``) differs between them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from chatlane._call.core import ClientCore
from chatlane._call.layers import Middleware
from chatlane._client.production import ProductionOptions
from chatlane.core.errors import ChatlaneError, ConfigurationError
from chatlane.core.limits import Limits
from chatlane.core.retry import RetryPolicy
from chatlane.core.timeouts import Timeout
from chatlane.local.settings import LocalModel
from chatlane.providers.endpoints import Route
from chatlane.providers.profiles import ModelInfo
from chatlane.providers.registry import StructuredOutputMode

if TYPE_CHECKING:
    from chatlane.budget.budget import BudgetLike
    from chatlane.budget.ledger import Ledger
    from chatlane.cache.piece import Cache
    from chatlane.cache.store import CacheStore
    from chatlane.local.engine import LocalEngine
    from chatlane.ratelimit.limits import RateLimit
    from chatlane.ratelimit.piece import RateLimits
    from chatlane.structured.flow import ParseFlow
    from chatlane.telemetry.piece import Telemetry

__all__ = ["ClientBase"]

TransportT = TypeVar("TransportT")
T = TypeVar("T")


class ClientBase(Generic[TransportT]):
    """The configuration half of a client; subclasses say which transports they use."""

    is_async = False

    def __init__(
        self,
        *,
        provider: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        api_version: str | None = None,
        timeout: Timeout | float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        transport: TransportT | None = None,
        verify: bool = True,
        local_model: LocalModel | None = None,
        middleware: Sequence[Middleware] = (),
        models: Mapping[str, ModelInfo] | None = None,
        limits: Limits | None = None,
        cache: Cache | CacheStore | bool | None = None,
        fallbacks: Sequence[str | ClientBase[TransportT]] = (),
        fallback_on: Sequence[type[ChatlaneError]] | None = None,
        budget: BudgetLike | Sequence[BudgetLike] | None = None,
        ledger: Ledger | None = None,
        rate_limits: RateLimits | Mapping[str, RateLimit] | None = None,
        telemetry: Telemetry | bool | None = None,
    ) -> None:
        fallbacks = _checked_targets(self, fallbacks)
        self._core = ClientCore(
            provider=provider,
            base_url=base_url,
            api_key=api_key,
            api_version=api_version,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            middleware=middleware,
            models=models,
            local_model=local_model,
            limits=limits,
            production=ProductionOptions(
                cache=cache,
                fallbacks=fallbacks,
                fallback_on=fallback_on,
                budget=budget,
                ledger=ledger,
                rate_limits=rate_limits,
                telemetry=telemetry,
            ),
        )
        self._transport = self._http_transport(verify) if transport is None else transport
        self._local_transport: TransportT | None = None

    @property
    def ledger(self) -> Ledger | None:
        """The ``Ledger`` this client records every attempt in (``ledger=``), or None."""
        return self._core.ledger

    @property
    def provider(self) -> str:
        """The provider calls go to unless a model or call names another ("local" when
        nothing is configured)."""
        return self._core.provider

    def __repr__(self) -> str:
        core = getattr(self, "_core", None)  # absent while a bad configuration is refused
        return f"{type(self).__name__}({'' if core is None else repr(core)})"

    def resolve(self, model: str, *, provider: str | None = None) -> Route:
        """Where calls for ``model`` go: the provider, its name for the model, the base URL,
        whether the embedded model serves it, and what is known about the model
        (``model_info``). Nothing is sent."""
        return self._core.resolve(model, provider)

    def _http_transport(self, verify: bool) -> TransportT:
        """The transport when none is given (imported only then: it costs import time)."""
        raise NotImplementedError

    def _in_process_transport(self, engine: LocalEngine) -> TransportT:
        """The embedded model's transport, made with the first call it serves."""
        raise NotImplementedError

    def _transport_for(self, in_process: bool) -> TransportT:
        if not in_process:
            return self._transport
        if self._local_transport is None:
            self._local_transport = self._in_process_transport(self._core.local_model.engine())
        return self._local_transport

    def _plan(
        self,
        params: Mapping[str, Any],
        response_model: type[T],
        mode: StructuredOutputMode | None,
        strict: bool | Literal["fallback"],
        max_attempts: int,
    ) -> ParseFlow[T]:
        from chatlane.structured.flow import plan

        return plan(
            self._core.resolve,
            params,
            response_model=response_model,
            mode=mode,
            strict=strict,
            max_attempts=max_attempts,
            refused=self._core.refused_formats,
        )


def _checked_targets(client: ClientBase[Any], targets: object) -> tuple[Any, ...]:
    """``fallbacks=``: ``provider/model`` strings, or clients of the same kind."""
    if isinstance(targets, str) or not isinstance(targets, Sequence):
        raise ConfigurationError(
            "fallbacks: expected a list of 'provider/model' strings or clients"
        )
    for target in targets:
        if isinstance(target, str):
            if not target.strip():
                raise ConfigurationError("fallbacks: a target must not be empty")
        elif not isinstance(target, ClientBase) or target.is_async != client.is_async:
            raise ConfigurationError(
                f"fallbacks: a {type(client).__name__} falls back to model names or other"
                f" {type(client).__name__} objects, not {type(target).__name__}"
            )
    return tuple(targets)
