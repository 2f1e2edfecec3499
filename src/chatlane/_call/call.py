"""One logical call (all its attempts): what it sends, its clock, and what the latest
attempt's response said. Middleware reads it; the call flow updates it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from chatlane.core import errors
from chatlane.core.error_mapping import ErrorContext
from chatlane.core.sse import DEFAULT_MAX_EVENT_BYTES
from chatlane.core.stream import StreamDecoder
from chatlane.core.timeouts import Timeout
from chatlane.core.types import ChatCompletion
from chatlane.transport.base import HTTPRequest

if TYPE_CHECKING:
    from chatlane.providers.profiles import ModelInfo

__all__ = ["NO_HEADERS", "Call"]

E = TypeVar("E", bound=errors.ChatlaneError)

NO_HEADERS: Mapping[str, str] = MappingProxyType({})


_SOONEST = 1e-6
"""The smallest timeout handed to a transport: a socket given 0 does not time out, it turns
non-blocking, and its read fails as a broken connection instead of a timeout."""


def _cap(limit: float | None, remaining: float | None) -> float | None:
    if remaining is None:
        return None if limit is None else max(limit, _SOONEST)
    if limit is None:
        return max(remaining, _SOONEST)
    return max(min(limit, remaining), _SOONEST)


_PromptCount = Callable[[Any, str, Any, "ModelInfo | None"], tuple[int, bool, str]]
_prompt_count: list[_PromptCount] = []


def _counter() -> _PromptCount:
    """chatlane's prompt counter, imported on the first count (the token tables load with
    it) and kept: an import statement run on every call costs most of a microsecond."""
    if not _prompt_count:
        from chatlane.tokens.counting import prompt_count

        _prompt_count.append(prompt_count)
    return _prompt_count[0]


@dataclass(slots=True)
class Call:
    """One request as the client sends it, with every attempt made for it so far.

    ``params`` are the caller's keyword arguments (validated), ``request`` the HTTP request
    built from them (its headers hold the key and are never shown). ``status`` and
    ``headers`` describe the latest attempt's response (None and empty before one arrived),
    so a piece around an attempt can read rate-limit headers on success and failure alike.
    The stream fields (``delivered``, ``decoder``, ``ended_at``) stay empty for ``chat()``.
    """

    request: HTTPRequest
    context: ErrorContext = field(repr=False)
    timeout: Timeout
    started: float
    params: Mapping[str, Any] = field(default_factory=dict, repr=False)
    stream: bool = False
    in_process: bool = False
    """Served by the embedded model (the local transport) instead of over HTTP."""
    attempts: int = 0
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: NO_HEADERS, repr=False)
    delivered: bool = False
    """A stream handed chunks to the caller (a fallback must not start it over elsewhere)."""
    decoder: StreamDecoder | None = field(default=None, repr=False)
    """The current attempt's stream decoder (timing, the accumulated message)."""
    ended_at: float | None = None
    """When a stream's last byte arrived (or the caller closed it)."""
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES
    """The longest stream line or event taken (``Limits.max_event_bytes``)."""
    wire_model: str = ""
    """The model as its provider knows it (``gpt-4o`` for ``openai/gpt-4o``)."""
    facts: Callable[[str, str, bool], ModelInfo | None] | None = field(default=None, repr=False)
    """The client's lookup of a model's facts (made once per client, not per call)."""
    earlier_attempts: int = 0
    """Attempts made at targets tried before this one (a fallback's)."""
    answered: tuple[ChatCompletion, bytes] | None = field(default=None, repr=False)
    """The latest whole reply and the body it was decoded from (the cache keeps those
    bytes instead of encoding the reply again)."""
    _notes: dict[str, Any] | None = field(default=None, repr=False)
    _prompt: tuple[int, bool] | None = field(default=None, repr=False)
    _target: str | None = field(default=None, repr=False)
    _info: ModelInfo | None = field(default=None, repr=False)
    _info_known: bool = field(default=False, repr=False)

    @property
    def notes(self) -> dict[str, Any]:
        """Where pieces keep what they share between the request and its attempts."""
        notes = self._notes
        if notes is None:
            notes = self._notes = {}
        return notes

    def note(self, name: str) -> Any:
        """The note ``name`` if a piece kept one, else None (no notes are made to look)."""
        notes = self._notes
        return None if notes is None else notes.get(name)

    @property
    def target(self) -> str:
        """``provider/model`` as this call is sent (what a fallback names)."""
        target = self._target
        if target is None:
            target = self._target = f"{self.context.provider}/{self.wire_model}"
        return target

    def model_info(self) -> ModelInfo | None:
        """What the client knows about the model (window, output limit, prices), or None."""
        if self._info_known:
            return self._info
        facts = self.facts
        model = self.context.model or ""
        info = None if facts is None else facts(model, self.wire_model, self.in_process)
        self._info, self._info_known = info, True
        return info

    def prompt_tokens(self) -> int:
        """The prompt's tokens by chatlane's own count (tools included), counted once."""
        return self.prompt_count()[0]

    def prompt_count(self) -> tuple[int, bool]:
        """The prompt's tokens and whether the count is exact (the model's own tokenizer)
        rather than an estimate; counted once per call."""
        counted = self._prompt
        if counted is None:
            params = self.params  # validated with the request: no need to check them again
            messages, tools = params.get("messages") or [], params.get("tools")
            tokens, exact, _method = _counter()(messages, self.wire_model, tools, self.model_info())
            counted = self._prompt = (tokens, exact)
        return counted

    def choices(self) -> int:
        """How many answers the request asks for (``n``): each is billed its own output."""
        n = self._sent("n")
        return 1 if n is None else n

    def max_output_tokens(self) -> int | None:
        """The most output tokens the request allows: its cap (``max_completion_tokens`` or
        ``max_tokens``) for each of its choices (``n``); None without a cap."""
        params = self.params
        if params.get("extra_body"):
            cap, n = self._sent("max_completion_tokens"), self._sent("n")
            if cap is None:
                cap = self._sent("max_tokens")
        else:  # the usual case, read directly: every attempt of a budget or a limit asks
            cap, n = params.get("max_completion_tokens"), params.get("n")
            if cap is None:
                cap = params.get("max_tokens")
        return cap if cap is None or n is None else cap * n

    def _sent(self, name: str) -> int | None:
        """A count the request sends: the validated parameter, else a positive integer under
        that name in ``extra_body`` (which is sent as given, and may set it instead)."""
        params = self.params
        value = params.get(name)
        if value is None:
            extra = params.get("extra_body")
            if extra:
                value = extra.get(name)
                if type(value) is not int or value < 1:
                    return None
        return value

    @property
    def provider(self) -> str | None:
        return self.context.provider

    @property
    def model(self) -> str | None:
        """The model as the caller named it (``provider/model`` prefixes kept)."""
        return self.context.model

    def remaining(self) -> float | None:
        total = self.timeout.total
        return None if total is None else total - (time.perf_counter() - self.started)

    def connect_timeout(self) -> float | None:
        return _cap(self.timeout.connect, self.remaining())

    def read_timeout(self, phase: float | None) -> float | None:
        return _cap(phase, self.remaining())

    def first_token_timeout(self) -> float | None:
        """What is left of the first-token allowance (it runs from the first attempt)."""
        limit = self.timeout.first_token
        if limit is not None:
            limit = max(limit - (time.perf_counter() - self.started), 0.0)
        return _cap(limit, self.remaining())

    def retarget(self, other: Call) -> None:
        """Send this call as ``other`` from now on (a fallback's next target), with its own
        clock and attempts; the notes stay (the pieces outside still hold this call)."""
        self.earlier_attempts += self.attempts
        self._prompt = self._target = None
        self._info, self._info_known = None, False
        for name in (
            "request",
            "context",
            "timeout",
            "started",
            "params",
            "in_process",
            "max_event_bytes",
            "wire_model",
            "facts",
        ):
            setattr(self, name, getattr(other, name))
        self.attempts, self.status, self.headers = 0, None, NO_HEADERS
        self.decoder, self.ended_at = None, None

    def annotate(self, error: E) -> E:
        error.provider = error.provider or self.context.provider
        error.model = error.model or self.context.model
        error.attempts = self.attempts
        return error

    def timeout_error(self, phase: type[errors.TimeoutError]) -> errors.ChatlaneError:
        """The error for a read that timed out in ``phase`` (or in the total deadline)."""
        remaining = self.remaining()
        if remaining is not None and remaining <= 0.001:
            return self.annotate(
                errors.TotalTimeout(f"call exceeded the total timeout of {self.timeout.total}s")
            )
        limit = self.timeout.first_token if phase is errors.FirstTokenTimeout else self.timeout.idle
        what = "the first token" if phase is errors.FirstTokenTimeout else "the next chunk"
        return self.annotate(phase(f"no data within {limit}s waiting for {what}"))

    def expired(self) -> errors.ChatlaneError | None:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            return self.timeout_error(errors.TotalTimeout)
        return None
