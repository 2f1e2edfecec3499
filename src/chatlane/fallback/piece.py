"""Fallback over targets, around each request (inside the cache, outside the retries).

A call goes to its own model first, then to each target in order while the one before
failed after its retries with an error of ``fallback_on``: by default a connection failure,
a timeout, a 5xx, a 429 (the provider's or the client's own rate limit; also as an error
event opening a stream), a corrupt or cut answer (before any chunk reached the caller) and
a context-length error, which moves on to
a target with a larger window (one whose known window is not larger is skipped). A 400 the
request caused, an auth error or a budget refusal ends the call unless ``fallback_on`` says
otherwise. A stream falls back only before its first chunk reached the caller: no text is
ever repeated. The answer says which target gave it (``reply.target``); when all fail,
``FallbackError.failures`` holds each target's error.

A target is a ``provider/model`` string (routed by this client) or a client of the same
kind (sent the same request, with its own configuration).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from chatlane._call.call import Call
from chatlane._call.layers import Flow, Middleware, Proceed
from chatlane._call.steps import Deliver, Io
from chatlane.core import errors
from chatlane.core.types import ChatCompletion
from chatlane.ratelimit.limits import RateLimited

__all__ = ["DEFAULT_FALLBACK_ON", "FallbackPiece"]

DEFAULT_FALLBACK_ON: tuple[type[errors.ChatlaneError], ...] = (
    errors.ConnectError,
    errors.TimeoutError,
    errors.InternalServerError,
    errors.RateLimitError,
    RateLimited,
    errors.ResponseDecodeError,
    errors.StreamInterrupted,
    errors.ContextLengthExceededError,
)
"""The errors after which the next target is tried (``fallback_on=`` replaces them)."""

Prepare = Callable[[Mapping[str, Any], bool], Call]


class FallbackPiece(Middleware):
    """Built by the client from ``fallbacks=`` / ``fallback_on=``."""

    def __init__(
        self,
        targets: Sequence[Any],
        prepare: Prepare,
        fallback_on: tuple[type[errors.ChatlaneError], ...] = DEFAULT_FALLBACK_ON,
    ) -> None:
        self._targets = tuple(targets)
        self._prepare = prepare
        self._on = fallback_on

    def around_request(self, call: Call, proceed: Proceed) -> Flow:
        given = call.params.get("fallbacks")
        targets = self._targets if given is None else tuple(given)
        if not targets:
            return (yield from proceed(call))
        failures: list[tuple[str, errors.ChatlaneError]] = []
        params = {**call.params, "fallbacks": ()}
        params.pop("provider", None)
        for target in self._order(call, targets, params):
            label = call.target
            if target is not None:
                call.notes["fell_back"] = True
            try:
                if target is None:
                    completion = yield from proceed(call)
                elif isinstance(target, str):
                    call.retarget(self._prepare({**params, "model": target}, call.stream))
                    label = call.target
                    completion = yield from proceed(call)
                else:
                    label = f"{target.provider}/{params.get('model')}"
                    completion = yield from _via(target, call, params)
            except errors.ChatlaneError as exc:
                if call.delivered or not _falls_through(exc, self._on):
                    raise
                failures.append((label, exc))
                if isinstance(exc, errors.ContextLengthExceededError):
                    call.notes["fallback_window"] = _window(call)
                continue
            completion.target = label
            return completion
        raise errors.FallbackError(failures)

    def _order(
        self, call: Call, targets: tuple[Any, ...], params: Mapping[str, Any]
    ) -> Iterator[Any]:
        yield None  # the call's own model first
        for target in targets:
            floor = call.notes.get("fallback_window")
            if floor is not None and isinstance(target, str):
                window = _window(self._prepare({**params, "model": target}, call.stream))
                if window is not None and window <= floor:
                    continue  # not larger than the window the prompt did not fit
            yield target


def _falls_through(error: errors.ChatlaneError, on: tuple[type[errors.ChatlaneError], ...]) -> bool:
    """Whether the next target is tried after ``error``. An error event that opened a
    stream says what went wrong with a status or a type: a 5xx or a 429 there (a server
    error, an overload, a rate limit) falls through as the same status before the stream
    would."""
    if isinstance(error, on):
        return True
    if not isinstance(error, errors.StreamError):
        return False
    status = error.status  # an event's type stands for its status where it names none
    if status is None:
        return False
    if status >= 500:
        return issubclass(errors.InternalServerError, on)
    return status == 429 and issubclass(errors.RateLimitError, on)


def _window(call: Call) -> int | None:
    info = call.model_info()
    return None if info is None else info.context_window


def _via(client: Any, call: Call, params: Mapping[str, Any]) -> Flow:
    """The call sent through another client (its configuration, its retries)."""
    if not call.stream:
        completion: ChatCompletion = yield Io(
            lambda: client.chat(**params), lambda: client.chat(**params)
        )
        return completion
    stream = client.stream(**params)
    opened = yield Io(lambda: stream.__enter__(), lambda: stream.__aenter__())
    call.decoder = None
    while True:
        chunk = yield Io(lambda: next(opened, None), lambda: anext(opened, None))
        call.decoder = opened._call.decoder  # its timing is this stream's summary
        if chunk is None:
            break
        call.delivered = True
        yield Deliver([chunk])
    call.ended_at = opened._call.ended_at
    final: ChatCompletion = yield Io(opened.final, opened.final)
    return final
