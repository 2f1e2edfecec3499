"""What an HTTP header name and value may hold: one rule for a client's ``default_headers``,
its key and a call's ``extra_headers``. A problem is described without showing the value
(it may be a key)."""

from __future__ import annotations

__all__ = ["name_problem", "value_problem"]

_SEPARATORS = frozenset(':()<>@,;\\"/[]?={}')


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a header name (RFC 9110 token), or None."""
    if not isinstance(name, str) or not name:
        return "is not a valid header name (a non-empty string)"
    if any(ord(char) <= 0x20 or ord(char) >= 0x7F or char in _SEPARATORS for char in name):
        return "is not a valid header name (letters, digits and -!#$%&'*+.^_`|~ only)"
    return None


def value_problem(value: object) -> str | None:
    """Why ``value`` cannot be sent as a header value as is, or None."""
    if not isinstance(value, str):
        return f"must be a str, not {type(value).__name__}"
    if value != value.strip():
        return "starts or ends with whitespace"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return "contains a control character (a newline, a NUL, ...)"
    if any(ord(char) > 0xFF for char in value):
        return "contains characters an HTTP header cannot carry (not latin-1)"
    return None
