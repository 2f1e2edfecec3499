"""Shared request pieces and checks for the local engine tests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import jsonschema

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}

ADD_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
    },
}

EVENT_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "create_event",
        "description": "Put an event in the calendar.",
        "parameters": {
            "type": "object",
            "properties": {
                "title": {"type": "string", "maxLength": 40},
                "duration_hours": {"type": "number"},
                "online": {"type": "boolean"},
                "attendees": {
                    "type": "array",
                    "maxItems": 3,
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "maxLength": 20},
                            "role": {"type": "string", "enum": ["host", "guest"]},
                        },
                        "required": ["name", "role"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["title", "duration_hours", "online", "attendees"],
            "additionalProperties": False,
        },
    },
}

TOOLS = [WEATHER_TOOL, ADD_TOOL, EVENT_TOOL]


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def tool_schema(name: str) -> dict[str, Any]:
    """The parameters schema of one of :data:`TOOLS`."""
    for tool in TOOLS:
        if tool["function"]["name"] == name:
            schema: dict[str, Any] = tool["function"]["parameters"]
            return schema
    raise KeyError(name)


def check_calls(calls: list[dict[str, Any]], tools: Iterable[dict[str, Any]]) -> None:
    """Each call is well-formed, names an offered tool, and its arguments match that tool."""
    offered = {tool["function"]["name"]: tool["function"]["parameters"] for tool in tools}
    assert calls
    for call in calls:
        assert call["type"] == "function"
        assert call["id"].startswith("call_")
        assert len(call["id"]) > 10
        name = call["function"]["name"]
        assert name in offered
        arguments = json.loads(call["function"]["arguments"])
        jsonschema.validate(arguments, offered[name])
    assert len({call["id"] for call in calls}) == len(calls)


def accumulate(chunks: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], str | None]:
    """Merge stream chunks: (content, tool calls merged by index, finish reason)."""
    content = ""
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            content += delta.get("content") or ""
            for part in delta.get("tool_calls") or []:
                call = calls.setdefault(
                    part["index"], {"type": "function", "function": {"arguments": ""}}
                )
                if "id" in part:
                    call["id"] = part["id"]
                    call["type"] = part["type"]
                    call["function"]["name"] = part["function"]["name"]
                call["function"]["arguments"] += part["function"].get("arguments") or ""
            finish = choice["finish_reason"] or finish
    return content, [calls[i] for i in sorted(calls)], finish
