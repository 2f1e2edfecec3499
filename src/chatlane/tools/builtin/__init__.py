"""Built-in tools: offline, side-effect free, and described for small models.

- :func:`builtin_tools`: ``current_datetime``, ``calculator``, ``convert_units``.
- :func:`file_tools`: ``read_file`` and ``list_files``, confined to one directory.
"""

from __future__ import annotations

from chatlane.tools.builtin.calculator import calculator
from chatlane.tools.builtin.clock import current_datetime
from chatlane.tools.builtin.files import file_tools
from chatlane.tools.builtin.units import convert_units
from chatlane.tools.definition import Tool

__all__ = ["builtin_tools", "file_tools"]


def builtin_tools() -> list[Tool]:
    """New ``Tool``s for ``current_datetime``, ``calculator`` and ``convert_units``."""
    return [Tool(current_datetime), Tool(calculator), Tool(convert_units)]
