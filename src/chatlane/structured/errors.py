"""The errors of structured output (the whole tree is drawn in ``docs/errors.md``).

``OutputSchemaError`` (a ``UsageError``): the response model is not a type pydantic can turn
into a JSON schema; a schema that has no strict form is the package-wide
``StrictSchemaError``. ``StructuredOutputError`` and its subclasses: the model answered, but
not with a usable instance (every attempt failed validation, it refused, or its answer was
cut off at the token limit).

Refusal and truncation end the call at once: asking again would repeat the refusal or run
into the same limit, and their text is not a validation problem the model could fix.

Every ``StructuredOutputError`` carries what the call cost: ``usage`` and ``cost`` (summed
over all attempts), ``completions`` (one per attempt) and ``outputs`` (the raw text of each).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NotRequired, TypedDict, Unpack

from chatlane.core.errors import ChatlaneError, ChatlaneWarning, UsageError
from chatlane.core.types import ChatCompletion, Usage
from chatlane.providers.profiles import ModelInfo

__all__ = [
    "OutputRefusedError",
    "OutputSchemaError",
    "OutputTruncatedError",
    "OutputValidationError",
    "StructuredOutputError",
    "StructuredOutputWarning",
]


class OutputSchemaError(UsageError, ValueError):
    """The response model is not a type pydantic can validate and describe as a JSON schema."""


class AttemptRecord(TypedDict):
    """What every structured-output error carries about the attempts made."""

    completions: Sequence[ChatCompletion]
    outputs: Sequence[str]
    usage: Usage
    provider: NotRequired[str | None]
    model: NotRequired[str | None]
    model_info: NotRequired[ModelInfo | None]


class StructuredOutputError(ChatlaneError):
    """The model answered, but the answer could not become an instance of the response model."""

    def __init__(self, message: str, **record: Unpack[AttemptRecord]) -> None:
        completions = record["completions"]
        super().__init__(
            message,
            provider=record.get("provider"),
            model=record.get("model"),
            attempts=len(completions),
        )
        self.completions = tuple(completions)
        """One completion per attempt, in order."""
        self.outputs = tuple(record["outputs"])
        """The raw text of each attempt's answer (content, or the tool call's arguments)."""
        self.usage = record["usage"]
        """Tokens of all attempts together (those the provider reported)."""
        self.model_info = record.get("model_info")

    @property
    def cost(self) -> float | None:
        """US dollars for every attempt; None when the price is not known or an attempt's
        usage was not reported (unknown is never counted as 0)."""
        if not self.model or any(c.usage is None for c in self.completions):
            return None
        from chatlane.tokens.cost import estimate_cost

        return estimate_cost(self.usage, self.model, model_info=self.model_info)


class OutputValidationError(StructuredOutputError):
    """No attempt produced a valid instance. ``errors[i]`` explains why attempt ``i`` failed."""

    def __init__(
        self, message: str, *, errors: Sequence[str], **record: Unpack[AttemptRecord]
    ) -> None:
        super().__init__(message, **record)
        self.errors = tuple(errors)


class OutputRefusedError(StructuredOutputError):
    """The model declined to answer. ``refusal`` is its explanation (or the finish reason)."""

    def __init__(self, message: str, *, refusal: str, **record: Unpack[AttemptRecord]) -> None:
        super().__init__(message, **record)
        self.refusal = refusal


class OutputTruncatedError(StructuredOutputError):
    """The answer was cut off by the token limit; ``outputs[-1]`` is the partial text.

    Raise ``max_tokens`` (or simplify the response model) and try again.
    """


class StructuredOutputWarning(ChatlaneWarning):
    """A structured call went ahead in a weaker form than asked (``strict="fallback"``)."""
