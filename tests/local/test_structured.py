"""Structured output: content decoded under a grammar parses and matches the schema."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from chatlane.local import LocalEngine, LocalEngineError
from tests.local.helpers import accumulate, user

pytestmark = pytest.mark.local_model

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "height_m": {"type": "number"},
        "active": {"type": "boolean"},
        "role": {"type": "string", "enum": ["admin", "user", "guest"]},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city", "zip"],
            "additionalProperties": False,
        },
        "pets": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"kind": {"type": "string"}, "legs": {"type": "integer"}},
                "required": ["kind", "legs"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["name", "age", "height_m", "active", "role", "address", "pets"],
    "additionalProperties": False,
}

# Pydantic's shape: nested models as $defs referenced with $ref.
ORDER: dict[str, Any] = {
    "$defs": {
        "Item": {
            "properties": {
                "sku": {"title": "Sku", "type": "string", "maxLength": 12},
                "quantity": {"title": "Quantity", "type": "integer"},
            },
            "required": ["sku", "quantity"],
            "title": "Item",
            "type": "object",
        }
    },
    "properties": {
        "items": {
            "items": {"$ref": "#/$defs/Item"},
            "title": "Items",
            "type": "array",
            "maxItems": 3,
        },
        "express": {"title": "Express", "type": "boolean"},
        "note": {"anyOf": [{"type": "string", "maxLength": 30}, {"type": "null"}]},
    },
    "required": ["items", "express", "note"],
    "title": "Order",
    "type": "object",
}


def schema_format(schema: dict[str, Any], name: str = "answer") -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def test_nested_schema_is_followed(engine: LocalEngine) -> None:
    request = {
        "messages": user(
            "Describe a fictional person named Ana who lives in Lisbon and has two cats."
        ),
        "response_format": schema_format(PERSON, "person"),
        "max_tokens": 200,
    }
    for sampling in ({"temperature": 0}, {"temperature": 0.7, "seed": 3}):
        result = engine.complete({**request, **sampling})
        choice = result["choices"][0]
        assert choice["finish_reason"] == "stop"
        jsonschema.validate(json.loads(choice["message"]["content"]), PERSON)


def test_schema_with_refs_and_streaming(engine: LocalEngine) -> None:
    request = {
        "messages": user("Order two pens and a notebook, express delivery."),
        "response_format": schema_format(ORDER, "Order"),
        "max_tokens": 150,
        "temperature": 0,
    }
    content, _, finish = accumulate(list(engine.stream(request)))
    assert finish == "stop"
    jsonschema.validate(json.loads(content), ORDER)


def test_json_object(engine: LocalEngine) -> None:
    result = engine.complete(
        {
            "messages": user("Give a JSON object with the keys city and country for Paris."),
            "response_format": {"type": "json_object"},
            "max_tokens": 120,
            "temperature": 0,
        }
    )
    assert result["choices"][0]["finish_reason"] == "stop"
    assert isinstance(json.loads(result["choices"][0]["message"]["content"]), dict)


def test_json_object_mode_gives_an_object_even_when_asked_for_a_number(
    engine: LocalEngine,
) -> None:
    result = engine.complete(
        {
            "messages": user("Reply with the number 1.23456789 and nothing else."),
            "response_format": {"type": "json_object"},
            "max_tokens": 60,
            "temperature": 0,
        }
    )
    content = result["choices"][0]["message"]["content"]
    assert content.lstrip().startswith("{")


def test_schema_the_grammar_cannot_express_is_a_400(engine: LocalEngine) -> None:
    bad = {"type": "object", "properties": {"x": {"type": "quaternion"}}}
    with pytest.raises(LocalEngineError) as caught:
        engine.complete({"messages": user("hi"), "response_format": schema_format(bad)})
    assert caught.value.status == 400
    assert caught.value.param == "response_format.json_schema.schema"


def test_json_schema_needs_a_name(engine: LocalEngine) -> None:
    with pytest.raises(LocalEngineError) as caught:
        engine.complete(
            {"messages": user("hi"), "response_format": {"type": "json_schema", "json_schema": {}}}
        )
    assert caught.value.status == 400
