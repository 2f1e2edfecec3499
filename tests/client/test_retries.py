"""Retries: which failures are retried, how long the client waits, and when it gives up."""

from __future__ import annotations

from typing import Any

import pytest

import chatlane
from chatlane.testing import (
    Completion,
    ErrorReply,
    FakeServer,
    HtmlError,
    ResetBeforeHeaders,
    ResetMidStream,
    Stream,
)
from tests.client.conftest import MakeDriver
from tests.client.drivers import Driver
from tests.conftest import OPENING_ERROR_EVENTS

HI = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_transient_statuses_are_retried(status: int, driver: Driver, server: FakeServer) -> None:
    server.enqueue(ErrorReply(status, message="try again"), Completion(content="ok"))
    reply = driver.chat(model="m", messages=HI)
    assert reply.text == "ok"
    assert reply.attempts == 2
    assert len(server.chat_requests) == 2


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, chatlane.BadRequestError),
        (401, chatlane.AuthenticationError),
        (403, chatlane.PermissionDeniedError),
        (404, chatlane.NotFoundError),
        (422, chatlane.UnprocessableEntityError),
    ],
)
def test_other_client_errors_fail_at_once(
    status: int, cls: type[chatlane.APIError], driver: Driver, server: FakeServer
) -> None:
    server.enqueue(
        ErrorReply(status, message="bad", code="some_code", headers={"x-request-id": "req_42"})
    )
    with pytest.raises(cls) as info:
        driver.chat(model="gpt-x", messages=HI)
    error = info.value
    assert (error.status, error.message, error.code, error.request_id) == (
        status,
        "bad",
        "some_code",
        "req_42",
    )
    assert (error.provider, error.model, error.attempts) == ("openai-compatible", "gpt-x", 1)
    assert len(server.chat_requests) == 1


def test_retry_after_ms_is_honoured(driver: Driver, server: FakeServer) -> None:
    server.enqueue(ErrorReply(429, headers={"retry-after-ms": "300"}), Completion(content="ok"))
    assert driver.chat(model="m", messages=HI).attempts == 2
    first, second = server.chat_requests
    assert second.received_at - first.received_at >= 0.29


def test_retry_after_seconds_is_honoured(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(ErrorReply(503, headers={"retry-after": "1"}), Completion(content="ok"))
    assert make_driver().chat(model="m", messages=HI).attempts == 2
    first, second = server.chat_requests
    assert second.received_at - first.received_at >= 0.99


def test_retry_after_beyond_the_cap_fails_fast_with_retry_after(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    policy = chatlane.RetryPolicy(max_retries=3, max_retry_after=5)
    server.enqueue(ErrorReply(429, message="quota", headers={"retry-after": "120"}))
    with pytest.raises(chatlane.RateLimitError) as info:
        make_driver(retry=policy).chat(model="m", messages=HI)
    assert info.value.retry_after == 120.0
    assert info.value.attempts == 1
    assert len(server.chat_requests) == 1


def test_attempts_are_counted_when_retries_run_out(driver: Driver, server: FakeServer) -> None:
    server.enqueue(*[ErrorReply(500, message="down")] * 3)
    with pytest.raises(chatlane.InternalServerError) as info:
        driver.chat(model="m", messages=HI)
    assert info.value.attempts == 3  # max_retries=2 after the first attempt
    assert len(server.chat_requests) == 3


def test_max_retries_zero_means_one_attempt(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(ErrorReply(503))
    with pytest.raises(chatlane.InternalServerError):
        make_driver(retry=None, max_retries=0).chat(model="m", messages=HI)
    assert len(server.chat_requests) == 1


def test_total_timeout_bounds_all_attempts(make_driver: MakeDriver, server: FakeServer) -> None:
    server.enqueue(*[ErrorReply(503, headers={"retry-after-ms": "400"})] * 5)
    policy = chatlane.RetryPolicy(max_retries=5)
    with pytest.raises(chatlane.InternalServerError) as info:
        make_driver(retry=policy, timeout=chatlane.Timeout(total=1.0)).chat(model="m", messages=HI)
    assert info.value.attempts in (2, 3)  # a retry that could not start in time is not made


def test_connection_reset_before_headers_is_retried(driver: Driver, server: FakeServer) -> None:
    server.enqueue(ResetBeforeHeaders(), Completion(content="ok"))
    reply = driver.chat(model="m", messages=HI)
    assert (reply.text, reply.attempts) == ("ok", 2)


@pytest.mark.parametrize("stream", [False, True])
def test_a_reused_connection_the_server_had_closed_is_not_a_failed_call(
    server: FakeServer, stream: bool
) -> None:
    # The second request goes out on the kept-alive connection, which the server drops
    # without answering (as a server closing an idle connection does): it is sent once more
    # on a new connection, even with no retries, and it is not counted as an attempt.
    server.enqueue(Completion(content="first"), ResetBeforeHeaders(), Completion(content="ok"))
    options: dict[str, Any] = {"base_url": server.url, "retry": chatlane.RetryPolicy(max_retries=0)}
    with chatlane.Client(**options) as client:
        assert client.chat(model="m", messages=HI).text == "first"
        assert second_call(client, stream) == ("ok", 1)
    assert len(server.chat_requests) == 3


def second_call(client: chatlane.Client, stream: bool) -> tuple[str, int]:
    if not stream:
        reply = client.chat(model="m", messages=HI)
        return reply.text, reply.attempts
    with client.stream(model="m", messages=HI) as chunks:
        return "".join(chunk.text for chunk in chunks), chunks.attempts


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", [False, True])
async def test_a_reused_connection_the_server_had_closed_is_not_a_failed_call_async(
    server: FakeServer, stream: bool
) -> None:
    server.enqueue(Completion(content="first"), ResetBeforeHeaders(), Completion(content="ok"))
    options: dict[str, Any] = {"base_url": server.url, "retry": chatlane.RetryPolicy(max_retries=0)}
    async with chatlane.AsyncClient(**options) as client:
        assert (await client.chat(model="m", messages=HI)).text == "first"
        if stream:
            async with client.stream(model="m", messages=HI) as chunks:
                text = "".join([chunk.text async for chunk in chunks])
            assert (text, chunks.attempts) == ("ok", 1)
        else:
            reply = await client.chat(model="m", messages=HI)
            assert (reply.text, reply.attempts) == ("ok", 1)
    assert len(server.chat_requests) == 3


def test_a_new_connection_reset_is_not_sent_again_without_retries(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(ResetBeforeHeaders(), Completion(content="never"))
    with pytest.raises(chatlane.ConnectError) as info:
        make_driver(retry=chatlane.RetryPolicy(max_retries=0)).chat(model="m", messages=HI)
    assert info.value.attempts == 1
    assert len(server.chat_requests) == 1


def test_connection_refused_is_a_connect_error_after_retries(make_driver: MakeDriver) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(chatlane.ConnectError) as info:
        make_driver(base_url=f"http://127.0.0.1:{port}/v1").chat(model="m", messages=HI)
    assert info.value.attempts == 3


def test_html_error_page_becomes_a_readable_api_error(driver: Driver, server: FakeServer) -> None:
    server.enqueue(*[HtmlError(502)] * 3)
    with pytest.raises(chatlane.InternalServerError) as info:
        driver.chat(model="m", messages=HI)
    assert "HTML" in info.value.message
    assert info.value.status == 502


def test_a_stream_cut_after_its_headers_is_never_sent_again(
    driver: Driver, server: FakeServer
) -> None:
    # The server had started answering: the request may have been billed.
    server.enqueue(ResetMidStream(chunks=[]), Stream(chunks=["never"]))
    run = driver.stream(model="m", messages=HI)
    assert isinstance(run.error, chatlane.StreamInterrupted)
    assert run.chunks == []
    assert run.error.attempts == 1
    assert len(server.chat_requests) == 1


def test_a_stream_reset_before_its_headers_is_retried(driver: Driver, server: FakeServer) -> None:
    server.enqueue(ResetBeforeHeaders(), Stream(chunks=["ok"]))
    run = driver.stream(model="m", messages=HI)
    assert run.error is None
    assert "".join(c.text for c in run.chunks) == "ok"
    assert run.attempts == 2


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_an_error_not_an_answer(
    status: int, driver: Driver, server: FakeServer
) -> None:
    elsewhere = {"location": "https://elsewhere.example/v1/chat/completions"}
    server.enqueue(ErrorReply(status, headers=elsewhere), ErrorReply(status, headers=elsewhere))
    with pytest.raises(chatlane.APIError, match=r"redirect to 'https://elsewhere\.example") as info:
        driver.chat(model="m", messages=HI)
    assert info.value.status == status
    assert info.value.attempts == 1
    run = driver.stream(model="m", messages=HI)
    assert isinstance(run.error, chatlane.APIError)
    assert run.error.status == status
    assert len(server.chat_requests) == 2


def test_a_server_that_ignores_stream_true_is_a_typed_error_not_retried(
    driver: Driver, server: FakeServer
) -> None:
    from chatlane.testing import RawResponse

    whole = b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}'
    server.enqueue(RawResponse(body=whole, content_type="application/json"), Stream(["no"]))
    run = driver.stream(model="m", messages=HI)
    assert isinstance(run.error, chatlane.ResponseDecodeError)
    assert "does not stream" in run.error.message
    assert run.error.status == 200
    assert len(server.chat_requests) == 1


def test_stream_is_never_retried_after_a_chunk_reached_the_caller(
    driver: Driver, server: FakeServer
) -> None:
    server.enqueue(ResetMidStream(chunks=["a", "b"]), Stream(chunks=["never"]))
    run = driver.stream(model="m", messages=HI)
    assert isinstance(run.error, chatlane.StreamInterrupted)
    assert "".join(c.text for c in run.chunks) == "ab"
    assert run.error.attempts == 1
    assert len(server.chat_requests) == 1


def test_stream_errors_before_the_stream_starts_are_retried(
    driver: Driver, server: FakeServer
) -> None:
    server.enqueue(ErrorReply(429, headers={"retry-after-ms": "10"}), Stream(chunks=["ok"]))
    run = driver.stream(model="m", messages=HI)
    assert run.error is None
    assert run.attempts == 2


@pytest.mark.parametrize(("event", "retried"), OPENING_ERROR_EVENTS)
def test_an_error_event_opening_a_stream_is_retried_as_its_status_would_be(
    event: bytes, retried: bool, driver: Driver, server: FakeServer
) -> None:
    from chatlane.testing import RawResponse

    server.enqueue(RawResponse(body=b"data: " + event + b"\n\n"), Stream(chunks=["ok"]))
    run = driver.stream(model="m", messages=HI)
    if retried:
        assert run.error is None
        assert "".join(c.text for c in run.chunks) == "ok"
        assert run.attempts == 2
    else:
        assert isinstance(run.error, chatlane.StreamError)
        assert len(server.chat_requests) == 1


def test_an_error_event_after_a_chunk_is_never_retried(driver: Driver, server: FakeServer) -> None:
    from chatlane.testing import RawResponse

    good = b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}\n\n'
    event = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    server.enqueue(RawResponse(body=good + event), Stream(chunks=["never"]))
    run = driver.stream(model="m", messages=HI)
    assert [c.text for c in run.chunks] == ["a"]
    assert isinstance(run.error, chatlane.StreamError)
    assert run.error.status == 500
    assert len(server.chat_requests) == 1


def test_malformed_json_body_is_a_decode_error(driver: Driver, server: FakeServer) -> None:
    from chatlane.testing import RawResponse

    server.enqueue(RawResponse(body=b'{"choices": [', content_type="application/json"))
    with pytest.raises(chatlane.ResponseDecodeError) as info:
        driver.chat(model="m", messages=HI)
    assert info.value.status == 200


def test_malformed_sse_is_a_decode_error_after_good_chunks(
    driver: Driver, server: FakeServer
) -> None:
    from chatlane.testing import RawResponse

    good = b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}\n\n'
    server.enqueue(RawResponse(body=good + b"data: {oops\n\n"))
    run = driver.stream(model="m", messages=HI)
    assert [c.text for c in run.chunks] == ["a"]
    assert isinstance(run.error, chatlane.ResponseDecodeError)


def test_final_raises_the_stream_error_again(server: FakeServer) -> None:
    import asyncio

    from tests.conftest import API_KEY

    server.enqueue(ResetMidStream(chunks=["a"]), ResetMidStream(chunks=["a"]))
    with chatlane.Client(base_url=server.url, api_key=API_KEY) as client:
        stream = client.stream(model="m", messages=HI)
        with pytest.raises(chatlane.StreamInterrupted):
            list(stream)
        with pytest.raises(chatlane.StreamInterrupted):
            stream.final()

    async def main() -> None:
        async with chatlane.AsyncClient(base_url=server.url, api_key=API_KEY) as client:
            stream = client.stream(model="m", messages=HI)
            with pytest.raises(chatlane.StreamInterrupted):
                async for _ in stream:
                    pass
            with pytest.raises(chatlane.StreamInterrupted):
                await stream.final()

    asyncio.run(main())


def test_a_stream_that_ends_before_any_finish_reason_is_cut(
    driver: Driver, server: FakeServer
) -> None:
    # [DONE] without a finish reason or usage: llama.cpp's server ends an interrupted answer so.
    server.enqueue(Stream(chunks=["half", " an"], finish_reason=None, usage=None))
    run = driver.stream(model="m", messages=HI)
    assert [chunk.text for chunk in run.chunks if chunk.text] == ["half", " an"]
    assert isinstance(run.error, chatlane.StreamInterrupted)
    assert "before the answer was complete" in run.error.message
    assert len(server.chat_requests) == 1


def test_a_stream_with_usage_but_no_finish_reason_is_whole(
    driver: Driver, server: FakeServer
) -> None:
    # Snowflake Cortex sends no finish_reason at all, but ends with usage and [DONE].
    server.enqueue(Stream(chunks=["all"], finish_reason=None))
    run = driver.stream(model="m", messages=HI, stream_options={"include_usage": True})
    assert run.error is None
    assert run.final is not None
    assert run.final.text == "all"
    assert run.final.usage is not None
