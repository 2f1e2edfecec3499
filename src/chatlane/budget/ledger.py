"""Running totals of what calls used and cost, per model and overall."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType

from chatlane.budget.pricing import Price
from chatlane.core.errors import UsageError

__all__ = ["Ledger", "LedgerSnapshot", "ModelTotals"]


@dataclass(frozen=True, slots=True)
class ModelTotals:
    """What the recorded attempts of one model (or of all models) add up to.

    ``cost_usd`` sums the attempts whose price is known; those whose price is not known
    are counted in ``cost_unknown`` and left out of the sum, never added as 0, so a
    ``cost_unknown`` above 0 means ``cost_usd`` is a lower bound (``cost_is_partial``).
    """

    requests: int = 0
    """Calls (an attempt numbered 1 starts one)."""
    attempts: int = 0
    """Attempts, retries included, billed or not."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens served from the provider's cache (inside ``prompt_tokens``)."""
    reasoning_tokens: int = 0
    """Reasoning tokens (inside ``completion_tokens``)."""
    cost_usd: float = 0.0
    estimated: int = 0
    """Attempts whose tokens are chatlane's estimates (the provider reported no usage)."""
    cost_unknown: int = 0
    """Billed attempts whose price is not known (not in ``cost_usd``)."""

    @property
    def cost_is_partial(self) -> bool:
        """True when some attempts' cost is unknown, so ``cost_usd`` is a lower bound."""
        return self.cost_unknown > 0


_FIELDS = tuple(field.name for field in fields(ModelTotals))


class _Running:
    """One model's (or all models') totals as they grow: plain additions under the ledger's
    lock, made into a ``ModelTotals`` only when read."""

    __slots__ = _FIELDS
    requests: int
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_usd: float
    estimated: int
    cost_unknown: int

    def __init__(self) -> None:
        for name in _FIELDS:
            setattr(self, name, 0)
        self.cost_usd = 0.0

    def add(self, price: Price | None, new_request: bool) -> None:
        self.requests += new_request
        self.attempts += 1
        if price is None:
            return
        self.prompt_tokens += price.prompt_tokens
        self.completion_tokens += price.completion_tokens
        self.cached_tokens += price.cached_tokens
        self.reasoning_tokens += price.reasoning_tokens
        if price.usd is None:
            self.cost_unknown += 1
        else:
            self.cost_usd += price.usd
        self.estimated += price.estimated

    def totals(self) -> ModelTotals:
        return ModelTotals(**{name: getattr(self, name) for name in _FIELDS})


@dataclass(frozen=True, slots=True)
class LedgerSnapshot:
    """The ledger's totals at one moment: per model (``by_model``) and over all (``total``)."""

    by_model: Mapping[str, ModelTotals]
    total: ModelTotals


class Ledger:
    """Running totals of tokens and cost, read at any time; safe to share between threads
    and tasks (recording holds a lock for a few additions, never across I/O)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, _Running] = {}
        self._total = _Running()

    def record(self, model: str, price: Price | None, *, attempt: int = 1) -> None:
        """Add one attempt of a call to ``model``.

        ``price`` is what it was billed (:func:`chatlane.budget.pricing.actual`), or None
        for an attempt that failed before anything was billed (it counts as an attempt
        only). ``attempt`` is its number within its call: 1 starts a new request.
        """
        if not isinstance(model, str):
            raise UsageError(f"model must be a string, not {model!r}")
        if price is not None and not isinstance(price, Price):
            raise UsageError(f"price must be a Price or None, not {price!r}")
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise UsageError(f"attempt must be a positive integer, not {attempt!r}")
        new_request = attempt == 1
        with self._lock:
            running = self._models.get(model)
            if running is None:
                running = self._models[model] = _Running()
            running.add(price, new_request)
            self._total.add(price, new_request)

    def snapshot(self) -> LedgerSnapshot:
        """Every total at one moment (consistent with each other)."""
        with self._lock:
            models = {model: running.totals() for model, running in self._models.items()}
            return LedgerSnapshot(MappingProxyType(models), self._total.totals())

    @property
    def by_model(self) -> Mapping[str, ModelTotals]:
        """The totals of each model recorded so far (a read-only copy)."""
        return self.snapshot().by_model

    @property
    def total(self) -> ModelTotals:
        """The totals over all models."""
        with self._lock:
            return self._total.totals()

    @property
    def total_cost(self) -> float:
        """Dollars of every attempt whose price is known. Attempts of unknown price are
        not in it: when ``total.cost_unknown`` is above 0 this is a lower bound."""
        with self._lock:
            return float(self._total.cost_usd)

    def reset(self) -> None:
        """Start again from zero."""
        with self._lock:
            self._models = {}
            self._total = _Running()
