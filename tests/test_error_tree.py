"""docs/errors.md draws every exception and warning class chatlane defines; this keeps the
drawing true: same classes, same parents, the builtin mixins named, all importable."""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import chatlane

DOC = Path(__file__).parent.parent / "docs" / "errors.md"
APPLICATION_ONLY = {"CLIError"}  # the command line's own; not part of the Python API


def defined_classes() -> dict[str, type]:
    """Every exception and warning class defined in a chatlane module (not private ones)."""
    found: dict[str, type] = {}
    for module_info in pkgutil.walk_packages(chatlane.__path__, "chatlane."):
        if module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                assert name not in found, f"two exception classes named {name}"
                found[name] = value
    return found


def drawn_tree() -> dict[str, tuple[str | None, str]]:
    """name -> (drawn parent, the line's text) from the tree in docs/errors.md."""
    block = DOC.read_text(encoding="utf-8").split("```text\n", 1)[1].split("```", 1)[0]
    tree: dict[str, tuple[str | None, str]] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = re.match(r"^([│ ├└─]*)(\w+)\s*(.*)$", line)
        if not match:
            continue
        depth, name, text = len(match.group(1)) // 4, match.group(2), match.group(3)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        tree[name] = (stack[-1][1] if stack else None, text)
        stack.append((depth, name))
    return tree


def test_the_drawing_has_every_class_and_only_those() -> None:
    assert set(drawn_tree()) == set(defined_classes())


def test_every_class_sits_under_its_drawn_parent() -> None:
    classes = defined_classes()
    for name, (parent, _) in drawn_tree().items():
        first_base = classes[name].__bases__[0]
        if parent is None:
            assert first_base in (Exception, UserWarning), name
        else:
            assert first_base is classes[parent], f"{name} derives from {first_base.__name__}"


def test_every_error_is_a_chatlane_error_and_every_warning_a_chatlane_warning() -> None:
    for name, cls in defined_classes().items():
        if issubclass(cls, Warning):
            assert issubclass(cls, chatlane.ChatlaneWarning), name
        else:
            assert issubclass(cls, chatlane.ChatlaneError), name


def test_builtin_mixins_are_named_in_the_drawing() -> None:
    classes = defined_classes()
    for name, (_, text) in drawn_tree().items():
        for base in classes[name].__bases__[1:]:
            if base.__module__ == "builtins":
                assert f"also a {base.__name__}" in text or (
                    f"also the builtin {base.__name__}" in text
                ), f"{name}: the drawing does not say it is also a {base.__name__}"


def test_every_class_is_importable_from_chatlane() -> None:
    for name, cls in defined_classes().items():
        if name in APPLICATION_ONLY:
            continue
        assert getattr(chatlane, name) is cls, name
        assert name in chatlane.__all__, name


def test_chatlane_timeout_error_is_also_the_builtin() -> None:
    assert issubclass(chatlane.TimeoutError, builtins.TimeoutError)
