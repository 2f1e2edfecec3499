"""Response models the structured tests ask for."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from typing_extensions import TypedDict  # pydantic needs it for TypedDicts before 3.12


class Sentiment(BaseModel):
    """The sentiment of a text."""

    label: Literal["positive", "negative", "neutral"]
    score: float = Field(ge=0, le=1)
    reason: str = Field(max_length=80, description="one short sentence")


GOOD: dict[str, Any] = {"label": "positive", "score": 0.9, "reason": "It praises the product."}


class Priority(Enum):
    LOW = "low"
    HIGH = "high"


class Item(BaseModel):
    sku: str
    quantity: int = Field(ge=1)


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    good: bool


class Order(BaseModel):
    """An order: nested models, a list of models, an enum, an optional field, a union."""

    items: list[Item]
    main: Item = Field(description="the item the order is about")
    priority: Priority
    note: str | None = None
    pet: Cat | Dog = Field(discriminator="kind")
    tags: list[str] = []


ORDER: dict[str, Any] = {
    "items": [{"sku": "A-1", "quantity": 2}],
    "main": {"sku": "A-1", "quantity": 2},
    "priority": "high",
    "note": None,
    "pet": {"kind": "dog", "good": True},
    "tags": None,
}


class Loud(BaseModel):
    word: str

    @field_validator("word")
    @classmethod
    def shouted(cls, value: str) -> str:
        if value != value.upper():
            raise ValueError("must be in capital letters")
        return value


class WithDict(BaseModel):
    name: str
    scores: dict[str, int]


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Person(TypedDict):
    name: str
    age: int


def schema_objects(node: Any) -> list[dict[str, Any]]:
    """Every object schema inside ``node`` (nested, in $defs, in anyOf branches...)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            found.append(node)
        for value in node.values():
            found.extend(schema_objects(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(schema_objects(value))
    return found
