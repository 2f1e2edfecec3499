"""Telemetry, the outermost piece: it sees each request whole (its span, its usage record)
and each attempt inside it (an event on the span)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from chatlane._call.call import Call
from chatlane._call.layers import Flow, Middleware, Proceed
from chatlane.core.errors import ChatlaneError, ConfigurationError
from chatlane.core.types import ChatCompletion
from chatlane.telemetry.otel import OtelRecorder
from chatlane.telemetry.record import usage_record
from chatlane.telemetry.sinks import JsonlSink, log_record, logger

__all__ = ["Telemetry", "TelemetryPiece"]


@dataclass(frozen=True)
class Telemetry:
    """What a client reports about its calls: ``Client(telemetry=chatlane.Telemetry(...))``.

    - ``log``: one usage record per request on the ``chatlane.usage`` logger (INFO; the
      fields are in the log record's ``chatlane_usage`` attribute).
    - ``jsonl``: a file path to append the same records to, one JSON object per line.
    - ``otel``: OpenTelemetry spans and GenAI metrics (``chatlane[otel]``); None: on when
      opentelemetry-api is installed. ``tracer_provider`` / ``meter_provider`` pick
      providers other than the global ones.
    - ``content``: put the prompt messages and the answer text in usage records (off: they
      may hold personal data). Keys are never recorded.
    """

    log: bool = True
    jsonl: str | os.PathLike[str] | None = None
    otel: bool | None = None
    content: bool = False
    tracer_provider: Any = None
    meter_provider: Any = None
    _sink: JsonlSink | None = field(default=None, init=False, repr=False, compare=False)
    _otel: OtelRecorder | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.jsonl is not None:
            object.__setattr__(self, "_sink", JsonlSink(self.jsonl))
        otel = self.otel
        if otel is None:
            import importlib.util

            otel = importlib.util.find_spec("opentelemetry") is not None
        if otel:
            recorder = OtelRecorder(self.tracer_provider, self.meter_provider)
            object.__setattr__(self, "_otel", recorder)

    @classmethod
    def coerce(cls, value: object) -> Telemetry | None:
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, Telemetry):
            return value
        raise ConfigurationError(
            f"telemetry: expected chatlane.Telemetry or True, got {type(value).__name__}"
        )

    def close(self) -> None:
        """Close the JSONL file, if any."""
        if self._sink is not None:
            self._sink.close()


class TelemetryPiece(Middleware):
    """Built by the client from its ``Telemetry``."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry
        self._otel = telemetry._otel

    def around_request(self, call: Call, proceed: Proceed) -> Flow:
        otel = self._otel
        span = None if otel is None or otel.idle() else otel.start(call)
        if span is None and not self._records():
            return (yield from proceed(call))  # nothing would see what this call did
        started = call.notes["request_started"] = time.perf_counter()
        model = call.model
        call.notes["span"] = span
        completion: ChatCompletion | None = None
        error: BaseException | None = None
        try:
            completion = yield from proceed(call)
            return completion
        except BaseException as exc:  # GeneratorExit too: an abandoned stream is reported
            error = exc
            raise
        finally:
            try:
                self._report(call, model, started, completion, error, span)
            except Exception as exc:  # telemetry must never fail (or mask) the call itself
                logger.warning("chatlane could not report a call: %s: %s", type(exc).__name__, exc)

    def around_attempt(self, call: Call, proceed: Proceed) -> Flow:
        span = None if self._otel is None else call.note("span")
        if span is None:
            return (yield from proceed(call))
        otel = self._otel
        assert otel is not None
        try:
            completion = yield from proceed(call)
        except ChatlaneError as exc:
            otel.attempt(span, call, exc)
            raise
        otel.attempt(span, call, None)
        return completion

    def _records(self) -> bool:
        """Whether this call's usage record goes anywhere (a file, or a logger that takes
        INFO): when not, it is not built."""
        telemetry = self._telemetry
        return telemetry._sink is not None or (telemetry.log and logger.isEnabledFor(logging.INFO))

    def _report(
        self,
        call: Call,
        model: str | None,
        started: float,
        completion: ChatCompletion | None,
        error: BaseException | None,
        span: Any,
    ) -> None:
        telemetry = self._telemetry
        if self._otel is not None and span is not None:
            self._otel.end(span, call, time.perf_counter() - started, completion, error)
        if not self._records():
            return
        failure = error if isinstance(error, ChatlaneError) else None
        record = usage_record(call, model, completion, failure, content=telemetry.content)
        if error is not None and failure is None:
            record = _cancelled(record)
        if telemetry.log:
            log_record(record)
        if telemetry._sink is not None:
            telemetry._sink.write(record)


def _cancelled(record: Any) -> Any:
    from dataclasses import replace

    return replace(record, error_type="cancelled")
