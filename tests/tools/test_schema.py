"""Turning functions into tools: names, descriptions, and the JSON schema of the parameters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import inspect
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

import jsonschema
import pydantic
import pytest
import typing_extensions

from chatlane.core.errors import UsageError
from chatlane.tools import Tool, ToolArgumentsError, Toolbox, ToolDefinitionError, tool


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(pydantic.BaseModel):
    street: str
    zip_code: int | None = None


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Person(typing_extensions.TypedDict):
    name: str
    age: int


class Opaque:
    """A class pydantic knows nothing about."""


def walk(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema node (not the dicts of property names)."""
    if isinstance(schema, dict):
        yield schema
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for item in value.values():
                    yield from walk(item)
            elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
                yield from walk(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from walk(item)


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        resolved: dict[str, Any] = schema["$defs"][node["$ref"].split("/")[-1]]
        return resolved
    return node


def check_instance(schema: dict[str, Any], instance: Any) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(instance, schema)


def test_primitive_types_and_required_parameters() -> None:
    @tool
    def f(text: str, count: int, ratio: float, flag: bool, limit: int = 5) -> None: ...

    schema = f.parameters
    assert schema["type"] == "object"
    assert {name: prop["type"] for name, prop in schema["properties"].items()} == {
        "text": "string",
        "count": "integer",
        "ratio": "number",
        "flag": "boolean",
        "limit": "integer",
    }
    assert schema["required"] == ["text", "count", "ratio", "flag"]
    assert schema["properties"]["limit"]["default"] == 5
    assert schema["additionalProperties"] is False
    check_instance(schema, {"text": "a", "count": 1, "ratio": 0.5, "flag": True})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"text": "a", "count": "1", "ratio": 0.5, "flag": True}, schema)


def test_literal_enum_list_dict_optional_and_datetime() -> None:
    @tool
    def f(
        unit: Literal["c", "f"],
        color: Color,
        tags: list[str],
        scores: dict[str, int],
        when: dt.datetime,
        note: str | None = None,
    ) -> None: ...

    schema = f.parameters
    props = schema["properties"]
    assert props["unit"]["enum"] == ["c", "f"]
    assert resolve(schema, props["color"])["enum"] == ["red", "blue"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["scores"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert {"type": "null"} in props["note"]["anyOf"]
    assert "note" not in schema["required"]
    check_instance(
        schema,
        {
            "unit": "c",
            "color": "red",
            "tags": ["x"],
            "scores": {"a": 1},
            "when": "2026-01-01T00:00:00Z",
            "note": None,
        },
    )


def test_models_dataclasses_and_typed_dicts_become_definitions() -> None:
    @tool
    def f(address: Address, points: list[Point], person: Person) -> None: ...

    schema = f.parameters
    address = resolve(schema, schema["properties"]["address"])
    assert address["required"] == ["street"]
    assert set(address["properties"]) == {"street", "zip_code"}
    point = resolve(schema, schema["properties"]["points"]["items"])
    assert set(point["properties"]) == {"x", "y"}
    person = resolve(schema, schema["properties"]["person"])
    assert person["required"] == ["name", "age"]
    check_instance(
        schema,
        {"address": {"street": "Main"}, "points": [{"x": 1}], "person": {"name": "A", "age": 3}},
    )


def test_no_titles_anywhere_but_a_property_named_title_stays() -> None:
    @tool
    def f(title: str, address: Address, points: list[Point] | None = None) -> None: ...

    assert "title" in f.parameters["properties"]
    assert all("title" not in node for node in walk(f.parameters))


def test_parameter_descriptions_from_annotated_field_and_docstring() -> None:
    @tool
    def get_weather(
        city: Annotated[str, "The city name"],
        unit: Literal["c", "f"] = "c",
        days: Annotated[int, pydantic.Field(description="Days ahead", ge=0)] = 0,
        hourly: bool = False,
    ) -> str:
        """Current weather for a city.

        Uses the nearest station.

        Args:
            city: overridden by Annotated, which wins
            unit: Temperature unit.
            days: overridden by Field, which wins
            hourly (bool): One value per hour
                instead of one per day.

        Returns:
            The weather, as text.
        """
        return ""

    props = get_weather.parameters["properties"]
    assert props["city"]["description"] == "The city name"
    assert props["unit"]["description"] == "Temperature unit."
    assert props["days"]["description"] == "Days ahead"
    assert props["days"]["minimum"] == 0
    assert props["hourly"]["description"] == "One value per hour instead of one per day."
    assert get_weather.description == "Current weather for a city.\n\nUses the nearest station."


def test_rest_and_numpy_docstrings() -> None:
    @tool
    def rest(city: str, unit: str) -> None:
        """Weather.

        :param city: The city.
        :param str unit: The unit,
            c or f.
        :returns: text
        """

    @tool
    def numpy(city: str, unit: str) -> None:
        """Weather.

        Parameters
        ----------
        city : str
            The city.
        unit
            The unit,
            c or f.

        Returns
        -------
        str
        """

    for made in (rest, numpy):
        assert made.description == "Weather."
        assert made.parameters["properties"]["city"]["description"] == "The city."
        assert made.parameters["properties"]["unit"]["description"] == "The unit, c or f."


def test_description_options() -> None:
    def undocumented(x: int) -> int:
        return x

    assert tool(undocumented).description == ""
    assert tool(undocumented, description="Doubles x.").description == "Doubles x."
    assert "description" not in tool(undocumented).parameters["properties"]["x"]


def test_names() -> None:
    def fetch_page(url: str) -> str:
        return url

    assert tool(fetch_page).name == "fetch_page"
    assert tool(fetch_page, name="fetch-page_2").name == "fetch-page_2"
    for bad in ("", "has space", "x" * 65, "dotted.name", "ümlaut"):
        with pytest.raises(ToolDefinitionError, match=r"tool name .* is not valid"):
            tool(fetch_page, name=bad)
    with pytest.raises(ToolDefinitionError, match="'<lambda>' is not valid"):
        tool(lambda x: x)


def test_definition_shape() -> None:
    @tool(name="lookup", description="Find a record.")
    def find(key: str) -> str:
        return key

    assert find.definition() == {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Find a record.",
            "parameters": {
                "type": "object",
                "properties": {"key": {"type": "string"}},
                "required": ["key"],
                "additionalProperties": False,
            },
        },
    }
    strict = Tool(find.function, name="lookup", strict=True)
    assert strict.definition()["function"]["strict"] is True


def test_a_tool_is_still_the_function() -> None:
    @tool
    def add(a: int, b: int = 1) -> int:
        """Add."""
        return a + b

    @tool(tool_timeout=2)
    async def fetch(url: str) -> str:
        return url

    assert add(2, b=3) == 5
    assert inspect.signature(add) == inspect.signature(add.function)
    assert add.__doc__ == "Add."
    assert add.function(1) == 2
    assert (add.is_async, fetch.is_async) == (False, True)
    assert fetch.tool_timeout == 2.0
    assert add.tool_timeout is None
    assert repr(fetch) == "<async Tool 'fetch'>"


@pytest.mark.asyncio
async def test_an_async_tool_call_returns_the_coroutine() -> None:
    @tool
    async def echo(text: str) -> str:
        return text

    assert await echo("hi") == "hi"


def test_parameters_a_model_cannot_send_are_definition_errors() -> None:
    def star_args(*values: int) -> None: ...
    def star_kwargs(**options: int) -> None: ...
    def positional(x: int, /) -> None: ...
    def untyped(x, y: int) -> None:  # type: ignore[no-untyped-def]
        ...
    def opaque(thing: Opaque) -> None: ...

    cases: list[tuple[Callable[..., Any], str]] = [
        (star_args, "'values' .* \\*values"),
        (star_kwargs, "'options' .* \\*\\*options"),
        (positional, "'x' .* positional-only"),
        (untyped, "'x' .* has no type annotation"),
        (opaque, "'thing' .* cannot be used"),
    ]
    for function, message in cases:
        with pytest.raises(ToolDefinitionError, match=message):
            tool(function)
    assert issubclass(ToolDefinitionError, UsageError)


def test_typing_typed_dict_on_old_python_names_the_parameter() -> None:
    from typing import TypedDict

    class Plain(TypedDict):
        a: int

    def f(plain: Plain) -> None: ...

    f.__annotations__["plain"] = Plain  # the class is local: give the resolved type
    if sys.version_info >= (3, 12):
        assert tool(f).parameters["properties"]["plain"]
    else:
        with pytest.raises(ToolDefinitionError, match=r"'plain' .*typing_extensions"):
            tool(f)


def test_bad_timeout_and_non_callables() -> None:
    def f() -> None: ...

    for bad in (0, -1.0, "5"):
        with pytest.raises(ToolDefinitionError, match="timeout"):
            tool(f, tool_timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(ToolDefinitionError, match="callable"):
        Tool("not a function")  # type: ignore[arg-type]


def test_no_parameters() -> None:
    @tool
    def ping() -> str:
        return "pong"

    assert ping.parameters == {"type": "object", "properties": {}, "additionalProperties": False}
    assert ping.validate("") == {}


def test_any_parameter_name_works() -> None:
    @tool
    def odd(json: str, model_config: int, _private: bool = False) -> str:
        return f"{json}{model_config}{_private}"

    assert set(odd.parameters["properties"]) == {"json", "model_config", "_private"}
    assert odd.validate('{"json": "a", "model_config": 1, "_private": true}') == {
        "json": "a",
        "model_config": 1,
        "_private": True,
    }


def test_importing_tools_is_cheap_and_names_resolve() -> None:
    code = (
        "import sys, chatlane, chatlane.tools;"
        "assert 'pydantic' not in sys.modules, 'pydantic imported';"
        "import chatlane.tools.builtin;"  # imports the module that defines tool()...
        "from chatlane.tools import tool;"
        "assert callable(tool) and tool.__module__ == 'chatlane.tools.definition', tool;"
        "assert 'pydantic' not in sys.modules, 'pydantic imported';"
        "chatlane.tools.builtin_tools();"
        "assert 'pydantic' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    import chatlane.tools

    assert set(chatlane.tools.__all__) <= set(dir(chatlane.tools))
    assert all(getattr(chatlane.tools, name) is not None for name in chatlane.tools.__all__)
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        chatlane.tools.missing  # noqa: B018


def test_partials_methods_and_a_mistaken_name_argument() -> None:
    def power(base: float, exponent: int) -> float:
        """Raise base to a power.

        Args:
            base: The base.
        """
        return base**exponent

    square = tool(functools.partial(power, exponent=2), name="square")
    assert square.description == "Raise base to a power."
    assert "exponent" not in square.parameters["properties"]  # bound: not the model's choice
    assert square.validate('{"base": 3}') == {"base": 3.0}
    assert square(base=3) == 9

    class Greeter:
        def greet(self, name: str) -> str:
            return f"hi {name}"

    assert tool(Greeter().greet).validate('{"name": "Ada"}') == {"name": "Ada"}
    with pytest.raises(ToolDefinitionError, match=r"tool\(instance\.method\)"):
        tool(Greeter.greet)
    with pytest.raises(ToolDefinitionError, match=r"write @tool\(name=\.\.\.\)"):
        tool("lookup")  # type: ignore[call-overload]


def test_arguments_bound_by_a_partial_are_hidden_and_refused() -> None:
    seen: list[tuple[str, str, str]] = []

    def read(root: str, path: str, mode: str = "text") -> str:
        seen.append((root, path, mode))
        return f"{root}/{path}"

    by_keyword = tool(functools.partial(read, root="/safe", mode="raw"), name="read")
    by_position = tool(functools.partial(read, "/safe"), name="read")
    assert by_keyword.parameters["properties"].keys() == {"path"}
    assert by_position.parameters["properties"].keys() == {"path", "mode"}
    for bound in (by_keyword, by_position):
        with pytest.raises(ToolArgumentsError, match="root: Extra inputs are not permitted"):
            bound.validate({"path": "x", "root": "/etc"})
    with pytest.raises(ToolArgumentsError, match="mode: Extra inputs are not permitted"):
        by_keyword.validate({"path": "x", "mode": "text"})

    # Wrapping the partial again (a decorator, a Tool of the Tool) hides the same names.
    @functools.wraps(by_keyword.function)
    def logged(*args: Any, **kwargs: Any) -> Any:
        return by_keyword.function(*args, **kwargs)

    assert tool(logged, name="read").parameters["properties"].keys() == {"path"}
    assert tool(by_keyword, name="read").parameters["properties"].keys() == {"path"}
    strict = tool(functools.partial(read, root="/safe"), name="read", strict=True)
    assert strict.parameters["required"] == ["path", "mode"]

    box = Toolbox([by_keyword])
    refused = box.run(
        {"id": "1", "function": {"name": "read", "arguments": '{"path": "x", "root": "/etc"}'}}
    )
    assert refused.error_kind == "invalid_arguments"
    assert "root: Extra inputs are not permitted" in refused.content
    ran = box.run({"id": "2", "function": {"name": "read", "arguments": '{"path": "x"}'}})
    assert ran.content == "/safe/x"
    assert seen == [("/safe", "x", "raw")]


def test_one_spelling_defines_a_tool() -> None:
    def ping() -> str:
        return "pong"

    assert tool(ping).definition() == Tool(ping).definition()
    assert not hasattr(Tool, "from_function")
    assert tool(tool_timeout=3)(ping).tool_timeout == Tool(ping, tool_timeout=3).tool_timeout == 3.0
