"""The one writer of OpenAI-shaped error bodies, for everything in chatlane that answers like
a provider (the embedded model's transport, the fake server)."""

from __future__ import annotations

import msgspec

__all__ = ["error_body", "error_type"]

_encode = msgspec.json.Encoder().encode


def error_type(status: int) -> str:
    """The ``type`` OpenAI gives an error with this status."""
    if status >= 500:
        return "server_error"
    return "requests" if status == 429 else "invalid_request_error"


def error_body(
    status: int,
    message: str,
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
) -> bytes:
    """``{"error": {"message", "type", "param", "code"}}``; ``type`` None: from the status."""
    error = {"message": message, "type": type or error_type(status), "param": param, "code": code}
    return _encode({"error": error})
