"""Chat, streams, limits, errors and timeouts against llama-cpp-python's server."""

from __future__ import annotations

import asyncio
import json

import pytest

import chatlane
from tests.llamacpp_server.conftest import MODEL, LlamaCppServer
from tests.llamacpp_server.helpers import aclient, client, post

pytestmark = pytest.mark.local_model

HI = [{"role": "user", "content": "Say hello."}]
LONG = [{"role": "user", "content": "hello world " * 1500}]  # ~3000 tokens > n_ctx 2048


def test_plain_chat(llamacpp_server: LlamaCppServer) -> None:
    with client(llamacpp_server) as c:
        assert c.provider == "openai-compatible"
        reply = c.chat(model=MODEL, messages=HI, max_tokens=8, temperature=0)
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason in {"stop", "length"}
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0
    assert 0 < reply.usage.completion_tokens <= 8


def test_plain_chat_async_and_llamacpp_provider(llamacpp_server: LlamaCppServer) -> None:
    async def run() -> chatlane.ChatCompletion:
        async with aclient(llamacpp_server, provider="llamacpp") as c:
            assert c.provider == "llamacpp"
            return await c.chat(model=MODEL, messages=HI, max_tokens=8, temperature=0)

    reply = asyncio.run(run())
    assert reply.choices[0].message.content
    assert reply.usage is not None
    assert reply.usage.completion_tokens > 0


@pytest.mark.parametrize("provider", [None, "llamacpp"])
def test_stream_usage_is_not_sent_so_it_is_unknown(
    llamacpp_server: LlamaCppServer, provider: str | None
) -> None:
    # Quirk: stream_options={"include_usage": true} is accepted but no usage chunk comes.
    with (
        client(llamacpp_server, provider) as c,
        c.stream(
            model=MODEL,
            messages=HI,
            max_tokens=4,
            temperature=0,
            stream_options={"include_usage": True},
        ) as stream,
    ):
        chunks = list(stream)
        final = stream.final()
        summary = stream.summary()
    assert all(chunk.usage is None for chunk in chunks)
    assert final.usage is None  # unknown, never zeros
    assert summary.usage_reported is False
    assert final.choices[0].finish_reason == "length"
    assert final.choices[0].message.content


def test_async_stream(llamacpp_server: LlamaCppServer) -> None:
    async def run() -> tuple[str, chatlane.ChatCompletion]:
        async with aclient(llamacpp_server) as c:
            text = ""
            async with c.stream(model=MODEL, messages=HI, max_tokens=4, temperature=0) as stream:
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        text += chunk.choices[0].delta.content
                return text, await stream.final()

    text, final = asyncio.run(run())
    assert text
    assert final.choices[0].message.content == text
    assert final.usage is None


def test_stop_sequence(llamacpp_server: LlamaCppServer) -> None:
    messages = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
    with client(llamacpp_server) as c:
        free = c.chat(model=MODEL, messages=messages, max_tokens=30, temperature=0)
        text = free.choices[0].message.content or ""
        assert "," in text, text  # the stop sequence below would occur
        stopped = c.chat(model=MODEL, messages=messages, max_tokens=30, temperature=0, stop=[","])
    content = stopped.choices[0].message.content or ""
    assert "," not in content
    assert stopped.choices[0].finish_reason == "stop"
    assert text.startswith(content)


def test_max_tokens_gives_length(llamacpp_server: LlamaCppServer) -> None:
    long_story = [{"role": "user", "content": "Write a long story about a dragon."}]
    with client(llamacpp_server) as c:
        reply = c.chat(model=MODEL, messages=long_story, max_tokens=3, temperature=0)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 3


LONG_STORY = [{"role": "user", "content": "Write a long story about a dragon."}]


def test_server_ignores_max_completion_tokens(llamacpp_server: LlamaCppServer) -> None:
    # Quirk, pinned on the wire: max_completion_tokens is not read (max_tokens is).
    status, body = post(
        llamacpp_server,
        {"model": MODEL, "messages": HI, "max_completion_tokens": 1, "temperature": 0},
    )
    assert status == 200
    assert body["usage"]["completion_tokens"] > 1


def test_llamacpp_provider_sends_max_completion_tokens_as_max_tokens(
    llamacpp_server: LlamaCppServer,
) -> None:
    with client(llamacpp_server, "llamacpp") as c:
        reply = c.chat(model=MODEL, messages=LONG_STORY, max_completion_tokens=3, temperature=0)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 3


def test_json_mode(llamacpp_server: LlamaCppServer) -> None:
    messages = [{"role": "user", "content": "Reply with a JSON object with a key 'city'."}]
    with client(llamacpp_server) as c:
        reply = c.chat(
            model=MODEL,
            messages=messages,
            max_tokens=40,
            temperature=0,
            response_format={"type": "json_object"},
        )
    content = reply.choices[0].message.content or ""
    if reply.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(content), dict)
    else:  # cut by max_tokens: still grammar-constrained JSON text
        assert content.lstrip().startswith("{")


# -- errors --------------------------------------------------------------------------------


def test_rejected_request_is_a_typed_api_error_with_status(
    llamacpp_server: LlamaCppServer,
) -> None:
    # Quirk: the server answers its request-validation errors with 500
    # "internal_server_error" (a pydantic message), not 400, so chatlane (rightly, from the
    # status) reports InternalServerError, which its default retry policy retries.
    json_schema = {"type": "json_schema", "json_schema": {"name": "Any", "schema": {}}}
    with client(llamacpp_server) as c, pytest.raises(chatlane.APIError) as caught:
        c.chat(model=MODEL, messages=HI, max_tokens=2, response_format=json_schema)
    assert isinstance(caught.value, chatlane.InternalServerError)
    assert caught.value.status == 500
    assert "'text' or 'json_object'" in str(caught.value)


def test_context_length_exceeded_in_chat(llamacpp_server: LlamaCppServer) -> None:
    with client(llamacpp_server) as c, pytest.raises(chatlane.ContextLengthExceededError) as e:
        c.chat(model=MODEL, messages=LONG, max_tokens=2)
    assert e.value.status == 400
    assert "maximum context length is 2048" in str(e.value)


def test_context_length_exceeded_async(llamacpp_server: LlamaCppServer) -> None:
    async def run() -> None:
        async with aclient(llamacpp_server) as c:
            await c.chat(model=MODEL, messages=LONG, max_tokens=2)

    with pytest.raises(chatlane.ContextLengthExceededError):
        asyncio.run(run())


def test_over_long_stream_is_never_an_empty_success(llamacpp_server: LlamaCppServer) -> None:
    # Quirk: for a stream the server answers 200 text/event-stream with an empty chunked
    # body (0\r\n\r\n: no event, no [DONE]); the ValueError only reaches its stderr.
    with (
        client(llamacpp_server) as c,
        pytest.raises(chatlane.StreamInterrupted),
        c.stream(model=MODEL, messages=LONG, max_tokens=2) as stream,
    ):
        list(stream)


def test_over_long_stream_is_context_length_exceeded(llamacpp_server: LlamaCppServer) -> None:
    # The server sends an empty 200 stream for it; knowing the window (n_ctx), chatlane
    # names the cause instead of reporting a bare interruption.
    window = {MODEL: chatlane.ModelInfo(context_window=2048)}
    with (
        client(llamacpp_server, models=window) as c,
        pytest.raises(chatlane.ContextLengthExceededError),
        c.stream(model=MODEL, messages=LONG, max_tokens=2) as stream,
    ):
        list(stream)


def test_client_recovers_after_the_server_drops_a_connection(
    llamacpp_server: LlamaCppServer,
) -> None:
    # Quirk: after the empty stream above the server closes the keep-alive connection; the
    # next call, found failing on that reused connection, is sent again on a new one.
    with chatlane.Client(base_url=llamacpp_server.base_url, api_key="sk-x") as c:
        with (
            pytest.raises(chatlane.StreamInterrupted),
            c.stream(model=MODEL, messages=LONG, max_tokens=2) as stream,
        ):
            list(stream)
        reply = c.chat(model=MODEL, messages=HI, max_tokens=2)
    assert reply.choices[0].message.content


def test_a_dropped_keep_alive_connection_is_not_a_failed_call(
    llamacpp_server: LlamaCppServer,
) -> None:
    with client(llamacpp_server) as c:
        with (
            pytest.raises(chatlane.StreamInterrupted),
            c.stream(model=MODEL, messages=LONG, max_tokens=2) as stream,
        ):
            list(stream)
        reply = c.chat(model=MODEL, messages=HI, max_tokens=2)
    assert reply.choices[0].message.content


# -- timeouts ------------------------------------------------------------------------------


def test_first_token_timeout(llamacpp_server: LlamaCppServer) -> None:
    tiny = chatlane.Timeout(first_token=0.001)
    with client(llamacpp_server, timeout=tiny) as c, pytest.raises(chatlane.FirstTokenTimeout):
        c.chat(model=MODEL, messages=HI, max_tokens=4)


def test_first_token_timeout_in_a_stream(llamacpp_server: LlamaCppServer) -> None:
    tiny = chatlane.Timeout(first_token=0.001)
    with (
        client(llamacpp_server, timeout=tiny) as c,
        pytest.raises(chatlane.FirstTokenTimeout),
        c.stream(model=MODEL, messages=HI, max_tokens=4) as stream,
    ):
        list(stream)


def test_first_token_timeout_async(llamacpp_server: LlamaCppServer) -> None:
    async def run() -> None:
        async with aclient(llamacpp_server, timeout=chatlane.Timeout(first_token=0.001)) as c:
            await c.chat(model=MODEL, messages=HI, max_tokens=4)

    with pytest.raises(chatlane.FirstTokenTimeout):
        asyncio.run(run())
