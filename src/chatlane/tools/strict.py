"""Putting a JSON schema in the strict form that constrained decoding accepts. Pure.

OpenAI's ``strict: true`` (for tools and for structured outputs), and other providers that
copy it, decode against a subset of JSON Schema that describes one closed shape:

- every object has fixed ``properties``, ``additionalProperties: false``, and lists *every*
  property in ``required``. A property that was optional becomes nullable instead: the model
  writes ``null`` to leave it out, and :func:`drop_strict_nulls` (tools) or
  :func:`drop_defaulted_nulls` (structured output) turns that ``null`` back into "absent" so
  the default applies when the value is validated;
- ``$ref`` into ``$defs`` stays (recursive models work), but a ``$ref`` with sibling keywords
  (pydantic puts a field's ``description`` beside it) is inlined, because strict mode ignores
  or rejects siblings of ``$ref``; a one-member ``allOf`` is merged the same way;
- ``oneOf`` (pydantic's discriminated unions) becomes ``anyOf`` and ``discriminator`` goes;
- constraints the dialect lacks (``minLength``, ``maxLength``, ``uniqueItems``, a ``format``
  outside :data:`STRICT_FORMATS`) are written into the description, so the model still reads
  them; validating the answer afterwards still enforces them;
- annotations that only add noise or are rejected (``title``, ``default``, ``examples``) go.

What cannot be expressed raises :class:`StrictSchemaError` with the JSON path of the part:
free-form objects (``dict[str, X]``, untyped ``dict``), ``Any``, tuples (``prefixItems``),
``not``, conditionals, several ``allOf`` members, and a root that is not an object.

The input is never changed; unused ``$defs`` are left out of the result.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from chatlane.core.errors import StrictSchemaError

__all__ = [
    "STRICT_FORMATS",
    "accepts_null",
    "drop_defaulted_nulls",
    "drop_strict_nulls",
    "to_strict_schema",
]

STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
"""String formats strict mode enforces; any other ``format`` is described instead."""

# Keywords that carry no constraint the model needs, or that strict mode rejects (default).
_DROPPED = frozenset(
    {"title", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly",
     "$schema", "$id", "discriminator", "contentEncoding", "contentMediaType"}
)  # fmt: skip
# Constraints strict mode lacks, as words appended to the description.
_DESCRIBED = {
    "minLength": "at least {} characters",
    "maxLength": "at most {} characters",
    "uniqueItems": "items must be unique",
    "minProperties": "at least {} entries",
    "maxProperties": "at most {} entries",
    "format": "format: {}",
}
_INEXPRESSIBLE = {
    "prefixItems": "a tuple (items with fixed positions); use a list or an object",
    "patternProperties": "an object whose keys follow a pattern",
    "propertyNames": "an object with constrained key names",
    "not": "a 'not' schema",
    "if": "a conditional (if/then/else) schema",
    "dependentRequired": "dependent requirements",
    "dependentSchemas": "dependent schemas",
    "contains": "an array 'contains' constraint",
    "unevaluatedProperties": "unevaluated properties",
    "unevaluatedItems": "unevaluated items",
}
_DEF_SECTIONS = ("$defs", "definitions")
_PRIMITIVES = frozenset({"string", "number", "integer", "boolean"})


def to_strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The strict form of ``schema``, a JSON schema such as pydantic writes.

    Raises :class:`StrictSchemaError` naming the first part that cannot be made strict.
    """
    return _Converter(copy.deepcopy(dict(schema))).root()


class _Converter:
    """One conversion: the source definitions, and the converted ones reached so far."""

    def __init__(self, source: dict[str, Any]) -> None:
        self.source = source
        self.defs: dict[str, dict[str, dict[str, Any]]] = {}  # section -> name -> schema
        self.inlining: list[str] = []  # references being inlined, to stop at recursion

    def root(self) -> dict[str, Any]:
        body = {key: value for key, value in self.source.items() if key not in _DEF_SECTIONS}
        # A recursive model at the root is written as a bare reference to its definition.
        if set(body) <= {"$ref", "title", "description"} and "$ref" in body:
            body = {**self._resolve(body.pop("$ref"), "$"), **body}
        result = self.node(body, "$")
        if _kind(result) != "object" or "anyOf" in result:
            raise _cannot("the root of a strict schema must be an object", path="$")
        for section, defs in self.defs.items():
            result[section] = defs
        return result

    def node(self, schema: Any, path: str) -> dict[str, Any]:
        if schema is True or schema == {}:
            raise _cannot("any value (an untyped schema) cannot be strict", path=path)
        if not isinstance(schema, Mapping):
            raise _cannot("expected a schema object", path=path)
        node = {key: value for key, value in schema.items() if key not in _DROPPED}
        if "allOf" in node:
            members = node.pop("allOf")
            if not isinstance(members, list) or len(members) != 1:
                raise _cannot("an 'allOf' of several schemas cannot be strict", path=path)
            return self.node({**members[0], **node}, path)
        if "oneOf" in node:
            node["anyOf"] = node.pop("oneOf")
        for keyword, what in _INEXPRESSIBLE.items():
            if keyword in node:
                raise _cannot(f"{what} cannot be strict", path=path)
        if "$ref" in node:
            return self._reference(node, path)
        notes = []
        for keyword, words in _DESCRIBED.items():
            if keyword in node and not (keyword == "format" and node[keyword] in STRICT_FORMATS):
                notes.append(words.format(node.pop(keyword)))
        if notes:
            text = "; ".join(notes)
            node["description"] = (
                f"{node['description']} ({text})" if "description" in node else text
            )
        if "anyOf" in node:
            node["anyOf"] = [
                self.node(option, f"{path}.anyOf[{index}]")
                for index, option in enumerate(node["anyOf"])
            ]
        elif _kind(node) == "object":
            self._object(node, path)
        elif _kind(node) == "array":
            if "items" not in node:
                raise _cannot("a list of any values cannot be strict", path=path)
            node["items"] = self.node(node["items"], f"{path}.items")
        elif not any(key in node for key in ("type", "enum", "const")):
            raise _cannot("any value (an untyped schema) cannot be strict", path=path)
        return node

    def _object(self, node: dict[str, Any], path: str) -> None:
        properties = node.get("properties")
        extra = node.get("additionalProperties", False)
        if not isinstance(properties, Mapping) or extra is not False:
            raise _cannot(
                "a free-form object (a dict, or keys not fixed in advance) cannot be strict;"
                " use a model with named fields",
                path=path,
            )
        required = set(node.get("required", ()))
        converted: dict[str, Any] = {}
        for name, spec in properties.items():
            strict = self.node(spec, f"{path}.properties.{name}")
            converted[name] = strict if name in required else self._nullable(strict)
        node["properties"] = converted
        node["required"] = list(converted)
        node["additionalProperties"] = False

    def _reference(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        ref = node.pop("$ref")
        target = self._resolve(ref, path)
        if node and ref not in self.inlining:
            # Siblings of $ref: inline the definition with the siblings on top.
            self.inlining.append(ref)
            try:
                return self.node({**target, **node}, path)
            finally:
                self.inlining.pop()
        section, name = _split_reference(ref)
        converted = self.defs.setdefault(section, {})
        if name not in converted:
            converted[name] = {}  # placeholder first: a recursive model refers to itself
            converted[name] = self.node(target, f"$.{section}.{name}")
        return {"$ref": ref}

    def _resolve(self, ref: Any, path: str) -> dict[str, Any]:
        target = _lookup(ref, self.source)
        if not isinstance(target, dict):
            raise _cannot(f"cannot resolve the reference {ref!r}", path=path)
        return target

    def _nullable(self, node: dict[str, Any]) -> dict[str, Any]:
        """``node`` that also accepts ``null``, with its description kept on the outside."""
        if accepts_null(node, self.source):
            return node
        if "anyOf" in node:
            return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
        kind = node.get("type")
        if kind in _PRIMITIVES and not any(key in node for key in ("enum", "const")):
            return {**node, "type": [kind, "null"]}
        inner = {key: value for key, value in node.items() if key != "description"}
        outer = {"description": node["description"]} if "description" in node else {}
        return {"anyOf": [inner, {"type": "null"}], **outer}


def _kind(node: Mapping[str, Any]) -> str | None:
    """The one non-null type of ``node`` ("object", "array", ...), if it has exactly one."""
    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [item for item in kind if item != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if kind is None and "properties" in node:
        return "object"
    return kind if isinstance(kind, str) else None


def accepts_null(schema: Any, root: Mapping[str, Any], _depth: int = 0) -> bool:
    """Whether ``schema`` accepts ``null``; ``root`` holds the ``$defs`` it may refer to."""
    if not isinstance(schema, Mapping) or _depth > 16:
        return False
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if "const" in schema and schema["const"] is None:
        return True
    if isinstance(schema.get("enum"), list) and None in schema["enum"]:
        return True
    options = [*schema.get("anyOf", ()), *schema.get("oneOf", ()), *schema.get("allOf", ())[:1]]
    if any(accepts_null(option, root, _depth + 1) for option in options):
        return True
    return "$ref" in schema and accepts_null(_lookup(schema["$ref"], root), root, _depth + 1)


def _split_reference(ref: Any) -> tuple[str, str]:
    """``("$defs", "Name")`` for ``"#/$defs/Name"``; ``("", "")`` for any other reference."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return "", ""
    section, _, name = ref[2:].partition("/")
    return (section, name) if section in _DEF_SECTIONS and name and "/" not in name else ("", "")


def _lookup(ref: Any, root: Mapping[str, Any]) -> Any:
    """The definition ``ref`` points to inside ``root``, or None."""
    section, name = _split_reference(ref)
    defs = root.get(section) if section else None
    return defs.get(name) if isinstance(defs, Mapping) else None


def drop_defaulted_nulls(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` without the ``null``s that stand for "absent" in strict mode.

    Strict mode makes optional properties nullable, so a model leaves one out by writing
    ``null``. Where the *original* (non-strict) ``schema`` does not accept ``null`` for such a
    property, the key is removed, so validation applies the default (``unit: str = "c"``)
    instead of rejecting ``null``. Walks nested objects, lists and ``$ref``s; inside a union
    with several non-null branches the value is left as it is. Returns a new value.

    A ``null`` for a nullable property (``zip: int | None = 5``) is kept, as ``None``: a value
    that is first validated as it is (structured output) must mean the same after this.
    """
    return _without_nulls(value, schema, schema, 0, nullable_too=False)


def drop_strict_nulls(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` without any ``null`` for a property that has a default, at every depth.

    The rule for a strict tool's arguments: strict mode gives the model no way to leave a
    property out, so its ``null`` for one that has a default means "use the default", even
    where ``None`` is valid (``opt: int | None = 4`` gets 4). Properties without a default
    keep their ``null``. Otherwise like :func:`drop_defaulted_nulls`. Returns a new value.
    """
    return _without_nulls(value, schema, schema, 0, nullable_too=True)


def _without_nulls(
    value: Any, schema: Any, root: Mapping[str, Any], depth: int, *, nullable_too: bool
) -> Any:
    schema = _follow(schema, value, root)
    if schema is None or depth > 32:
        return value
    if isinstance(value, dict) and isinstance(schema.get("properties"), Mapping):
        properties = schema["properties"]
        required = set(schema.get("required", ()))  # pydantic: the properties with no default
        result = {}
        for key, item in value.items():
            spec = properties.get(key)
            optional = spec is not None and key not in required
            if item is None and optional and (nullable_too or not accepts_null(spec, root)):
                continue  # "absent": the default applies
            result[key] = _without_nulls(item, spec, root, depth + 1, nullable_too=nullable_too)
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        items = schema["items"]
        return [
            _without_nulls(item, items, root, depth + 1, nullable_too=nullable_too)
            for item in value
        ]
    return value


def _follow(schema: Any, value: Any, root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The one schema ``value`` is described by: through ``$ref``s, ``allOf`` and unions."""
    for _ in range(16):
        if not isinstance(schema, Mapping):
            return None
        if "$ref" in schema:
            schema = _lookup(schema["$ref"], root)
            continue
        options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
        if not isinstance(options, list):
            return schema
        schema = _branch(value, options, schema.get("discriminator"), root)
    return None


def _branch(value: Any, options: list[Any], discriminator: Any, root: Mapping[str, Any]) -> Any:
    """The union member ``value`` belongs to, or None when that is not clear."""
    real = [option for option in options if not accepts_null(option, root)]
    if len(real) == 1:
        return real[0]
    if not isinstance(value, dict):
        return None
    if isinstance(discriminator, Mapping):
        tag = value.get(discriminator.get("propertyName", ""))
        mapping = discriminator.get("mapping")
        if isinstance(tag, str) and isinstance(mapping, Mapping) and tag in mapping:
            return {"$ref": mapping[tag]}
    fitting = [option for option in real if _fits(value, option, root)]
    return fitting[0] if len(fitting) == 1 else None


def _fits(value: dict[str, Any], option: Any, root: Mapping[str, Any]) -> bool:
    """Whether the object ``value`` could be an instance of the object schema ``option``."""
    while isinstance(option, Mapping) and "$ref" in option:
        option = _lookup(option["$ref"], root)
    if not isinstance(option, Mapping) or not isinstance(option.get("properties"), Mapping):
        return False
    properties = option["properties"]
    if not set(value) <= set(properties) or not set(option.get("required", ())) <= set(value):
        return False
    # Tags written as constants (Literal["cat"]) must match.
    return all(
        value[key] == spec["const"]
        for key, spec in properties.items()
        if key in value and isinstance(spec, Mapping) and "const" in spec
    )


def _cannot(reason: str, *, path: str) -> StrictSchemaError:
    return StrictSchemaError(f"{path}: {reason}", path=path, reason=reason)
