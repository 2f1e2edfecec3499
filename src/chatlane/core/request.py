"""Validate chat parameters and build the request body, before any network call. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, Required, TypedDict

import msgspec

from chatlane.core.errors import RequestValidationError
from chatlane.core.messages import MessageParam, validate_messages

__all__ = [
    "ChatParams",
    "FunctionToolParam",
    "ResponseFormatParam",
    "StreamOptionsParam",
    "ToolChoiceParam",
    "WireDialect",
    "build_body",
]


class FunctionDefinitionParam(TypedDict, total=False):
    name: Required[str]
    description: str
    parameters: Mapping[str, Any]
    strict: bool


class FunctionToolParam(TypedDict):
    type: Literal["function"]
    function: FunctionDefinitionParam


class NamedFunctionParam(TypedDict):
    name: str


class NamedToolChoiceParam(TypedDict):
    type: Literal["function"]
    function: NamedFunctionParam


ToolChoiceParam = Literal["none", "auto", "required"] | NamedToolChoiceParam


class JSONSchemaParam(TypedDict, total=False):
    name: Required[str]
    schema: Mapping[str, Any]
    strict: bool
    description: str


class ResponseFormatParam(TypedDict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: NotRequired[JSONSchemaParam]


class StreamOptionsParam(TypedDict, total=False):
    include_usage: bool


class ChatParams(TypedDict, total=False):
    """Keyword arguments of ``chat()`` and ``stream()`` (sync and async alike).

    ``None`` means "not set": the field is not sent.
    """

    model: Required[str]
    messages: Required[Sequence[MessageParam]]
    tools: Sequence[FunctionToolParam | Mapping[str, Any]] | None
    tool_choice: ToolChoiceParam | None
    parallel_tool_calls: bool | None
    response_format: ResponseFormatParam | Mapping[str, Any] | None
    max_tokens: int | None
    max_completion_tokens: int | None
    temperature: float | None
    top_p: float | None
    frequency_penalty: float | None
    presence_penalty: float | None
    n: int | None
    stop: str | Sequence[str] | None
    seed: int | None
    logprobs: bool | None
    top_logprobs: int | None
    user: str | None
    stream_options: StreamOptionsParam | None
    # Mistral's own fields; other providers do not receive them (random_seed becomes seed).
    safe_prompt: bool | None
    random_seed: int | None
    prompt_mode: Literal["reasoning"] | None
    # Escape hatches, sent as given.
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    provider: str | None
    """Route this call to a named provider (instead of a "provider/" prefix on the model)."""
    timeout: float | None
    """Override the client's total timeout for this call, in seconds."""


# Keys of ChatParams that steer the client and are not part of the body.
CLIENT_KEYS = frozenset({"extra_body", "extra_headers", "provider", "timeout"})
_MISTRAL_ONLY = frozenset({"safe_prompt", "prompt_mode"})


@dataclass(frozen=True, slots=True)
class WireDialect:
    """How a provider's request body differs from OpenAI's."""

    drop: frozenset[str] = _MISTRAL_ONLY
    """Parameters the provider rejects: not sent."""
    rename: Mapping[str, str] = field(default_factory=lambda: {"random_seed": "seed"})
    """Parameters the provider knows under another name."""
    stream_usage: bool = True
    """Whether ``stream_options.include_usage`` is understood (and so sent by default)."""


_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}
_POSITIVE_INTS = ("max_tokens", "max_completion_tokens", "n")
_INTS = ("seed", "random_seed", "top_logprobs")
_BOOLS = ("parallel_tool_calls", "logprobs", "safe_prompt")
_KNOWN = frozenset(ChatParams.__annotations__)
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FORMAT_TYPES = ("text", "json_object", "json_schema")

_encode = msgspec.json.Encoder().encode


def _fail(field_name: str, message: str) -> RequestValidationError:
    return RequestValidationError(f"{field_name}: {message}", field=field_name)


def _check_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(name, f"must be a number, got {type(value).__name__}")
    low, high = _RANGES[name]
    if not low <= value <= high:
        raise _fail(name, f"must be between {low:g} and {high:g}, got {value!r}")


def _check_scalars(params: Mapping[str, Any]) -> None:
    for name in _RANGES:
        if name in params and params[name] is not None:
            _check_number(name, params[name])
    for name in _POSITIVE_INTS:
        value = params.get(name)
        if value is not None and (type(value) is not int or value < 1):
            raise _fail(name, f"must be a positive integer, got {value!r}")
    for name in _INTS:
        value = params.get(name)
        if value is not None and type(value) is not int:
            raise _fail(name, f"must be an integer, got {value!r}")
    for name in _BOOLS:
        value = params.get(name)
        if value is not None and type(value) is not bool:
            raise _fail(name, f"must be true or false, got {value!r}")
    stop = params.get("stop")
    if (
        stop is not None
        and not isinstance(stop, str)
        and (not isinstance(stop, Sequence) or not all(isinstance(s, str) for s in stop))
    ):
        raise _fail("stop", "must be a string or a list of strings")


def _tool_names(tools: Any) -> set[str]:
    if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Sequence):
        raise _fail("tools", "must be a list of tool definitions")
    names: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, Mapping) or tool.get("type", "function") != "function":
            raise _fail(where, 'must be {"type": "function", "function": {...}}')
        function = tool.get("function")
        if not isinstance(function, Mapping):
            raise _fail(f"{where}.function", "is required")
        name = function.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise _fail(f"{where}.function.name", f"must match [A-Za-z0-9_-]{{1,64}}, got {name!r}")
        if name in names:
            raise _fail(f"{where}.function.name", f"duplicate tool name {name!r}")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise _fail(f"{where}.function.parameters", "must be a JSON schema object")
        names.add(name)
    return names


def _check_tool_choice(choice: Any, names: set[str]) -> None:
    if choice in ("none", "auto", "required"):
        if choice == "required" and not names:
            raise _fail("tool_choice", '"required" needs tools')
        return
    if isinstance(choice, Mapping):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if isinstance(name, str):
            if name not in names:
                raise _fail("tool_choice", f"names tool {name!r}, which is not in tools")
            return
    raise _fail(
        "tool_choice",
        'must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}',
    )


def _check_response_format(value: Any) -> None:
    if not isinstance(value, Mapping) or value.get("type") not in _FORMAT_TYPES:
        raise _fail("response_format", "type must be one of: text, json_object, json_schema")
    if value["type"] == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise _fail("response_format.json_schema.name", "is required for json_schema")
        if not isinstance(spec.get("schema", {}), Mapping):
            raise _fail("response_format.json_schema.schema", "must be a JSON schema object")


def validate(params: Mapping[str, Any]) -> None:
    """Raise ``RequestValidationError`` for the first malformed parameter."""
    unknown = params.keys() - _KNOWN
    if unknown:
        listed = ", ".join(sorted(unknown))
        raise RequestValidationError(
            f"unknown parameter(s): {listed}; pass provider-specific fields in extra_body",
            field=sorted(unknown)[0],
        )
    model = params.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _fail("model", "is required (a non-empty string)")
    validate_messages(params.get("messages", ()))
    _check_scalars(params)
    tools = params.get("tools")
    names: set[str] = _tool_names(tools) if tools is not None else set()
    if params.get("tool_choice") is not None:
        _check_tool_choice(params["tool_choice"], names)
    if params.get("response_format") is not None:
        _check_response_format(params["response_format"])


def build_body(
    params: Mapping[str, Any], *, model: str, dialect: WireDialect, stream: bool
) -> bytes:
    """Validate ``params`` and encode the JSON body for ``model`` (the provider's own name)."""
    validate(params)
    body: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or key in CLIENT_KEYS or key in dialect.drop:
            continue
        body[dialect.rename.get(key, key)] = value
    body["model"] = model
    if stream:
        body["stream"] = True
        if dialect.stream_usage and "stream_options" not in body:
            body["stream_options"] = {"include_usage": True}
    extra = params.get("extra_body")
    if extra:
        body.update(extra)
    try:
        return _encode(body)
    except (TypeError, msgspec.EncodeError) as exc:
        raise RequestValidationError(f"request is not JSON-serializable: {exc}") from None
