"""Split the streamed text of a tool-call array into OpenAI-style tool-call events.

The grammar fixes the shape of the text, ``[{"name": "N", "arguments": A}, ...]``, so a small
state machine is enough: it announces each call as soon as its name is complete and passes
the arguments on piece by piece while they are generated. The argument object ends where its
braces balance (braces inside JSON strings do not count).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

__all__ = [
    "CallArguments",
    "CallEnded",
    "CallStarted",
    "RepeatGuard",
    "ToolCallSplitter",
    "new_call_id",
]


def new_call_id() -> str:
    """An id in OpenAI's style: ``call_`` and 24 random hex digits."""
    return "call_" + os.urandom(12).hex()


@dataclass(frozen=True, slots=True)
class CallStarted:
    """Call number ``index`` to tool ``name`` begins; its id is ``id``."""

    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class CallArguments:
    """More argument text of call number ``index``."""

    index: int
    text: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The arguments of call number ``index`` are complete."""

    index: int


SplitEvent = CallStarted | CallArguments | CallEnded

_NAME_KEY = '"name": "'
_ARGUMENTS_KEY = '"arguments": '


class ToolCallSplitter:
    """Feed text as it is generated; get back call starts and argument pieces."""

    def __init__(self) -> None:
        self._index = -1
        self._state = "name-key"  # name-key -> name -> arguments-key -> arguments -> name-key
        self._buffer = ""
        self._depth = 0
        self._in_string = False
        self._escaped = False

    def feed(self, text: str) -> list[SplitEvent]:
        events: list[SplitEvent] = []
        for char in text:
            self._step(char, events)
        return _merge(events)

    def _step(self, char: str, events: list[SplitEvent]) -> None:
        if self._state == "arguments":
            events.append(CallArguments(self._index, char))
            self._track(char)
            if self._depth == 0:
                self._state = "name-key"
                events.append(CallEnded(self._index))
            return
        self._buffer += char
        if self._state == "name-key" and self._buffer.endswith(_NAME_KEY):
            self._state, self._buffer = "name", ""
        elif self._state == "name" and char == '"':
            self._index += 1
            events.append(CallStarted(self._index, new_call_id(), self._buffer[:-1]))
            self._state, self._buffer = "arguments-key", ""
        elif self._state == "arguments-key" and self._buffer.endswith(_ARGUMENTS_KEY):
            self._state, self._buffer = "arguments", ""

    def _track(self, char: str) -> None:
        """Follow JSON nesting so the end of the arguments value is known."""
        if self._in_string:
            if self._escaped:
                self._escaped = False
            elif char == "\\":
                self._escaped = True
            elif char == '"':
                self._in_string = False
        elif char == '"':
            self._in_string = True
        elif char in "{[":
            self._depth += 1
        elif char in "}]":
            self._depth -= 1


def _merge(events: list[SplitEvent]) -> list[SplitEvent]:
    """Join consecutive argument characters of one call into one piece."""
    merged: list[SplitEvent] = []
    for event in events:
        last = merged[-1] if merged else None
        if (
            isinstance(event, CallArguments)
            and isinstance(last, CallArguments)
            and last.index == event.index
        ):
            merged[-1] = CallArguments(event.index, last.text + event.text)
        else:
            merged.append(event)
    return merged


class RepeatGuard:
    """Passes calls on, and notices when the model starts repeating itself.

    A small model, allowed several calls, tends to write the same call again and again until
    its budget runs out. A call identical to an earlier one (same tool, same arguments) means
    the list is finished: it is dropped and :attr:`repeated` tells the caller to stop.
    The first call streams live; later ones are held until complete, since only then is it
    known whether they repeat (a later call the token budget cuts short is never passed on).
    """

    def __init__(self) -> None:
        self.repeated = False
        self.completed = 0
        """Calls passed on whole."""
        self._seen: set[tuple[str, str]] = set()
        self._held: list[CallStarted | CallArguments] = []
        self._name = ""
        self._arguments = ""

    def accept(self, event: SplitEvent) -> list[CallStarted | CallArguments]:
        """The events to pass on now (possibly none)."""
        if isinstance(event, CallEnded):
            key = (self._name, _canonical(self._arguments))
            if key in self._seen:
                self.repeated = True
                self._held.clear()
                return []
            self._seen.add(key)
            self.completed += 1
            released, self._held = self._held, []
            return released
        if isinstance(event, CallStarted):
            self._name, self._arguments = event.name, ""
        else:
            self._arguments += event.text
        if event.index == 0:
            return [event]
        self._held.append(event)
        return []


def _canonical(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), sort_keys=True)
    except ValueError:
        return arguments
