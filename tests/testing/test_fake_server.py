"""The fake server over real loopback HTTP, seen by plain urllib3, http.client and sockets."""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import pytest
import urllib3

from chatlane.testing import (
    Completion,
    ErrorReply,
    FakeServer,
    HtmlError,
    RawResponse,
    RecordedRequest,
    ResetBeforeHeaders,
    ResetMidStream,
    Stall,
    Stream,
    ToolCallSpec,
)
from tests.testing._http import HI, chat, content_of, sse_chunks, sse_data, timed_events

STREAM_WITH_USAGE = {
    "model": "m",
    "messages": HI,
    "stream": True,
    "stream_options": {"include_usage": True},
}


# --- Completion --------------------------------------------------------------------------------


def test_completion_json_shape(server: FakeServer, pool: urllib3.PoolManager) -> None:
    server.enqueue(Completion(content="Hello there", usage=(9, 2)))
    response = chat(pool, server.url, {"model": "gpt-4o-mini", "messages": HI})
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert re.fullmatch(r"req_fake_\d+", response.headers["x-request-id"])
    body = response.json()
    assert re.fullmatch(r"chatcmpl-fake-\d+", body["id"])
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert abs(body["created"] - time.time()) < 5
    assert (body["model"], body["system_fingerprint"]) == ("gpt-4o-mini", "fp_fake")
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}


def test_completion_defaults_estimate_usage_and_echo_the_model(
    server: FakeServer, pool: urllib3.PoolManager
) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "one two three"}]},
    ]
    server.enqueue(
        Completion(content="a b c d", reasoning="thinking hard", refusal="no", model="other"),
        Completion(usage=None),
    )
    first = chat(pool, server.url, {"model": "m", "messages": messages}).json()
    assert first["usage"] == {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
    assert first["model"] == "other"
    message = first["choices"][0]["message"]
    assert (message["reasoning_content"], message["refusal"]) == ("thinking hard", "no")
    assert "usage" not in chat(pool, server.url).json()


def test_the_same_completion_streams_when_asked(
    server: FakeServer, pool: urllib3.PoolManager
) -> None:
    content = "The quick brown fox jumps"
    server.enqueue(Completion(content=content, usage=(3, 5)))
    response = chat(pool, server.url, STREAM_WITH_USAGE)
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    raw = response.data
    assert raw.endswith(b"data: [DONE]\n\n")
    assert raw.count(b"\n\n") == len(sse_data(raw))  # every event framed by a blank line
    chunks = sse_chunks(raw)
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [content_of(chunk) for chunk in chunks[1:-2]]
    assert len(deltas) > 3  # word-sized pieces
    assert "".join(d or "" for d in deltas) == content
    finish, usage = chunks[-2], chunks[-1]
    assert finish["choices"][0]["delta"] == {}
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    assert all(chunk["usage"] is None for chunk in chunks[:-1])


def test_no_usage_chunk_unless_the_request_asks(
    server: FakeServer, pool: urllib3.PoolManager
) -> None:
    server.enqueue(Completion(content="hi there"), Stream(chunks=["x"]))
    for _ in range(2):
        raw = chat(pool, server.url, {"model": "m", "messages": HI, "stream": True}).data
        chunks = sse_chunks(raw)
        assert all(chunk["choices"] for chunk in chunks)
        assert all("usage" not in chunk for chunk in chunks)
        assert sse_data(raw)[-1] == b"[DONE]"


TOOL_CALLS: list[ToolCallSpec | dict[str, Any]] = [
    ToolCallSpec("get_weather", {"city": "Oslo", "unit": "celsius"}),
    {"id": "call_b", "name": "lookup", "arguments": '{"q": "tides"}'},
    {"id": "call_c", "type": "function", "function": {"name": "now", "arguments": "{}"}},
]


def test_tool_calls_in_a_json_reply(server: FakeServer, pool: urllib3.PoolManager) -> None:
    server.enqueue(Completion(content=None, tool_calls=TOOL_CALLS))
    choice = chat(pool, server.url).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert re.fullmatch(r"call_fake_\d+_0", calls[0]["id"])
    assert [c["id"] for c in calls[1:]] == ["call_b", "call_c"]
    assert all(c["type"] == "function" for c in calls)
    assert [c["function"]["name"] for c in calls] == ["get_weather", "lookup", "now"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Oslo", "unit": "celsius"}
    assert calls[1]["function"]["arguments"] == '{"q": "tides"}'


def test_tool_calls_streamed_the_openai_way(server: FakeServer, pool: urllib3.PoolManager) -> None:
    server.enqueue(Completion(content=None, tool_calls=TOOL_CALLS))
    chunks = sse_chunks(chat(pool, server.url, STREAM_WITH_USAGE).data)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    merged: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for delta in (chunk["choices"] or [{"delta": {}}])[0]["delta"].get("tool_calls", []):
            index = delta["index"]
            if index not in merged:  # the first delta of a call names it, with no arguments yet
                assert set(delta) == {"index", "id", "type", "function"}
                assert delta["function"]["arguments"] == ""
                merged[index] = {"id": delta["id"], "name": delta["function"]["name"], "args": ""}
            else:
                assert set(delta) == {"index", "function"}
                merged[index]["args"] += delta["function"]["arguments"]
    assert [merged[i]["name"] for i in range(3)] == ["get_weather", "lookup", "now"]
    assert merged[1]["args"] == '{"q": "tides"}'
    assert json.loads(merged[0]["args"]) == {"city": "Oslo", "unit": "celsius"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


# --- Stream ------------------------------------------------------------------------------------


def test_stream_chunk_delay_is_really_there(server: FakeServer, pool: urllib3.PoolManager) -> None:
    server.enqueue(Stream(chunks=["a", "b", "c"], chunk_delay=0.1))
    with chat(pool, server.url, STREAM_WITH_USAGE, preload_content=False) as response:
        timed = timed_events(response)
    texts = [(at, json.loads(data)) for at, data in timed if data != b"[DONE]"]
    arrivals = [at for at, chunk in texts if content_of(chunk) in {"a", "b", "c"}]
    assert [content_of(chunk) for _, chunk in texts][:4] == ["", "a", "b", "c"]
    assert all(later - earlier >= 0.08 for earlier, later in itertools.pairwise(arrivals))


def test_stream_gap_sequence_gives_each_gap(server: FakeServer, pool: urllib3.PoolManager) -> None:
    """The first gap is role chunk -> "a"; here "b" comes 0.3 s after "a", "c" right after."""
    server.enqueue(Stream(chunks=["a", "b", "c"], chunk_delay=[0.0, 0.3]))
    with chat(pool, server.url, preload_content=False) as response:
        timed = {
            content_of(json.loads(d)): at for at, d in timed_events(response) if d != b"[DONE]"
        }
    assert timed["b"] - timed["a"] >= 0.24
    assert timed["c"] - timed["b"] < 0.2


@pytest.mark.parametrize(
    "reply",
    [Stream(chunks=["x"], first_delay=0.25), Completion(content="x", delay=0.25)],
    ids=["stream-first-delay", "completion-delay"],
)
def test_delays_before_the_headers(
    reply: Stream | Completion, server: FakeServer, pool: urllib3.PoolManager
) -> None:
    server.enqueue(reply)
    started = time.perf_counter()
    with chat(pool, server.url, preload_content=False) as response:
        assert time.perf_counter() - started >= 0.2
        assert response.status == 200


def test_stream_mapping_chunks_go_out_verbatim(
    server: FakeServer, pool: urllib3.PoolManager
) -> None:
    quirk = {"id": "q", "choices": [{"index": 0, "delta": {"content": "x"}, "extra": 1}]}
    bare: dict[str, Any] = {"choices": []}
    server.enqueue(
        Stream(chunks=[quirk, bare]),
        Stream(chunks=[quirk], include_done=False),
        Stream(chunks=["a", quirk], finish_reason="length"),
    )
    assert sse_data(chat(pool, server.url, STREAM_WITH_USAGE).data) == [
        json.dumps(quirk, separators=(",", ":")).encode(),
        b'{"choices":[]}',
        b"[DONE]",
    ]
    assert sse_chunks(chat(pool, server.url, STREAM_WITH_USAGE).data) == [quirk]
    mixed = sse_chunks(chat(pool, server.url).data)
    assert [content_of(chunk) for chunk in mixed] == ["", "a", "x", None]
    assert mixed[2] == quirk
    assert mixed[3]["choices"][0]["finish_reason"] == "length"


# --- RawResponse, errors, HTML -------------------------------------------------------------------


def test_raw_response_verbatim_and_in_fragments(
    server: FakeServer, pool: urllib3.PoolManager
) -> None:
    body = b'data: {"choices": [}\n\ndata: not json\n\n'  # malformed on purpose
    server.enqueue(
        RawResponse(body, status=207, content_type="text/plain", headers={"X-Quirk": "1"}),
        RawResponse(body, fragment_size=7, fragment_delay=0.01),
    )
    whole = chat(pool, server.url)
    assert (whole.status, whole.data) == (207, body)
    assert whole.headers["content-type"] == "text/plain"
    assert whole.headers["x-quirk"] == "1"
    assert whole.headers["content-length"] == str(len(body))
    with chat(pool, server.url, preload_content=False) as response:
        pieces = list(response.read_chunked(decode_content=False))
    assert b"".join(pieces) == body
    assert [len(p) for p in pieces] == [7] * (len(body) // 7) + [len(body) % 7]


def test_error_replies_carry_any_status_headers_and_body(
    server: FakeServer, pool: urllib3.PoolManager
) -> None:
    date = "Wed, 21 Oct 2037 07:28:00 GMT"
    server.enqueue(
        ErrorReply(
            429,
            message="slow down",
            code="rate_limit_exceeded",
            headers={"Retry-After": "2", "retry-after-ms": "150"},
        ),
        ErrorReply(503, headers={"Retry-After": date, "x-request-id": "req_42"}),
        ErrorReply(400, body="{oops", content_type="text/plain"),
        ErrorReply(401, body={"error": "plain string"}),
    )
    limited = chat(pool, server.url, STREAM_WITH_USAGE)  # errors come as JSON, even for streams
    assert limited.status == 429
    assert (limited.headers["retry-after"], limited.headers["retry-after-ms"]) == ("2", "150")
    assert limited.headers["content-type"] == "application/json"
    assert limited.json() == {
        "error": {
            "message": "slow down",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    down = chat(pool, server.url)
    assert (down.status, down.headers["retry-after"], down.headers["x-request-id"]) == (
        503,
        date,
        "req_42",
    )
    assert down.json()["error"]["type"] == "server_error"
    bad = chat(pool, server.url)
    assert (bad.status, bad.data, bad.headers["content-type"]) == (400, b"{oops", "text/plain")
    assert chat(pool, server.url).json() == {"error": "plain string"}


def test_html_error_page(server: FakeServer, pool: urllib3.PoolManager) -> None:
    server.enqueue(HtmlError(), HtmlError(504))
    first, second = chat(pool, server.url), chat(pool, server.url)
    assert first.status == 502
    assert first.headers["content-type"].startswith("text/html")
    assert first.data.startswith(b"<html>")
    assert b"502 Bad Gateway" in first.data
    assert (second.status, b"504 Gateway Timeout" in second.data) == (504, True)


# --- faults ------------------------------------------------------------------------------------


def _raw_request(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = json.dumps({"model": "m", "messages": HI}).encode()
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    sock.sendall(head.encode() + body)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    received = b""
    while data := sock.recv(65536):
        received += data
    return received


def test_reset_before_headers_sends_no_byte(server: FakeServer, pool: urllib3.PoolManager) -> None:
    server.enqueue(ResetBeforeHeaders(), ResetBeforeHeaders())
    # An RST, not a FIN (which would read b"").
    with _raw_request(server.port) as sock, pytest.raises(ConnectionResetError):
        sock.recv(65536)
    with pytest.raises(urllib3.exceptions.ProtocolError) as info:
        chat(pool, server.url)
    assert isinstance(info.value.args[1], ConnectionResetError)
    assert chat(pool, server.url).status == 200  # the server goes on serving
    assert len(server.chat_requests) == 3


def test_reset_mid_stream(server: FakeServer, pool: urllib3.PoolManager) -> None:
    server.enqueue(ResetMidStream(chunks=["a", "b"]), ResetMidStream(chunks=[]))
    with chat(pool, server.url, preload_content=False) as response:
        received: list[bytes] = []
        with pytest.raises(urllib3.exceptions.ProtocolError):
            received.extend(response.read_chunked(decode_content=False))
    raw = b"".join(received)
    assert [content_of(chunk) for chunk in sse_chunks(raw)] == ["a", "b"]
    assert b"[DONE]" not in raw
    with chat(pool, server.url, preload_content=False) as response:
        assert response.status == 200  # the headers came, then the reset
        with pytest.raises(urllib3.exceptions.ProtocolError):
            assert b"".join(response.read_chunked(decode_content=False)) == b""


def test_stall_then_reply_or_close(server: FakeServer, pool: urllib3.PoolManager) -> None:
    server.enqueue(Stall(0.25, then=Completion(content="late", headers={"x-b": "2"})), Stall(0.1))
    started = time.perf_counter()
    response = chat(pool, server.url)
    assert time.perf_counter() - started >= 0.2
    assert response.json()["choices"][0]["message"]["content"] == "late"
    assert response.headers["x-b"] == "2"
    with _raw_request(server.port) as sock:
        assert _read_all(sock) == b""  # a plain close, nothing sent


def test_stop_cancels_stalled_replies_promptly() -> None:
    outcome: list[BaseException] = []
    server = FakeServer().start()
    server.enqueue(Stall(30.0), Stream(chunks=["x"] * 100, chunk_delay=30.0))

    def call() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("POST", "/v1/chat/completions", body=b"{}")
            connection.getresponse().read()
        except (http.client.HTTPException, OSError) as exc:
            outcome.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while len(server.chat_requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 2.0
    for thread in threads:
        thread.join(5)
    assert len(outcome) == 2  # both clients saw the connection go away
    server.stop()  # a second stop is harmless


# --- routes, auth, queue, records ---------------------------------------------------------------


def test_api_key_is_enforced_without_echoing_it() -> None:
    with FakeServer(api_key="right-key") as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            statuses: list[int] = []
            for headers in (
                {},
                {"Authorization": "Bearer wrong-SECRET"},
                {"Authorization": "Bearer right-key"},
                {"api-key": "right-key"},
            ):
                connection.request("GET", "/v1/models", headers=headers)
                response = connection.getresponse()
                body = response.read()
                statuses.append(response.status)
                if response.status == 401:
                    assert b"SECRET" not in body
                    assert json.loads(body) == {
                        "error": {
                            "message": "Incorrect API key provided.",
                            "type": "invalid_request_error",
                            "param": None,
                            "code": "invalid_api_key",
                        }
                    }
            connection.request("POST", "/v1/chat/completions", body=b"{}")
            statuses.append(connection.getresponse().status)
        finally:
            connection.close()
        assert statuses == [401, 401, 200, 200, 401]
        assert len(server.requests) == 5  # refused requests are recorded too


def test_models_and_unknown_paths(server: FakeServer, pool: urllib3.PoolManager) -> None:
    for path in ("/v1/models", "/openai/models?api-version=2024-10-21"):
        response = pool.request("GET", server.url.removesuffix("/v1") + path)
        assert response.json() == {
            "object": "list",
            "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "chatlane"}],
        }
    missing = pool.request("POST", server.url + "/embeddings", json={})
    assert missing.status == 404
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert server.chat_requests == []


def test_replies_are_fifo_then_the_default_echo(
    server: FakeServer, pool: urllib3.PoolManager
) -> None:
    server.enqueue(Completion(content="first"), Completion(content="second"))
    assert server.pending == 2
    messages = [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "what now?"}]},
    ]
    texts = [
        chat(pool, server.url, {"model": "m", "messages": messages}).json()["choices"][0][
            "message"
        ]["content"]
        for _ in range(3)
    ]
    assert texts == ["first", "second", "This is chatlane's fake server. You said: what now?"]
    assert server.pending == 0


def test_handler_answers_when_the_queue_is_empty(
    server: FakeServer, pool: urllib3.PoolManager
) -> None:
    def handler(request: RecordedRequest) -> Completion | None:
        model = request.json()["model"]
        if model == "boom":
            raise ValueError("scripted failure")
        return None if model == "default" else Completion(content=f"for {model}")

    server.handler = handler
    server.enqueue(Completion(content="queued first"))
    replies = [
        chat(pool, server.url, {"model": m, "messages": HI}) for m in ("a", "b", "default", "boom")
    ]
    contents = [r.json()["choices"][0]["message"]["content"] for r in replies[:3]]
    assert contents == ["queued first", "for b", "This is chatlane's fake server. You said: Hi"]
    assert replies[3].status == 500
    assert "ValueError: scripted failure" in replies[3].json()["error"]["message"]
    server.reset()
    assert server.handler is None


def test_requests_are_recorded(server: FakeServer, pool: urllib3.PoolManager) -> None:
    root = server.url.removesuffix("/v1")
    path = "/openai/deployments/dep/chat/completions?api-version=2024-10-21"
    pool.request("POST", root + path, json={"model": "m", "messages": HI}, headers={"X-Trace": "7"})
    pool.request("GET", server.url + "/models")
    server.enqueue(Completion())
    bad = pool.request("POST", server.url + "/chat/completions", body=b"not json")
    assert (bad.status, server.pending) == (400, 1)  # refused without taking the reply
    first, models, garbage = server.requests
    assert server.chat_requests == [first, garbage]
    assert (first.method, first.path) == ("POST", path)
    assert first.headers["x-trace"] == "7"
    assert first.headers["content-type"] == "application/json"
    assert first.json() == {"model": "m", "messages": HI}
    assert json.loads(first.body) == first.json()
    assert (models.method, models.body, models.json()) == ("GET", b"", None)
    assert garbage.json() is None
    assert first.received_at <= models.received_at <= garbage.received_at <= time.perf_counter()
    server.reset()
    assert server.requests == []


def test_enqueue_from_many_threads(server: FakeServer, pool: urllib3.PoolManager) -> None:
    """Every reply is served exactly once, whichever thread enqueued or asked."""

    def one(n: int) -> str:
        server.enqueue(Completion(content=f"reply {n}"))
        content: str = chat(pool, server.url).json()["choices"][0]["message"]["content"]
        return content

    with ThreadPoolExecutor(8) as executor:
        served = sorted(executor.map(one, range(40)))
    assert served == sorted(f"reply {n}" for n in range(40))


@pytest.mark.asyncio
async def test_usable_from_async_code(server: FakeServer) -> None:
    server.enqueue(*(Completion(content=str(n)) for n in range(10)))
    async with aiohttp.ClientSession() as session:

        async def one() -> str:
            async with session.post(server.url + "/chat/completions", json={"messages": HI}) as r:
                body = await r.json()
            content: str = body["choices"][0]["message"]["content"]
            return content

        got = await asyncio.gather(*(one() for _ in range(10)))
    assert sorted(got, key=int) == [str(n) for n in range(10)]


def test_lifecycle_errors() -> None:
    server = FakeServer()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    server.stop()  # stopping a server never started is fine
    with server:
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
        taken = server.port
        with pytest.raises(OSError, match="in use"):
            FakeServer(port=taken).start()
    assert repr(server) == "<FakeServer stopped>"
