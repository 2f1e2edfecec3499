"""Validating the arguments a model sent: conversions, and errors a model can act on."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Annotated, Literal

import pydantic
import pytest
import typing_extensions

import chatlane
from chatlane.tools import ToolArgumentsError, Toolbox, tool


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
        "addresses[1].number: Input should be a valid integer",
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
    with pytest.raises(chatlane.UsageError, match="JSON string or a mapping"):
        get_weather.validate(42)  # type: ignore[arg-type]


class Person(typing_extensions.TypedDict):
    name: str
    age: int


@tool
def settings(flag: bool = False, n: float = 1.0, x: int = 0, word: str = "") -> str:
    """Set things."""
    return f"{flag} {n} {x} {word}"


def settings_problems(arguments: str | dict[str, object]) -> tuple[str, ...]:
    with pytest.raises(ToolArgumentsError) as caught:
        settings.validate(arguments)
    return caught.value.problems


def test_wrong_json_types_are_not_coerced() -> None:
    assert settings_problems('{"flag": "yes", "n": "3.5"}') == (
        "flag: Input should be a valid boolean",
        "n: Input should be a valid number",
    )
    assert settings_problems('{"x": true}') == ("x: Input should be a valid integer",)
    assert settings_problems('{"x": 3.0, "flag": 1}') == (
        "flag: Input should be a valid boolean",
        "x: Input should be a valid integer",
    )
    assert settings_problems('{"n": "nan"}') == ("n: Input should be a valid number",)
    assert settings_problems('{"word": 5}') == ("word: Input should be a valid string",)
    # A parsed mapping is held to the same rules; NaN and objects are not JSON at all.
    assert settings_problems({"flag": "true"}) == ("flag: Input should be a valid boolean",)
    assert settings_problems({"n": float("nan")})[0].startswith("arguments are not JSON values")
    assert settings_problems({"word": object()})[0].startswith("arguments are not JSON values")
    result = Toolbox([settings]).run(
        {"id": "1", "function": {"name": "settings", "arguments": '{"flag": "yes"}'}}
    )
    assert result.content == (
        "Error: invalid arguments for settings: flag: Input should be a valid boolean."
        " Call settings again with corrected arguments."
    )


def test_json_values_still_fill_the_types_json_has_no_word_for() -> None:
    @tool
    def rich(
        ratio: float,
        level: Literal[1, 2],
        unit: Unit,
        person: Person,
        where: Point,
        address: Address,
        day: dt.date,
        at: dt.datetime,
        pair: tuple[int, str],
        ids: set[int],
        counts: dict[int, str],
    ) -> None:
        """Everything at once."""

    arguments = rich.validate(
        '{"ratio": 2, "level": 1, "unit": "c", "person": {"name": "Ada", "age": 36},'
        ' "where": {"x": 1}, "address": {"street": "Main", "number": 4}, "day": "2026-03-01",'
        ' "at": "2026-03-01T12:00:00+01:00", "pair": [1, "a"], "ids": [3, 3],'
        ' "counts": {"7": "seven"}}'
    )
    assert arguments == {
        "ratio": 2.0,
        "level": 1,
        "unit": Unit.CELSIUS,
        "person": {"name": "Ada", "age": 36},
        "where": Point(1.0),
        "address": Address(street="Main", number=4),
        "day": dt.date(2026, 3, 1),
        "at": dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        "pair": (1, "a"),
        "ids": {3},
        "counts": {7: "seven"},
    }
    assert isinstance(arguments["ratio"], float)
    assert isinstance(arguments["where"].x, float)
