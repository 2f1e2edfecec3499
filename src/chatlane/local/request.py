"""Read an OpenAI Chat Completions request body into a checked, typed :class:`ChatRequest`.

Everything a client can get wrong is found here, before the model is touched, and reported
as a 400 :class:`LocalEngineError` naming the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chatlane.local.errors import LocalEngineError

__all__ = [
    "ChatRequest",
    "Message",
    "ToolCallRecord",
    "ToolSpec",
    "parse_messages",
    "parse_request",
]

ToolMode = Literal["none", "auto", "required", "named"]

# SmolLM2's model card samples at temperature 0.2 / top_p 0.9; OpenAI's defaults of 1.0 make
# a 135M model ramble, so a request that does not choose gets the model's own recommendation.
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.9

_SUPPORTED = frozenset(
    {
        "messages", "model", "max_tokens", "max_completion_tokens", "temperature", "top_p",
        "seed", "stop", "n", "presence_penalty", "frequency_penalty", "response_format",
        "tools", "tool_choice", "parallel_tool_calls", "stream", "stream_options",
    }
)  # fmt: skip
# Harmless here: identity and storage hints, and Mistral's own switches (its random_seed
# is read as seed).
_IGNORED = frozenset(
    {"user", "metadata", "store", "service_tier", "safe_prompt", "prompt_mode", "random_seed"}
)
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _random_seed() -> int:
    return int.from_bytes(os.urandom(4), "little")


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """A tool call already made earlier in the conversation."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    """One message, content flattened to text."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCallRecord, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """The parts of a request the engine acts on."""

    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    seed: int = field(default_factory=_random_seed)
    reproducible: bool = False
    """True when the client asked for repeatable output (a seed, or temperature 0)."""
    stop: tuple[str, ...] = ()
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    json_schema: Mapping[str, Any] | None = None
    """Schema the content must match (``{"type": "object"}`` for json_object), or None."""
    tools: tuple[ToolSpec, ...] = ()
    tool_mode: ToolMode = "none"
    forced_tool: str | None = None
    parallel_tool_calls: bool = True
    include_usage: bool = False


def _bad(message: str, param: str | None, code: str | None = "invalid_value") -> LocalEngineError:
    return LocalEngineError(400, message, code=code, param=param)


def _unsupported(param: str, why: str = "is not supported by the local model") -> LocalEngineError:
    return LocalEngineError(400, f"{param} {why}", code="unsupported_parameter", param=param)


def _number(body: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(f"{name} must be a number from {low} to {high}", name)
    return float(value)


def _integer(body: Mapping[str, Any], name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _bad(f"{name} must be an integer >= {low}", name)
    return value


def parse_request(body: Mapping[str, Any]) -> ChatRequest:
    """Check ``body`` and return what the engine needs, or raise a 400 LocalEngineError."""
    if not isinstance(body, Mapping):
        raise _bad("the request body must be a JSON object", None, code="invalid_request")
    for name, value in body.items():
        if name in _SUPPORTED or name in _IGNORED or value is None:
            continue
        # Off switches (logprobs=false, logit_bias={}) ask for nothing; accept them.
        if name in {"logprobs", "top_logprobs", "logit_bias"} and not value:
            continue
        raise _unsupported(name)
    n = _integer(body, "n", 1)
    if n is not None and n != 1:
        raise _unsupported("n", "must be 1: the local model returns one choice")
    max_tokens = _integer(body, "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = _integer(body, "max_tokens", 1)
    seed = body.get("seed", body.get("random_seed"))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _bad("seed must be an integer", "seed")
    temperature = _number(body, "temperature", 0.0, 2.0)
    top_p = _number(body, "top_p", 0.0, 1.0)
    tools = _tools(body.get("tools"))
    mode, forced = _tool_choice(body.get("tool_choice"), tools)
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise _bad("parallel_tool_calls must be a boolean", "parallel_tool_calls")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise _bad("stream_options must be an object", "stream_options")
    return ChatRequest(
        messages=parse_messages(body.get("messages")),
        max_tokens=max_tokens,
        temperature=DEFAULT_TEMPERATURE if temperature is None else temperature,
        top_p=DEFAULT_TOP_P if top_p is None else top_p,
        seed=_random_seed() if seed is None else seed & 0xFFFFFFFF,
        reproducible=seed is not None or temperature == 0,
        stop=_stop(body.get("stop")),
        presence_penalty=_number(body, "presence_penalty", -2.0, 2.0) or 0.0,
        frequency_penalty=_number(body, "frequency_penalty", -2.0, 2.0) or 0.0,
        json_schema=_response_format(body.get("response_format")),
        tools=tools,
        tool_mode=mode,
        forced_tool=forced,
        parallel_tool_calls=parallel is not False,
        include_usage=bool(options and options.get("include_usage")),
    )


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise _bad("stop must be a string or a list of strings", "stop")
    if len(stops) > 4:
        raise _bad("stop takes at most 4 sequences", "stop")
    return tuple(s for s in stops if s)


def _text(content: Any, param: str) -> str:
    """Flatten string or text-part content; other part types are not for this model."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _bad("content must be a string or a list of content parts", param)
    texts: list[str] = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            texts.append(part["refusal"])  # an assistant's earlier refusal, as said
        elif kind in {"image_url", "input_image", "input_audio", "file", "audio"}:
            raise _unsupported(
                f"{param}[{i}]", f"is a {kind} part: the local model reads text only"
            )
        else:
            raise _bad("a content part must be {'type': 'text', 'text': str}", f"{param}[{i}]")
    return "\n".join(texts)


def parse_messages(value: Any) -> tuple[Message, ...]:
    """Check ``messages`` and flatten them to :class:`Message` (developer becomes system)."""
    if not isinstance(value, list) or not value:
        raise _bad("messages must be a non-empty list", "messages")
    out: list[Message] = []
    for i, raw in enumerate(value):
        param = f"messages[{i}]"
        role = raw.get("role") if isinstance(raw, Mapping) else None
        if role not in _ROLES:
            raise _bad(f"{param}.role must be one of {sorted(_ROLES)}", f"{param}.role")
        content = _text(raw.get("content"), f"{param}.content")
        if role in {"system", "developer"}:
            out.append(Message("system", content))
        elif role == "user":
            out.append(Message("user", content))
        elif role == "tool":
            call_id = raw.get("tool_call_id")
            if not isinstance(call_id, str):
                raise _bad("a tool message needs tool_call_id", f"{param}.tool_call_id")
            out.append(Message("tool", content, tool_call_id=call_id))
        else:
            calls = _past_calls(raw.get("tool_calls"), f"{param}.tool_calls")
            out.append(Message("assistant", content, tool_calls=calls))
    return tuple(out)


def _past_calls(value: Any, param: str) -> tuple[ToolCallRecord, ...]:
    if not value:
        return ()
    if not isinstance(value, list):
        raise _bad("tool_calls must be a list", param)
    calls: list[ToolCallRecord] = []
    for i, call in enumerate(value):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise _bad("a tool call needs function.name", f"{param}[{i}].function")
        arguments = function.get("arguments")
        calls.append(
            ToolCallRecord(
                id=str(call.get("id", "")),
                name=function["name"],
                arguments=arguments if isinstance(arguments, str) else "{}",
            )
        )
    return tuple(calls)


def _tools(value: Any) -> tuple[ToolSpec, ...]:
    if not value:
        return ()
    if not isinstance(value, list):
        raise _bad("tools must be a list", "tools")
    specs: list[ToolSpec] = []
    for i, tool in enumerate(value):
        param = f"tools[{i}]"
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            raise _unsupported(f"{param}.type", "must be 'function'")
        function = tool.get("function")
        if not isinstance(function, Mapping):
            raise _bad("a tool needs a function object", f"{param}.function")
        name = function.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise _bad("function.name must match ^[A-Za-z0-9_-]{1,64}$", f"{param}.function.name")
        if any(spec.name == name for spec in specs):
            raise _bad(f"tool {name!r} is defined twice", f"{param}.function.name")
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
            raise _bad(
                "function.parameters must be a JSON schema of an object",
                f"{param}.function.parameters",
            )
        description = function.get("description")
        specs.append(
            ToolSpec(name, description if isinstance(description, str) else "", parameters)
        )
    return tuple(specs)


def _tool_choice(value: Any, tools: Sequence[ToolSpec]) -> tuple[ToolMode, str | None]:
    if value is None:
        return ("auto" if tools else "none"), None
    if value in ("none", "auto", "required"):
        if value != "none" and not tools:
            raise _bad(f"tool_choice {value!r} needs tools", "tool_choice")
        mode: ToolMode = value
        return (mode if tools else "none"), None
    function = value.get("function") if isinstance(value, Mapping) else None
    if (
        not isinstance(value, Mapping)
        or value.get("type") != "function"
        or not isinstance(function, Mapping)
    ):
        raise _unsupported("tool_choice", "must be none, auto, required or a function")
    name = function.get("name")
    if not any(tool.name == name for tool in tools):
        raise _bad(f"tool_choice names {name!r}, which is not in tools", "tool_choice")
    return "named", str(name)


def _response_format(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise _bad("json_schema needs a name", "response_format.json_schema.name")
        if schema is None:
            return {"type": "object"}
        if not isinstance(schema, Mapping):
            raise _bad("json_schema.schema must be an object", "response_format.json_schema")
        return schema
    raise _unsupported("response_format", "must be text, json_object or json_schema")
