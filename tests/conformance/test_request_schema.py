"""Every request body chatlane sends validates against OpenAI's published request schema.

The schema is ``components.schemas.CreateChatCompletionRequest`` of the chat-completions
subset of the official OpenAPI 3.1 spec; ``$ref``s are resolved within that document.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped, unused-ignore]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import chatlane
from chatlane import ChatParams
from chatlane.testing import FakeServer, RawResponse
from tests.conformance._reference import API_KEY, JSON_DIR, SCHEMAS_FILE, SSE_DIR

SPEC_URI = "urn:openai:openapi-chat"


def _validator() -> Any:
    spec = json.loads(SCHEMAS_FILE.read_text(encoding="utf-8"))
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/CreateChatCompletionRequest"}
    return Draft202012Validator(schema, registry=registry)


VALIDATOR = _validator() if SCHEMAS_FILE.exists() else None

COMPLETION_BODY = (JSON_DIR / "openai-chat-completion-content-basic.json").read_bytes()
STREAM_BODY = (SSE_DIR / "openai-finish-length.sse").read_bytes()


def schema_errors(body: dict[str, Any]) -> list[str]:
    assert VALIDATOR is not None, f"schema not found at {SCHEMAS_FILE}"
    errors = list(VALIDATOR.iter_errors(body))
    if not errors:
        return []
    best = best_match(errors)
    return [f"{'/'.join(map(str, best.absolute_path))}: {best.message}"]


# --- A broad set of calls -----------------------------------------------------------------

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME_TOOL: dict[str, Any] = {"type": "function", "function": {"name": "get_time"}}
USER: list[chatlane.MessageParam] = [{"role": "user", "content": "What is the weather in Paris?"}]
CONVERSATION: list[chatlane.MessageParam] = [
    {"role": "system", "content": "You are terse."},
    {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture, and the weather there?"},
            {
                "type": "image_url",
                "image_url": {"url": "https://example.com/a.png", "detail": "low"},
            },
        ],
        "name": "ada",
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "get_time", "arguments": "{}"},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18 C, cloudy"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "12:00"}]},
    {"role": "assistant", "content": "It is 18 C and cloudy at noon."},
    {"role": "user", "content": "Thanks."},
]
HELPERS: list[chatlane.MessageParam] = [
    chatlane.system("Be brief."),
    chatlane.user(
        [chatlane.text_part("Describe:"), chatlane.image_part("data:image/png;base64,AA==")]
    ),
    chatlane.assistant("A dot."),
    chatlane.user("And now?"),
]
PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}

CALLS: list[tuple[str, ChatParams]] = [
    ("plain", {"model": "gpt-4o", "messages": USER}),
    ("conversation", {"model": "gpt-4o", "messages": CONVERSATION}),
    ("helpers", {"model": "gpt-4o", "messages": HELPERS}),
    (
        "tools-auto",
        {"model": "gpt-4o", "messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "auto"},
    ),
    (
        "tools-none",
        {"model": "gpt-4o", "messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "none"},
    ),
    (
        "tools-required",
        {
            "model": "gpt-4o",
            "messages": USER,
            "tools": [WEATHER_TOOL, TIME_TOOL],
            "tool_choice": "required",
            "parallel_tool_calls": False,
        },
    ),
    (
        "tools-named",
        {
            "model": "gpt-4o",
            "messages": USER,
            "tools": [WEATHER_TOOL, TIME_TOOL],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": True,
        },
    ),
    ("format-text", {"model": "gpt-4o", "messages": USER, "response_format": {"type": "text"}}),
    (
        "format-json-object",
        {"model": "gpt-4o", "messages": USER, "response_format": {"type": "json_object"}},
    ),
    (
        "format-json-schema-strict",
        {
            "model": "gpt-4o",
            "messages": USER,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "person",
                    "description": "A person.",
                    "schema": PERSON_SCHEMA,
                    "strict": True,
                },
            },
        },
    ),
    ("max-tokens", {"model": "gpt-4o", "messages": USER, "max_tokens": 64}),
    ("max-completion-tokens", {"model": "o3-mini", "messages": USER, "max_completion_tokens": 256}),
    (
        "sampling",
        {
            "model": "gpt-4o",
            "messages": USER,
            "temperature": 0.2,
            "top_p": 0.9,
            "frequency_penalty": 0.5,
            "presence_penalty": -0.5,
            "n": 2,
            "seed": 42,
            "user": "user-1234",
        },
    ),
    ("sampling-bounds", {"model": "gpt-4o", "messages": USER, "temperature": 2, "top_p": 0}),
    ("stop-str", {"model": "gpt-4o", "messages": USER, "stop": "\n"}),
    ("stop-list", {"model": "gpt-4o", "messages": USER, "stop": ["END", "STOP", "\n\n", "###"]}),
    ("logprobs", {"model": "gpt-4o", "messages": USER, "logprobs": True, "top_logprobs": 5}),
]


def _send(server: FakeServer, params: ChatParams, *, stream: bool) -> dict[str, Any]:
    with chatlane.Client(base_url=server.url, api_key=API_KEY, max_retries=0) as client:
        if stream:
            server.enqueue(RawResponse(STREAM_BODY))
            with client.stream(**params) as chunks:
                for _ in chunks:
                    pass
        else:
            server.enqueue(RawResponse(COMPLETION_BODY, content_type="application/json"))
            client.chat(**params)
    [request] = server.chat_requests
    body: dict[str, Any] = request.json()
    return body


@pytest.mark.parametrize("params", [pytest.param(p, id=name) for name, p in CALLS])
def test_chat_request_validates(server: FakeServer, params: ChatParams) -> None:
    body = _send(server, params, stream=False)
    assert schema_errors(body) == []
    assert body["model"] == params["model"]
    assert "stream" not in body
    assert "stream_options" not in body
    sent = {key: value for key, value in params.items() if key not in ("model", "messages")}
    assert {key: body[key] for key in sent} == json.loads(json.dumps(sent))


@pytest.mark.parametrize("params", [pytest.param(p, id=name) for name, p in CALLS])
def test_stream_request_validates(server: FakeServer, params: ChatParams) -> None:
    body = _send(server, params, stream=True)
    assert schema_errors(body) == []
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_explicit_stream_options_are_kept(server: FakeServer) -> None:
    params: ChatParams = {
        "model": "gpt-4o",
        "messages": USER,
        "stream_options": {"include_usage": False},
    }
    body = _send(server, params, stream=True)
    assert schema_errors(body) == []
    assert body["stream_options"] == {"include_usage": False}


def test_messages_are_sent_as_given(server: FakeServer) -> None:
    body = _send(server, {"model": "gpt-4o", "messages": CONVERSATION}, stream=False)
    assert body["messages"] == json.loads(json.dumps(CONVERSATION))


def test_request_headers(server: FakeServer) -> None:
    _send(server, {"model": "gpt-4o", "messages": USER}, stream=True)
    headers = server.chat_requests[0].headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["content-type"].startswith("application/json")
    assert "text/event-stream" in headers["accept"]


def test_validator_rejects_what_the_spec_forbids() -> None:
    """The validator is live: bodies the spec rules out are reported."""
    good: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    assert schema_errors(good) == []
    bad_bodies: list[dict[str, Any]] = [
        {"model": "gpt-4o"},
        {**good, "messages": []},
        {**good, "messages": [{"role": "wizard", "content": "hi"}]},
        {**good, "temperature": 3},
        {**good, "stop": ["a", "b", "c", "d", "e"]},
        {**good, "tool_choice": "sometimes"},
        {**good, "response_format": {"type": "yaml"}},
        {**good, "stream_options": "yes"},
    ]
    for bad in bad_bodies:
        assert schema_errors(bad) != [], bad


# --- Provider dialects --------------------------------------------------------------------


def test_mistral_dialect(server: FakeServer) -> None:
    model = "mistral-small-latest"
    with chatlane.Client(provider="mistral", base_url=server.url, api_key="k") as client:
        server.enqueue(RawResponse(COMPLETION_BODY, content_type="application/json"))
        client.chat(model=model, messages=USER, seed=7, safe_prompt=True, max_completion_tokens=32)
        server.enqueue(RawResponse(STREAM_BODY))
        with client.stream(model=model, messages=USER, random_seed=8, safe_prompt=False) as stream:
            for _ in stream:
                pass
    chat, streamed = (request.json() for request in server.chat_requests)
    assert chat["random_seed"] == 7
    assert "seed" not in chat
    assert chat["safe_prompt"] is True
    assert chat["max_tokens"] == 32
    assert "max_completion_tokens" not in chat
    assert streamed["random_seed"] == 8
    assert streamed["safe_prompt"] is False
    assert streamed["stream"] is True
    assert "stream_options" not in streamed
    assert server.chat_requests[0].headers["authorization"] == "Bearer k"


def test_openai_compatible_drops_mistral_fields(server: FakeServer) -> None:
    with chatlane.Client(base_url=server.url, api_key=API_KEY) as client:
        server.enqueue(RawResponse(COMPLETION_BODY, content_type="application/json"))
        client.chat(model="gpt-4o", messages=USER, random_seed=5, safe_prompt=True)
        server.enqueue(RawResponse(STREAM_BODY))
        with client.stream(
            model="gpt-4o", messages=USER, safe_prompt=True, prompt_mode="reasoning"
        ) as stream:
            for _ in stream:
                pass
    for request in server.chat_requests:
        body = request.json()
        assert "safe_prompt" not in body
        assert "random_seed" not in body
        assert "prompt_mode" not in body
        assert schema_errors(body) == []
    assert server.chat_requests[0].json()["seed"] == 5
