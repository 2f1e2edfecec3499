"""Server-Sent Events: an incremental decoder and an encoder. No I/O.

The decoder follows the WHATWG event-stream rules: lines end with ``\\n``, ``\\r\\n`` or ``\\r``;
``data`` lines of one event are joined with ``\\n``; ``:`` lines are comments; a blank line
ends an event. Data stays ``bytes`` so it can go straight into the JSON decoder.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DONE", "SSEDecoder", "ServerSentEvent", "encode_comment", "encode_event"]

DONE = b"[DONE]"
"""The data of the sentinel event OpenAI-compatible servers send last."""


class ServerSentEvent(NamedTuple):
    data: bytes
    event: str | None = None
    id: str | None = None


class SSEDecoder:
    """Turns byte fragments of any size into events: ``feed(bytes)`` then ``flush()`` at EOF."""

    __slots__ = ("_data", "_event", "_id", "_partial")

    def __init__(self) -> None:
        self._partial = b""  # an unfinished line; may end with a "\r" that could precede "\n"
        self._data: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, fragment: bytes) -> list[ServerSentEvent]:
        if self._partial:
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
        return self._process(lines)

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: finish the last line and event (servers often omit the blank line)."""
        partial = self._partial.rstrip(b"\r")
        self._partial = b""
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
                self._event = None
                continue
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
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
