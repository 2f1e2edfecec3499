"""The errors of ``chatlane.tools``.

::

    UsageError (chatlane)
    └── ToolDefinitionError      a function cannot become a tool (bad name, untyped or
                                 variadic parameter, a type strict mode cannot express, ...)
    ValueError
    ├── ToolArgumentsError       the arguments a model sent do not fit the tool's signature
    └── StrictSchemaError        a JSON schema cannot be put in strict form (names the place)

``ToolArgumentsError`` and ``StrictSchemaError`` are plain ``ValueError`` subclasses: they
describe data (what a model sent, what a schema says), not misuse of chatlane.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatlane.core.errors import UsageError

__all__ = ["StrictSchemaError", "ToolArgumentsError", "ToolDefinitionError"]


class ToolDefinitionError(UsageError):
    """A function (or its options) cannot be turned into a tool; the message says why."""


class ToolArgumentsError(ValueError):
    """Arguments from a model failed validation.

    ``str(error)`` is written for the model to read and fix its call: one ``field: problem``
    per bad field, joined by ``"; "``. ``problems`` holds the same items separately.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class StrictSchemaError(ValueError):
    """A schema has a part strict mode cannot express. ``path`` is its JSON path (``$.a.b``)."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message
