"""Reading a tool's description and its parameters' descriptions out of a docstring.

Three common styles are understood::

    Google                      reST                          NumPy

    Summary.                    Summary.                      Summary.

    Args:                       :param city: The city.        Parameters
        city: The city.         :param unit: Temperature      ----------
        unit (str): Temperature     unit.                     city : str
            unit.                                                 The city.

The description is the text before the first section (``Args:``, ``Returns:``, a ``:param``
field, a NumPy header, ...); sections other than the parameters are not sent to the model.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_docstring"]

# Google-style section headers: a known word alone on its line, ending with a colon.
_GOOGLE_HEADER = re.compile(
    r"^(args|arguments|parameters|params|keyword args|keyword arguments|other parameters"
    r"|returns?|raises|yields?|examples?|notes?|warnings?|see also|attributes|todo"
    r"|references)\s*:\s*$",
    re.IGNORECASE,
)
_GOOGLE_PARAMS = frozenset({"args", "arguments", "parameters", "params"})
# NumPy-style headers are the same words underlined with dashes on the next line.
_NUMPY_UNDERLINE = re.compile(r"^-{3,}\s*$")
_NUMPY_PARAMS = frozenset({"parameters", "other parameters"})
_REST_FIELD = re.compile(
    r"^:(param|parameter|arg|argument|key|keyword|type|returns?|rtype|raises?|except|exception)\b"
)
_REST_PARAM = re.compile(
    r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:\S+\s+)?(\w+)\s*:(.*)$"
)
# "name (type): text" or "name: text", with the stars of *args/**kwargs allowed.
_GOOGLE_ENTRY = re.compile(r"^\**(\w+)\s*(?:\([^)]*\))?\s*:(.*)$")
_NUMPY_ENTRY = re.compile(r"^\**(\w+)\s*(?::.*)?$")


@dataclass(frozen=True)
class Docstring:
    description: str = ""
    """The summary and body before the first section, cleaned of indentation."""
    params: dict[str, str] = field(default_factory=dict)
    """Parameter name to its description, from whichever style the docstring uses."""


def parse_docstring(doc: str | None) -> Docstring:
    """Split ``doc`` into the description and the parameter descriptions."""
    if not doc or not doc.strip():
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    first_section = next(
        (index for index in range(len(lines)) if _starts_section(lines, index)), len(lines)
    )
    description = "\n".join(lines[:first_section]).strip()
    params = {**_numpy_params(lines), **_rest_params(lines), **_google_params(lines)}
    return Docstring(description=description, params=params)


def _starts_section(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if _GOOGLE_HEADER.match(line) or _REST_FIELD.match(line):
        return True
    following = lines[index + 1] if index + 1 < len(lines) else ""
    return bool(line) and bool(_NUMPY_UNDERLINE.match(following.strip()))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(parts: list[str]) -> str:
    return " ".join(part.strip() for part in parts if part.strip())


def _google_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    index = 0
    while index < len(lines):
        header = lines[index].strip()
        index += 1
        if not (_GOOGLE_HEADER.match(header) and header.rstrip(": ").lower() in _GOOGLE_PARAMS):
            continue
        header_indent = _indent(lines[index - 1])
        entry_indent: int | None = None
        name: str | None = None
        while index < len(lines):
            line = lines[index]
            if line.strip():
                indent = _indent(line)
                if indent <= header_indent:
                    break  # back at the header's level: the section is over
                if entry_indent is None:
                    entry_indent = indent
                match = _GOOGLE_ENTRY.match(line.strip()) if indent == entry_indent else None
                if match:
                    name = match.group(1)
                    params[name] = match.group(2).strip()
                elif name is not None:
                    params[name] = _join([params[name], line])  # a continuation line
            index += 1
    return params


def _rest_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    name: str | None = None
    current: list[str] = []
    for line in [*lines, ""]:
        stripped = line.strip()
        match = _REST_PARAM.match(stripped)
        ends_entry = not stripped or stripped.startswith(":") or not line[:1].isspace()
        if name is not None and (match or ends_entry):
            params[name] = _join(current)
            name = None
        if match:
            name, current = match.group(1), [match.group(2)]
        elif name is not None:
            current.append(stripped)
    return params


def _numpy_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    index = 0
    while index + 1 < len(lines):
        is_header = bool(_NUMPY_UNDERLINE.match(lines[index + 1].strip()))
        if not (is_header and lines[index].strip().lower() in _NUMPY_PARAMS):
            index += 1
            continue
        base = _indent(lines[index])
        index += 2
        name: str | None = None
        current: list[str] = []
        while index < len(lines):
            line = lines[index]
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if line.strip() and _NUMPY_UNDERLINE.match(following.strip()):
                break  # the next section's header
            if line.strip() and _indent(line) <= base:
                match = _NUMPY_ENTRY.match(line.strip())
                if name is not None:
                    params[name] = _join(current)
                name, current = (match.group(1), []) if match else (None, [])
            elif name is not None:
                current.append(line)
            index += 1
        if name is not None:
            params[name] = _join(current)
    return params
