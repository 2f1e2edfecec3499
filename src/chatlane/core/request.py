"""Validate chat parameters and build the request body, before any network call. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, Required, TypedDict

import msgspec

from chatlane.core.errors import RequestValidationError
from chatlane.core.headers import name_problem, value_problem
from chatlane.core.messages import (
    TOOL_CALL_CONTENT,
    MessageParam,
    json_value_error,
    message_param,
    validate_messages,
)
from chatlane.core.timeouts import Timeout
from chatlane.core.types import Message

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
    timeout: float | Timeout | None
    """Override the client's total timeout for this call, in seconds."""
    cache: bool | None
    """False: bypass the client's cache; True: cache this answer even if sampled."""
    budget: Any
    """A ``chatlane.Budget`` (or a list of them) this call counts against too."""
    fallbacks: Sequence[str] | None
    """``provider/model`` targets to try in order when this call's model fails."""


# Keys of ChatParams that steer the client and are not part of the body.
CLIENT_KEYS = frozenset(
    {"extra_body", "extra_headers", "provider", "timeout", "cache", "budget", "fallbacks"}
)
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
    max_stop: int | None = 4
    """How many ``stop`` sequences the provider takes (OpenAI documents at most 4); None: any."""
    tool_call_content: str | None = TOOL_CALL_CONTENT
    """Content sent for a returned ``Message`` with tool calls and no text ("" or None)."""
    fill_tool_call_content: bool = False
    """The provider refuses null content beside tool calls: a caller's own dicts get
    ``tool_call_content`` too (otherwise dicts are sent exactly as given)."""


_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}
_POSITIVE_INTS = ("max_tokens", "max_completion_tokens", "n")
_INTS = ("seed", "random_seed", "top_logprobs")
_BOOLS = ("parallel_tool_calls", "logprobs", "safe_prompt")
_STRINGS = ("user", "provider")
_INT64 = (-(2**63), 2**63 - 1)
_MAX_TOP_LOGPROBS = 20
_KNOWN = frozenset(ChatParams.__annotations__)
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
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
        if value is not None and (type(value) is not int or not 1 <= value <= _INT64[1]):
            raise _fail(name, f"must be a positive integer within 64 bits, got {value!r}")
    for name in _INTS:
        value = params.get(name)
        if value is not None and (type(value) is not int or not _INT64[0] <= value <= _INT64[1]):
            raise _fail(name, f"must be an integer within 64 bits, got {value!r}")
    for name in _BOOLS:
        value = params.get(name)
        if value is not None and type(value) is not bool:
            raise _fail(name, f"must be true or false, got {value!r}")
    for name in _STRINGS:
        value = params.get(name)
        if value is not None and type(value) is not str:
            raise _fail(name, f"must be a string, got {type(value).__name__}")
    top_logprobs = params.get("top_logprobs")
    if top_logprobs is not None:
        if not 0 <= top_logprobs <= _MAX_TOP_LOGPROBS:
            raise _fail("top_logprobs", f"must be between 0 and 20, got {top_logprobs}")
        if params.get("logprobs") is not True:
            raise _fail("top_logprobs", "needs logprobs=True")
    if params.get("cache") not in (None, True, False):
        raise _fail("cache", f"must be True, False or None, got {params['cache']!r:.40}")
    fallbacks = params.get("fallbacks")
    if fallbacks is not None and (
        isinstance(fallbacks, str)
        or not isinstance(fallbacks, Sequence)
        or not all(isinstance(target, str) and target.strip() for target in fallbacks)
    ):
        raise _fail("fallbacks", "must be a list of 'provider/model' strings")
    if params.get("prompt_mode") not in (None, "reasoning"):
        raise _fail("prompt_mode", f'must be "reasoning", got {params["prompt_mode"]!r}')
    timeout = params.get("timeout")
    if (
        timeout is not None
        and not isinstance(timeout, Timeout)
        and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout < float("inf")
        )
    ):
        raise _fail(
            "timeout", f"must be a positive number of seconds or a Timeout, got {timeout!r}"
        )
    headers = params.get("extra_headers")
    if headers is not None:
        _check_headers(headers)
    extra = params.get("extra_body")
    if extra is not None and not isinstance(extra, Mapping):
        raise _fail("extra_body", f"must be a mapping, got {type(extra).__name__}")


def _check_headers(headers: Any) -> None:
    """Each name a header name, each value sendable as is; the error never shows a value."""
    if not isinstance(headers, Mapping):
        raise _fail("extra_headers", "must be a mapping of header names to string values")
    for name, value in headers.items():
        problem = name_problem(name)
        if problem is not None:
            raise _fail("extra_headers", f"{name!r:.60} {problem}")
        problem = value_problem(value)
        if problem is not None:
            del value, headers  # a traceback formatted with its locals shows them
            raise _fail(f"extra_headers[{name!r}]", f"the value {problem}")


def _check_stop(stop: Any, limit: int | None) -> None:
    if isinstance(stop, str):
        return
    if isinstance(stop, bytes | Mapping) or not isinstance(stop, Sequence):
        raise _fail("stop", "must be a string or a list of strings")
    for index, item in enumerate(stop):
        if type(item) is not str:
            raise _fail(
                f"stop[{index}]", f"must be a string (stop must be a list of strings), got {item!r}"
            )
    if limit is not None and len(stop) > limit:
        raise _fail("stop", f"at most {limit} stop sequences are allowed, got {len(stop)}")


def _check_stream_options(value: Any, stream: bool | None) -> None:
    if stream is False:
        raise _fail("stream_options", "is only allowed when streaming (stream())")
    if not isinstance(value, Mapping):
        raise _fail("stream_options", f"must be an object, got {type(value).__name__}")
    for key, item in value.items():
        if type(item) is not bool:
            raise _fail(f"stream_options.{key}", f"must be true or false, got {item!r}")


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
        description = function.get("description")
        if description is not None and type(description) is not str:
            raise _fail(f"{where}.function.description", "must be a string")
        strict = function.get("strict")
        if strict is not None and type(strict) is not bool:
            raise _fail(f"{where}.function.strict", f"must be true or false, got {strict!r}")
        error = json_value_error(tool, where)
        if error is not None:
            raise error
        names.add(name)
    return names


def _check_tool_choice(choice: Any, names: set[str]) -> None:
    if choice in ("none", "auto", "required"):
        if choice == "required" and not names:
            raise _fail("tool_choice", '"required" needs tools')
        return
    if isinstance(choice, Mapping) and choice.get("type", "function") == "function":
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
        if not _TOOL_NAME.match(spec["name"]):
            raise _fail(
                "response_format.json_schema.name",
                f"must match [A-Za-z0-9_-]{{1,64}}, got {spec['name']!r}",
            )
        if not isinstance(spec.get("schema", {}), Mapping):
            raise _fail("response_format.json_schema.schema", "must be a JSON schema object")
        strict = spec.get("strict")
        if strict is not None and type(strict) is not bool:
            raise _fail(
                "response_format.json_schema.strict", f"must be true or false, got {strict!r}"
            )
    error = json_value_error(value, "response_format")
    if error is not None:
        raise error


def validate(
    params: Mapping[str, Any], *, stream: bool | None = None, dialect: WireDialect | None = None
) -> None:
    """Raise ``RequestValidationError`` for the first malformed parameter.

    ``stream`` (when known) rules ``stream_options`` in or out; ``dialect`` adds the
    provider's own limits (the number of stop sequences).
    """
    if not isinstance(params, Mapping):
        raise RequestValidationError("parameters must be a mapping", field=None)
    unknown = params.keys() - _KNOWN
    if unknown:
        ordered = sorted(map(str, unknown))
        raise RequestValidationError(
            f"unknown parameter(s): {', '.join(ordered)}; pass provider-specific fields in"
            " extra_body",
            field=ordered[0],
        )
    model = params.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _fail("model", "is required (a non-empty string)")
    validate_messages(params.get("messages", ()))
    _check_scalars(params)
    if params.get("stop") is not None:
        _check_stop(params["stop"], (dialect or _DEFAULT_DIALECT).max_stop)
    if params.get("stream_options") is not None:
        _check_stream_options(params["stream_options"], stream)
    tools = params.get("tools")
    names: set[str] = _tool_names(tools) if tools is not None else set()
    if params.get("tool_choice") is not None:
        _check_tool_choice(params["tool_choice"], names)
    if params.get("response_format") is not None:
        _check_response_format(params["response_format"])
    extra = params.get("extra_body")
    if extra:
        error = json_value_error(extra, "extra_body")
        if error is not None:
            raise error


_DEFAULT_DIALECT = WireDialect()


def _filled(message: Mapping[str, Any], content: str | None) -> Mapping[str, Any]:
    if (
        message.get("role") == "assistant"
        and message.get("tool_calls")
        and message.get("content") is None
    ):
        return {**message, "content": content}
    return message


def build_body(
    params: Mapping[str, Any], *, model: str, dialect: WireDialect, stream: bool
) -> bytes:
    """Validate ``params`` and encode the JSON body for ``model`` (the provider's own name)."""
    validate(params, stream=stream, dialect=dialect)
    body: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or key in CLIENT_KEYS or key in dialect.drop:
            continue
        body[dialect.rename.get(key, key)] = value
    messages = body.get("messages")
    fill = dialect.fill_tool_call_content
    if messages is not None and (fill or any(isinstance(m, Message) for m in messages)):
        content = dialect.tool_call_content
        body["messages"] = [
            message_param(m, tool_call_content=content)
            if isinstance(m, Message)
            else _filled(m, content)
            if fill
            else m
            for m in messages
        ]
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
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
        # Strings with lone surrogates are found here (checking every string up front would
        # cost a pass over the whole conversation); name the field that holds one.
        for key, value in body.items():
            where = f"extra_body.{key}" if extra and key in extra else key
            error = json_value_error(value, where, strings=True)
            if error is not None:
                raise error from None
        raise RequestValidationError(f"request is not JSON-serializable: {exc}") from None
