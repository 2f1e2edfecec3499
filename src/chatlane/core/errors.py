"""The base of every chatlane error, and the errors of the client itself.

The whole tree, with the errors of tools, structured output, the agent, conversations, token
trimming and the embedded model, is drawn once in ``docs/errors.md`` (a test keeps the
drawing true). Every error carries ``provider``, ``model``, ``status``, ``request_id`` and
``attempts``; API errors add the provider's ``message`` / ``code`` / ``type`` / ``param``.
None ever contains an API key: the client scrubs the key out of provider text before
building an error.
"""

from __future__ import annotations

import builtins

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ChatlaneError",
    "ChatlaneWarning",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "ConnectTimeout",
    "ContentFilterError",
    "ContextLengthExceededError",
    "FirstTokenTimeout",
    "IdleTimeout",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseDecodeError",
    "StreamError",
    "StreamInterrupted",
    "StrictSchemaError",
    "TimeoutError",
    "TotalTimeout",
    "TransportError",
    "UnprocessableEntityError",
    "UsageError",
]


class ChatlaneError(Exception):
    """Base class of every chatlane error."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        self.status = status
        self.request_id = request_id
        self.attempts = attempts

    def __str__(self) -> str:
        context = [
            f"{name}={value}"
            for name, value in (
                ("provider", self.provider),
                ("model", self.model),
                ("status", self.status),
                ("request_id", self.request_id),
                ("attempts", self.attempts or None),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(context)})" if context else self.message


class UsageError(ChatlaneError):
    """chatlane was called in a way that cannot work; nothing was sent."""


class RequestValidationError(UsageError, ValueError):
    """A request parameter is malformed. ``field`` names it (e.g. ``messages[2].tool_call_id``)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConfigurationError(UsageError):
    """Provider, key or installation is not set up for this call."""


class StrictSchemaError(UsageError, ValueError):
    """A JSON schema (a tool's parameters, a response model) has a part strict mode cannot
    express. ``path`` is its JSON path (``$.properties.tags``), ``reason`` what is wrong
    there, ``field`` the parameter or field it belongs to where one can tell."""

    def __init__(
        self, message: str, *, path: str, reason: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.reason = message if reason is None else reason
        self.field = field


class ChatlaneWarning(UserWarning):
    """Base class of chatlane's warnings (filter them with ``warnings.filterwarnings``)."""


class TransportError(ChatlaneError):
    """No usable HTTP response: the connection failed, timed out or broke."""


class ConnectError(TransportError):
    """The connection could not be made, or was reset before the response started."""


class TimeoutError(TransportError, builtins.TimeoutError):
    """A timeout ran out. Subclasses say which one."""


class ConnectTimeout(TimeoutError):
    pass


class FirstTokenTimeout(TimeoutError):
    """No response (or no first chunk of a stream) within the first-token timeout."""


class IdleTimeout(TimeoutError):
    """A stream sent nothing for longer than the idle timeout."""


class TotalTimeout(TimeoutError):
    """The call as a whole, retries included, exceeded the total timeout."""


class StreamInterrupted(TransportError):
    """The connection broke after the stream started; chunks already delivered stay valid."""


class ResponseDecodeError(ChatlaneError):
    """The server's bytes are not valid Chat Completions JSON or SSE."""


class APIError(ChatlaneError):
    """The provider answered with an error status (or an error event in a stream)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        attempts: int = 0,
        code: str | int | None = None,
        type: str | None = None,
        param: str | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(
            message,
            provider=provider,
            model=model,
            status=status,
            request_id=request_id,
            attempts=attempts,
        )
        self.code = code
        self.type = type
        self.param = param
        self.body = body
        """The raw error body as text (truncated), for what the fields above do not cover."""


class BadRequestError(APIError):
    pass


class ContextLengthExceededError(BadRequestError):
    """The prompt (plus max_tokens) does not fit the model's context window."""


class ContentFilterError(BadRequestError):
    """The provider's content filter rejected the request."""


class AuthenticationError(APIError):
    pass


class PermissionDeniedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class ConflictError(APIError):
    pass


class UnprocessableEntityError(APIError):
    pass


class RateLimitError(APIError):
    """429. ``retry_after`` is the wait the server asked for, in seconds, when it said."""

    retry_after: float | None = None


class InternalServerError(APIError):
    pass


class StreamError(APIError):
    """An error reported inside a 200 stream, after the chunks before it were delivered."""
