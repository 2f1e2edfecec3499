"""The base of every chatlane error, and the errors of the client itself.

The whole tree, with the errors of tools, structured output, the agent, conversations, token
trimming and the embedded model, is drawn once in ``docs/errors.md`` (a test keeps the
drawing true). Every error carries ``provider``, ``model``, ``status``, ``request_id`` and
``attempts``; API errors add the provider's ``message`` / ``code`` / ``type`` / ``param``.
None ever contains an API key: the client scrubs the key out of provider text before
building an error, and every error scrubs the keys the process's clients use out of each
text it is given (``message``, ``body``, ``code``, ``type``, ``param``, ``request_id``, any
subclass's fields), whoever builds it. Errors pickle and unpickle whatever their
``__init__`` takes.
"""

from __future__ import annotations

import builtins
import threading
import weakref
from typing import Any

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


_MIN_SECRET = 8
"""Shorter keys ("k", "none", "ollama") are placeholders, not secrets: replacing them would
mangle ordinary words."""
_MIN_PIECE = 6
"""The shortest start of a key cut off at the end of a text that is still hidden."""
_MASK = "***"
_secrets: dict[str, int] = {}
"""Each key in use, with how many live objects hold it (0: registered for good)."""
# Re-entrant: a holder's finalizer may run from a garbage collection triggered while this
# thread is inside register_secret.
_secrets_lock = threading.RLock()


def register_secret(secret: str | None, holder: object | None = None) -> None:
    """Hide ``secret`` from every chatlane error made from now on (the client's API keys).

    With ``holder`` (the endpoint that holds the key) the key is hidden while a holder lives:
    a service making a client per tenant key does not grow this table without end, nor
    scrub every error against keys long gone. Without one it stays registered.
    """
    if not secret or len(secret) < _MIN_SECRET:
        return
    with _secrets_lock:
        count = _secrets.get(secret)
        if holder is None:
            if count is None:
                _secrets[secret] = 0
            return
        if count != 0:  # 0: registered for good
            _secrets[secret] = (count or 0) + 1
            weakref.finalize(holder, _release, secret)


def _release(secret: str) -> None:
    with _secrets_lock:
        count = _secrets.get(secret)
        if count is not None and count > 0:
            if count == 1:
                del _secrets[secret]
            else:
                _secrets[secret] = count - 1


def scrub_secret(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` masked, and a start of it cut off at the end of ``text``."""
    if not secret or len(secret) < _MIN_SECRET:
        return text
    if secret in text:
        text = text.replace(secret, _MASK)
    # Someone cut the text short in the middle of the key: hide the piece that is left.
    for size in range(min(len(secret) - 1, len(text)), _MIN_PIECE - 1, -1):
        if text.endswith(secret[:size]):
            return text[:-size] + _MASK
    return text


def scrub(text: str) -> str:
    """``text`` without any key registered with ``register_secret``."""
    for secret in tuple(_secrets):
        text = scrub_secret(text, secret)
    return text


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, tuple | list) and any(isinstance(item, str) for item in value):
        return type(value)(_scrubbed(item) for item in value)
    return value


def _restore(cls: type[ChatlaneError], args: tuple[Any, ...]) -> ChatlaneError:
    """Unpickle an error without calling its ``__init__`` (whose arguments vary)."""
    error = cls.__new__(cls, *args)
    Exception.__init__(error, *args)
    return error


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
        message = scrub(message) if isinstance(message, str) else message
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        self.status = status
        self.request_id = request_id
        self.attempts = attempts

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, _scrubbed(value) if _secrets else value)

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore, (type(self), tuple(_scrubbed(arg) for arg in self.args)), self.__dict__

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


class FallbackError(ChatlaneError):
    """Every target of a call failed: ``failures`` holds each target's error, in order."""

    def __init__(self, failures: list[tuple[str, ChatlaneError]]) -> None:
        lines = "; ".join(
            f"{target}: {type(error).__name__}: {error.message}" for target, error in failures
        )
        last = failures[-1][1] if failures else None
        super().__init__(
            f"all {len(failures)} targets failed: {lines}",
            provider=None if last is None else last.provider,
            model=None if last is None else last.model,
            status=None if last is None else last.status,
            attempts=sum(error.attempts for _, error in failures),
        )
        self.failures = failures


class PoolTimeout(TimeoutError):
    """Every connection of the client was in use for the whole first-token allowance: the
    request was never sent (``Limits(max_connections=...)`` sets how many there are)."""


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
    """An error reported inside a 200 stream, after the chunks before it were delivered.

    ``status`` is the one the event names, else the one its type or code stands for
    (``server_error`` and ``api_error`` 500, ``overloaded_error`` 529, a rate limit 429),
    else None. Before any chunk reached the caller such an event is retried, and falls
    back, as that status would be before the stream."""
