"""What the agent knows about its model: the facts it trims to and prices with, and the
warning, once per model and client, when the context window is not known."""

from __future__ import annotations

import threading
import warnings
import weakref

from chatlane.core.errors import UsageError
from chatlane.providers.profiles import ModelInfo
from chatlane.tokens.trimming import (
    UnknownContextWindowWarning,
    context_window_of,
    unknown_window_advice,
)

__all__ = ["agent_facts", "can_trim", "warn_untrimmed"]

# Clients whose untrimmed models were warned about, and which: a long-lived client that
# makes many agents warns once, and a closed, dropped client takes its entry with it.
_warned: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()
_warned_lock = threading.Lock()


def agent_facts(model: str, given: object, known: ModelInfo | None) -> ModelInfo | None:
    """The facts the agent uses: ``given`` (its ``model_info=`` option) over ``known`` (the
    client's ``resolve(model).model_info``)."""
    if given is None:
        return known
    if not isinstance(given, ModelInfo):
        raise UsageError(
            f"model_info must be a chatlane.ModelInfo (or None), not {type(given).__name__}",
            model=model,
        )
    return given


def can_trim(model: str, facts: ModelInfo | None) -> bool:
    """True when the context window of ``model`` is known."""
    return context_window_of(model, facts) is not None


def warn_untrimmed(client: object, model: str, *, stacklevel: int) -> None:
    """Warn that ``model``'s history goes untrimmed, the first time ``client`` runs it."""
    with _warned_lock:
        seen = _warned.setdefault(client, set())
        if model in seen:
            return
        seen.add(model)
    warnings.warn(
        f"the context window of {model!r} is not known, so the agent sends the whole history "
        f"untrimmed and a server refuses a prompt too long for it; {unknown_window_advice(model)}"
        " (or trim=False, to silence this)",
        UnknownContextWindowWarning,
        stacklevel=stacklevel + 1,
    )
