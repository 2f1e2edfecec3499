"""Recorded non-streamed responses and error bodies, replayed to the sync and async clients.

Success bodies (those with ``choices``) must come back field for field as ``json.loads``
reads them; error bodies must become the error class their status (and meaning) calls for,
carrying the provider's message, code, type, param and request id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import chatlane
from chatlane import ChatCompletion
from chatlane.testing import FakeServer, RawResponse
from tests.conformance._reference import (
    API_KEY,
    JSON_DIR,
    file_id,
    listing,
    read_headers,
    replay_headers,
    status_from_name,
    usage_problems,
)
from tests.conformance._replay import MESSAGES, MODEL, TIMEOUT

JSON_FILES = listing(JSON_DIR, ".json")


@dataclass(frozen=True)
class JsonRecording:
    path: Path
    body: bytes
    parsed: dict[str, Any]
    status: int
    content_type: str
    headers: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> JsonRecording:
        body = path.read_bytes()
        parsed = json.loads(body)
        recorded = read_headers(path)
        if recorded is not None:
            status, headers = recorded.status, recorded.headers
            content_type = recorded.content_type or "application/json"
        else:
            status = 200 if "choices" in parsed else status_from_name(path)
            headers, content_type = {}, "application/json"
        return cls(path, body, parsed, status, content_type, headers)

    def enqueue(self, server: FakeServer, *, extra_headers: dict[str, str] | None = None) -> None:
        headers = replay_headers({**self.headers, **(extra_headers or {})})
        server.enqueue(
            RawResponse(
                self.body, status=self.status, content_type=self.content_type, headers=headers
            )
        )


RECORDINGS = [JsonRecording.load(path) for path in JSON_FILES]
SUCCESSES = [pytest.param(r, id=file_id(r.path)) for r in RECORDINGS if "choices" in r.parsed]
ERRORS = [pytest.param(r, id=file_id(r.path)) for r in RECORDINGS if "choices" not in r.parsed]


def test_the_recordings_are_there() -> None:
    assert len(SUCCESSES) >= 30, f"peer data not found under {JSON_DIR}"
    assert len(ERRORS) >= 20


def _client(server: FakeServer, max_retries: int = 0) -> chatlane.Client:
    return chatlane.Client(
        base_url=server.url, api_key=API_KEY, max_retries=max_retries, timeout=TIMEOUT
    )


def _async_client(server: FakeServer) -> chatlane.AsyncClient:
    return chatlane.AsyncClient(
        base_url=server.url, api_key=API_KEY, max_retries=0, timeout=TIMEOUT
    )


# --- Success bodies ---------------------------------------------------------------------------


def completion_problems(
    completion: ChatCompletion, body: dict[str, Any], *, attempts: int = 1
) -> list[str]:
    problems: list[str] = []
    if completion.id != body.get("id"):
        problems.append(f"id: expected {body.get('id')!r}, got {completion.id!r}")
    if completion.model != body.get("model"):
        problems.append(f"model: expected {body.get('model')!r}, got {completion.model!r}")
    raw_choices = body["choices"]
    if len(completion.choices) != len(raw_choices):
        return [*problems, f"choices: expected {len(raw_choices)}, got {len(completion.choices)}"]
    for choice, raw in zip(completion.choices, raw_choices, strict=True):
        where = f"choices[{raw.get('index', 0)}]"
        message, want = choice.message, raw["message"]
        if choice.index != raw.get("index", 0):
            problems.append(f"{where}.index: got {choice.index}")
        if message.role != want.get("role"):
            problems.append(f"{where}.role: expected {want.get('role')!r}, got {message.role!r}")
        if message.content != want.get("content"):
            problems.append(
                f"{where}.content: expected {want.get('content')!r}, got {message.content!r}"
            )
        if message.refusal != want.get("refusal"):
            problems.append(
                f"{where}.refusal: expected {want.get('refusal')!r}, got {message.refusal!r}"
            )
        reasoning = want.get("reasoning_content") or want.get("reasoning")
        if (message.reasoning_content or message.reasoning) != reasoning:
            problems.append(f"{where} reasoning: expected {reasoning!r}")
        want_calls = [
            (c["id"], c.get("type", "function"), c["function"]["name"], c["function"]["arguments"])
            for c in want.get("tool_calls") or []
        ]
        got_calls = [
            (c.id, c.type, c.function.name, c.function.arguments) for c in message.tool_calls or []
        ]
        if got_calls != want_calls:
            problems.append(f"{where}.tool_calls: expected {want_calls}, got {got_calls}")
        if choice.finish_reason != raw.get("finish_reason"):
            problems.append(
                f"{where}.finish_reason: expected {raw.get('finish_reason')!r}, "
                f"got {choice.finish_reason!r}"
            )
        if choice.logprobs != raw.get("logprobs"):
            problems.append(f"{where}.logprobs: expected {raw.get('logprobs')!r}")
    problems += usage_problems(completion, body.get("usage"))
    if completion.attempts != attempts or completion.latency <= 0:
        problems.append(f"attempts/latency: {completion.attempts}, {completion.latency}")
    return problems


@pytest.mark.parametrize("recording", SUCCESSES)
def test_sync_completion_matches_body(server: FakeServer, recording: JsonRecording) -> None:
    recording.enqueue(server)
    with _client(server) as client:
        completion = client.chat(model=MODEL, messages=MESSAGES)
    assert completion_problems(completion, recording.parsed) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("recording", SUCCESSES)
async def test_async_completion_matches_body(server: FakeServer, recording: JsonRecording) -> None:
    recording.enqueue(server)
    async with _async_client(server) as client:
        completion = await client.chat(model=MODEL, messages=MESSAGES)
    assert completion_problems(completion, recording.parsed) == []


def test_spot_checks_on_success_bodies(server: FakeServer) -> None:
    """A few values written out by hand, so the comparison above cannot pass vacuously."""
    names = [
        "xai-grok-3-mini-chat-completion-tool-call",
        "gemini-openai-compat-tool-call-empty-id",
        "mistral-chat-completion-tool-call",
        "deepseek-reasoner-chat-completion",
        "openai-chat-completion-refusal",
        "openai-chat-completion-n3-multiple-choices",
    ]
    for name in names:
        JsonRecording.load(JSON_DIR / f"{name}.json").enqueue(server)
    with _client(server) as client:
        xai, gemini, mistral, deepseek, refusal, n3 = (
            client.chat(model=MODEL, messages=MESSAGES) for _ in names
        )
    assert xai.usage is not None
    assert (xai.usage.total_tokens, xai.usage.reasoning_tokens, xai.usage.cached_tokens) == (
        506,
        189,
        244,
    )
    assert xai.choices[0].message.reasoning_content is not None
    gemini_calls = gemini.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in gemini_calls] == [
        ("", "get_current_time", "{}")
    ]
    mistral_calls = mistral.choices[0].message.tool_calls or []
    assert [(c.id, c.type, c.function.name) for c in mistral_calls] == [
        ("gSIMJiOkT", "function", "weather")
    ]
    assert mistral.choices[0].message.content is None
    assert deepseek.usage is not None
    assert (deepseek.usage.cached_tokens, deepseek.usage.reasoning_tokens) == (0, 415)
    assert deepseek.usage.prompt_cache_miss_tokens == 12
    assert refusal.choices[0].message.refusal == "I'm very sorry, but I can't assist with that."
    assert refusal.choices[0].message.content is None
    assert [choice.index for choice in n3.choices] == [0, 1, 2]


# --- Error bodies -----------------------------------------------------------------------------

_CLASS_BY_STATUS: dict[int, type[chatlane.APIError]] = {
    400: chatlane.BadRequestError,
    401: chatlane.AuthenticationError,
    403: chatlane.PermissionDeniedError,
    404: chatlane.NotFoundError,
    409: chatlane.ConflictError,
    422: chatlane.UnprocessableEntityError,
    429: chatlane.RateLimitError,
}


def expected_error_class(recording: JsonRecording) -> type[chatlane.APIError]:
    error = recording.parsed.get("error") or {}
    if recording.status == 400 and error.get("code") == "content_filter":
        return chatlane.ContentFilterError
    if recording.status >= 500:
        return chatlane.InternalServerError
    return _CLASS_BY_STATUS[recording.status]


def expected_request_id(recording: JsonRecording) -> str | None:
    for name in ("x-request-id", "request-id", "apim-request-id"):
        if name in recording.headers:
            return recording.headers[name]
    return None


def error_problems(error: chatlane.APIError, recording: JsonRecording) -> list[str]:
    want = recording.parsed["error"]
    checks: list[tuple[str, object, object]] = [
        ("class", expected_error_class(recording).__name__, type(error).__name__),
        ("status", recording.status, error.status),
        ("message", want["message"], error.message),
        ("code", want.get("code"), error.code),
        ("type", want.get("type"), error.type),
        ("param", want.get("param"), error.param),
        ("request_id", expected_request_id(recording), error.request_id),
        ("model", MODEL, error.model),
        ("attempts", 1, error.attempts),
    ]
    if isinstance(error, chatlane.RateLimitError):
        retry_after = recording.headers.get("retry-after")
        checks.append(
            ("retry_after", None if retry_after is None else float(retry_after), error.retry_after)
        )
    problems = [
        f"{name}: expected {want!r}, got {got!r}" for name, want, got in checks if want != got
    ]
    if API_KEY in str(error) or API_KEY in (error.body or ""):
        problems.append("the API key leaked into the error")
    return problems


@pytest.mark.parametrize("recording", ERRORS)
def test_sync_error_maps_to_typed_error(server: FakeServer, recording: JsonRecording) -> None:
    recording.enqueue(server)
    with _client(server) as client, pytest.raises(chatlane.APIError) as caught:
        client.chat(model=MODEL, messages=MESSAGES)
    assert error_problems(caught.value, recording) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("recording", ERRORS)
async def test_async_error_maps_to_typed_error(
    server: FakeServer, recording: JsonRecording
) -> None:
    recording.enqueue(server)
    async with _async_client(server) as client:
        with pytest.raises(chatlane.APIError) as caught:
            await client.chat(model=MODEL, messages=MESSAGES)
    assert error_problems(caught.value, recording) == []


def _read_stream(client: chatlane.Client) -> None:
    with client.stream(model=MODEL, messages=MESSAGES) as stream:
        for _ in stream:
            pass


async def _read_stream_async(client: chatlane.AsyncClient) -> None:
    async with client.stream(model=MODEL, messages=MESSAGES) as stream:
        async for _ in stream:
            pass


def test_error_for_a_stream_request_comes_as_plain_json(server: FakeServer) -> None:
    recording = JsonRecording.load(JSON_DIR / "openai-404-model-not-found-for-stream-request.json")
    recording.enqueue(server)
    with _client(server) as client, pytest.raises(chatlane.NotFoundError) as caught:
        _read_stream(client)
    assert caught.value.code == "model_not_found"
    assert caught.value.request_id == "req_b7107aff8c0c447bbb0386325763722a"
    assert caught.value.message == (
        "The model `does-not-exist` does not exist or you do not have access to it."
    )


@pytest.mark.asyncio
async def test_error_for_a_stream_request_comes_as_plain_json_async(server: FakeServer) -> None:
    recording = JsonRecording.load(JSON_DIR / "openai-404-model-not-found-for-stream-request.json")
    recording.enqueue(server)
    async with _async_client(server) as client:
        with pytest.raises(chatlane.NotFoundError) as caught:
            await _read_stream_async(client)
    assert caught.value.status == 404


def test_spot_checks_on_error_bodies(server: FakeServer) -> None:
    names = [
        "azure-400-content-filter-responsible-ai-policy",
        "azure-v1-400-unknown-model",
        "openrouter-429-upstream-rate-limited",
        "anthropic-native-401-authentication-error",
        "together-400-error-with-id",
    ]
    for name in names:
        JsonRecording.load(JSON_DIR / f"{name}.json").enqueue(server)
    caught: list[chatlane.APIError] = []
    with _client(server) as client:
        for _ in names:
            with pytest.raises(chatlane.APIError) as info:
                client.chat(model=MODEL, messages=MESSAGES)
            caught.append(info.value)
    azure_filter, azure_model, openrouter, anthropic, together = caught
    assert isinstance(azure_filter, chatlane.ContentFilterError)
    assert (azure_filter.code, azure_filter.type, azure_filter.param) == (
        "content_filter",
        None,
        "prompt",
    )
    assert azure_filter.request_id == "3fffea92-2c7d-4b28-ac4f-7e440334a53d"
    # Azure answers an unknown model with 400, not 404.
    assert type(azure_model) is chatlane.BadRequestError
    assert azure_model.code == "unknown_model"
    assert isinstance(openrouter, chatlane.RateLimitError)
    assert openrouter.code == 429
    assert openrouter.message == "Provider returned error"
    assert openrouter.retry_after is None
    assert isinstance(anthropic, chatlane.AuthenticationError)
    assert (anthropic.message, anthropic.type) == ("invalid x-api-key", "authentication_error")
    assert anthropic.request_id == "req_011CWdMEehrhsdujMyQ9pChP"
    assert together.request_id == "oNvApk9-zqrih-9acd768fc934e375"
    assert together.code is None


def test_a_placeholder_key_does_not_mangle_the_message(server: FakeServer) -> None:
    """Local servers accept any key, and short placeholders ("k") are common; scrubbing the
    key out of provider text must not cut letters out of ordinary words."""
    recording = JsonRecording.load(JSON_DIR / "openai-400-unsupported-parameter-max-tokens.json")
    recording.enqueue(server)
    with (
        chatlane.Client(base_url=server.url, api_key="k", max_retries=0) as client,
        pytest.raises(chatlane.BadRequestError) as caught,
    ):
        client.chat(model=MODEL, messages=MESSAGES)
    assert caught.value.message == recording.parsed["error"]["message"]


def test_rate_limit_retry_after_header(server: FakeServer) -> None:
    """The recorded 429 came without Retry-After; served with one (the header the OpenAPI
    spec declares for 429), the error must carry it."""
    recording = JsonRecording.load(JSON_DIR / "openrouter-429-upstream-rate-limited.json")
    recording.enqueue(server, extra_headers={"retry-after": "2"})
    with _client(server) as client, pytest.raises(chatlane.RateLimitError) as caught:
        client.chat(model=MODEL, messages=MESSAGES)
    assert caught.value.retry_after == 2.0
    assert len(server.chat_requests) == 1


def test_rate_limit_is_retried_then_succeeds(server: FakeServer) -> None:
    JsonRecording.load(JSON_DIR / "openrouter-429-upstream-rate-limited.json").enqueue(
        server, extra_headers={"retry-after": "0"}
    )
    success = JsonRecording.load(JSON_DIR / "openai-chat-completion-content-basic.json")
    success.enqueue(server)
    with _client(server, max_retries=1) as client:
        completion = client.chat(model=MODEL, messages=MESSAGES)
    assert completion.attempts == 2
    assert len(server.chat_requests) == 2
    assert completion_problems(completion, success.parsed, attempts=2) == []
