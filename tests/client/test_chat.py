"""chat(), stream() and ping() over real HTTP against the fake server, sync and async."""

from __future__ import annotations

import pytest

import chatlane
from chatlane.testing import Completion, FakeServer, Stream
from tests.client.drivers import Driver
from tests.conftest import API_KEY

HI = [{"role": "user", "content": "Hi there"}]


def test_chat_returns_a_typed_completion(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Completion(content="Hello!", usage=(9, 2)))
    reply = driver.chat(model="gpt-4o-mini", messages=HI, max_tokens=100, temperature=0.5)
    message = reply.assistant_message()
    assert message is not None
    assert message.content == "Hello!"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (
        9,
        2,
        11,
    )
    assert reply.latency > 0
    assert reply.attempts == 1
    (request,) = server.chat_requests
    assert request.json() == {
        "model": "gpt-4o-mini",
        "messages": HI,
        "max_tokens": 100,
        "temperature": 0.5,
    }
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("chatlane/")


def test_extra_headers_and_extra_body_are_sent(driver: Driver, server: FakeServer) -> None:
    driver.chat(model="m", messages=HI, extra_headers={"X-Trace": "1"}, extra_body={"top_k": 3})
    (request,) = server.chat_requests
    assert request.headers["x-trace"] == "1"
    assert request.json()["top_k"] == 3


def test_tool_calls_come_back_typed(driver: Driver, server: FakeServer) -> None:
    server.enqueue(
        Completion(
            content=None,
            tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": '{"city": "Oslo"}'}],
        )
    )
    reply = driver.chat(model="m", messages=HI)
    assert reply.choices[0].finish_reason == "tool_calls"
    message = reply.assistant_message()
    assert message is not None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1",
        "get_weather",
        '{"city": "Oslo"}',
    )


def test_stream_delivers_timed_chunks_and_a_final_completion(
    driver: Driver, server: FakeServer
) -> None:
    server.enqueue(Stream(chunks=["Hel", "lo", " world"], chunk_delay=0.02, usage=(4, 3)))
    run = driver.stream(model="m", messages=HI)
    assert run.error is None
    text = "".join(chunk.text for chunk in run.chunks)
    assert text == "Hello world"
    assert run.chunks[-1].is_last_chunk
    assert not any(chunk.is_last_chunk for chunk in run.chunks[:-1])
    assert run.chunks[-1].choices == []  # the usage-only chunk
    assert run.chunks[-1].usage is not None
    latencies = [chunk.total_latency for chunk in run.chunks]
    assert latencies == sorted(latencies)
    assert all(chunk.chunk_latency >= 0 for chunk in run.chunks)
    assert run.final is not None
    assert run.final.text == "Hello world"
    assert run.final.choices[0].finish_reason == "stop"
    assert run.final.usage is not None
    assert run.final.usage.total_tokens == 7
    assert run.summary is not None
    assert run.summary.time_to_first_token is not None
    assert run.summary.inter_chunk_max is not None
    assert run.summary.inter_chunk_max >= 0.015
    assert run.summary.completion_tokens == 3
    assert run.summary.tokens_per_second is not None
    (request,) = server.chat_requests
    body = request.json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert request.headers["accept"] == "text/event-stream"


def test_stream_stopped_early_closes_the_connection_promptly(
    driver: Driver, server: FakeServer
) -> None:
    server.enqueue(Stream(chunks=[f"t{i} " for i in range(100)], chunk_delay=0.05))
    run = driver.stream(stop_after=2, model="m", messages=HI)
    assert run.error is None
    assert len(run.chunks) == 2
    assert run.final is not None  # what arrived before stopping
    assert run.final.text.startswith("t0")
    assert run.summary is not None
    assert run.summary.total_time < 1.0  # did not wait for the other 98 chunks
    # the client stays usable
    server.enqueue(Completion(content="again"))
    assert driver.chat(model="m", messages=HI).text == "again"


def test_ping_lists_models_and_checks_the_key(driver: Driver, server: FakeServer) -> None:
    result = driver.ping()
    assert result.latency > 0
    assert "fake-model" in result.models
    assert server.requests[-1].path.endswith("/models")
    assert server.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"


def test_unknown_response_fields_are_tolerated(driver: Driver, server: FakeServer) -> None:
    from chatlane.testing import RawResponse

    body = (
        b'{"id": "x", "object": "chat.completion", "created": 1, "model": "m", "new_field": {"a": 1},'
        b' "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok", "annotations": []},'
        b' "finish_reason": "a_new_reason", "extra": true}], "usage": null}'
    )
    server.enqueue(RawResponse(body=body, content_type="application/json"))
    reply = driver.chat(model="m", messages=HI)
    assert reply.text == "ok"
    assert reply.choices[0].finish_reason == "a_new_reason"
    assert reply.usage is None


def test_empty_choices_are_not_a_crash(driver: Driver, server: FakeServer) -> None:
    from chatlane.testing import RawResponse

    server.enqueue(RawResponse(body=b'{"id": "x", "choices": []}', content_type="application/json"))
    reply = driver.chat(model="m", messages=HI)
    assert reply.assistant_message() is None
    assert reply.text == ""


def test_validation_happens_before_any_request(driver: Driver, server: FakeServer) -> None:
    with pytest.raises(chatlane.RequestValidationError, match="temperature"):
        driver.chat(model="m", messages=HI, temperature=7)
    run = driver.stream(model="m", messages=[*HI, {"role": "tool", "content": "x"}])
    assert isinstance(run.error, chatlane.RequestValidationError)
    assert run.error.field == "messages[1].tool_call_id"
    assert server.chat_requests == []
