"""Conversation: history that stays valid, saved and loaded as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

import chatlane
from chatlane import Conversation, ConversationFormatError


def assistant_calling(*ids: str) -> chatlane.Message:
    calls = [
        {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for call_id in ids
    ]
    return msgspec.convert(
        {"role": "assistant", "content": None, "tool_calls": calls, "reasoning_content": "hm"},
        chatlane.Message,
    )


def test_a_returned_message_is_stored_as_a_request_ready_dict() -> None:
    chat = Conversation(system="Be brief.")
    chat.add_user("Weather?")
    chat.add(assistant_calling("a"))
    chat.add(chatlane.tool_result("a", "sunny"))
    chat.add({"role": "assistant", "content": "Sunny."})
    stored = chat.messages[2]
    assert stored == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }  # reasoning text is not sent back: some providers reject it
    assert chat.last_text == "Sunny."
    assert len(chat) == 5


def test_malformed_messages_are_refused_and_the_history_is_unchanged() -> None:
    chat = Conversation()
    with pytest.raises(chatlane.RequestValidationError, match="role"):
        chat.add({"content": "no role"})
    with pytest.raises(chatlane.RequestValidationError, match="answers no tool call"):
        chat.add(chatlane.tool_result("nobody", "x"))
    with pytest.raises(chatlane.UsageError, match="must be a mapping"):
        chat.add("just text")  # type: ignore[arg-type]
    assert chat.messages == []


def test_the_conversation_cannot_go_on_while_tool_calls_are_unanswered() -> None:
    chat = Conversation()
    chat.add_user("Two cities?")
    chat.add(assistant_calling("a", "b"))
    chat.add(chatlane.tool_result("a", "sunny"))
    with pytest.raises(chatlane.RequestValidationError, match="tool calls b have no results yet"):
        chat.add_user("And?")
    with pytest.raises(chatlane.RequestValidationError) as caught:
        chat.add({"role": "tool", "tool_call_id": "zz", "content": "?"})
    assert caught.value.field == "messages[3].tool_call_id"  # counted in the whole history
    chat.add(chatlane.tool_result("b", "rain"))
    chat.add_user("And?")
    assert [m["role"] for m in chat] == ["user", "assistant", "tool", "tool", "user"]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    chat = Conversation(system="Be brief.")
    chat.add_user("Grüß dich")
    chat.add(assistant_calling("a"))
    chat.add(chatlane.tool_result("a", "42"))
    path = tmp_path / "chat.json"
    chat.save(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "chatlane.conversation"
    assert document["version"] == 1
    loaded = Conversation.load(path)
    assert loaded.messages == chat.messages
    assert not (tmp_path / "chat.json.partial").exists()
    # a bare list of messages loads too
    bare = Conversation.from_json(json.dumps(chat.messages))
    assert bare.messages == chat.messages


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not a saved conversation: Expecting property name"),
        ('{"format": "other", "messages": []}', "format is 'other'"),
        ('{"messages": 3}', "no list of messages"),
        ('[{"role": "user"}]', "message 0:"),
        (
            '[{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "x",'
            ' "content": "y"}]',
            "message 1:",
        ),
    ],
)
def test_a_bad_file_is_a_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ConversationFormatError) as caught:
        Conversation.load(path)
    assert problem in str(caught.value)


def test_a_failed_save_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    with pytest.raises(IsADirectoryError):
        Conversation(system="s").save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConversationFormatError, match=r"cannot read .*missing\.json: No such file"):
        Conversation.load(tmp_path / "missing.json")


def test_reset_keeps_the_system_message_unless_told() -> None:
    chat = Conversation(system="Be brief.")
    chat.add_user("hi")
    twin = chat.copy()
    chat.reset()
    assert chat.messages == [{"role": "system", "content": "Be brief."}]
    chat.reset(keep_system=False)
    assert chat.messages == []
    assert len(twin) == 2  # a copy does not share the history
