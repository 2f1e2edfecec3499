"""Server-Sent Events: an incremental decoder and an encoder. No I/O.

The decoder follows the WHATWG event-stream rules: lines end with ``\\n``, ``\\r\\n`` or ``\\r``;
``data`` lines of one event are joined with ``\\n``; ``:`` lines are comments; a blank line
ends an event. Data stays ``bytes`` so it can go straight into the JSON decoder.
"""

from __future__ import annotations

from typing import NamedTuple

from chatlane.core.errors import ResponseDecodeError

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "DONE",
    "SSEDecoder",
    "ServerSentEvent",
    "encode_comment",
    "encode_event",
]

DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024
"""The longest SSE line or event accepted: a chunk of a chat stream is a few hundred bytes."""

DONE = b"[DONE]"
"""The data of the sentinel event OpenAI-compatible servers send last."""


class ServerSentEvent(NamedTuple):
    data: bytes
    event: str | None = None
    id: str | None = None


class SSEDecoder:
    """Turns byte fragments of any size into events: ``feed(bytes)`` then ``flush()`` at EOF.

    Linear in the input however long a line is; a line or event longer than
    ``max_event_bytes`` is a ``ResponseDecodeError`` (None: no limit).
    """

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_failed",
        "_id",
        "_limit",
        "_partial",
        "_pending",
        "_pending_size",
    )

    def __init__(self, *, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._partial = b""  # an unfinished line; may end with a "\r" that could precede "\n"
        self._pending: list[bytes] = []  # more of the unfinished line, joined at its end
        self._pending_size = 0
        self._data: list[bytes] = []
        self._data_size = 0
        self._event: str | None = None
        self._id: str | None = None
        self._limit = max_event_bytes
        self._failed: ResponseDecodeError | None = None
        """Set when a line grew too long; raised by the next call, after the events before it."""

    def feed(self, fragment: bytes) -> list[ServerSentEvent]:
        if self._failed is not None:
            raise self._failed
        if b"\n" not in fragment and b"\r" not in fragment and not self._partial.endswith(b"\r"):
            # The middle of a long line: keep the piece; joining now would copy the line so
            # far once per fragment (quadratic in the line's length).
            self._pending.append(fragment)
            self._pending_size += len(fragment)
            failed = self._too_long(len(self._partial) + self._pending_size)
            if failed is not None:
                raise failed
            return []
        if self._pending:
            fragment = b"".join([self._partial, *self._pending, fragment])
            self._pending.clear()
            self._pending_size = 0
        elif self._partial:
            fragment = self._partial + fragment
        # A trailing "\r" may be the first half of "\r\n": keep it until more bytes arrive.
        held_cr = fragment.endswith(b"\r")
        if held_cr:
            fragment = fragment[:-1]
        if b"\r" in fragment:
            fragment = fragment.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = fragment.split(b"\n")
        tail = lines.pop()
        self._partial = tail + b"\r" if held_cr else tail
        events = self._process(lines)
        self._too_long(len(tail))
        return events

    @property
    def error(self) -> ResponseDecodeError | None:
        """Set once a line or event passed the limit; the events before it were returned."""
        return self._failed

    def _too_long(self, size: int) -> ResponseDecodeError | None:
        """The error once a line or event passed the limit (kept: later calls raise it)."""
        if self._failed is None and self._limit is not None and size > self._limit:
            self._failed = ResponseDecodeError(
                f"an SSE line or event is longer than {self._limit} bytes"
                " (chatlane.Limits(max_event_bytes=...) lifts it)"
            )
        return self._failed

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: finish the last line and event (servers often omit the blank line)."""
        if self._failed is not None:
            raise self._failed
        partial = b"".join([self._partial, *self._pending]).rstrip(b"\r")
        self._partial = b""
        self._pending.clear()
        self._pending_size = 0
        lines = [partial] if partial else []
        lines.append(b"")
        return self._process(lines)

    def _process(self, lines: list[bytes]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    payload = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(ServerSentEvent(payload, self._event, self._id))
                    data.clear()
                    self._data_size = 0
                self._event = None
                continue
            if line.startswith(b"data:"):
                # One slice, not two: a long line's copies are what a long line costs.
                value = line[6:] if line.startswith(b"data: ") else line[5:]
                data.append(value)
                self._data_size += len(value)
                if self._too_long(self._data_size) is not None:
                    break  # the events so far are delivered; the next call raises
                continue
            if line.startswith(b":"):
                continue  # comment, e.g. OpenRouter's ": OPENROUTER PROCESSING"
            name, colon, value = line.partition(b":")
            if colon and value.startswith(b" "):
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
            elif name == b"id" and b"\0" not in value:
                self._id = value.decode("utf-8", "replace")
            # "retry" and unknown fields are ignored.
        return events


def encode_event(data: bytes | str, event: str | None = None, id: str | None = None) -> bytes:
    """One event in wire form, ending with the blank line."""
    raw = data.encode() if isinstance(data, str) else data
    head = b""
    if event is not None:
        head += b"event: " + event.encode() + b"\n"
    if id is not None:
        head += b"id: " + id.encode() + b"\n"
    if b"\n" not in raw and b"\r" not in raw:
        return head + b"data: " + raw + b"\n\n"
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return head + b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"


def encode_comment(text: str) -> bytes:
    """A comment line (keep-alive), ignored by decoders."""
    return b": " + text.encode() + b"\n\n"
