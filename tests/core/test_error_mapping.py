from __future__ import annotations

import pytest

from chatlane.core import errors
from chatlane.core.error_mapping import ErrorContext, api_error, stream_error

CTX = ErrorContext(provider="openai", model="gpt-x", secret="sk-live-SECRET")


def openai_body(
    message: str, code: str | None = None, type_: str = "invalid_request_error"
) -> bytes:
    import json

    return json.dumps(
        {"error": {"message": message, "type": type_, "param": None, "code": code}}
    ).encode()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (422, errors.UnprocessableEntityError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
        (503, errors.InternalServerError),
        (418, errors.APIError),
    ],
)
def test_status_picks_the_error_class(status: int, cls: type[errors.APIError]) -> None:
    error = api_error(status, {"x-request-id": "req_1"}, openai_body("nope"), CTX)
    assert type(error) is cls
    assert error.status == status
    assert error.request_id == "req_1"
    assert error.message == "nope"
    assert error.provider == "openai"
    assert error.model == "gpt-x"


def test_context_length_is_recognised_by_code_and_by_message() -> None:
    by_code = api_error(400, {}, openai_body("too long", code="context_length_exceeded"), CTX)
    assert isinstance(by_code, errors.ContextLengthExceededError)
    by_text = api_error(
        400, {}, openai_body("This model's maximum context length is 8192 tokens."), CTX
    )
    assert isinstance(by_text, errors.ContextLengthExceededError)
    assert isinstance(by_text, errors.BadRequestError)


def test_content_filter_is_recognised() -> None:
    error = api_error(400, {}, openai_body("filtered", code="content_filter"), CTX)
    assert isinstance(error, errors.ContentFilterError)


def test_rate_limit_carries_retry_after() -> None:
    error = api_error(429, {"retry-after": "7"}, openai_body("slow down"), CTX)
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == 7.0


def test_html_error_page_gets_a_readable_message() -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    error = api_error(502, {"content-type": "text/html"}, html, CTX)
    assert isinstance(error, errors.InternalServerError)
    assert "HTML page" in error.message
    assert error.body is not None
    assert "Bad Gateway" in error.body


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": "model not found"}',
        b'[{"error": {"code": 404, "message": "model not found", "status": "NOT_FOUND"}}]',
        b'{"message": "model not found"}',
    ],
)
def test_other_error_shapes(body: bytes) -> None:
    error = api_error(404, {}, body, CTX)
    assert error.message == "model not found"


def test_integer_codes_are_kept() -> None:
    error = api_error(429, {}, b'{"error": {"code": 429, "message": "busy"}}', CTX)
    assert error.code == 429


def test_the_api_key_never_appears_in_an_error() -> None:
    body = openai_body("Incorrect API key provided: sk-live-SECRET.", code="invalid_api_key")
    error = api_error(401, {}, body, CTX)
    for text in (str(error), repr(error), error.message, error.body or ""):
        assert "sk-live-SECRET" not in text
    assert "***" in error.message


def test_stream_error_from_error_event() -> None:
    payload = b'{"error": {"message": "Tool call validation failed", "code": "tool_use_failed", "status_code": 400}}'
    error = stream_error(payload, CTX, request_id="req_9")
    assert isinstance(error, errors.StreamError)
    assert error.code == "tool_use_failed"
    assert error.status == 400
    assert error.request_id == "req_9"


def test_str_shows_context_but_not_secrets() -> None:
    error = api_error(500, {"x-request-id": "req_2"}, openai_body("boom"), CTX)
    error.attempts = 3
    assert (
        str(error)
        == "boom (provider=openai, model=gpt-x, status=500, request_id=req_2, attempts=3)"
    )
