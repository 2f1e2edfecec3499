"""The error the local engine raises for a request it cannot serve."""

from __future__ import annotations

__all__ = ["LocalEngineError"]


class LocalEngineError(Exception):
    """A request failed the way an HTTP API would fail it.

    ``status`` is 400 for a bad or unsupported request and 500 for a failure inside the
    engine; ``code`` and ``param`` follow OpenAI's error object (``code`` e.g.
    ``"unsupported_parameter"`` or ``"context_length_exceeded"``, ``param`` the field).
    """

    def __init__(
        self, status: int, message: str, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param

    def to_dict(self) -> dict[str, dict[str, str | None]]:
        """The OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {
            "error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}
        }

    def __repr__(self) -> str:
        return (
            f"LocalEngineError(status={self.status}, message={self.message!r}, "
            f"code={self.code!r}, param={self.param!r})"
        )
