"""OpenTelemetry, following the GenAI semantic conventions: a CLIENT span per request
(``chat {model}``), an event per attempt, and the GenAI client metrics
(``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration`` and, for streams,
``gen_ai.client.operation.time_to_first_chunk``). Only opentelemetry-api is used (the
``chatlane[otel]`` extra); the service's SDK decides where it all goes."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from chatlane._call.call import Call
from chatlane.core.errors import ChatlaneError, ConfigurationError
from chatlane.core.types import ChatCompletion
from chatlane.core.usage import reported_usage

__all__ = ["OtelRecorder"]

# GenAI's well-known provider names, where chatlane's differ.
_PROVIDER_NAMES = {"azure": "azure.ai.openai", "mistral": "mistral_ai", "together": "together_ai"}
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]
_SECOND_BUCKETS = [
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
]


_GONE = object()
_NO_OP_PROVIDERS = frozenset(
    {"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"}
)


def _no_op(provider: Any) -> bool:
    """A provider of opentelemetry-api itself (None: the global one, looked up later), not
    of an SDK: its spans and instruments record nothing. By name, as the metrics proxy's
    class is not public."""
    return provider is None or type(provider).__name__ in _NO_OP_PROVIDERS


def _module_globals(function: Any) -> dict[str, Any]:
    """The globals of the module that defines ``function`` (its ``__module__`` is relabelled
    by opentelemetry-api)."""
    found = getattr(function, "__globals__", None)
    return found if isinstance(found, dict) else {}


class OtelRecorder:
    """Spans and metrics for one client (made once; the instruments are reused)."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            raise ConfigurationError(
                "Telemetry(otel=True) needs opentelemetry-api: pip install 'chatlane[otel]'"
            ) from None
        from chatlane._version import __version__

        self._trace, self._metrics = trace, metrics
        # Providers given here are what they are for good; the global ones are looked up on
        # each call while they are the API's own no-ops, as a service may set up its SDK
        # after making the client (and, once set, OpenTelemetry does not let them change).
        self._given = tracer_provider is not None or meter_provider is not None
        self._live = self._given and not (_no_op(tracer_provider) and _no_op(meter_provider))
        # Where the API keeps its global providers (None until set). An environment
        # variable naming a provider makes the getters load it: then they are asked.
        loads = {"OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER"} & set(os.environ)
        getters = (trace.get_tracer_provider, metrics.get_meter_provider)
        self._unset = ({}, {}) if loads else tuple(map(_module_globals, getters))
        self._bases: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._tracer = trace.get_tracer("chatlane", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("chatlane", __version__, meter_provider=meter_provider)
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Input and output tokens used",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=_SECOND_BUCKETS,
        )
        self._first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of a streamed answer",
            explicit_bucket_boundaries_advisory=_SECOND_BUCKETS,
        )

    def idle(self) -> bool:
        """True while nothing would be recorded: no SDK is set up (opentelemetry-api alone
        answers every span and metric with a no-op), so the call need not build any."""
        if self._live:
            return False
        if self._given:
            return True
        # The API's own globals say "none set" in two dict reads; asking its getters costs
        # microseconds (each reads os.environ), so they are asked only when those are gone.
        if self._unset[0].get("_TRACER_PROVIDER", _GONE) is None and (
            self._unset[1].get("_METER_PROVIDER", _GONE) is None
        ):
            return True
        trace, metrics = self._trace, self._metrics
        if _no_op(trace.get_tracer_provider()) and _no_op(metrics.get_meter_provider()):
            return True
        self._live = True
        return False

    def start(self, call: Call) -> Any:
        attributes = self._base(call)
        params = call.params
        for name, key in (
            ("gen_ai.request.max_tokens", "max_tokens"),
            ("gen_ai.request.temperature", "temperature"),
            ("gen_ai.request.top_p", "top_p"),
            ("gen_ai.request.seed", "seed"),
        ):
            value = params.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attributes[name] = value
        return self._tracer.start_span(
            f"chat {call.wire_model}", kind=self._trace.SpanKind.CLIENT, attributes=attributes
        )

    def attempt(self, span: Any, call: Call, error: ChatlaneError | None) -> None:
        if not span.is_recording():
            return
        attributes: dict[str, Any] = {"chatlane.attempt": call.attempts}
        if call.status is not None:
            attributes["http.response.status_code"] = call.status
        if error is not None:
            attributes["error.type"] = type(error).__name__
        span.add_event("chatlane.attempt", attributes)

    def end(
        self,
        span: Any,
        call: Call,
        duration: float,
        completion: ChatCompletion | None,
        error: BaseException | None,
    ) -> None:
        attributes = self._base(call)
        recording = span.is_recording()
        if completion is not None and completion.model:
            attributes["gen_ai.response.model"] = completion.model
        if completion is not None and recording:
            if completion.model:
                span.set_attribute("gen_ai.response.model", completion.model)
            if completion.id:
                span.set_attribute("gen_ai.response.id", completion.id)
            reasons = [c.finish_reason for c in completion.choices if c.finish_reason]
            if reasons:
                span.set_attribute("gen_ai.response.finish_reasons", reasons)
            span.set_attribute("chatlane.cached", completion.cached)
        usage = None if completion is None or completion.cached else completion.usage
        usage = reported_usage(usage)  # all zeros is no report: no token counts to show
        if usage is not None:
            if recording:
                span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
            for kind, count in (
                ("input", usage.prompt_tokens),
                ("output", usage.completion_tokens),
            ):
                self._tokens.record(count, {**attributes, "gen_ai.token.type": kind})
        if error is not None:
            kind = type(error).__name__ if isinstance(error, ChatlaneError) else "cancelled"
            attributes["error.type"] = kind
            span.set_attribute("error.type", kind)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, kind))
        self._duration.record(duration, attributes)
        decoder = call.decoder
        if call.stream and decoder is not None and decoder.first_token_at is not None:
            self._first_chunk.record(decoder.first_token_at - call.started, attributes)
        span.end()

    def _base(self, call: Call) -> dict[str, Any]:
        """The attributes every span and metric of this target has (made once per target:
        parsing the URL each call costs microseconds)."""
        provider = call.provider or ""
        key = (provider, call.wire_model, call.request.url)
        known = self._bases.get(key)
        if known is None:
            known = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": _PROVIDER_NAMES.get(provider, provider),
                "gen_ai.request.model": call.wire_model,
            }
            parts = urlsplit(call.request.url)
            if parts.hostname:
                known["server.address"] = parts.hostname
                if parts.port:
                    known["server.port"] = parts.port
            if len(self._bases) < 1024:  # bounded: a caller may send to endless models
                self._bases[key] = known
        return dict(known)
