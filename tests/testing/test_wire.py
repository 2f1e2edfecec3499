"""The pure part of the fake server: how replies become bodies and events."""

from __future__ import annotations

import pytest

from chatlane.testing._wire import Exchange, gaps, pieces


@pytest.mark.parametrize("text", ["", "one", "one two  three", "  lead", "trail \n", "a\tb"])
def test_pieces_join_back_to_the_text(text: str) -> None:
    assert "".join(pieces(text)) == text
    assert all(piece for piece in pieces(text))


def test_pieces_are_word_sized() -> None:
    assert pieces("The quick fox") == ["The", " quick", " fox"]


def test_gaps() -> None:
    assert gaps(0.5, 3) == [0.5, 0.5, 0.5]
    assert gaps([0.1, 0.2], 4) == [0.1, 0.2, 0.0, 0.0]
    assert gaps([0.1, 0.2, 0.3], 1) == [0.1]


def test_exchange_tolerates_odd_bodies() -> None:
    odd = Exchange.of(1, 0, {"model": 3, "messages": "x", "stream": "yes"}, "fake-model")
    assert (odd.model, odd.stream, odd.include_usage, odd.prompt_words) == (
        "fake-model",
        False,
        False,
        0,
    )
    assert Exchange.of(2, 0, None, "fake-model").last_user_text == ""
