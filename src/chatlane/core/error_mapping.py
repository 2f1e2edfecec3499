"""Turn an error response (status, headers, body) into the right typed error. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from chatlane.core import errors
from chatlane.core.retry import parse_retry_after

__all__ = ["ErrorContext", "api_error", "request_id_from", "stream_error"]

_BY_STATUS: dict[int, type[errors.APIError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.UnprocessableEntityError,
    429: errors.RateLimitError,
}

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "apim-request-id", "x-groq-id", "cf-ray")

_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_CONTEXT_PHRASES = (
    "maximum context length",
    "context length",
    "context window",
    "too many tokens",
    "prompt is too long",
    "reduce the length",
)
_FILTER_CODES = frozenset(
    {"content_filter", "content_policy_violation", "responsibleaipolicyviolation"}
)

_BODY_LIMIT = 2000
_MESSAGE_LIMIT = 200


class ErrorContext:
    """What the client knows about the call an error belongs to.

    ``secret`` is the API key in use, scrubbed from any provider text that echoes it. It is
    never shown: the repr hides it and a pickled context leaves it out.
    """

    __slots__ = ("_secret", "model", "provider")

    provider: str | None
    model: str | None
    _secret: str | None

    def __init__(
        self, provider: str | None = None, model: str | None = None, secret: str | None = None
    ) -> None:
        object.__setattr__(self, "provider", provider)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "_secret", secret)
        errors.register_secret(secret)

    @property
    def secret(self) -> str | None:
        return self._secret

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ErrorContext is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ErrorContext):
            return NotImplemented
        return (self.provider, self.model, self.secret) == (
            other.provider,
            other.model,
            other.secret,
        )

    def __hash__(self) -> int:
        return hash((self.provider, self.model, self.secret))

    def __repr__(self) -> str:
        secret = None if self.secret is None else "<hidden>"
        return f"ErrorContext(provider={self.provider!r}, model={self.model!r}, secret={secret})"

    def __reduce__(self) -> tuple[Any, ...]:
        return ErrorContext, (self.provider, self.model)

    def scrub(self, text: str) -> str:
        """``text`` without the key (whole, or a start of it cut off at the end of ``text``)."""
        return errors.scrub(errors.scrub_secret(text, self.secret))

    def scrub_text(self, value: Any) -> str | None:
        """A provider's field as scrubbed text (None stays None)."""
        return None if value is None else self.scrub(str(value))


def request_id_from(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def _error_fields(payload: Any) -> dict[str, Any]:
    """The ``error`` object of a body in any of the shapes providers use."""
    if isinstance(payload, list) and payload:  # Gemini wraps the body in a list
        payload = payload[0]
    if not isinstance(payload, dict):
        return {}
    inner = payload.get("error", payload)
    if isinstance(inner, str):  # {"error": "message"} (Ollama, some proxies)
        return {"message": inner}
    if not isinstance(inner, dict):
        return {}
    if "message" not in inner and isinstance(payload.get("message"), str):
        inner = {**inner, "message": payload["message"]}
    return inner


def _code(value: Any, context: ErrorContext) -> str | int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return context.scrub_text(value)


def _text(data: bytes, context: ErrorContext, limit: int) -> str:
    """``data`` decoded, scrubbed, then cut to ``limit`` characters: scrubbing first, so no
    start of a key survives the cut."""
    return context.scrub(data.decode("utf-8", "replace"))[:limit]


def _refine(cls: type[errors.APIError], fields: Mapping[str, Any]) -> type[errors.APIError]:
    """Pick the subclass that says what a 400 means (context too long, content filtered)."""
    if cls is not errors.BadRequestError:
        return cls
    code = str(fields.get("code") or "").lower()
    message = str(fields.get("message") or "").lower()
    if code in _CONTEXT_CODES or any(phrase in message for phrase in _CONTEXT_PHRASES):
        return errors.ContextLengthExceededError
    if code in _FILTER_CODES or "content management policy" in message:
        return errors.ContentFilterError
    return cls


def api_error(
    status: int, headers: Mapping[str, str], body: bytes, context: ErrorContext
) -> errors.APIError:
    """The typed error for an HTTP error response. ``headers`` must have lower-case names."""
    text = _text(body, context, _BODY_LIMIT)
    try:
        fields = _error_fields(msgspec.json.decode(body))
    except (msgspec.DecodeError, RecursionError):  # not JSON (an HTML page), or a hostile one
        fields = {}
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = errors.InternalServerError if status >= 500 else errors.APIError
    cls = _refine(cls, fields)
    raw_message = fields.get("message")
    if isinstance(raw_message, str) and raw_message:
        message = context.scrub(raw_message)
    elif "html" in headers.get("content-type", "") or text.lstrip().startswith("<"):
        message = f"HTTP {status} with an HTML page instead of an API error body"
    else:
        message = f"HTTP {status}: {text[:_MESSAGE_LIMIT]}" if text else f"HTTP {status}"
    error = cls(
        message,
        provider=context.provider,
        model=context.model,
        status=status,
        request_id=context.scrub_text(request_id_from(headers)),
        code=_code(fields.get("code"), context),
        type=context.scrub_text(fields.get("type")),
        param=context.scrub_text(fields.get("param")),
        body=text,
    )
    if isinstance(error, errors.RateLimitError):
        error.retry_after = parse_retry_after(headers)
    return error


_EVENT_STATUS = {
    "server_error": 500,  # OpenAI's type
    "api_error": 500,  # Anthropic's internal error
    "overloaded_error": 529,  # Anthropic's
    "rate_limit_error": 429,  # Anthropic's
    "rate_limit_exceeded": 429,  # OpenAI's code
}
"""The status an error event that names none stands for, by its type or code: retries and
fallbacks then treat it as that status before the stream."""


def stream_error(
    payload: bytes, context: ErrorContext, *, request_id: str | None
) -> errors.StreamError:
    """The typed error for an error sent inside a 200 stream."""
    try:
        fields = _error_fields(msgspec.json.decode(payload))
    except (msgspec.DecodeError, RecursionError):
        fields = {"message": _text(payload, context, _MESSAGE_LIMIT)}
    message = context.scrub(str(fields.get("message") or "error event in the stream"))
    status = fields.get("status_code") or fields.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        kind, code = fields.get("type"), fields.get("code")
        status = _EVENT_STATUS.get(kind) if isinstance(kind, str) else None
        if status is None and isinstance(code, str):
            status = _EVENT_STATUS.get(code)
    return errors.StreamError(
        message,
        provider=context.provider,
        model=context.model,
        status=status,
        request_id=context.scrub_text(request_id),
        code=_code(fields.get("code"), context),
        type=context.scrub_text(fields.get("type")),
        param=context.scrub_text(fields.get("param")),
        body=_text(payload, context, _BODY_LIMIT),
    )
