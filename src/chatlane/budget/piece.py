"""Accounting around each attempt (inside the retries): budgets reserved before it, settled
after it, and a ledger of what it used.

Before an attempt its worst case (its prompt tokens, with a margin when they are only
estimated, at the input price, plus the request's output cap, or the model's output limit
or window, at the output price) is reserved
against every budget in force: the client's, the call's (``budget=``) and the scopes'
(``chatlane.budget_scope``). One that does not fit refuses the attempt with
``BudgetExceeded`` before anything is sent. Afterwards the reservation becomes the real cost
(the provider's usage; chatlane's estimate, marked as such, when it sent none). An attempt
the server refused with an error status was not billed: its reservation is released. One
the server began to answer (a stream cut short) is settled at the estimate of what arrived;
one it answered with a whole body chatlane could not use (it does not decode, or it is JSON
where a stream was asked for) was billed by an amount not known: it is settled at its worst
case. The worst case counts every choice the request asks for (``n``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from chatlane._call.call import Call
from chatlane._call.layers import Flow, Middleware, Proceed
from chatlane._call.scopes import BUDGET_SCOPES
from chatlane._call.steps import Io
from chatlane.budget.budget import (
    BudgetLike,
    Reservation,
    arelease_all,
    areserve_all,
    asettle_all,
    release_all,
    reserve_all,
    settle_all,
)
from chatlane.budget.ledger import Ledger
from chatlane.budget.pricing import Price, actual_of, worst_case_of
from chatlane.core import errors
from chatlane.core.types import ChatCompletion, Usage
from chatlane.providers.profiles import ModelInfo

__all__ = ["AccountingPiece", "budgets_of"]

logger = logging.getLogger("chatlane.budget")


def budgets_of(value: Any, what: str) -> tuple[BudgetLike, ...]:
    """``budget=`` as a tuple of budgets: one budget, a list of them, or None."""
    if value is None:
        return ()
    items = tuple(value) if isinstance(value, list | tuple) else (value,)
    for item in items:
        if not callable(getattr(item, "reserve", None)):
            raise errors.ConfigurationError(
                f"{what}: expected chatlane.Budget or RedisBudget, got {type(item).__name__}"
            )
    return items


class AccountingPiece(Middleware):
    """Built by the client from ``budget=`` and ``ledger=``."""

    def __init__(self, budgets: Sequence[BudgetLike], ledger: Ledger | None) -> None:
        self._budgets = tuple(budgets)
        self._ledger = ledger
        self._direct = _in_process(self._budgets)

    def around_attempt(self, call: Call, proceed: Proceed) -> Flow:
        budgets, direct = self._budgets, self._direct
        given, scoped = call.params.get("budget"), BUDGET_SCOPES.get()
        if given is not None or scoped:
            budgets = budgets + budgets_of(given, "budget") + scoped
            direct = _in_process(budgets)
        held: list[Reservation] = []
        worst = None
        if budgets:
            model, worst = call.target, _worst_case(call)
            if direct:  # in-process budgets do no I/O: no step for the client to carry out
                held = reserve_all(budgets, model, worst.usd, worst.tokens)
            else:
                held = yield Io(
                    lambda: reserve_all(budgets, model, worst.usd, worst.tokens),
                    lambda: areserve_all(budgets, model, worst.usd, worst.tokens),
                )
        try:
            completion = yield from proceed(call)
        except errors.ChatlaneError as exc:
            billed = self._billed_before_failing(call, worst, exc)
            step = self._close(call, held, direct, billed)
            if step is not None:
                yield step
            raise
        except GeneratorExit:  # the caller dropped the stream: nothing may be awaited now
            self._close(call, held, True, self._billed_before_failing(call, worst, None))
            raise
        step = self._close(call, held, direct, self._price(call, completion.usage, completion))
        if step is not None:
            yield step
        return completion

    def _price(self, call: Call, usage: Usage | None, completion: ChatCompletion | None) -> Price:
        info = call.model_info()
        # reported_usage's rule, inline: this runs after every attempt
        if usage is not None and (usage.prompt_tokens > 0 or usage.completion_tokens > 0):
            return actual_of(info, usage, 0, 0)
        return actual_of(info, None, call.prompt_tokens(), _output_tokens(call, completion))

    def _billed_before_failing(
        self, call: Call, worst: Price | None, error: errors.ChatlaneError | None
    ) -> Price | None:
        """What a failed attempt cost: nothing if the server refused it with an error status
        (before a stream, or as the error event that opened it) or never answered; what a
        decoded answer reported, if it failed after that (in a caller's middleware); the
        estimate of what arrived if a stream had begun; and for a whole answer chatlane
        could not use (a body that does not decode, or JSON where a stream was asked for),
        which was billed by an amount not known, its worst case."""
        if call.status is None or call.status >= 300:
            return None
        answered = call.answered
        if answered is not None:
            return self._price(call, answered[0].usage, answered[0])
        decoder = call.decoder
        if decoder is None:
            return worst if worst is not None else self._worst(call)
        usage = decoder.accumulator.usage
        if usage is None and not call.delivered and isinstance(error, errors.StreamError):
            return None  # refused by its first event, as by an error status
        return self._price(call, usage, None)

    def _worst(self, call: Call) -> Price:
        """The worst case of an attempt no budget reserved (for the ledger)."""
        try:
            return _worst_case(call)
        except errors.UsageError:  # no output limit known: the prompt is all that is known
            return self._price(call, None, None)

    def _close(
        self, call: Call, held: list[Reservation], direct: bool, price: Price | None
    ) -> Io | None:
        """Record the attempt and settle (or release) its reservations: here when ``direct``
        (no I/O, or none may wait: an abandoned stream), else through the I/O step returned
        for the caller to yield. A shared budget that cannot be reached keeps the settlement
        for later (``RedisBudget``): a warning, never a failure of a call whose answer is
        here."""
        self._record(call, price)
        if not held:
            return None
        if direct:
            _closed(held, price)
            return None
        return Io(lambda: _closed(held, price), lambda: _aclosed(held, price))

    def _record(self, call: Call, price: Price | None) -> None:
        if self._ledger is not None:
            attempt = call.attempts + call.earlier_attempts
            self._ledger.record(call.target, price, attempt=max(attempt, 1))


def _in_process(budgets: tuple[BudgetLike, ...]) -> bool:
    """True when every budget is kept in this process (no I/O to carry out)."""
    return all(getattr(budget, "in_process", False) is True for budget in budgets)


def _closed(held: list[Reservation], price: Price | None) -> None:
    try:
        if price is None:
            release_all(held)
        else:
            settle_all(held, price.usd, price.tokens)
    except errors.ChatlaneError as exc:
        logger.warning("chatlane could not settle a budget reservation now: %s", exc)


async def _aclosed(held: list[Reservation], price: Price | None) -> None:
    try:
        if price is None:
            await arelease_all(held)
        else:
            await asettle_all(held, price.usd, price.tokens)
    except errors.ChatlaneError as exc:
        logger.warning("chatlane could not settle a budget reservation now: %s", exc)


_ESTIMATE_MARGIN = 1.25
"""An estimated prompt count (no exact tokenizer for the model) is reserved with this
margin: a settlement above its reservation is recorded in full, and would go past a limit."""


def _worst_case(call: Call) -> Price:
    """The most the attempt can cost (UsageError when its output cannot be bounded)."""
    info = call.model_info()
    return worst_case_of(info, _prompt_bound(call), _output_bound(call, info), call.target)


def _prompt_bound(call: Call) -> int:
    """The prompt's tokens as reserved: the exact count, or the estimate with a margin."""
    tokens, exact = call.prompt_count()
    return tokens if exact else math.ceil(tokens * _ESTIMATE_MARGIN)


def _output_bound(call: Call, info: ModelInfo | None) -> int | None:
    """The request's output cap; without one the model's output limit, else its window;
    for each of the choices it asks for (``n``). None: not known (the worst case says so)."""
    cap = call.max_output_tokens()
    if cap is not None or info is None:
        return cap
    limit = info.max_output_tokens if info.max_output_tokens is not None else info.context_window
    return None if limit is None else limit * call.choices()


def _output_tokens(call: Call, completion: ChatCompletion | None) -> int:
    """chatlane's count of the answer's tokens (text and tool-call arguments)."""
    if completion is None:
        decoder = call.decoder
        if decoder is None:
            return 0
        completion = decoder.accumulator.completion(latency=0.0, attempts=call.attempts)
    parts: list[str] = []
    for choice in completion.choices:
        message = choice.message
        parts.append(message.content or "")
        parts.extend(tool.function.arguments or "" for tool in message.tool_calls or ())
    text = "".join(parts)
    if not text:
        return 0
    from chatlane.tokens.counting import count_tokens

    return count_tokens(text, call.wire_model, model_info=call.model_info())
