"""The errors of ``chatlane.tools`` (the whole tree is drawn in ``docs/errors.md``).

``ToolDefinitionError`` is misuse: a function cannot become a tool. ``ToolArgumentsError``
describes data: what a model sent does not fit a tool's signature. A schema that cannot be
put in strict form is the package-wide ``StrictSchemaError``.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatlane.core.errors import ChatlaneError, StrictSchemaError, UsageError

__all__ = ["StrictSchemaError", "ToolArgumentsError", "ToolDefinitionError"]


class ToolDefinitionError(UsageError):
    """A function (or its options) cannot be turned into a tool; the message says why."""


class ToolArgumentsError(ChatlaneError, ValueError):
    """Arguments from a model failed validation.

    ``str(error)`` is written for the model to read and fix its call: one ``field: problem``
    per bad field, joined by ``"; "``. ``problems`` holds the same items separately.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))
