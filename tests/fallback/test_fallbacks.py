"""Fallbacks over real HTTP to the fake server, sync and async: the next target after one
failed its retries, which errors fall through, streams never repeating text, windows."""

from __future__ import annotations

import asyncio
import pickle

import pytest

import chatlane
from chatlane.testing import (
    Completion,
    ErrorReply,
    FakeServer,
    RawResponse,
    ResetMidStream,
    Stream,
)
from tests.client.conftest import MakeDriver
from tests.conftest import FAST_RETRY, OPENING_ERROR_EVENTS

HI = [{"role": "user", "content": "Hi"}]


def models_sent(server: FakeServer) -> list[str]:
    return [request.json()["model"] for request in server.chat_requests]


def test_the_next_target_answers_after_the_first_fails_its_retries(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(*[ErrorReply(503)] * 3, Completion(content="from m2"))
    reply = make_driver(fallbacks=["m2"]).chat(model="m", messages=HI)
    assert (reply.text, reply.target) == ("from m2", "openai-compatible/m2")
    assert models_sent(server) == ["m", "m", "m", "m2"]


def test_without_a_failure_the_reply_names_its_own_model(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(Completion(content="ok"))
    reply = make_driver(fallbacks=["m2"]).chat(model="m", messages=HI)
    assert reply.target == "openai-compatible/m"
    assert models_sent(server) == ["m"]


@pytest.mark.parametrize("status", [400, 401, 403, 422])
def test_errors_the_request_caused_do_not_fall_through(
    status: int, make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(ErrorReply(status), Completion(content="never"))
    with pytest.raises(chatlane.APIError) as info:
        make_driver(fallbacks=["m2"]).chat(model="m", messages=HI)
    assert info.value.status == status
    assert models_sent(server) == ["m"]


def test_fallback_on_chooses_the_errors(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(ErrorReply(404), Completion(content="m2 exists"))
    driver = make_driver(fallbacks=["m2"], fallback_on=[chatlane.NotFoundError])
    assert driver.chat(model="m", messages=HI).text == "m2 exists"


def test_when_every_target_fails_each_error_is_listed(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(ErrorReply(429), ErrorReply(500))
    driver = make_driver(fallbacks=["m2"], retry=chatlane.RetryPolicy(max_retries=0))
    with pytest.raises(chatlane.FallbackError) as info:
        driver.chat(model="m", messages=HI)
    error = info.value
    assert [(target, type(e)) for target, e in error.failures] == [
        ("openai-compatible/m", chatlane.RateLimitError),
        ("openai-compatible/m2", chatlane.InternalServerError),
    ]
    assert "openai-compatible/m: RateLimitError" in str(error)
    assert error.attempts == 2
    assert isinstance(pickle.loads(pickle.dumps(error)), chatlane.FallbackError)


def test_per_call_fallbacks(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(*[ErrorReply(502)] * 3, Completion(content="per call"))
    reply = make_driver().chat(model="m", messages=HI, fallbacks=["m3"])
    assert reply.target == "openai-compatible/m3"


def test_a_stream_falls_back_before_its_first_chunk(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(*[ErrorReply(503)] * 3, Stream(chunks=["from ", "m2"]))
    run = make_driver(fallbacks=["m2"]).stream(model="m", messages=HI)
    assert run.error is None
    assert "".join(chunk.text for chunk in run.chunks) == "from m2"
    assert run.final is not None
    assert run.final.target == "openai-compatible/m2"
    assert run.summary is not None


@pytest.mark.parametrize(("event", "falls_back"), OPENING_ERROR_EVENTS)
def test_an_error_event_opening_a_stream_falls_back_as_its_status_would(
    event: bytes, falls_back: bool, make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(RawResponse(body=b"data: " + event + b"\n\n"), Stream(chunks=["from m2"]))
    no_retries = chatlane.RetryPolicy(max_retries=0)  # else it is retried on m first
    run = make_driver(fallbacks=["m2"], retry=no_retries).stream(model="m", messages=HI)
    if falls_back:
        assert run.error is None
        assert "".join(chunk.text for chunk in run.chunks) == "from m2"
        assert models_sent(server) == ["m", "m2"]
    else:
        assert isinstance(run.error, chatlane.StreamError)
        assert models_sent(server) == ["m"]


def test_a_stream_never_falls_back_after_text_reached_the_caller(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(ResetMidStream(chunks=["half an "]), Stream(chunks=["answer"]))
    run = make_driver(fallbacks=["m2"]).stream(model="m", messages=HI)
    assert isinstance(run.error, chatlane.StreamInterrupted)
    assert "".join(chunk.text for chunk in run.chunks) == "half an "
    assert models_sent(server) == ["m"]


def test_a_context_length_error_moves_to_a_larger_window(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    facts = {
        "small": chatlane.ModelInfo(context_window=4096),
        "same": chatlane.ModelInfo(context_window=4096),
        "large": chatlane.ModelInfo(context_window=128_000),
    }
    too_long = ErrorReply(
        400, message="maximum context length exceeded", code="context_length_exceeded"
    )
    server.enqueue(too_long, Completion(content="fits"))
    driver = make_driver(models=facts, fallbacks=["same", "large"])
    reply = driver.chat(model="small", messages=HI)
    assert reply.target == "openai-compatible/large"
    assert models_sent(server) == ["small", "large"]


def test_another_client_is_a_target(server: FakeServer) -> None:
    server.enqueue(*[ErrorReply(503)] * 3)
    with FakeServer() as other:
        other.enqueue(Completion(content="other server"), Stream(chunks=["streamed"]))
        server.enqueue(*[ErrorReply(503)] * 3)
        with (
            chatlane.Client(base_url=other.url) as backup,
            chatlane.Client(base_url=server.url, retry=FAST_RETRY, fallbacks=[backup]) as client,
        ):
            reply = client.chat(model="m", messages=HI)
            with client.stream(model="m", messages=HI) as stream:
                text = "".join(chunk.text for chunk in stream)
                final = stream.final()
                summary = stream.summary()
    assert (reply.text, reply.target) == ("other server", "openai-compatible/m")
    assert (text, final.text) == ("streamed", "streamed")
    assert summary.chunk_count > 0


def test_another_async_client_is_a_target(server: FakeServer) -> None:
    async def run(other: FakeServer) -> tuple[str, str]:
        async with (
            chatlane.AsyncClient(base_url=other.url) as backup,
            chatlane.AsyncClient(
                base_url=server.url, retry=FAST_RETRY, fallbacks=[backup]
            ) as client,
        ):
            reply = await client.chat(model="m", messages=HI)
            async with client.stream(model="m", messages=HI) as stream:
                text = "".join([chunk.text async for chunk in stream])
        return reply.text, text

    server.enqueue(*[ErrorReply(503)] * 6)
    with FakeServer() as other:
        other.enqueue(Completion(content="other"), Stream(chunks=["streamed"]))
        assert asyncio.run(run(other)) == ("other", "streamed")


def test_fallbacks_are_configured_clearly() -> None:
    url = "http://127.0.0.1:9/v1"
    wrong_kind = chatlane.AsyncClient(base_url=url)
    with pytest.raises(chatlane.ConfigurationError, match="AsyncClient"):
        chatlane.Client(base_url=url, fallbacks=[wrong_kind])  # type: ignore[list-item]
    with pytest.raises(chatlane.ConfigurationError, match="fallbacks"):
        chatlane.Client(base_url=url, fallbacks="m2")
    with pytest.raises(chatlane.ConfigurationError, match="fallback_on"):
        chatlane.Client(base_url=url, fallbacks=["m2"], fallback_on=[ValueError])  # type: ignore[list-item]
    with pytest.raises(chatlane.RequestValidationError, match="fallbacks"):
        chatlane.Client(base_url=url).chat(model="m", messages=HI, fallbacks="m2")
