"""The result of a structured call: the validated instance and what it took to get it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from chatlane.core.types import ChatCompletion, Usage
from chatlane.providers.registry import StructuredOutputMode

__all__ = ["Parsed"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Parsed(Generic[T]):
    """A validated instance of the response model, with every completion it took.

    ``usage`` and ``cost`` cover all attempts, the failed ones included.
    """

    output: T
    """The instance: a pydantic model, dataclass, TypedDict... whatever was asked for."""
    completions: tuple[ChatCompletion, ...]
    """One completion per attempt; the last one held the valid answer."""
    usage: Usage
    """Tokens of all attempts together."""
    mode: StructuredOutputMode
    """How the schema was sent: json_schema, json_object or tools."""
    strict: bool
    """True when the schema was sent in strict form for the provider to enforce."""
    model: str
    """The model as the call named it (``provider/`` prefix included, if any)."""
    errors: tuple[str, ...] = ()
    """Why each earlier attempt failed; empty when the first answer was valid."""

    @property
    def completion(self) -> ChatCompletion:
        """The completion with the valid answer (the last one)."""
        return self.completions[-1]

    @property
    def attempts(self) -> int:
        """How many times the model was asked (1 + re-asks). HTTP retries inside one attempt
        are counted on each completion's own ``attempts``."""
        return len(self.completions)

    @property
    def cost(self) -> float | None:
        """US dollars for all attempts at list prices, or None when the model is not known
        (see ``chatlane.tokens.estimate_cost``)."""
        from chatlane.tokens.cost import estimate_cost

        return estimate_cost(self.usage, self.model)
