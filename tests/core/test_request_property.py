"""Any JSON-like value in any request field gives a valid body or a RequestValidationError."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatlane.core.errors import RequestValidationError
from chatlane.core.request import ChatParams, WireDialect, build_body
from chatlane.core.types import FunctionCall, Message, ToolCall
from chatlane.providers.registry import PROVIDERS

INT64 = (-(2**63), 2**63 - 1)
FIELDS = sorted(ChatParams.__annotations__)
DIALECTS = [WireDialect(), *(p.dialect for p in PROVIDERS.values())]

# Text with anything, lone surrogates included.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | TEXT
    | st.sampled_from(["function", "user", "assistant", "tool", "text", "json_schema", "f"])
    | st.binary(max_size=4)
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(
            TEXT | st.sampled_from(["role", "content", "type", "name"]), inner, max_size=4
        )
        | st.dictionaries(st.integers(), inner, max_size=2)
    ),
    max_leaves=12,
)

CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
BASE: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        Message(content=None, tool_calls=[ToolCall(id="c2", function=FunctionCall(name="f"))]),
        {"role": "tool", "tool_call_id": "c2", "content": "43"},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
    "stop": ["a"],
    "logprobs": True,
    "top_logprobs": 2,
    "extra_body": {"top_k": 3},
}


def _is_json(value: Any) -> None:
    """Plain JSON: finite numbers, 64-bit integers, string keys."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        assert INT64[0] <= value <= INT64[1]
    elif isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, list):
        for item in value:
            _is_json(item)
    else:
        assert isinstance(value, dict)
        for item in value.values():
            _is_json(item)


def _reject_constant(name: str) -> Any:
    raise AssertionError(f"body holds {name}")


def _check(params: Any, dialect: WireDialect, stream: bool) -> None:
    try:
        body = build_body(params, model="m", dialect=dialect, stream=stream)
    except RequestValidationError:
        return
    decoded = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    _is_json(decoded)
    assert decoded["model"] == "m"
    for message in decoded["messages"]:
        assert message.get("role") in ("system", "developer", "user", "assistant", "tool")
        for call in message.get("tool_calls") or ():
            assert call["type"] == "function"


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], rest, new)
    return copy


PATHS = [p for p in _paths(BASE) if p]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(FIELDS),
    value=JSONISH,
    dialect=st.sampled_from(DIALECTS),
    stream=st.booleans(),
)
def test_any_value_in_any_field(field: str, value: Any, dialect: WireDialect, stream: bool) -> None:
    _check(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], field: value},
        dialect,
        stream,
    )
    _check({**BASE, field: value}, dialect, stream)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(PATHS),
    value=JSONISH,
    dialect=st.sampled_from(DIALECTS),
    stream=st.booleans(),
)
def test_any_value_anywhere_in_a_full_request(
    path: tuple[Any, ...], value: Any, dialect: WireDialect, stream: bool
) -> None:
    _check(_replaced(BASE, path, value), dialect, stream)


@settings(max_examples=200, deadline=None)
@given(params=st.dictionaries(st.sampled_from(FIELDS) | TEXT, JSONISH, max_size=6))
def test_any_mapping_of_fields(params: dict[str, Any]) -> None:
    _check(params, WireDialect(), stream=False)


def test_the_full_request_is_valid() -> None:
    body = json.loads(build_body(BASE, model="m", dialect=WireDialect(), stream=True))
    assert body["messages"][4]["role"] == "assistant"
    assert body["top_k"] == 3
