"""The result of ``ping()``: the provider answered and accepted the key."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from chatlane._call.call import Call

__all__ = ["PingResult"]


@dataclass(frozen=True, slots=True)
class PingResult:
    provider: str | None
    latency: float
    """Seconds for the round trip (retries included)."""
    models: list[str]
    """Model ids the provider listed (may be empty: some servers list none)."""
    attempts: int = 1

    @classmethod
    def from_models(cls, call: Call, body: bytes) -> PingResult:
        try:
            payload: Any = msgspec.json.decode(body)
        except msgspec.DecodeError:
            payload = None
        entries = payload.get("data") if isinstance(payload, dict) else None
        models = [
            entry["id"]
            for entry in entries or ()
            if isinstance(entry, dict) and isinstance(entry.get("id"), str)
        ]
        return cls(
            provider=call.context.provider,
            latency=time.perf_counter() - call.started,
            models=models,
            attempts=call.attempts,
        )
