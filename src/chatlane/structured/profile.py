"""Which mode a structured call uses when the caller does not say.

The facts behind it (each provider's mode, the few models that take less than their
provider's others, the providers whose decoder enforces the whole schema) live with the other
model facts in :mod:`chatlane.providers.profiles`.
"""

from __future__ import annotations

from typing import get_args

from chatlane.core.errors import RequestValidationError
from chatlane.providers.profiles import provider_profile, structured_output_mode
from chatlane.providers.registry import StructuredOutputMode

__all__ = ["MODES", "check_mode", "default_mode", "enforces_full_schema"]

MODES: tuple[StructuredOutputMode, ...] = get_args(StructuredOutputMode)


def default_mode(provider: str, model: str) -> StructuredOutputMode:
    """The mode for ``model`` (the provider's own name for it) at ``provider``."""
    return structured_output_mode(provider, model)


def enforces_full_schema(provider: str) -> bool:
    """True when ``provider`` enforces pydantic's own schema: no strict form is needed."""
    return provider_profile(provider).full_schema


def check_mode(mode: object) -> StructuredOutputMode:
    """``mode`` if it names a mode; a clear error otherwise."""
    for known in MODES:
        if mode == known:
            return known
    raise RequestValidationError(
        f"mode: must be one of {', '.join(MODES)} (or None: the provider's), got {mode!r}",
        field="mode",
    )
