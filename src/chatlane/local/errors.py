"""The error the local engine raises for a request it cannot serve."""

from __future__ import annotations

from chatlane.core.errors import ChatlaneError

__all__ = ["LocalEngineError"]


class LocalEngineError(ChatlaneError):
    """A request failed the way an HTTP API would fail it.

    ``status`` is 400 for a bad or unsupported request and 500 for a failure inside the
    engine; ``code`` and ``param`` follow OpenAI's error object (``code`` e.g.
    ``"unsupported_parameter"`` or ``"context_length_exceeded"``, ``param`` the field).
    """

    status: int

    def __init__(
        self, status: int, message: str, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.code = code
        self.param = param

    def __repr__(self) -> str:
        return (
            f"LocalEngineError(status={self.status}, message={self.message!r}, "
            f"code={self.code!r}, param={self.param!r})"
        )
