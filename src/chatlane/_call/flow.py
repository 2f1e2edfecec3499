"""The call flow, written once for both clients: attempts, retries and stream reading as
generators that yield steps (``steps.py``) and receive their results.

``chat_attempt`` and ``stream_attempt`` make one attempt; ``retrying`` runs attempts until
one succeeds or the retry policy gives up (the client is the one retry owner). The client
composes them with the middleware pieces (``layers.py``) once, at construction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from chatlane._call.call import NO_HEADERS, Call
from chatlane._call.steps import Deliver, Fetch, Open, Read, ReadChunk, Release, Sleep, Step
from chatlane.core import errors
from chatlane.core.chunks import decode_completion
from chatlane.core.error_mapping import api_error, request_id_from
from chatlane.core.retry import RetryPolicy, next_delay
from chatlane.core.stream import StreamDecoder
from chatlane.core.types import ChatCompletion
from chatlane.transport.base import Fetched

__all__ = ["chat_attempt", "fetch_attempt", "retrying", "stream_attempt"]

T = TypeVar("T")
Steps = Generator[Step, Any, T]

RETRYABLE_TRANSPORT = (errors.ConnectError, errors.ConnectTimeout)
"""Failures before any response byte: safe to retry (the request was not processed)."""


def retrying(policy: RetryPolicy, call: Call, attempt: Callable[[Call], Steps[T]]) -> Steps[T]:
    """Run ``attempt`` until it succeeds, the policy gives up or the deadline passes."""
    while True:
        expired = call.expired()
        if expired is not None:
            raise expired
        call.attempts += 1
        call.status, call.headers = None, NO_HEADERS
        try:
            return (yield from attempt(call))
        except errors.ChatlaneError as exc:
            error = exc
        delay = _retry_delay(policy, call, error)
        if delay is None:
            raise call.annotate(error)
        yield Sleep(delay)


def _retry_delay(policy: RetryPolicy, call: Call, error: errors.ChatlaneError) -> float | None:
    """Seconds to wait before the next attempt, or None to give up."""
    if isinstance(error, RETRYABLE_TRANSPORT):
        status = None
    elif isinstance(error, errors.StreamError):
        # An error event before any chunk reached the caller is its status before the
        # stream; after one, a retry would send the caller some text twice.
        if call.delivered or error.status is None:
            return None
        status = error.status
    elif isinstance(error, errors.APIError):
        status = error.status
    else:
        return None
    return next_delay(
        retry=call.attempts - 1,
        status=status,
        headers=call.headers,
        policy=policy,
        remaining=call.remaining(),
    )


def fetch_attempt(call: Call) -> Steps[Fetched]:
    """Send the request and read the whole response; an error status raises its error."""
    try:
        fetched: Fetched = yield _fetch(call)
    except errors.TimeoutError as exc:
        raise _waited(call, exc) from None
    return _received(call, fetched)


def chat_attempt(call: Call) -> Steps[ChatCompletion]:
    # fetch_attempt's lines again rather than ``yield from`` it: one generator less per call.
    call.answered = None  # until this attempt's answer is decoded
    try:
        fetched: Fetched = yield _fetch(call)
    except errors.TimeoutError as exc:
        raise _waited(call, exc) from None
    _received(call, fetched)
    try:
        completion = decode_completion(fetched.body)
    except errors.ResponseDecodeError as exc:
        exc.status, exc.request_id = fetched.status, request_id_from(fetched.headers)
        raise call.annotate(exc) from None
    completion.latency = time.perf_counter() - call.started
    completion.attempts = call.attempts
    call.answered = (completion, fetched.body)
    return completion


def _fetch(call: Call) -> Fetch:
    return Fetch(call.request, call.connect_timeout(), call.first_token_timeout(), call.in_process)


def _waited(call: Call, error: errors.TimeoutError) -> errors.ChatlaneError:
    """A timeout before the response: connecting, or waiting for its first byte."""
    if isinstance(error, errors.ConnectTimeout | errors.PoolTimeout):
        return error
    return call.timeout_error(errors.FirstTokenTimeout)


def _received(call: Call, fetched: Fetched) -> Fetched:
    call.status, call.headers = fetched.status, fetched.headers
    if fetched.status >= 400:
        raise _api_error(call, fetched.body)
    if fetched.status >= 300:
        raise _redirected(call)
    return fetched


def _redirected(call: Call) -> errors.APIError:
    """A 3xx is not an answer: chatlane does not resend a request elsewhere by itself."""
    location = call.headers.get("location")
    where = f" to {call.context.scrub(location)!r}" if location else ""
    error = errors.APIError(
        f"the server answered {call.status}, a redirect{where}; chatlane does not follow"
        " redirects: set base_url to the URL that answers",
        status=call.status,
    )
    return call.annotate(error)


def stream_attempt(call: Call) -> Steps[ChatCompletion]:
    """Open the stream, deliver its chunks as they come and return the accumulated result."""
    call.decoder = None  # until this attempt's stream opens: an earlier attempt's is done
    try:
        response = yield Open(
            call.request, call.connect_timeout(), call.first_token_timeout(), call.in_process
        )
        call.status, call.headers = response.status, response.headers
        if response.status >= 300:
            body: bytes = yield Read(response, call.read_timeout(call.timeout.idle))
            raise _api_error(call, body) if response.status >= 400 else _redirected(call)
        kind = response.headers.get("content-type", "")
        if kind.startswith("application/json"):
            # It ignored "stream": true: a whole answer (maybe billed) is not a stream to retry.
            yield Release(response)
            raise call.annotate(
                errors.ResponseDecodeError(
                    "asked for a stream, the server answered with a whole JSON body: it does"
                    " not stream (use chat())",
                    status=response.status,
                    request_id=request_id_from(response.headers),
                )
            )
    except errors.TimeoutError as exc:
        raise _waited(call, exc) from None
    decoder = call.decoder = StreamDecoder(
        call.started,
        call.context,
        request_id=request_id_from(response.headers),
        max_event_bytes=call.max_event_bytes,
    )
    call.ended_at = None
    yield Deliver([])  # the response is open: ``with client.stream(...)`` returns here
    try:
        return (yield from _read(call, response, decoder))
    except errors.ChatlaneError:
        yield Release(response)  # before a retry's pause: the broken response is done
        raise


def _read(call: Call, response: Any, decoder: StreamDecoder) -> Steps[ChatCompletion]:
    phase: type[errors.TimeoutError] = errors.FirstTokenTimeout
    read = ReadChunk(response, call.first_token_timeout())
    while True:
        try:
            data: bytes = yield read
        except errors.TimeoutError:
            raise call.timeout_error(phase) from None
        now = time.perf_counter()
        chunks = decoder.feed(data, now) if data else decoder.finish(now)
        if chunks:
            call.delivered = True
            yield Deliver(chunks)
        if decoder.error is not None:
            raise call.annotate(_explained(call, decoder.error))
        if not data or decoder.done:
            call.ended_at = now
            if data:  # read past [DONE] to the end of the body so the connection is reused
                try:
                    yield Read(response, call.read_timeout(call.timeout.idle))
                except errors.TransportError:
                    yield Release(response)
            return decoder.accumulator.completion(
                latency=now - call.started, attempts=call.attempts
            )
        if call.delivered:
            phase, read.timeout = errors.IdleTimeout, call.read_timeout(call.timeout.idle)
        else:
            read.timeout = call.first_token_timeout()


def _explained(call: Call, error: errors.ChatlaneError) -> errors.ChatlaneError:
    """A stream that ended before its first chunk, for a prompt that cannot fit the model's
    known window, is that window's error: some servers (llama-cpp-python's) send an empty
    200 stream instead of an error for it. Counted only then, never on the way out."""
    if call.delivered or not isinstance(error, errors.StreamInterrupted):
        return error
    info = call.model_info()
    window = None if info is None else info.context_window
    if window is None:
        return error
    from chatlane.tokens.counting import count_message_tokens

    try:
        prompt = count_message_tokens(
            call.params.get("messages") or [],
            call.wire_model,
            tools=call.params.get("tools"),
            model_info=info,
        ).tokens
    except errors.ChatlaneError:
        return error
    if prompt < window:
        return error
    return errors.ContextLengthExceededError(
        f"the server ended the stream without a word, and the prompt (about {prompt} tokens)"
        f" does not fit the model's context window of {window} tokens",
        status=call.status,
        request_id=error.request_id,
    )


def _api_error(call: Call, body: bytes) -> errors.APIError:
    assert call.status is not None
    error = api_error(call.status, call.headers, body, call.context)
    error.attempts = call.attempts
    return error
