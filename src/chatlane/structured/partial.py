"""Best-effort parsing of JSON that is still arriving. No I/O.

:class:`PartialJSON` collects the streamed text of one answer and parses what is there with
pydantic-core's tolerant parser (``from_json(allow_partial="trailing-strings")``): open
objects and arrays are closed, a string being written shows what it has so far, and a key
whose value has not started is left out. Two adjustments make the partials trustworthy:

- a number at the very end is held back until something follows it, because ``12`` may be
  the start of ``125``; literals (``tru``) are held back by the parser itself;
- a Markdown fence opening the answer (````json``) is skipped.

Partial values are plain JSON data (dicts, lists, str, numbers), not model instances: a
half-written object usually lacks required fields, so it could not validate anyway.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PartialJSON"]

_TRAILING_NUMBER = re.compile(r"(?<=[\[:,\s])-?[0-9][0-9.eE+-]*$|(?<=[\[:,\s])-$")
_OPENING_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n")
_NOTHING: Any = object()


class PartialJSON:
    """Feed text pieces; :attr:`value` is the JSON parsed so far."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._parsed: Any = _NOTHING

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def value(self) -> Any:
        """The latest partial value (None before anything parseable arrived)."""
        return None if self._parsed is _NOTHING else self._parsed

    def feed(self, piece: str) -> bool:
        """Add ``piece``; True when the parsed value changed."""
        if not piece:
            return False
        self._parts.append(piece)
        if not piece.strip():
            return False
        parsed = _parse(self.text)
        if parsed is _NOTHING or (self._parsed is not _NOTHING and parsed == self._parsed):
            return False
        self._parsed = parsed
        return True


def _parse(text: str) -> Any:
    from pydantic_core import from_json

    text = _OPENING_FENCE.sub("", text, count=1)
    stripped = text.rstrip()
    if stripped.endswith("```"):
        text = stripped[:-3]
    text = _TRAILING_NUMBER.sub("", text)  # unstripped: "12 " has ended, "12" may go on
    if not text.strip():
        return _NOTHING
    try:
        return from_json(text, allow_partial="trailing-strings")
    except ValueError:
        return _NOTHING
