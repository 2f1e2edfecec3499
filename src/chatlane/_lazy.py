"""Lazy exports listed once: a package's ``if TYPE_CHECKING:`` imports are the list.

Type checkers and editors read that block; at run time ``lazy_getattr`` reads the same block
from the package's source on the first name it misses, so the names never drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["lazy_getattr", "lazy_homes"]


def lazy_homes(source_file: str) -> dict[str, str]:
    """Each name imported under ``if TYPE_CHECKING:`` in ``source_file``, with its module."""
    import ast  # only when a lazy name is first used: most imports of chatlane never need it

    homes: dict[str, str] = {}
    for node in ast.parse(Path(source_file).read_text(encoding="utf-8")).body:
        test = node.test if isinstance(node, ast.If) else None
        guarded = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if isinstance(node, ast.If) and guarded:
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        homes[alias.asname or alias.name] = statement.module
    return homes


def lazy_getattr(
    package: str, source_file: str, namespace: MutableMapping[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports a lazy name's home on first use (once)."""
    homes: dict[str, str] | None = None

    def __getattr__(name: str) -> Any:
        nonlocal homes
        if homes is None:
            homes = lazy_homes(source_file)
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__
