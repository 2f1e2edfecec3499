"""Chat messages: typed shapes for callers, helpers to build them, and their validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, Required, TypedDict

import msgspec

from chatlane.core.errors import RequestValidationError
from chatlane.core.types import Message

__all__ = [
    "AssistantMessageParam",
    "ContentPart",
    "MessageParam",
    "SystemMessageParam",
    "ToolMessageParam",
    "UserMessageParam",
    "assistant",
    "image_part",
    "message_param",
    "system",
    "text_part",
    "tool_result",
    "user",
    "validate_messages",
]


class TextPart(TypedDict):
    type: Literal["text"]
    text: str


class ImageURL(TypedDict, total=False):
    url: Required[str]
    detail: Literal["auto", "low", "high"]


class ImagePart(TypedDict):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = TextPart | ImagePart


class SystemMessageParam(TypedDict):
    role: Literal["system", "developer"]
    content: str | list[TextPart]
    name: NotRequired[str]


class UserMessageParam(TypedDict):
    role: Literal["user"]
    content: str | list[ContentPart]
    name: NotRequired[str]


class FunctionCallParam(TypedDict):
    name: str
    arguments: str


class ToolCallParam(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCallParam


class AssistantMessageParam(TypedDict, total=False):
    role: Required[Literal["assistant"]]
    content: str | list[TextPart] | None
    tool_calls: list[ToolCallParam]
    refusal: str | None
    name: str
    prefix: bool  # Mistral: continue from this partial assistant message


class ToolMessageParam(TypedDict):
    role: Literal["tool"]
    tool_call_id: str
    content: str | list[TextPart]


MessageParam = (
    SystemMessageParam
    | UserMessageParam
    | AssistantMessageParam
    | ToolMessageParam
    | Message
    | Mapping[str, Any]
)
"""A message as a caller gives it: one of the typed dicts, a returned ``Message``, or any
mapping of the same shape (validated before sending)."""


def system(content: str) -> SystemMessageParam:
    return {"role": "system", "content": content}


def user(content: str | list[ContentPart]) -> UserMessageParam:
    return {"role": "user", "content": content}


def assistant(
    content: str | None = None, *, tool_calls: Sequence[ToolCallParam] | None = None
) -> AssistantMessageParam:
    """An assistant message; with tool calls and no text, content is "" (see ``message_param``)."""
    if content is None and tool_calls:
        content = TOOL_CALL_CONTENT
    message: AssistantMessageParam = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = list(tool_calls)
    return message


def tool_result(tool_call_id: str, content: str) -> ToolMessageParam:
    return {"role": "tool", "tool_call_id": tool_call_id, "content": content}


def text_part(text: str) -> TextPart:
    return {"type": "text", "text": text}


def image_part(url: str, detail: Literal["auto", "low", "high"] = "auto") -> ImagePart:
    return {"type": "image_url", "image_url": {"url": url, "detail": detail}}


TOOL_CALL_CONTENT = ""
"""Content of an assistant message that has tool calls and no text, as chatlane sends it.

OpenAI documents null and "" as equal there, and so do the hosted OpenAI-compatible APIs;
llama-cpp-python's server (and chat templates that concatenate ``message["content"]``)
reject null and a missing key, so "" is the value every OpenAI-compatible server accepts.
Anthropic's native API rejects empty text blocks, so a dialect may ask for null instead
(``WireDialect.tool_call_content``).
"""


def message_param(
    message: Message, *, tool_call_content: str | None = TOOL_CALL_CONTENT
) -> dict[str, Any]:
    """A returned ``Message`` as the mapping that is sent: role, content and each call's type
    always present (``Message`` encodes without its defaults, which would drop them)."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        if message.content is None:
            out["content"] = tool_call_content
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": call.type,
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls
        ]
    for key in ("refusal", "reasoning_content", "reasoning", "reasoning_details"):
        value = getattr(message, key)
        if value is not None:
            out[key] = value
    return out


_INT64 = (-(2**63), 2**63 - 1)


def json_value_error(
    value: Any, path: str, *, strings: bool = False
) -> RequestValidationError | None:
    """The error for the first part of ``value`` that is not plain JSON, or None.

    Integers must fit in int64 and floats be finite (providers parse them so; msgspec would
    send NaN as null and bytes as base64); keys must be strings. With ``strings``, strings
    must also encode as UTF-8 (no lone surrogates).
    """
    kind = type(value)
    if value is None or kind is bool:
        return None
    if kind is str:
        if strings:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return RequestValidationError(
                    f"{path}: is not valid Unicode (it holds a lone surrogate)", field=path
                )
        return None
    if kind is int:
        if not _INT64[0] <= value <= _INT64[1]:
            return RequestValidationError(
                f"{path}: integer {value} is out of range (it must fit in 64 bits)", field=path
            )
        return None
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            return RequestValidationError(
                f"{path}: must be a finite number, got {value!r}", field=path
            )
        return None
    if kind is list or kind is tuple:
        for index, item in enumerate(value):
            error = json_value_error(item, f"{path}[{index}]", strings=strings)
            if error is not None:
                return error
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if type(key) is not str:
                return RequestValidationError(
                    f"{path}: keys must be strings, got {key!r}", field=path
                )
            error = json_value_error(item, f"{path}.{key}", strings=strings)
            if error is not None:
                return error
        return None
    return RequestValidationError(
        f"{path}: must be a JSON value, got {type(value).__name__}", field=path
    )


# Validation schema: strict shapes checked by msgspec; unknown keys pass (providers add some).
class _Text(msgspec.Struct, tag_field="type", tag="text"):
    text: str


class _ImageURL(msgspec.Struct):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class _Image(msgspec.Struct, tag_field="type", tag="image_url"):
    image_url: _ImageURL


class _InputAudio(msgspec.Struct, tag_field="type", tag="input_audio"):
    input_audio: dict[str, Any]


class _File(msgspec.Struct, tag_field="type", tag="file"):
    file: dict[str, Any]


_UserPart = _Text | _Image | _InputAudio | _File


class _Function(msgspec.Struct):
    name: str
    arguments: str


class _ToolCall(msgspec.Struct):
    id: str
    function: _Function
    type: Literal["function"] = "function"


class _System(msgspec.Struct, tag_field="role", tag="system"):
    content: str | list[_Text]
    name: str | None = None


class _Developer(msgspec.Struct, tag_field="role", tag="developer"):
    content: str | list[_Text]
    name: str | None = None


class _User(msgspec.Struct, tag_field="role", tag="user"):
    content: str | list[_UserPart]
    name: str | None = None


class _Assistant(msgspec.Struct, tag_field="role", tag="assistant"):
    content: str | list[_Text] | None = None
    tool_calls: list[_ToolCall] | None = None
    refusal: str | None = None
    name: str | None = None
    prefix: bool | None = None


class _Tool(msgspec.Struct, tag_field="role", tag="tool"):
    tool_call_id: str
    content: str | list[_Text]


_AnyMessage = _System | _Developer | _User | _Assistant | _Tool
_ROLES = "system, developer, user, assistant, tool"
_PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})


def _field_path(index: int, msgspec_error: str) -> tuple[str, str]:
    """Rewrite msgspec's "... - at `$.x`" into a message and a field path under messages[i]."""
    text, _, where = msgspec_error.partition(" - at `$")
    path = f"messages[{index}]{where.rstrip('`')}"
    missing = text.partition("missing required field `")[2].rstrip("`")
    if missing:
        path = f"{path}.{missing}"
    return text, path


def _unanswered(index: int, calls: set[str]) -> RequestValidationError:
    ids = ", ".join(sorted(calls))
    return RequestValidationError(
        f"messages[{index}]: tool calls {ids} have no results yet: every tool call of an"
        " assistant message needs its tool message before the conversation goes on",
        field=f"messages[{index}]",
    )


def validate_messages(messages: Sequence[MessageParam]) -> None:
    """Raise ``RequestValidationError`` naming the first malformed message field.

    Tool messages must answer calls of the assistant message before them, and every call
    must be answered before another kind of message follows (providers reject both); a
    conversation may end with calls still open.
    """
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):  # type: ignore[unreachable]
        raise RequestValidationError("messages must be a list of messages", field="messages")
    if not messages:
        raise RequestValidationError("messages must not be empty", field="messages")
    open_calls: set[str] = set()  # the calls tool messages may answer now
    unanswered: set[str] = set()  # those of them not answered yet
    for index, message in enumerate(messages):
        if isinstance(message, Message):
            message = message_param(message)  # checked as what is sent, like any mapping
        if (
            type(message) is dict
            and len(message) == 2
            and type(message.get("content")) is str
            and type(message.get("role")) is str
            and message["role"] in _PLAIN_ROLES
        ):
            if unanswered:
                raise _unanswered(index, unanswered)
            open_calls = set()  # the common case, checked without the schema: role + text
            continue
        if not isinstance(message, Mapping):
            raise RequestValidationError(
                f"messages[{index}] must be a mapping or a Message, not {type(message).__name__}",
                field=f"messages[{index}]",
            )
        try:
            checked = msgspec.convert(message, _AnyMessage, strict=True)
        except msgspec.ValidationError as exc:
            text = str(exc)
            if (
                "Invalid value" in text and "`$.role`" in text
            ) or "missing required field `role`" in text:
                raise RequestValidationError(
                    f"messages[{index}].role must be one of: {_ROLES}",
                    field=f"messages[{index}].role",
                ) from None
            reason, path = _field_path(index, text)
            raise RequestValidationError(f"{path}: {reason}", field=path) from None
        error = json_value_error(message, f"messages[{index}]")  # the keys the schema passes
        if error is not None:
            raise error
        if isinstance(checked, _Tool):
            if checked.tool_call_id not in open_calls:
                raise RequestValidationError(
                    f"messages[{index}].tool_call_id {checked.tool_call_id!r} answers no tool call"
                    " of the preceding assistant message",
                    field=f"messages[{index}].tool_call_id",
                )
            unanswered.discard(checked.tool_call_id)
            continue
        if unanswered:
            raise _unanswered(index, unanswered)
        open_calls = set()
        if isinstance(checked, _Assistant):
            for position, call in enumerate(checked.tool_calls or ()):
                if call.id in open_calls:
                    where = f"messages[{index}].tool_calls[{position}].id"
                    raise RequestValidationError(
                        f"{where}: duplicate tool call id {call.id!r} in one assistant message",
                        field=where,
                    )
                open_calls.add(call.id)
            unanswered = set(open_calls)
            if checked.content is None and not checked.tool_calls:
                raise RequestValidationError(
                    f"messages[{index}]: an assistant message needs content or tool_calls",
                    field=f"messages[{index}].content",
                )
