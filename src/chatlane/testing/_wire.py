"""Response bodies and SSE events for the fake server's replies. Pure: no I/O, no clock reads.

Everything a reply needs to know about the request it answers is gathered once into an
:class:`Exchange`, so these functions are easy to test and the server stays a thin I/O loop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import msgspec

from chatlane.core.error_body import error_body
from chatlane.core.sse import DONE, encode_event
from chatlane.testing.replies import (
    AUTO,
    Completion,
    ErrorReply,
    ResetMidStream,
    Stream,
    ToolCallSpec,
    UsageSpec,
)

_encode = msgspec.json.encode
_PIECE = re.compile(r"\s*\S+")
_ARGUMENT_FRAGMENT = 8  # characters per streamed tool-call argument delta
DONE_EVENT = encode_event(DONE)


@dataclass(frozen=True)
class Exchange:
    """The request-dependent facts a reply is rendered with."""

    number: int
    """Counts responses; used in ids (``chatcmpl-fake-<n>``, ``req_fake_<n>``)."""
    created: int
    model: str
    stream: bool
    include_usage: bool
    prompt_words: int
    last_user_text: str

    @classmethod
    def of(cls, number: int, created: int, body: Any, default_model: str) -> Exchange:
        body = body if isinstance(body, Mapping) else {}
        model = body.get("model")
        options = body.get("stream_options")
        messages = body.get("messages")
        messages = messages if isinstance(messages, list) else []
        return cls(
            number=number,
            created=created,
            model=model if isinstance(model, str) and model else default_model,
            stream=body.get("stream") is True,
            include_usage=isinstance(options, Mapping) and options.get("include_usage") is True,
            prompt_words=sum(len(text.split()) for m in messages for text in _texts(m)),
            last_user_text=_last_user_text(messages),
        )

    @property
    def completion_id(self) -> str:
        return f"chatcmpl-fake-{self.number}"


def _texts(message: Any) -> list[str]:
    """The text of a message: string content or the ``text`` of content parts."""
    if not isinstance(message, Mapping):
        return []
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        ]
    return []


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return "".join(_texts(message))
    return ""


def pieces(text: str) -> list[str]:
    """Word-sized deltas that join back to ``text`` (leading spaces, like real tokens)."""
    found = _PIECE.findall(text)
    if not found:
        return [text] if text else []
    rest = len(text) - sum(map(len, found))
    if rest:  # trailing whitespace rides on the last piece
        found[-1] += text[-rest:]
    return found


def gaps(delay: float | Sequence[float], count: int) -> list[float]:
    """The pause before each of ``count`` events after the first."""
    if isinstance(delay, int | float):
        return [float(delay)] * count
    listed = [float(d) for d in delay[:count]]
    return listed + [0.0] * (count - len(listed))


def usage_object(spec: UsageSpec, prompt: int, completion: int) -> dict[str, Any] | None:
    if spec is None:
        return None
    if spec == AUTO:
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    if isinstance(spec, tuple):
        p, c = spec
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
    return dict(spec)


def tool_calls(reply: Completion, number: int) -> list[dict[str, Any]]:
    """The reply's tool calls in OpenAI's message shape, ids filled in."""
    calls: list[dict[str, Any]] = []
    for index, spec in enumerate(reply.tool_calls):
        if isinstance(spec, ToolCallSpec):
            call_id, call_type, name, arguments = spec.id, "function", spec.name, spec.arguments
        else:
            function = spec.get("function")
            source: Mapping[str, Any] = function if isinstance(function, Mapping) else spec
            call_id, call_type = spec.get("id"), spec.get("type", "function")
            name, arguments = source["name"], source.get("arguments", "{}")
        if not isinstance(arguments, str):
            arguments = _encode(arguments).decode()
        calls.append(
            {
                "id": call_id or f"call_fake_{number}_{index}",
                "type": call_type,
                "function": {"name": name, "arguments": arguments},
            }
        )
    return calls


def _finish_reason(reply: Completion, calls: list[dict[str, Any]]) -> str:
    if reply.finish_reason is not None:
        return reply.finish_reason
    return "tool_calls" if calls else "stop"


def _completion_words(reply: Completion, calls: list[dict[str, Any]]) -> int:
    texts = [reply.content or "", *(call["function"]["arguments"] for call in calls)]
    return sum(len(text.split()) for text in texts)


def completion_body(reply: Completion, ex: Exchange) -> bytes:
    """One ``chat.completion`` object."""
    calls = tool_calls(reply, ex.number)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.content,
        "refusal": reply.refusal,
    }
    if reply.reasoning is not None:
        message["reasoning_content"] = reply.reasoning
    if calls:
        message["tool_calls"] = calls
    body: dict[str, Any] = {
        "id": ex.completion_id,
        "object": "chat.completion",
        "created": ex.created,
        "model": reply.model or ex.model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(reply, calls),
            }
        ],
    }
    usage = usage_object(reply.usage, ex.prompt_words, _completion_words(reply, calls))
    if usage is not None:
        body["usage"] = usage
    return _encode(body)


class _Chunks:
    """Builds the chunk events of one streamed response."""

    def __init__(self, ex: Exchange, model: str | None) -> None:
        self.ex = ex
        self.model = model or ex.model
        self.events: list[bytes] = []

    def _base(self) -> dict[str, Any]:
        return {
            "id": self.ex.completion_id,
            "object": "chat.completion.chunk",
            "created": self.ex.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
        }

    def delta(self, delta: Mapping[str, Any], finish_reason: str | None = None) -> None:
        chunk = self._base()
        chunk["choices"] = [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        ]
        if self.ex.include_usage:  # as OpenAI does: every chunk says usage is still to come
            chunk["usage"] = None
        self.events.append(encode_event(_encode(chunk)))

    def verbatim(self, chunk: Mapping[str, Any]) -> None:
        self.events.append(encode_event(_encode(chunk)))

    def usage(self, usage: dict[str, Any] | None) -> None:
        if self.ex.include_usage and usage is not None:
            self.events.append(
                encode_event(_encode({**self._base(), "choices": [], "usage": usage}))
            )

    def done(self) -> None:
        self.events.append(DONE_EVENT)


def completion_events(reply: Completion, ex: Exchange) -> list[bytes]:
    """A :class:`Completion` as SSE events, the way OpenAI streams it."""
    calls = tool_calls(reply, ex.number)
    out = _Chunks(ex, reply.model)
    out.delta({"role": "assistant", "content": None if reply.content is None else ""})
    for field, text in (
        ("reasoning_content", reply.reasoning),
        ("refusal", reply.refusal),
        ("content", reply.content),
    ):
        for piece in pieces(text or ""):
            out.delta({field: piece})
    for index, call in enumerate(calls):
        function = call["function"]
        head = {
            "index": index,
            "id": call["id"],
            "type": call["type"],
            "function": {"name": function["name"], "arguments": ""},
        }
        out.delta({"tool_calls": [head]})
        arguments = function["arguments"]
        for start in range(0, len(arguments), _ARGUMENT_FRAGMENT):
            fragment = arguments[start : start + _ARGUMENT_FRAGMENT]
            out.delta({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
    out.delta({}, _finish_reason(reply, calls))
    out.usage(usage_object(reply.usage, ex.prompt_words, _completion_words(reply, calls)))
    out.done()
    return out.events


def stream_events(reply: Stream, ex: Exchange) -> list[bytes]:
    """A :class:`Stream` as SSE events."""
    out = _Chunks(ex, reply.model)
    if reply.chunks and all(isinstance(chunk, Mapping) for chunk in reply.chunks):
        for chunk in reply.chunks:
            assert isinstance(chunk, Mapping)
            out.verbatim(chunk)
    else:
        out.delta({"role": "assistant", "content": ""})
        for chunk in reply.chunks:
            if isinstance(chunk, str):
                out.delta({"content": chunk})
            else:
                out.verbatim(chunk)
        if reply.finish_reason is not None:
            out.delta({}, reply.finish_reason)
        text = "".join(chunk for chunk in reply.chunks if isinstance(chunk, str))
        out.usage(usage_object(reply.usage, ex.prompt_words, len(text.split())))
    if reply.include_done:
        out.done()
    return out.events


def mid_stream_events(reply: ResetMidStream, ex: Exchange) -> list[bytes]:
    """The chunks a :class:`ResetMidStream` sends before the reset: nothing added."""
    out = _Chunks(ex, None)
    for chunk in reply.chunks:
        if isinstance(chunk, str):
            out.delta({"content": chunk})
        else:
            out.verbatim(chunk)
    return out.events


def error_reply_body(reply: ErrorReply) -> bytes:
    body = reply.body
    if body is None:
        return error_body(reply.status, reply.message, type=reply.type, code=reply.code)
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return _encode(body)


def html_page(status: int) -> bytes:
    """A page like the ones proxies and CDNs send when the upstream fails."""
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = f"{status} Error"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
