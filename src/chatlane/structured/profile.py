"""Which mode a structured call uses when the caller does not say: the provider's row, then the
model's quirks.

The provider rows (``Provider.structured_output`` in :mod:`chatlane.providers.registry`) say
what a vendor's current models take. A few older models of a vendor take less; they are
listed here by name, so a row stays one line.
"""

from __future__ import annotations

from typing import get_args

from chatlane.core.errors import RequestValidationError
from chatlane.providers.registry import COMPATIBLE, StructuredOutputMode, get_provider

__all__ = ["MODES", "check_mode", "default_mode", "enforces_full_schema"]

MODES: tuple[StructuredOutputMode, ...] = get_args(StructuredOutputMode)

# Providers whose decoder enforces JSON Schema as pydantic writes it: the embedded model's
# grammar (llama.cpp's converter) takes lengths, item counts, tuples and dicts, all of
# which the strict dialect would have to drop or refuse. It does not take numeric ranges
# (minimum/maximum): those are left to validation and re-asking.
_FULL_SCHEMA = frozenset({"local"})

# OpenAI models from before structured outputs (gpt-4o-2024-08-06) take JSON mode only.
_OPENAI_JSON_OBJECT_ONLY = ("gpt-3.5", "gpt-4-", "gpt-4-turbo")


def default_mode(provider: str, model: str) -> StructuredOutputMode:
    """The mode for ``model`` (the provider's own name for it) at ``provider``."""
    row = get_provider(provider) or COMPATIBLE
    if row.name == "openai":
        name = model.lower()
        if name == "gpt-4" or name.startswith(_OPENAI_JSON_OBJECT_ONLY):
            return "json_object"
    return row.structured_output


def enforces_full_schema(provider: str) -> bool:
    """True when ``provider`` enforces pydantic's own schema: no strict form is needed."""
    return provider in _FULL_SCHEMA


def check_mode(mode: object) -> StructuredOutputMode:
    """``mode`` if it names a mode; a clear error otherwise."""
    for known in MODES:
        if mode == known:
            return known
    raise RequestValidationError(
        f"mode: must be one of {', '.join(MODES)} (or None: the provider's), got {mode!r}",
        field="mode",
    )
