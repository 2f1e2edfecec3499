"""Usage records and OpenTelemetry on the client, over real HTTP to the fake server, sync
and async, checked with the logging module and opentelemetry-sdk's in-memory exporters."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import chatlane
from chatlane.testing import Completion, ErrorReply, FakeServer, Stream
from tests.client.conftest import MakeDriver
from tests.conftest import API_KEY

HI = [{"role": "user", "content": "Tell me about the weather."}]
PRICED = {"m": chatlane.ModelInfo(input_per_mtok=1000.0, output_per_mtok=1000.0)}


def usage_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [getattr(r, "chatlane_usage") for r in caplog.records if r.name == "chatlane.usage"]  # noqa: B009


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="chatlane.usage")
    return caplog


def test_one_record_per_request_with_what_it_took(
    make_driver: MakeDriver, server: FakeServer, records: pytest.LogCaptureFixture
) -> None:
    server.enqueue(ErrorReply(503), Completion(content="sunny", usage=(12, 3)))
    make_driver(telemetry=chatlane.Telemetry(otel=False), models=PRICED).chat(
        model="m", messages=HI
    )
    (record,) = usage_records(records)
    assert record["provider"] == "openai-compatible"
    assert (record["model"], record["target"]) == ("m", "openai-compatible/m")
    assert record["attempts"] == 2
    assert (record["prompt_tokens"], record["completion_tokens"]) == (12, 3)
    assert record["cost_usd"] == pytest.approx(0.015)
    assert record["latency"] > 0
    assert record["request_id"]
    assert (record["cached"], record["fallback"], record["error_type"]) == (False, False, None)
    assert "messages" not in record
    assert "answer" not in record


def test_records_say_cached_fallback_and_error(
    make_driver: MakeDriver, server: FakeServer, records: pytest.LogCaptureFixture
) -> None:
    telemetry = chatlane.Telemetry(otel=False)
    cache = chatlane.Cache()
    server.enqueue(Completion(content="a"), *[ErrorReply(500)] * 3, Completion(content="b"))
    server.enqueue(ErrorReply(400))
    driver = make_driver(telemetry=telemetry, cache=cache, fallbacks=["m2"])
    driver.chat(model="m", messages=HI, temperature=0)
    driver.chat(model="m", messages=HI, temperature=0)
    driver.chat(model="m", messages=HI)
    with pytest.raises(chatlane.BadRequestError):
        driver.chat(model="m", messages=HI, max_tokens=3)
    first, hit, fell_back, failed = usage_records(records)
    assert (first["cached"], hit["cached"], hit["cost_usd"], hit["attempts"]) == (
        False,
        True,
        0.0,
        0,
    )
    assert (fell_back["fallback"], fell_back["target"]) == (True, "openai-compatible/m2")
    assert failed["error_type"] == "BadRequestError"
    assert failed["cost_usd"] is None


def test_a_stream_record_has_its_time_to_first_token(
    make_driver: MakeDriver, server: FakeServer, records: pytest.LogCaptureFixture
) -> None:
    server.enqueue(Stream(chunks=["rain ", "later"], chunk_delay=0.01, usage=None))
    make_driver(telemetry=chatlane.Telemetry(otel=False)).stream(model="m", messages=HI)
    (record,) = usage_records(records)
    assert record["stream"] is True
    assert record["time_to_first_token"] > 0
    assert record["completion_tokens"] is None  # the stream reported no usage: unknown
    assert record["tokens_estimated"] is True


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        {"prompt_tokens": -40, "completion_tokens": -3, "total_tokens": -43},
    ],
)
def test_a_usage_that_reports_nothing_is_unknown_not_zero(
    make_driver: MakeDriver,
    server: FakeServer,
    records: pytest.LogCaptureFixture,
    usage: dict[str, int],
) -> None:
    server.enqueue(Completion(content="sunny", usage=usage))
    reply = make_driver(telemetry=chatlane.Telemetry(otel=False), models=PRICED).chat(
        model="m", messages=HI
    )
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (0, 0)
    (record,) = usage_records(records)
    assert record["tokens_estimated"] is True
    assert record["prompt_tokens"] > 0  # chatlane's estimate, marked as such
    assert record["completion_tokens"] is None
    assert record["cost_usd"] is None


def test_content_only_when_asked_and_never_the_key(
    make_driver: MakeDriver, server: FakeServer, records: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    server.enqueue(Completion(content="windy"), Completion(content="windy"))
    path = tmp_path / "usage.jsonl"
    telemetry = chatlane.Telemetry(otel=False, content=True, jsonl=path)
    make_driver(telemetry=telemetry).chat(model="m", messages=HI)
    telemetry.close()
    (record,) = usage_records(records)
    assert record["messages"] == HI
    assert record["answer"] == "windy"
    lines = path.read_text().splitlines()
    assert [json.loads(line)["answer"] for line in lines] == ["windy"]
    everything = path.read_text() + "".join(r.getMessage() for r in records.records)
    assert API_KEY[:12] not in everything
    assert API_KEY[-6:] not in everything


@pytest.fixture
def otel() -> tuple[InMemorySpanExporter, InMemoryMetricReader, chatlane.Telemetry]:
    spans = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    telemetry = chatlane.Telemetry(
        log=False,
        otel=True,
        tracer_provider=tracing,
        meter_provider=MeterProvider(metric_readers=[metrics]),
    )
    return spans, metrics, telemetry


def metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def test_a_span_per_request_with_the_genai_attributes(
    make_driver: MakeDriver,
    server: FakeServer,
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader, chatlane.Telemetry],
) -> None:
    spans, metrics, telemetry = otel
    server.enqueue(ErrorReply(503), Completion(content="ok", usage=(7, 2), model="m-2026"))
    make_driver(telemetry=telemetry).chat(model="m", messages=HI, temperature=0, max_tokens=9)
    (span,) = spans.get_finished_spans()
    assert span.name == "chat m"
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai-compatible"
    assert attributes["gen_ai.request.model"] == "m"
    assert attributes["gen_ai.response.model"] == "m-2026"
    assert attributes["gen_ai.usage.input_tokens"] == 7
    assert attributes["gen_ai.usage.output_tokens"] == 2
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.request.max_tokens"] == 9
    assert attributes["server.address"] == "127.0.0.1"
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    assert [e[1]["chatlane.attempt"] for e in events] == [1, 2]
    assert events[0][1]["error.type"] == "InternalServerError"
    points = metric_points(metrics)
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in points["gen_ai.client.token.usage"]}
    assert tokens == {"input": 7, "output": 2}
    assert points["gen_ai.client.operation.duration"][0].count == 1


def test_a_span_has_no_token_counts_from_a_usage_that_reports_nothing(
    make_driver: MakeDriver,
    server: FakeServer,
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader, chatlane.Telemetry],
) -> None:
    spans, metrics, telemetry = otel
    server.enqueue(Completion(content="ok", usage={"prompt_tokens": -7, "completion_tokens": 0}))
    make_driver(telemetry=telemetry).chat(model="m", messages=HI)
    (span,) = spans.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert "gen_ai.usage.input_tokens" not in attributes
    assert "gen_ai.usage.output_tokens" not in attributes
    points = metric_points(metrics)
    assert points["gen_ai.client.operation.duration"][0].count == 1  # the call was measured
    assert "gen_ai.client.token.usage" not in points


def test_a_failed_request_is_an_error_span(
    make_driver: MakeDriver,
    server: FakeServer,
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader, chatlane.Telemetry],
) -> None:
    spans, metrics, telemetry = otel
    server.enqueue(ErrorReply(401))
    with pytest.raises(chatlane.AuthenticationError):
        make_driver(telemetry=telemetry).chat(model="m", messages=HI)
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "AuthenticationError"
    (duration,) = metric_points(metrics)["gen_ai.client.operation.duration"]
    assert duration.attributes["error.type"] == "AuthenticationError"


def test_a_stream_records_its_time_to_first_chunk(
    make_driver: MakeDriver,
    server: FakeServer,
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader, chatlane.Telemetry],
) -> None:
    spans, metrics, telemetry = otel
    server.enqueue(Stream(chunks=["a", "b"], usage=(3, 2)))
    run = make_driver(telemetry=telemetry).stream(
        model="m", messages=HI, stream_options={"include_usage": True}
    )
    assert run.error is None
    assert len(spans.get_finished_spans()) == 1
    (first,) = metric_points(metrics)["gen_ai.client.operation.time_to_first_chunk"]
    assert first.count == 1


def test_telemetry_is_configured_clearly(tmp_path: Path) -> None:
    with pytest.raises(chatlane.ConfigurationError, match="telemetry"):
        chatlane.Client(base_url="http://127.0.0.1:9/v1", telemetry="on")  # type: ignore[arg-type]
    with pytest.raises(chatlane.ConfigurationError, match="jsonl"):
        chatlane.Telemetry(otel=False, jsonl=tmp_path / "no" / "such" / "dir" / "u.jsonl")


def test_a_path_no_file_can_have_is_a_configuration_error() -> None:
    with pytest.raises(chatlane.ConfigurationError, match=r"jsonl: cannot open 'a\\x00b'"):
        chatlane.Telemetry(otel=False, jsonl="a\x00b")


# The global providers can be set once per process: this runs in a process of its own.
_GLOBAL_PROVIDERS_LATER = """
import logging
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import chatlane
from chatlane.testing import Completion, FakeServer

logging.basicConfig(level=logging.WARNING)
with FakeServer() as server:
    client = chatlane.Client(
        base_url=server.url, api_key="k", telemetry=chatlane.Telemetry(log=False, otel=True)
    )
    server.enqueue(Completion(content="before"), Completion(content="after"))
    hi = [{"role": "user", "content": "hi"}]
    assert client.chat(model="m", messages=hi).text == "before"  # no SDK yet

    spans, readings = InMemorySpanExporter(), InMemoryMetricReader()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracing)
    metrics.set_meter_provider(MeterProvider(metric_readers=[readings]))

    assert client.chat(model="m", messages=hi).text == "after"
    finished = spans.get_finished_spans()
    assert [span.name for span in finished] == ["chat m"], finished
    assert finished[0].attributes["gen_ai.usage.output_tokens"] > 0
    data = readings.get_metrics_data()
    names = {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}
    assert "gen_ai.client.operation.duration" in names, names
    client.close()
print("ok")
"""


def test_an_sdk_set_up_after_the_client_gets_its_next_calls() -> None:
    """With no SDK the API's no-ops are skipped; a service that sets up its providers after
    making the client has the next call traced and measured."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _GLOBAL_PROVIDERS_LATER],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
