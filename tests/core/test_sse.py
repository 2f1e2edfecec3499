from __future__ import annotations

import pytest

from chatlane.core.sse import ServerSentEvent, SSEDecoder, encode_comment, encode_event

FRAGMENT_SIZES = [1, 7, 97, 100000]
LINE_ENDINGS = ["\n", "\r\n", "\r"]

BODY = (
    ": keep-alive comment\n"
    "\n"
    'data: {"a": 1}\n'
    "\n"
    "event: error\n"
    "id: 7\n"
    "data: first line\n"
    "data:second line\n"
    "\n"
    "retry: 1000\n"
    "\n"
    "data: [DONE]\n"
)


def decode_in_fragments(body: bytes, size: int) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for start in range(0, len(body), size):
        events.extend(decoder.feed(body[start : start + size]))
    events.extend(decoder.flush())
    return events


@pytest.mark.parametrize("size", FRAGMENT_SIZES)
@pytest.mark.parametrize("newline", LINE_ENDINGS, ids=["LF", "CRLF", "CR"])
def test_events_survive_any_fragmentation_and_line_ending(size: int, newline: str) -> None:
    body = BODY.replace("\n", newline).encode()
    events = decode_in_fragments(body, size)
    assert events == [
        ServerSentEvent(b'{"a": 1}'),
        ServerSentEvent(b"first line\nsecond line", event="error", id="7"),
        ServerSentEvent(b"[DONE]", id="7"),
    ]


def test_event_name_resets_after_dispatch_but_id_persists() -> None:
    events = decode_in_fragments(b"event: x\nid: 1\ndata: a\n\ndata: b\n\n", 3)
    assert [(e.event, e.id) for e in events] == [("x", "1"), (None, "1")]


def test_blank_line_without_data_dispatches_nothing() -> None:
    assert decode_in_fragments(b"event: ping\n\n\n\n", 1) == []


def test_field_without_space_and_field_without_colon() -> None:
    events = decode_in_fragments(b"data:x\ndata\n\n", 2)
    assert events == [ServerSentEvent(b"x\n")]


def test_utf8_split_across_fragments_is_kept_whole() -> None:
    body = 'data: {"t": "°C ✓"}\n\n'.encode()
    assert decode_in_fragments(body, 1) == [ServerSentEvent('{"t": "°C ✓"}'.encode())]


def test_cr_held_at_fragment_end_is_not_a_double_newline() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r\n") == [ServerSentEvent(b"a")]


def test_flush_finishes_an_unterminated_last_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.flush() == [ServerSentEvent(b"[DONE]")]


@pytest.mark.parametrize("newline", LINE_ENDINGS, ids=["LF", "CRLF", "CR"])
def test_encode_then_decode_round_trips(newline: str) -> None:
    data = f"line one{newline}line two"
    wire = encode_event(data, event="message", id="3") + encode_comment("ping")
    assert decode_in_fragments(wire, 5) == [
        ServerSentEvent(b"line one\nline two", event="message", id="3")
    ]
