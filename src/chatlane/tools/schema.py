"""A function's parameters as a pydantic model: the JSON schema a model reads, and validation.

Each parameter becomes one field of a generated model. Fields are named ``p0``, ``p1``, ...
and carry the parameter's name as their alias, so any parameter name works (``json``,
``model_config``, ``_private`` would otherwise clash with pydantic's own names) while the
schema and the error messages show the real names.

Arguments are validated in pydantic's strict mode, from JSON: a value of the wrong JSON type
goes back to the model as an error instead of being guessed at (``"yes"`` is not a boolean,
``true`` not an integer, ``"3.5"`` not a number). What JSON cannot say directly still comes
as JSON does: ISO strings for datetimes, values for enums, objects for models and
dataclasses, ``1`` for a float.

pydantic is imported only here and only when a tool is defined, so ``import chatlane`` (and
``import chatlane.tools``) stay free of it.
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatlane.tools.errors import ToolArgumentsError, ToolDefinitionError

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError
    from pydantic.fields import FieldInfo

__all__ = ["Parameters", "build_parameters", "describe_errors", "remove_titles"]

_MAX_LISTED_PROBLEMS = 10  # more than this helps no model fix its call


@dataclass(frozen=True)
class Parameters:
    """The parameters of one tool function."""

    model: type[BaseModel]
    """Validates a JSON object of arguments (keys are the parameter names)."""
    names: dict[str, str]
    """Field name in ``model`` -> parameter name."""
    schema: dict[str, Any]
    """The JSON schema of the arguments object, without pydantic's ``title`` keys."""

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments for the function, converted by pydantic (models, enums, ...).

        ``arguments`` holds JSON values (what the model's JSON text parses to); they are
        validated strictly as JSON, see the module's docstring.
        """
        from pydantic import ValidationError

        try:
            # allow_nan=False: NaN and Infinity are not JSON, so not something a model sent.
            text = json.dumps(arguments, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ToolArgumentsError([f"arguments are not JSON values: {error}"]) from None
        try:
            instance = self.model.model_validate_json(text, strict=True)
        except ValidationError as error:
            raise ToolArgumentsError(describe_errors(error)) from None
        return {parameter: getattr(instance, field) for field, parameter in self.names.items()}


def build_parameters(
    function: Callable[..., Any], *, tool_name: str, docstring_params: Mapping[str, str]
) -> Parameters:
    """Read ``function``'s signature into :class:`Parameters`.

    Raises ``ToolDefinitionError`` naming the parameter when one cannot be described to a
    model: ``*args``/``**kwargs``, positional-only, no type annotation, or a type pydantic
    cannot validate or describe.

    Parameters a ``functools.partial`` binds are left out, so the model can neither see nor
    send them: ``partial(read, root="/safe")`` must not let the model pick another root (a
    call's keywords would override the partial's). Sending one is an "extra input" error.
    """
    try:
        signature = inspect.signature(function, eval_str=True)
    except (NameError, TypeError, ValueError, SyntaxError) as error:
        raise ToolDefinitionError(
            f"cannot read the signature of tool {tool_name!r}: {error}"
        ) from error
    bound = _bound_by_partials(function)  # positional bindings are gone from the signature
    fields: dict[str, tuple[Any, FieldInfo]] = {}
    names: dict[str, str] = {}
    for index, parameter in enumerate(signature.parameters.values()):
        if parameter.name in bound:
            continue
        _check_parameter(parameter, tool_name)
        field = f"p{index}"
        fields[field] = (parameter.annotation, _field_info(parameter, docstring_params))
        names[field] = parameter.name
    model = _build_model(fields, names, tool_name)
    return Parameters(model=model, names=names, schema=remove_titles(model.model_json_schema()))


def _bound_by_partials(function: Callable[..., Any]) -> frozenset[str]:
    """Names of the keyword arguments bound by ``functools.partial``s in ``function``.

    Follows what ``inspect.signature`` follows: nested partials and ``__wrapped__`` (a
    decorated partial, or a :class:`~chatlane.tools.Tool` made of one).
    """
    names: set[str] = set()
    current: Any = function
    for _ in range(100):  # a __wrapped__ cycle must not hang tool definition
        if isinstance(current, functools.partial):
            names.update(current.keywords)
            current = current.func
        elif hasattr(current, "__signature__") and current.__signature__ is not None:
            break  # inspect.signature stops here too
        elif callable(wrapped := getattr(current, "__wrapped__", None)):
            current = wrapped
        else:
            break
    return frozenset(names)


def _check_parameter(parameter: inspect.Parameter, tool_name: str) -> None:
    where = f"parameter {parameter.name!r} of tool {tool_name!r}"
    if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
        stars = "*" if parameter.kind is inspect.Parameter.VAR_POSITIONAL else "**"
        raise ToolDefinitionError(
            f"{where} is {stars}{parameter.name}: a model sends named arguments only, so a tool"
            " cannot take *args or **kwargs"
        )
    if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
        raise ToolDefinitionError(f"{where} is positional-only; tool arguments are passed by name")
    if parameter.annotation is inspect.Parameter.empty:
        hint = (
            "; for a method, make the tool of the bound method: tool(instance.method)"
            if parameter.name in ("self", "cls")
            else ""
        )
        raise ToolDefinitionError(
            f"{where} has no type annotation; a model needs a type for every parameter{hint}"
        )


def _field_info(parameter: inspect.Parameter, docstring_params: Mapping[str, str]) -> FieldInfo:
    """The pydantic field for ``parameter``: its alias, default and description.

    The description comes from ``Annotated[T, "text"]`` first, then from
    ``Annotated[T, Field(description=...)]`` (which pydantic reads by itself), then from the
    docstring.
    """
    from pydantic import Field
    from pydantic.fields import FieldInfo

    text: str | None = None
    described_by_field = False
    if typing.get_origin(parameter.annotation) is typing.Annotated:
        for extra in parameter.annotation.__metadata__:
            if isinstance(extra, str):
                text = extra
            elif isinstance(extra, FieldInfo) and extra.description:
                described_by_field = True
    if text is None and not described_by_field:
        text = docstring_params.get(parameter.name)
    options: dict[str, Any] = {"alias": parameter.name}
    if text:
        options["description"] = text
    if parameter.default is not inspect.Parameter.empty:
        options["default"] = parameter.default
    info: FieldInfo = Field(**options)
    return info


def _build_model(
    fields: Mapping[str, tuple[Any, FieldInfo]], names: Mapping[str, str], tool_name: str
) -> type[BaseModel]:
    from pydantic import ConfigDict, create_model

    config = ConfigDict(extra="forbid")
    try:
        model = create_model("Arguments", __config__=config, **fields)  # type: ignore[call-overload]
        model.model_json_schema()  # fails here for types pydantic validates but cannot describe
    except Exception as error:
        # Say which parameter: rebuild each one alone until one fails the same way.
        for field, definition in fields.items():
            try:
                create_model(
                    "Argument", __config__=config, **{field: definition}
                ).model_json_schema()  # type: ignore[call-overload]
            except Exception as single_error:
                reason = _first_line(str(single_error))
                raise ToolDefinitionError(
                    f"parameter {names[field]!r} of tool {tool_name!r} has a type that cannot be"
                    f" used: {reason}"
                ) from error
        raise ToolDefinitionError(
            f"cannot build the arguments of tool {tool_name!r}: {_first_line(str(error))}"
        ) from error
    result: type[BaseModel] = model
    return result


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def remove_titles(schema: Any) -> Any:
    """``schema`` without pydantic's ``title`` keywords, which only repeat names to a model.

    Walks schema positions only, so a property *named* ``title`` and a ``default`` value
    containing a ``title`` key are kept.
    """
    if isinstance(schema, list):
        return [remove_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties"):
            result[key] = {name: remove_titles(item) for name, item in value.items()}
        elif key in ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf"):
            result[key] = remove_titles(value)
        elif key == "prefixItems":
            result[key] = [remove_titles(item) for item in value]
        else:
            result[key] = value
    return result


def describe_errors(error: ValidationError) -> list[str]:
    """One ``field: problem`` line per error, in words a model can act on."""
    problems = []
    for item in error.errors(include_url=False):
        location = _location(item["loc"])
        problems.append(f"{location}: {item['msg']}" if location else str(item["msg"]))
    if len(problems) > _MAX_LISTED_PROBLEMS:
        hidden = len(problems) - _MAX_LISTED_PROBLEMS
        problems = [*problems[:_MAX_LISTED_PROBLEMS], f"and {hidden} more problems"]
    return problems


def _location(parts: tuple[int | str, ...]) -> str:
    """``("items", 0, "name")`` -> ``items[0].name``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
