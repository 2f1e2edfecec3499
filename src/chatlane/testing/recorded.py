"""What the fake server saw: one record per HTTP request, in arrival order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

__all__ = ["RecordedRequest"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received.

    ``path`` includes the query string; ``headers`` has lower-case names (repeated headers
    joined with ``", "``); ``received_at`` is ``time.perf_counter()`` when the request's body
    had been read, so gaps between records measure a client's retry delays.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    @property
    def is_chat(self) -> bool:
        """Whether this is a chat-completions request (``POST .../chat/completions``)."""
        return self.method == "POST" and is_chat_path(self.path)

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            return None


def is_chat_path(path: str) -> bool:
    """``/v1/chat/completions``, Azure's ``/openai/deployments/{d}/chat/completions?...``."""
    return path.partition("?")[0].rstrip("/").endswith("/chat/completions")


def is_models_path(path: str) -> bool:
    return path.partition("?")[0].rstrip("/").endswith("/models")
