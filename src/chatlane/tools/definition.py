"""``Tool``: a Python function a model can call, with its schema and argument validation.

::

    @tool
    def get_weather(city: Annotated[str, "The city name"], unit: Literal["c", "f"] = "c") -> str:
        \"\"\"Current weather for a city.\"\"\"

    get_weather.definition()            # what goes in the request's ``tools=[...]``
    get_weather.validate('{"city": 1}') # ToolArgumentsError: city: Input should be a valid string
    get_weather("Paris")                # still an ordinary function

Names, descriptions and parameter descriptions come from the function unless given. Calling a
tool for a model (timeouts, concurrency, error results) is :class:`~chatlane.tools.Toolbox`'s
job; a ``Tool`` only describes and validates.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, overload

from chatlane.core.errors import StrictSchemaError, UsageError
from chatlane.tools.docstrings import parse_docstring
from chatlane.tools.errors import ToolArgumentsError, ToolDefinitionError
from chatlane.tools.schema import build_parameters
from chatlane.tools.strict import drop_defaulted_nulls, drop_strict_nulls, to_strict_schema

__all__ = ["Tool", "tool"]

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class Tool:
    """A function a model can call.

    Attributes: ``name``, ``description``, ``parameters`` (the JSON schema of the arguments
    object), ``strict``, ``tool_timeout`` (seconds, or None to use the toolbox's), ``is_async`` and
    ``function`` (the original callable). Calling the tool calls the function.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    strict: bool
    tool_timeout: float | None
    is_async: bool
    function: Callable[..., Any]

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = False,
        tool_timeout: float | None = None,
    ) -> None:
        given: object = function  # checked at run time: type hints do not stop @tool("name")
        if not callable(given):
            hint = "; to name a tool, write @tool(name=...)" if isinstance(given, str) else ""
            raise ToolDefinitionError(f"a tool needs a callable, not {type(given).__name__}{hint}")
        self.function = function
        self.name = _checked_name(name if name is not None else _function_name(function))
        if tool_timeout is not None and not (
            isinstance(tool_timeout, int | float) and tool_timeout > 0
        ):
            raise ToolDefinitionError(
                f"tool_timeout of tool {self.name!r} must be a positive number of seconds or"
                f" None, not {tool_timeout!r}"
            )
        # A partial's own docstring describes functools.partial; the wrapped function's fits.
        documented = function.func if isinstance(function, functools.partial) else function
        docstring = parse_docstring(inspect.getdoc(documented))
        self.description = description if description is not None else docstring.description
        self.strict = strict
        self.tool_timeout = None if tool_timeout is None else float(tool_timeout)
        self.is_async = inspect.iscoroutinefunction(function)
        self._arguments = build_parameters(
            function, tool_name=self.name, docstring_params=docstring.params
        )
        self.parameters = self._strict_schema() if strict else self._arguments.schema
        # Look like the function to help(), inspect.signature() and debuggers.
        functools.update_wrapper(self, function, updated=())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the original function (a coroutine for an async tool)."""
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        kind = "async " if self.is_async else ""
        return f"<{kind}Tool {self.name!r}>"

    def definition(self) -> dict[str, Any]:
        """The tool as the Chat Completions request's ``tools=[...]`` lists it."""
        function: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }
        if self.strict:
            function["strict"] = True
        return {"type": "function", "function": function}

    def validate(self, arguments: str | Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments to call the function with, from what the model sent.

        ``arguments`` is the JSON text of the tool call (``""`` counts as ``{}``) or an
        already-parsed mapping of JSON values. Values are validated strictly as JSON (a
        string is no number, ``true`` no integer) and converted by pydantic: a model,
        dataclass or enum parameter receives an instance. Raises :class:`ToolArgumentsError`.

        A ``null`` may stand for "absent", since strict mode makes models write ``null`` for
        what they leave out. For a strict tool, ``null`` for any parameter or field that has
        a default means the default, even where ``None`` is valid (the model has no other
        way to omit it). For other tools the model can omit, so ``null`` means the default
        only where ``None`` is not valid, and ``None`` where it is.
        """
        data = _parse_arguments(arguments)
        if self.strict:
            data = drop_strict_nulls(data, self._arguments.schema)
        else:
            data = drop_defaulted_nulls(data, self._arguments.schema)
        return self._arguments.validate(data)

    def _strict_schema(self) -> dict[str, Any]:
        try:
            return to_strict_schema(self._arguments.schema)
        except StrictSchemaError as error:
            parameter = _parameter_at(error.path, self._arguments.schema)
            where = f"parameter {parameter!r}" if parameter else "a parameter"
            raise StrictSchemaError(
                f"{where} of tool {self.name!r} cannot be described in strict mode:"
                f" {error.reason} (at {error.path}); change its type or use strict=False",
                path=error.path,
                reason=error.reason,
                field=parameter,
            ) from None


@overload
def tool(
    fn: Callable[..., Any],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = False,
    tool_timeout: float | None = None,
) -> Tool: ...


@overload
def tool(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = False,
    tool_timeout: float | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = False,
    tool_timeout: float | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a :class:`Tool` of a function; use bare (``@tool``) or with options (``@tool(...)``).

    ``name`` defaults to the function's name, ``description`` to its docstring's text before
    any ``Args:`` section. ``strict=True`` sends the schema in OpenAI's strict form (every
    parameter required, optional ones nullable). ``tool_timeout`` (seconds) overrides the
    toolbox's for this tool.
    """

    def make(function: Callable[..., Any]) -> Tool:
        return Tool(
            function,
            name=name,
            description=description,
            strict=strict,
            tool_timeout=tool_timeout,
        )

    return make if fn is None else make(fn)


def _function_name(function: Callable[..., Any]) -> str:
    name = getattr(function, "__name__", None)
    if not isinstance(name, str):
        raise ToolDefinitionError(f"{function!r} has no __name__; give the tool a name=")
    return name


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ToolDefinitionError(
            f"tool name {name!r} is not valid: use 1 to 64 letters, digits, '_' or '-'"
        )
    return name


def _parse_arguments(arguments: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if not isinstance(arguments, str):
        raise UsageError(
            f"arguments must be a JSON string or a mapping, not {type(arguments).__name__}"
        )
    if not arguments.strip():
        return {}
    try:
        data = json.loads(arguments, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise ToolArgumentsError(
            [f"arguments are not valid JSON: {error.msg} at char {error.pos}"]
        ) from None
    except ValueError as error:  # NaN / Infinity, which JSON does not have
        raise ToolArgumentsError([f"arguments are not valid JSON: {error}"]) from None
    if not isinstance(data, dict):
        raise ToolArgumentsError(["arguments must be a JSON object"])
    return data


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON value")


def _parameter_at(path: str, schema: Mapping[str, Any]) -> str | None:
    """The parameter whose part of ``schema`` cannot be made strict, if one can tell."""
    parts = path.split(".")
    if len(parts) >= 3 and parts[1] == "properties":
        return parts[2]
    # A shared definition failed: convert each parameter alone to see which one reaches it.
    definitions = {key: schema[key] for key in ("$defs", "definitions") if key in schema}
    for parameter, spec in schema.get("properties", {}).items():
        alone = {"type": "object", "properties": {parameter: spec}, **definitions}
        try:
            to_strict_schema(alone)
        except StrictSchemaError:
            return str(parameter)
    return None
