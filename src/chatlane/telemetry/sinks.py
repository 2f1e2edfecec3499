"""Where usage records go: the ``chatlane.usage`` logger (a child of ``chatlane``) and,
optionally, a JSONL file (one JSON object per line, appended; safe for threads)."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import msgspec

from chatlane.core.errors import ConfigurationError
from chatlane.telemetry.record import UsageRecord

__all__ = ["JsonlSink", "log_record"]

logger = logging.getLogger("chatlane.usage")
_encode = msgspec.json.Encoder().encode


def log_record(record: UsageRecord) -> None:
    """One INFO line per request; the fields are the record's ``chatlane_usage`` extra."""
    if not logger.isEnabledFor(logging.INFO):
        return
    outcome = record.error_type or ("cached" if record.cached else "ok")
    logger.info(
        "chat %s %s in %.3fs, %s attempt(s)",
        record.target,
        outcome,
        record.latency,
        record.attempts,
        extra={"chatlane_usage": record.as_dict()},
    )


class JsonlSink:
    """Appends each record as one line of JSON to ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, str | os.PathLike):
            raise ConfigurationError(f"jsonl: expected a file path, got {type(path).__name__}")
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._file = self.path.open("ab")
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            raise ConfigurationError(f"jsonl: cannot open {str(self.path)!r}: {exc}") from None

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"

    def write(self, record: UsageRecord) -> None:
        line = _encode(record.as_dict()) + b"\n"
        with self._lock:
            try:
                self._file.write(line)
                self._file.flush()
            except (OSError, ValueError) as exc:  # a full disk must not fail the call
                logger.warning("chatlane could not write a usage record to %s: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            self._file.close()
