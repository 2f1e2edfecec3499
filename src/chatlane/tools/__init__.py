"""Tools: Python functions a model can call, their schemas, and running the calls.

::

    from chatlane.tools import Toolbox, tool

    @tool
    def get_weather(city: str) -> str:
        \"\"\"Current weather for a city.\"\"\"

    box = Toolbox([get_weather])
    box.definitions()        # the request's tools=[...]
    box.run_many(tool_calls)  # ToolResults, in call order; errors become results

Names load on first use, so ``import chatlane.tools`` costs nothing; pydantic loads when the
first tool is defined, asyncio and threading when a ``Toolbox`` is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatlane.tools.builtin import builtin_tools, file_tools
    from chatlane.tools.definition import Tool, tool
    from chatlane.tools.errors import StrictSchemaError, ToolArgumentsError, ToolDefinitionError
    from chatlane.tools.result import ToolResult
    from chatlane.tools.strict import to_strict_schema
    from chatlane.tools.toolbox import Toolbox

__all__ = [
    "StrictSchemaError",
    "Tool",
    "ToolArgumentsError",
    "ToolDefinitionError",
    "ToolResult",
    "Toolbox",
    "builtin_tools",
    "file_tools",
    "to_strict_schema",
    "tool",
]

_HOMES = {
    "StrictSchemaError": "chatlane.tools.errors",
    "Tool": "chatlane.tools.definition",
    "ToolArgumentsError": "chatlane.tools.errors",
    "ToolDefinitionError": "chatlane.tools.errors",
    "ToolResult": "chatlane.tools.result",
    "Toolbox": "chatlane.tools.toolbox",
    "builtin_tools": "chatlane.tools.builtin",
    "file_tools": "chatlane.tools.builtin",
    "to_strict_schema": "chatlane.tools.strict",
    "tool": "chatlane.tools.definition",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found once; later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
