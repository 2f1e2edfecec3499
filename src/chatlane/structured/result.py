"""The result of a structured call: the validated instance and what it took to get it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from chatlane.core.types import ChatCompletion, Usage
from chatlane.providers.profiles import ModelInfo
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
    model_info: ModelInfo | None = None
    """What the client knew about the model (its prices are what ``cost`` uses)."""

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
    def usage_reported(self) -> bool:
        """True when the provider reported usage for every attempt (else ``usage`` lacks
        the attempts it did not report, and ``cost`` is None)."""
        return all(completion.usage is not None for completion in self.completions)

    @property
    def cost(self) -> float | None:
        """US dollars for all attempts at list prices; None when the model's price is not
        known or an attempt's usage was not reported (unknown is never counted as 0)."""
        if not self.usage_reported:
            return None
        from chatlane.tokens.cost import estimate_cost

        return estimate_cost(self.usage, self.model, model_info=self.model_info)
