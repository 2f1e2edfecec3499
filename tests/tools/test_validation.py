"""Validating the arguments a model sent: conversions, and errors a model can act on."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Annotated, Literal

import pydantic
import pytest

from chatlane.tools import ToolArgumentsError, tool


class Unit(enum.Enum):
    CELSIUS = "c"
    FAHRENHEIT = "f"


class Address(pydantic.BaseModel):
    street: str
    number: int = 1


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


@tool
def get_weather(city: Annotated[str, "The city name"], unit: Literal["c", "f"] = "c") -> str:
    """Current weather for a city."""
    return f"{city}:{unit}"


@tool
def deliver(
    addresses: list[Address],
    where: Point,
    unit: Unit,
    at: dt.datetime,
    note: str | None = None,
    count: int = 2,
) -> None:
    """Deliver things."""


def problems(arguments: str) -> str:
    with pytest.raises(ToolArgumentsError) as caught:
        get_weather.validate(arguments)
    return str(caught.value)


def test_valid_arguments_as_keyword_arguments() -> None:
    assert get_weather.validate('{"city": "Paris"}') == {"city": "Paris", "unit": "c"}
    assert get_weather.validate({"city": "Paris", "unit": "f"}) == {"city": "Paris", "unit": "f"}


def test_values_are_converted_to_the_parameter_types() -> None:
    arguments = deliver.validate(
        '{"addresses": [{"street": "Main"}], "where": {"x": 1, "y": 2},'
        ' "unit": "f", "at": "2026-03-01T12:00:00Z"}'
    )
    assert arguments == {
        "addresses": [Address(street="Main", number=1)],
        "where": Point(1.0, 2.0),
        "unit": Unit.FAHRENHEIT,
        "at": dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC),
        "note": None,
        "count": 2,
    }
    assert isinstance(arguments["where"], Point)


def test_invalid_json() -> None:
    text = problems('{"city": "Paris" "unit": "c"}')
    assert text == "arguments are not valid JSON: Expecting ',' delimiter at char 17"
    assert problems('{"city": NaN}').startswith("arguments are not valid JSON")


@pytest.mark.parametrize("arguments", ["[1, 2]", '"Paris"', "null", "3"])
def test_arguments_must_be_an_object(arguments: str) -> None:
    assert problems(arguments) == "arguments must be a JSON object"


def test_wrong_type_missing_extra_and_literal() -> None:
    assert problems('{"city": 5}') == "city: Input should be a valid string"
    assert problems("{}") == "city: Field required"
    assert problems("") == "city: Field required"  # empty arguments count as {}
    assert problems('{"city": "Paris", "unit": "k"}') == "unit: Input should be 'c' or 'f'"
    assert problems('{"city": "Paris", "country": "FR"}') == (
        "country: Extra inputs are not permitted"
    )


def test_every_bad_field_is_named_with_its_location() -> None:
    with pytest.raises(ToolArgumentsError) as caught:
        deliver.validate(
            {"addresses": [{"street": "Main"}, {"number": "x"}], "where": {}, "unit": "k"}
        )
    assert caught.value.problems == (
        "addresses[1].street: Field required",
        "addresses[1].number: Input should be a valid integer, unable to parse string as an"
        " integer",
        "where.x: Field required",
        "unit: Input should be 'c' or 'f'",
        "at: Field required",
    )
    assert str(caught.value) == "; ".join(caught.value.problems)
    assert isinstance(caught.value, ValueError)


def test_long_error_lists_are_cut() -> None:
    bad = {"addresses": [{"number": "x"}] * 20, "where": {"x": 1}, "unit": "c", "at": "now"}
    with pytest.raises(ToolArgumentsError) as caught:
        deliver.validate(bad)
    assert len(caught.value.problems) == 11
    assert caught.value.problems[-1] == "and 31 more problems"


def test_null_for_a_defaulted_parameter_means_the_default() -> None:
    assert get_weather.validate('{"city": "Oslo", "unit": null}') == {"city": "Oslo", "unit": "c"}
    arguments = deliver.validate(
        {
            "addresses": [],
            "where": {"x": 0, "y": None},
            "unit": "c",
            "at": "2026-01-01T00:00:00",
            "note": None,
            "count": None,
        }
    )
    assert (arguments["note"], arguments["count"], arguments["where"]) == (None, 2, Point(0.0))
    assert problems('{"city": null}') == "city: Input should be a valid string"


def test_non_string_arguments_are_misuse() -> None:
    with pytest.raises(TypeError):
        get_weather.validate(42)  # type: ignore[arg-type]
