"""A structured call as one generator: it yields chat requests and receives completions.

The sync and async clients drive the same generator (:func:`run_steps`, :func:`arun_steps`,
and the streams in :mod:`chatlane.structured.streams`), so attempts, re-asks, refusals,
truncation and usage are decided once, here, with no I/O::

    steps = flow.steps()
    request = next(steps)                    # the first attempt's chat parameters
    completion = client.chat(**request)
    request = steps.send(completion)         # a re-ask, or StopIteration(Parsed)

Each re-ask is the original messages, the last bad answer and its errors: never the
failures before it, so the prompt stays the same size however many attempts there are.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

from chatlane.core.errors import RequestValidationError, StrictSchemaError
from chatlane.core.request import ChatParams
from chatlane.core.types import ChatCompletion
from chatlane.core.usage import sum_usage
from chatlane.providers.endpoints import Route
from chatlane.providers.registry import StructuredOutputMode
from chatlane.structured.errors import (
    AttemptRecord,
    OutputRefusedError,
    OutputTruncatedError,
    OutputValidationError,
    StructuredOutputWarning,
)
from chatlane.structured.modes import Asking, Reply, asking
from chatlane.structured.profile import check_mode, default_mode, enforces_full_schema
from chatlane.structured.result import Parsed
from chatlane.structured.spec import OutputSpec, _InvalidOutput, output_spec

__all__ = ["ParseFlow", "Steps", "StrictOption", "arun_steps", "plan", "run_steps"]

T = TypeVar("T")
R = TypeVar("R")

Steps = Generator[ChatParams, ChatCompletion, R]
"""Yields the chat parameters of each attempt, receives its completion, returns ``R``."""

StrictOption = bool | Literal["fallback"]

# Set by parse() itself; a caller's value would fight the chosen mode.
_OWNED = ("response_format", "tools", "tool_choice", "parallel_tool_calls")
_TRUNCATED = ("length", "model_length")


@dataclass(frozen=True, slots=True)
class ParseFlow(Generic[T]):
    """One planned structured call: what to ask, how, and how often."""

    spec: OutputSpec[T]
    asking: Asking
    params: Mapping[str, Any]
    max_attempts: int
    provider: str
    model: str

    def steps(self) -> Steps[Parsed[T]]:
        """The call as a generator (see the module docstring)."""
        first = self.asking.request(self.params)
        request = first
        completions: list[ChatCompletion] = []
        outputs: list[str] = []
        failures: list[str] = []
        for _ in range(self.max_attempts):
            completion = yield cast(ChatParams, request)
            completions.append(completion)
            reply = self.asking.read(completion)
            outputs.append(reply.text if reply.text is not None else (reply.prose or ""))
            refusal = reply.refusal or (
                "content_filter" if reply.finish_reason == "content_filter" else None
            )
            if refusal:
                raise OutputRefusedError(
                    f"{self.spec.name}: the model refused: {refusal}",
                    refusal=refusal,
                    **self._record(completions, outputs),
                )
            try:
                output = self._validate(reply)
            except _InvalidOutput as bad:
                if reply.finish_reason in _TRUNCATED:
                    # A cut-off answer is its own error, not a validation failure to re-ask.
                    raise OutputTruncatedError(
                        f"{self.spec.name}: the answer was cut off at the token limit "
                        f"(finish_reason {reply.finish_reason!r}); raise max_tokens",
                        **self._record(completions, outputs),
                    ) from None
                failures.append(bad.summary)
                retry = self.asking.retry_messages(reply, bad.summary)
                request = {**first, "messages": [*first["messages"], *retry]}
                continue
            return Parsed(
                output=output,
                completions=tuple(completions),
                usage=sum_usage(c.usage for c in completions),
                mode=self.asking.mode,
                strict=self.asking.strict,
                model=self.model,
                errors=tuple(failures),
            )
        count = len(completions)
        raise OutputValidationError(
            f"{self.spec.name}: no valid answer in {count} attempt{'s' * (count > 1)}; "
            f"the last one failed with:\n{failures[-1]}",
            errors=failures,
            **self._record(completions, outputs),
        )

    def _validate(self, reply: Reply) -> T:
        if reply.text is None and self.asking.mode == "tools":
            raise _InvalidOutput(f"the answer did not call the {self.spec.name} tool")
        return self.spec.validate(reply.text)

    def _record(self, completions: list[ChatCompletion], outputs: list[str]) -> AttemptRecord:
        """What an error carries about the attempts so far."""
        return {
            "completions": completions,
            "outputs": outputs,
            "usage": sum_usage(c.usage for c in completions),
            "provider": self.provider,
            "model": self.model,
        }


def plan(
    resolve: Callable[[str, str | None], Route],
    params: Mapping[str, Any],
    *,
    response_model: type[T],
    mode: StructuredOutputMode | None,
    strict: StrictOption,
    max_attempts: int,
) -> ParseFlow[T]:
    """Check a structured call's arguments and decide how it goes; nothing is sent."""
    for name in _OWNED:
        if params.get(name) is not None:
            raise RequestValidationError(
                f"{name}: is set by parse() from response_model and mode; leave it out",
                field=name,
            )
    if params.get("n") not in (None, 1):
        raise RequestValidationError("n: parse() takes one answer (n=1)", field="n")
    if type(max_attempts) is not int or max_attempts < 1:
        raise RequestValidationError(
            f"max_attempts: must be a positive integer, got {max_attempts!r}",
            field="max_attempts",
        )
    if strict not in (True, False, "fallback"):
        raise RequestValidationError(
            f"strict: must be True, False or 'fallback', got {strict!r}", field="strict"
        )
    model = params.get("model") or ""
    route = resolve(model, params.get("provider"))  # refuses a missing or non-string model
    chosen = default_mode(route.provider, route.model) if mode is None else check_mode(mode)
    spec: OutputSpec[T] = output_spec(response_model)
    schema, is_strict = _schema_for(spec, chosen, strict, enforces_full_schema(route.provider))
    return ParseFlow(
        spec=spec,
        asking=asking(chosen, spec, schema, strict=is_strict),
        params=params,
        max_attempts=max_attempts,
        provider=route.provider,
        model=model,
    )


def _schema_for(
    spec: OutputSpec[Any], mode: StructuredOutputMode, strict: StrictOption, full: bool
) -> tuple[dict[str, Any], bool]:
    """The schema to send and whether the provider is asked to enforce it.

    ``full``: the provider enforces pydantic's schema as it is (the embedded model).
    """
    if mode == "json_object" or strict is False:
        return spec.schema, False  # JSON mode enforces no schema: the prompt shows pydantic's
    if full:
        return spec.schema, True
    try:
        return spec.strict_schema(), True
    except StrictSchemaError as exc:
        if strict is True:
            raise
        warnings.warn(
            f"{spec.name}: {exc.message}; sending the schema without strict decoding",
            StructuredOutputWarning,
            stacklevel=4,
        )
        return spec.schema, False


def run_steps(steps: Steps[R], send: Callable[[ChatParams], ChatCompletion]) -> R:
    """Drive ``steps`` with a sync ``send`` (one chat call per attempt)."""
    try:
        request = next(steps)
        while True:
            completion = send(request)
            try:
                request = steps.send(completion)
            except StopIteration as done:
                return cast(R, done.value)
    finally:
        steps.close()


async def arun_steps(steps: Steps[R], send: Callable[[ChatParams], Awaitable[ChatCompletion]]) -> R:
    """Drive ``steps`` with an async ``send``."""
    try:
        request = next(steps)
        while True:
            completion = await send(request)
            try:
                request = steps.send(completion)
            except StopIteration as done:
                return cast(R, done.value)
    finally:
        steps.close()
