"""The ways a provider can be asked for structured output (a name both the provider rows
and the model facts use)."""

from __future__ import annotations

from typing import Literal

__all__ = ["StructuredOutputMode"]

StructuredOutputMode = Literal["json_schema", "json_object", "tools"]
"""How a provider is asked for structured output: a ``json_schema`` response format (decoding
enforces the schema), ``json_object`` (JSON mode; the schema goes into the prompt) or
``tools`` (the schema as the parameters of one forced tool call)."""
