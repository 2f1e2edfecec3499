"""A conversation's history, kept as plain message dicts and saved to or loaded from JSON.

::

    chat = Conversation(system="Be brief.")
    chat.add_user("What time is it in Tokyo?")
    chat.add(completion.assistant_message())      # a returned Message is stored as a dict
    chat.save("chat.json");  Conversation.load("chat.json")

A returned ``Message`` is stored with what a request may carry back: ``role``,
``content`` and ``tool_calls``. Reasoning text (``reasoning_content`` and the like) is left out,
because some providers (DeepSeek) reject it in a request.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from chatlane.core.errors import RequestValidationError, UsageError
from chatlane.core.messages import MessageParam, validate_messages
from chatlane.core.types import Message

__all__ = ["Conversation", "ConversationFormatError"]

_FORMAT = "chatlane.conversation"
_VERSION = 1


class ConversationFormatError(UsageError, ValueError):
    """A saved conversation could not be read: not JSON, or not a list of valid messages."""


def _renumbered(error: RequestValidationError, offset: int) -> RequestValidationError:
    """The error with ``messages[i]`` counted in the whole conversation, not the checked tail."""

    def shift(text: str) -> str:
        return re.sub(r"messages\[(\d+)\]", lambda m: f"messages[{int(m[1]) + offset}]", text)

    field = shift(error.field) if error.field is not None else None
    return RequestValidationError(shift(error.message), field=field)


def _as_dict(message: MessageParam) -> dict[str, Any]:
    if isinstance(message, Message):
        # Spelled out: the struct omits fields equal to their defaults (role, type).
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.tool_calls:
            item["tool_calls"] = [
                {
                    "id": call.id,
                    "type": call.type,
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
                for call in message.tool_calls
            ]
        return item
    if not isinstance(message, Mapping):
        raise UsageError(f"a message must be a mapping or a Message, not {type(message).__name__}")
    return dict(message)


class Conversation:
    """The messages of one conversation, oldest first.

    ``messages`` is the live list; :meth:`add` checks each message as it comes in, so a
    malformed one is refused with the field it gets wrong and the history stays valid.
    """

    def __init__(self, messages: Iterable[MessageParam] = (), *, system: str | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        if system is not None:
            self.add({"role": "system", "content": system})
        for message in messages:
            self.add(message)

    def __repr__(self) -> str:
        return f"<Conversation of {len(self.messages)} messages>"

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.messages)

    def add(self, message: MessageParam) -> None:
        """Append a message (a dict, a helper's result or a returned ``Message``)."""
        item = _as_dict(message)
        # Checked with the open tool turn before it: a tool result must answer one of its
        # calls, and nothing else may follow until all are answered.
        context = self._open_tool_turn()
        try:
            validate_messages([*context, item])
        except RequestValidationError as exc:
            raise _renumbered(exc, len(self.messages) - len(context)) from None
        self.messages.append(item)

    def add_user(self, content: str) -> None:
        self.add({"role": "user", "content": content})

    def reset(self, *, keep_system: bool = True) -> None:
        """Forget the history; system messages stay unless ``keep_system=False``."""
        kept = [m for m in self.messages if m.get("role") in ("system", "developer")]
        self.messages = kept if keep_system else []

    def copy(self) -> Conversation:
        twin = Conversation()
        twin.messages = [dict(message) for message in self.messages]
        return twin

    @property
    def last_text(self) -> str | None:
        """The text of the last assistant message, if the last message is one."""
        if self.messages and self.messages[-1].get("role") == "assistant":
            content = self.messages[-1].get("content")
            return content if isinstance(content, str) else None
        return None

    def to_json(self) -> str:
        document = {"format": _FORMAT, "version": _VERSION, "messages": self.messages}
        return json.dumps(document, ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> Conversation:
        """Read what :meth:`to_json` wrote (or a bare JSON list of messages)."""
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ConversationFormatError(f"not a saved conversation: {exc}") from None
        messages = document.get("messages") if isinstance(document, dict) else document
        if isinstance(document, dict) and document.get("format", _FORMAT) != _FORMAT:
            raise ConversationFormatError(
                f"not a saved conversation: format is {document.get('format')!r}"
            )
        if not isinstance(messages, list):
            raise ConversationFormatError("not a saved conversation: no list of messages")
        conversation = cls()
        for index, message in enumerate(messages):
            try:
                conversation.add(message)
            except UsageError as exc:
                raise ConversationFormatError(
                    f"invalid saved conversation: message {index}: {exc}"
                ) from None
        return conversation

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the conversation as JSON (UTF-8), replacing the file atomically."""
        target = os.fspath(path)
        partial = f"{target}.partial"
        try:
            with open(partial, "w", encoding="utf-8") as file:
                file.write(self.to_json())
            os.replace(partial, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(partial)  # a failed save leaves nothing behind
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Conversation:
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except OSError as exc:
            raise ConversationFormatError(
                f"cannot read {os.fspath(path)}: {exc.strerror or exc}"
            ) from None
        return cls.from_json(text)

    def _open_tool_turn(self) -> list[dict[str, Any]]:
        """The trailing assistant message with tool calls and the results after it, if the
        history ends that way: what a new tool result must answer."""
        for start in range(len(self.messages) - 1, -1, -1):
            if self.messages[start].get("role") != "tool":
                return self.messages[start:] if self.messages[start].get("tool_calls") else []
        return []
