"""The strict schema form: closed objects, nullable optionals, and what cannot be strict."""

from __future__ import annotations

import copy
import datetime as dt
import enum
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import jsonschema
import pydantic
import pytest

import chatlane
from chatlane.tools import StrictSchemaError, to_strict_schema, tool
from chatlane.tools.strict import drop_defaulted_nulls, drop_strict_nulls


class Status(enum.Enum):
    OPEN = "open"
    SHIPPED = "shipped"


class Address(pydantic.BaseModel):
    street: str
    zip_code: int | None = None


class Item(pydantic.BaseModel):
    name: str = pydantic.Field(description="What was ordered")
    quantity: int = 1
    tags: list[str] = []


class Cat(pydantic.BaseModel):
    kind: Literal["cat"]
    lives: int = 9


class Dog(pydantic.BaseModel):
    kind: Literal["dog"]


class Order(pydantic.BaseModel):
    id: int
    items: list[Item]
    billing: Address = pydantic.Field(description="Where the bill goes")
    shipping: Address | None = None
    status: Status = Status.OPEN
    kind: Literal["retail", "wholesale"]
    note: Annotated[str, pydantic.Field(max_length=20)] = ""
    website: pydantic.AnyUrl | None = None
    created: dt.datetime
    pet: Annotated[Cat | Dog, pydantic.Field(discriminator="kind")]
    code: int | str


class Node(pydantic.BaseModel):
    value: int
    children: list[Node] = []


class Bag(pydantic.BaseModel):
    label: str
    extra: dict[str, int]


FULL_ORDER = {
    "id": 1,
    "items": [{"name": "pen", "quantity": 2, "tags": ["office"]}],
    "billing": {"street": "Main St", "zip_code": 12345},
    "shipping": {"street": "Side St", "zip_code": None},
    "status": "open",
    "kind": "retail",
    "note": "fragile",
    "website": "https://example.com/",
    "created": "2026-01-01T00:00:00Z",
    "pet": {"kind": "cat", "lives": 7},
    "code": "A7",
}
# Every optional value left out the strict way: as null.
NULL_ORDER = {
    **FULL_ORDER,
    "items": [{"name": "pen", "quantity": None, "tags": None}],
    "billing": {"street": "Main St", "zip_code": None},
    "shipping": None,
    "status": None,
    "note": None,
    "website": None,
    "pet": {"kind": "cat", "lives": None},
}


def nodes(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema node, including those under $defs, anyOf and items."""
    if isinstance(schema, dict):
        yield schema
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for item in value.values():
                    yield from nodes(item)
            elif key in ("items", "anyOf", "additionalProperties"):
                yield from nodes(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from nodes(item)


def assert_strict(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    objects = [node for node in nodes(schema) if "properties" in node]
    assert objects
    for node in objects:
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])
    for node in nodes(schema):
        assert not {"default", "title", "oneOf", "discriminator", "allOf"} & set(node)
        assert "$ref" not in node or set(node) == {"$ref"}


def test_a_rich_model_becomes_strict_and_accepts_what_it_should() -> None:
    original = Order.model_json_schema()
    untouched = copy.deepcopy(original)
    strict = to_strict_schema(original)
    assert original == untouched
    assert_strict(strict)
    jsonschema.validate(FULL_ORDER, strict)
    jsonschema.validate(NULL_ORDER, strict)
    for key in ("shipping", "note"):  # every key is required now, optional ones included
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({k: v for k, v in FULL_ORDER.items() if k != key}, strict)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**FULL_ORDER, "surprise": 1}, strict)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**FULL_ORDER, "items": [{"name": "pen", "extra": 1}]}, strict)
    with pytest.raises(jsonschema.ValidationError):  # required stays non-nullable
        jsonschema.validate({**FULL_ORDER, "id": None}, strict)


def test_details_of_the_conversion() -> None:
    strict = to_strict_schema(Order.model_json_schema())
    props = strict["properties"]
    # A $ref with a sibling description is inlined, keeping the description.
    assert props["billing"]["description"] == "Where the bill goes"
    assert set(props["billing"]["properties"]) == {"street", "zip_code"}
    # A discriminated union becomes anyOf.
    assert len(props["pet"]["anyOf"]) == 2
    # Constraints strict mode lacks move into the description; supported formats stay.
    assert "maxLength" not in props["note"]
    assert "at most 20 characters" in props["note"]["description"]
    assert props["created"]["format"] == "date-time"
    assert "format: uri" in str(props["website"])
    # Enums survive, and an optional enum becomes nullable.
    status = props["status"]["anyOf"]
    assert {"type": "null"} in status
    assert strict["$defs"]["Status"]["enum"] == ["open", "shipped"]


def test_recursive_models_keep_their_definitions() -> None:
    strict = to_strict_schema(Node.model_json_schema())
    assert_strict(strict)
    assert strict["properties"]["children"]["anyOf"][0]["items"] == {"$ref": "#/$defs/Node"}
    tree = {"value": 1, "children": [{"value": 2, "children": []}, {"value": 3, "children": None}]}
    jsonschema.validate(tree, strict)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"value": 1, "children": [{"value": 2}]}, strict)


@pytest.mark.parametrize(
    ("annotation", "path", "message"),
    [
        (dict[str, int], "$.properties.field", "free-form object"),
        (Any, "$.properties.field", "any value"),
        (tuple[int, str], "$.properties.field", "tuple"),
        (list[Any], "$.properties.field.items", "any value"),
        (Bag, "$.$defs.Bag.properties.extra", "free-form object"),
        (list[Bag] | None, "$.$defs.Bag.properties.extra", "free-form object"),
    ],
)
def test_what_cannot_be_strict_is_an_error_with_its_path(
    annotation: Any, path: str, message: str
) -> None:
    schema = pydantic.create_model("Model", field=(annotation, ...)).model_json_schema()
    with pytest.raises(StrictSchemaError, match=message) as caught:
        to_strict_schema(schema)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: ")
    assert isinstance(caught.value, ValueError)


def test_the_root_must_be_an_object() -> None:
    schema = pydantic.TypeAdapter(list[int]).json_schema()
    with pytest.raises(StrictSchemaError, match="root") as caught:
        to_strict_schema(schema)
    assert caught.value.path == "$"


def test_drop_defaulted_nulls_restores_defaults_at_every_depth() -> None:
    cleaned = drop_defaulted_nulls(NULL_ORDER, Order.model_json_schema())
    order = Order.model_validate(cleaned)
    assert order.items[0].quantity == 1
    assert order.items[0].tags == []
    assert order.status is Status.OPEN
    assert order.note == ""
    assert order.pet == Cat(kind="cat", lives=9)
    # Nullable fields keep their null; the input is not changed.
    assert order.shipping is None
    assert order.billing.zip_code is None
    assert "zip_code" in cleaned["billing"]
    assert NULL_ORDER["status"] is None


def test_a_required_null_is_left_for_validation_to_reject() -> None:
    cleaned = drop_defaulted_nulls({**FULL_ORDER, "id": None}, Order.model_json_schema())
    assert cleaned["id"] is None
    with pytest.raises(pydantic.ValidationError):
        Order.model_validate(cleaned)


def test_strict_tool_schema_and_null_means_default() -> None:
    @tool(strict=True)
    def ship(items: list[Item], address: Address, express: bool = False) -> str:
        return f"{len(items)} {address.street} {express}"

    definition = ship.definition()["function"]
    assert definition["strict"] is True
    assert_strict(definition["parameters"])
    assert definition["parameters"]["required"] == ["items", "address", "express"]
    arguments = ship.validate(
        '{"items": [{"name": "pen", "quantity": null, "tags": null}],'
        ' "address": {"street": "Main", "zip_code": null}, "express": null}'
    )
    assert arguments == {
        "items": [Item(name="pen")],
        "address": Address(street="Main"),
        "express": False,
    }


def test_strict_tool_with_an_inexpressible_parameter_names_it() -> None:
    def count(words: list[str], totals: dict[str, int]) -> None: ...

    with pytest.raises(StrictSchemaError, match=r"parameter 'totals' .* strict mode") as caught:
        tool(count, strict=True)
    assert caught.value.field == "totals"
    assert isinstance(caught.value, chatlane.UsageError)

    def pack(label: str, bags: list[Bag]) -> None: ...

    with pytest.raises(StrictSchemaError, match=r"parameter 'bags' .*\$\.\$defs\.Bag"):
        tool(pack, strict=True)
    assert tool(pack).parameters  # fine when not strict


def test_null_defaults_inside_a_plain_union_follow_the_matching_branch() -> None:
    class Owner(pydantic.BaseModel):
        pet: Cat | Dog
        pets: list[Cat | Dog] = []

    cleaned = drop_defaulted_nulls(
        {
            "pet": {"kind": "cat", "lives": None},
            "pets": [{"kind": "dog"}, {"kind": "cat", "lives": None}],
        },
        Owner.model_json_schema(),
    )
    assert cleaned == {"pet": {"kind": "cat"}, "pets": [{"kind": "dog"}, {"kind": "cat"}]}


class Parcel(pydantic.BaseModel):
    weight: int
    insured: int | None = 100
    label: str | None = None


def test_strict_tool_null_means_the_default_even_where_none_is_valid() -> None:
    def send(
        parcel: Parcel,
        copies: list[Parcel],
        required: int | None,
        opt: int | None = 4,
        note: str | None = None,
    ) -> None: ...

    strict, loose = tool(send, strict=True), tool(send)
    nulls = (
        '{"parcel": {"weight": 1, "insured": null, "label": null},'
        ' "copies": [{"weight": 2, "insured": null, "label": null}],'
        ' "required": null, "opt": null, "note": null}'
    )
    # Strict: the model cannot leave a key out, so null is its way to say "the default".
    assert strict.validate(nulls) == {
        "parcel": Parcel(weight=1, insured=100),
        "copies": [Parcel(weight=2, insured=100)],
        "required": None,  # no default: null is the value
        "opt": 4,
        "note": None,
    }
    # Not strict: leaving a key out is possible, so a null where None is valid means None.
    assert loose.validate(nulls) == {
        "parcel": Parcel(weight=1, insured=None),
        "copies": [Parcel(weight=2, insured=None)],
        "required": None,
        "opt": None,
        "note": None,
    }
    given = '{"parcel": {"weight": 1, "insured": 5, "label": "x"}, "copies": [], "required": 2, "opt": 7}'
    assert strict.validate(given) == {
        "parcel": Parcel(weight=1, insured=5, label="x"),
        "copies": [],
        "required": 2,
        "opt": 7,
        "note": None,
    }


def test_drop_defaulted_nulls_still_keeps_nulls_that_are_valid() -> None:
    # Structured output validates the answer as it is first; this must not change its meaning.
    value = {"weight": 1, "insured": None, "label": None}
    assert drop_defaulted_nulls(value, Parcel.model_json_schema()) == value
    assert drop_strict_nulls(value, Parcel.model_json_schema()) == {"weight": 1}
