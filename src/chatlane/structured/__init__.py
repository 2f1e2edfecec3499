"""Structured output: typed, validated answers instead of prose.

``Client.parse(response_model=Model, ...)`` returns a :class:`Parsed` result whose
``output`` is an instance of ``Model``; ``Client.parse_stream(...)`` yields partial objects
while the JSON streams in. The pieces, inner to outer:

- :mod:`~chatlane.structured.spec`: a response model's name, schemas and validation (the
  strict dialect is ``chatlane.tools.strict``'s, shared with tools);
- :mod:`~chatlane.structured.modes`: json_schema, json_object and tools, ask and read;
- :mod:`~chatlane.structured.profile`: which mode a provider/model gets by default;
- :mod:`~chatlane.structured.flow`: attempts and re-asks as one generator of requests;
- :mod:`~chatlane.structured.partial` and :mod:`~chatlane.structured.streams`: streaming.

Nothing here imports pydantic until a structured call is made.
"""

from __future__ import annotations

from chatlane.structured.errors import (
    OutputRefusedError,
    OutputSchemaError,
    OutputTruncatedError,
    OutputValidationError,
    StructuredOutputError,
    StructuredOutputWarning,
)
from chatlane.structured.result import Parsed
from chatlane.structured.streams import AsyncStructuredStream, StructuredStream

__all__ = [
    "AsyncStructuredStream",
    "OutputRefusedError",
    "OutputSchemaError",
    "OutputTruncatedError",
    "OutputValidationError",
    "Parsed",
    "StructuredOutputError",
    "StructuredOutputWarning",
    "StructuredStream",
]
