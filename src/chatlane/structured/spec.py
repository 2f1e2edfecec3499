"""What a response model means on the wire: its name, JSON schema, and how answers validate.

Any type pydantic can validate works as a response model: a ``BaseModel``, a dataclass, a
``TypedDict``, and also ``list[Item]``, ``Literal["yes", "no"]`` or a union. Providers want an
object at the root, so a type whose schema is not an object travels wrapped as
``{"value": ...}`` and is unwrapped after validation; partial objects of a stream are then the
partial ``value``.

pydantic is imported here, lazily: ``import chatlane`` does not pay for it.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from chatlane.core.errors import StrictSchemaError
from chatlane.structured.errors import OutputSchemaError

if TYPE_CHECKING:
    from pydantic import TypeAdapter, ValidationError

__all__ = ["WRAPPER_KEY", "OutputSpec", "_InvalidOutput", "output_spec"]

T = TypeVar("T")

WRAPPER_KEY = "value"
"""The one property a non-object response model travels under."""

_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


class _InvalidOutput(Exception):
    """An answer that is not an instance of the response model; ``summary`` says why, briefly."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


@dataclass(eq=False)
class OutputSpec(Generic[T]):
    """A response model prepared for structured calls. Build with :func:`output_spec`."""

    response_model: Any
    name: str
    """The schema's name (``json_schema.name``, or the tool's name): ``[A-Za-z0-9_-]{1,64}``."""
    description: str | None
    schema: dict[str, Any]
    """pydantic's JSON schema of what the model must write (wrapped if ``wrapped``)."""
    wrapped: bool
    adapter: TypeAdapter[Any] = field(repr=False)
    _strict: dict[str, Any] | StrictSchemaError | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def strict_schema(self) -> dict[str, Any]:
        """The strict form of :attr:`schema`; raises StrictSchemaError if there is none."""
        with self._lock:
            if self._strict is None:
                self._strict = _strict_form(self.name, self.schema)
        if isinstance(self._strict, StrictSchemaError):
            known = self._strict  # a fresh error per call: a raised one collects tracebacks
            raise StrictSchemaError(
                known.message, path=known.path, reason=known.reason, field=known.field
            )
        return self._strict

    def validate(self, text: str | None) -> T:
        """The instance ``text`` (JSON) describes, or :class:`_InvalidOutput`."""
        from pydantic import ValidationError

        if text is None or not text.strip():
            raise _InvalidOutput("the answer was empty; a JSON value was expected")
        text = unfenced(text)
        try:
            value = self.adapter.validate_json(text)
        except ValidationError as first:
            value = self._validate_without_defaulted_nulls(text, first)
        return cast(T, getattr(value, WRAPPER_KEY) if self.wrapped else value)

    def _validate_without_defaulted_nulls(self, text: str, error: ValidationError) -> Any:
        """Second chance: ``null`` for an optional field means "use its default"."""
        from pydantic import ValidationError

        from chatlane.tools.strict import drop_defaulted_nulls

        try:
            data = json.loads(text)
        except ValueError:
            raise _InvalidOutput(summarize(error)) from None
        cleaned = drop_defaulted_nulls(data, self.schema)
        if cleaned == data:
            raise _InvalidOutput(summarize(error)) from None
        try:
            return self.adapter.validate_json(json.dumps(cleaned))
        except ValidationError as again:
            raise _InvalidOutput(summarize(again)) from None

    def partial_view(self, data: Any) -> Any:
        """What a stream shows of partially parsed ``data`` (the ``value`` when wrapped)."""
        if self.wrapped:
            return data.get(WRAPPER_KEY) if isinstance(data, dict) else None
        return data


def output_spec(response_model: Any) -> OutputSpec[Any]:
    """The :class:`OutputSpec` of ``response_model`` (built once per type and cached)."""
    try:
        return _cached_spec(response_model)
    except TypeError as exc:
        if "unhashable" not in str(exc):
            raise
        return _build_spec(response_model)


@functools.lru_cache(maxsize=256)
def _cached_spec(response_model: Any) -> OutputSpec[Any]:
    return _build_spec(response_model)


def _build_spec(response_model: Any) -> OutputSpec[Any]:
    from pydantic import PydanticUserError, TypeAdapter, create_model
    from pydantic.errors import PydanticSchemaGenerationError

    try:
        adapter: TypeAdapter[Any] = TypeAdapter(response_model)
        schema = _object_root(adapter.json_schema())
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        raise OutputSchemaError(
            f"response_model={response_model!r} is not a type pydantic can validate: {exc}"
        ) from None
    name = _schema_name(response_model, schema)
    description = schema.get("description")
    wrapped = schema.get("type") != "object" or "anyOf" in schema
    if wrapped:
        wrapper = create_model(name, **{WRAPPER_KEY: (response_model, ...)})  # type: ignore[call-overload]
        adapter = TypeAdapter(wrapper)
        schema = _object_root(adapter.json_schema())
        schema.pop("title", None)
    return OutputSpec(
        response_model=response_model,
        name=name,
        description=description if isinstance(description, str) else None,
        schema=schema,
        wrapped=wrapped,
        adapter=adapter,
    )


def _object_root(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a root ``$ref`` (pydantic's form for recursive models) resolved."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"))
        if isinstance(target, Mapping):
            rest = {key: value for key, value in schema.items() if key != "$ref"}
            return {**target, **rest}
    return schema


def _schema_name(response_model: Any, schema: Mapping[str, Any]) -> str:
    title = schema.get("title")
    raw = title if isinstance(title, str) else getattr(response_model, "__name__", "")
    name = _NAME.sub("_", str(raw)).strip("_")[:64]
    return name or "output"


def _strict_form(name: str, schema: dict[str, Any]) -> dict[str, Any] | StrictSchemaError:
    """The strict schema, or the error saying where ``schema`` cannot be strict.

    The conversion is the tools package's (tools and structured output share one dialect).
    """
    from chatlane.tools.strict import to_strict_schema

    try:
        return to_strict_schema(schema)
    except StrictSchemaError as exc:
        field = _field_of(exc.path)
        where = f"field {field!r}" if field else "the schema"
        return StrictSchemaError(
            f"{name}: {where} ({exc.path}): {exc.reason}; pass strict=False, or "
            "strict='fallback', to send the schema without strict decoding",
            path=exc.path,
            reason=exc.reason,
            field=field,
        )


def _field_of(path: str) -> str | None:
    """``Item.tags`` for ``$.$defs.Item.properties.tags``: the field a JSON path points into."""
    parts = path.split(".")[1:]
    names: list[str] = []
    index = 0
    while index < len(parts):
        part = parts[index]
        following = parts[index + 1] if index + 1 < len(parts) else None
        if part == "properties" and following is not None:
            names.append(following)
            index += 2
            continue
        if part in ("$defs", "definitions") and following is not None:
            names = [following]
            index += 2
            continue
        if part == "items" and names:
            names[-1] += "[]"
        index += 1
    return ".".join(names) or None


def unfenced(text: str) -> str:
    """``text`` without a Markdown code fence around it (JSON mode answers sometimes have one)."""
    match = _FENCE.match(text)
    return match.group(1) if match else text


def summarize(error: ValidationError) -> str:
    """A validation error as short lines the model can act on: the same ``field: problem``
    items a tool's bad arguments get (``chatlane.tools.schema.describe_errors``), one per line."""
    from chatlane.tools.schema import describe_errors

    return "\n".join(f"- {problem}" for problem in describe_errors(error))
