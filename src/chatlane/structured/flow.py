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

from chatlane.core.errors import APIError, RequestValidationError, StrictSchemaError
from chatlane.core.request import ChatParams
from chatlane.core.types import ChatCompletion
from chatlane.core.usage import sum_usage
from chatlane.providers.endpoints import Route
from chatlane.providers.profiles import ModelInfo
from chatlane.providers.registry import COMPATIBLE, StructuredOutputMode
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
    fallback: Asking | None = None
    """Tools mode, for a server of unknown kind that refuses a json_schema response_format."""
    refused: set[tuple[str, str]] | None = None
    """Where to remember (base URL, model) pairs that refused it, so later calls skip it."""
    where: tuple[str, str] = ("", "")
    model_info: ModelInfo | None = None

    def steps(self) -> Steps[Parsed[T]]:
        """The call as a generator (see the module docstring). An API error thrown in for
        the first request may switch the mode (``fallback``); any other is raised again."""
        asking, fallback = self.asking, self.fallback
        first = asking.request(self.params)
        request = first
        completions: list[ChatCompletion] = []
        outputs: list[str] = []
        failures: list[str] = []
        while len(completions) < self.max_attempts:
            try:
                completion = yield cast(ChatParams, request)
            except APIError as exc:
                if fallback is None or completions or not refuses_response_format(exc):
                    raise
                asking, fallback = fallback, None
                if self.refused is not None:
                    self.refused.add(self.where)
                first = request = asking.request(self.params)
                continue
            completions.append(completion)
            reply = asking.read(completion)
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
                output = self._validate(reply, asking)
            except _InvalidOutput as bad:
                if reply.finish_reason in _TRUNCATED:
                    # A cut-off answer is its own error, not a validation failure to re-ask.
                    raise OutputTruncatedError(
                        f"{self.spec.name}: the answer was cut off at the token limit "
                        f"(finish_reason {reply.finish_reason!r}); raise max_tokens",
                        **self._record(completions, outputs),
                    ) from None
                failures.append(bad.summary)
                retry = asking.retry_messages(reply, bad.summary)
                request = {**first, "messages": [*first["messages"], *retry]}
                continue
            return Parsed(
                output=output,
                completions=tuple(completions),
                usage=sum_usage(c.usage for c in completions),
                mode=asking.mode,
                strict=asking.strict,
                model=self.model,
                errors=tuple(failures),
                model_info=self.model_info,
            )
        count = len(completions)
        raise OutputValidationError(
            f"{self.spec.name}: no valid answer in {count} attempt{'s' * (count > 1)}; "
            f"the last one failed with:\n{failures[-1]}",
            errors=failures,
            **self._record(completions, outputs),
        )

    def _validate(self, reply: Reply, asking: Asking) -> T:
        if reply.text is None and asking.mode == "tools":
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
            "model_info": self.model_info,
        }


def plan(
    resolve: Callable[[str, str | None], Route],
    params: Mapping[str, Any],
    *,
    response_model: type[T],
    mode: StructuredOutputMode | None,
    strict: StrictOption,
    max_attempts: int,
    refused: set[tuple[str, str]] | None = None,
) -> ParseFlow[T]:
    """Check a structured call's arguments and decide how it goes; nothing is sent.

    ``refused`` holds the (base URL, model) pairs of servers of unknown kind that refused a
    json_schema response_format: they are asked in tools mode from the start."""
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
    where = (route.base_url, route.model)
    guessed = mode is None and route.provider == COMPATIBLE.name and chosen == "json_schema"
    if guessed and refused is not None and where in refused:
        chosen, guessed = "tools", False
    spec: OutputSpec[T] = output_spec(response_model)
    full = enforces_full_schema(route.provider)
    schema, is_strict = _schema_for(spec, chosen, strict, full)
    fallback = None
    if guessed:
        tools_schema, tools_strict = _schema_for(spec, "tools", strict, full)
        fallback = asking("tools", spec, tools_schema, strict=tools_strict)
    return ParseFlow(
        spec=spec,
        asking=asking(chosen, spec, schema, strict=is_strict),
        params=params,
        max_attempts=max_attempts,
        provider=route.provider,
        model=model,
        fallback=fallback,
        refused=refused,
        where=where,
        model_info=route.model_info,
    )


def refuses_response_format(error: APIError) -> bool:
    """The server turned the request down because of its ``response_format`` (a server that
    takes only "text"/"json_object", as llama-cpp-python's does), not for anything else."""
    if error.status not in (400, 422, 500):
        return False
    said = f"{error.param or ''} {error.message}".lower()
    return "response_format" in said or "json_schema" in said


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
            try:
                completion = send(request)
            except APIError as exc:
                request = steps.throw(exc)  # the flow may ask another way, or raise it again
                continue
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
            try:
                completion = await send(request)
            except APIError as exc:
                request = steps.throw(exc)  # the flow may ask another way, or raise it again
                continue
            try:
                request = steps.send(completion)
            except StopIteration as done:
                return cast(R, done.value)
    finally:
        steps.close()
