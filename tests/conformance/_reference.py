"""An independent reading of recorded provider traffic, to hold chatlane's results against.

Nothing here imports chatlane's decoding: events are split from the raw bytes with a few
lines of plain Python, chunks are read with ``json.loads`` and merged by the rules every
OpenAI-compatible client is expected to follow, including the provider quirks listed in the
peer-data README (tool calls without ``index``, Mistral content arrays with ``thinking``
parts, usage on every chunk, Azure's empty first chunk, ...).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatlane import ChatCompletion, ChatCompletionChunk

PEER_DATA = Path(__file__).resolve().parent.parent / "data" / "peer-data"
"""The recorded provider data, vendored with the tests (its README gives each file's source)."""
SSE_DIR = PEER_DATA / "sse"
CHUNKS_DIR = PEER_DATA / "chunks"
JSON_DIR = PEER_DATA / "json"
SCHEMAS_FILE = PEER_DATA / "openai-chat-schemas.json"

API_KEY = "sk-conformance-0123456789"
"""The key the test clients send; it appears in no recorded body."""

# Headers that describe the recorded transfer, not the body as it is replayed (the bodies
# are stored decoded and whole), or that the replaying server sets itself.
_TRANSFER_HEADERS = frozenset(
    {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}
    | {"date", "server"}
)


def listing(directory: Path, suffix: str) -> list[Path]:
    """The recorded files of one kind, sorted.

    The data ships with the tests, so a missing or empty directory is an error, not an
    empty parametrization that would pass without checking anything.
    """
    found = sorted(path for path in directory.iterdir() if path.name.endswith(suffix))
    if not found:
        raise FileNotFoundError(f"no {suffix} files in {directory}")
    return found


def file_id(path: Path) -> str:
    return path.name.split(".")[0]


@dataclass(frozen=True)
class RecordedHeaders:
    status: int
    headers: dict[str, str]
    """Lower-case names; repeated headers joined with ", "; transfer headers removed."""
    content_type: str | None


def replay_headers(recorded: dict[str, str]) -> dict[str, str]:
    """The headers to serve a recording with.

    The fake server stamps every response with its own ``x-request-id``; where the provider
    sent none, an empty value stands in for its absence, so the client reads the id the
    provider did send (``request-id``, ``apim-request-id``) as it would in production.
    """
    return {"x-request-id": "", **recorded}


def read_headers(body_path: Path) -> RecordedHeaders | None:
    """The ``.headers`` sibling of a recorded body, or None when there is none."""
    path = body_path.with_name(file_id(body_path) + ".headers")
    if not path.exists():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    match = re.match(r"HTTP (\d{3})\b", lines[0])
    assert match is not None, f"{path.name}: first line is not 'HTTP <status> <reason>'"
    headers: dict[str, str] = {}
    content_type = None
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name, value = name.strip().lower(), value.strip()
        if name == "content-type":
            content_type = value
        if name in _TRANSFER_HEADERS or name == "content-type":
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return RecordedHeaders(int(match.group(1)), headers, content_type)


def status_from_name(path: Path) -> int:
    """The status a headerless error file names (``...-400-...``)."""
    match = re.search(r"-([1-5]\d\d)-", path.name)
    assert match is not None, f"{path.name}: no status in the name and no .headers file"
    return int(match.group(1))


# --- Server-Sent Events, read plainly -------------------------------------------------------


@dataclass(frozen=True)
class Event:
    name: str | None
    data: str


def parse_sse(body: bytes) -> list[Event]:
    """Events of an event-stream body: ``data`` lines joined, comments and ids dropped."""
    text = body.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    events: list[Event] = []
    data: list[str] = []
    name: str | None = None
    for line in text.split("\n"):
        if not line:
            if data:
                events.append(Event(name, "\n".join(data)))
            data, name = [], None
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "data":
            data.append(value)
        elif key == "event":
            name = value
    if data:
        events.append(Event(name, "\n".join(data)))
    return events


def frame_chunk_lines(text: str) -> bytes:
    """One JSON chunk per line (no SSE framing) as the event stream a server would send."""
    lines = [line for line in text.splitlines() if line.strip()]
    return "".join(f"data: {line}\n\n" for line in lines).encode() + b"data: [DONE]\n\n"


# --- The reference merger -------------------------------------------------------------------


@dataclass
class RefCall:
    id: str = ""
    type: str = "function"
    name: str = ""
    arguments: str = ""


@dataclass
class RefChoice:
    content: str = ""
    reasoning: str = ""
    refusal: str = ""
    calls: dict[int, RefCall] = field(default_factory=dict)
    last_call: int | None = None
    finish_reason: str | None = None
    logprobs: dict[str, list[Any]] = field(default_factory=dict)

    def add_call(self, delta: dict[str, Any]) -> None:
        index = delta.get("index")
        if not isinstance(index, int):
            # No index (Mistral): a known id continues its call, a new id starts the next
            # call, no id continues the call seen last.
            call_id = delta.get("id")
            known = [i for i, call in self.calls.items() if call_id and call.id == call_id]
            if known:
                index = known[0]
            elif call_id:
                index = max(self.calls, default=-1) + 1
            else:
                index = self.last_call if self.last_call is not None else 0
        call = self.calls.setdefault(index, RefCall())
        self.last_call = index
        if delta.get("id") and not call.id:
            call.id = delta["id"]  # continuation deltas repeat null (Together) or "" (Alibaba)
        if delta.get("type"):
            call.type = delta["type"]
        function = delta.get("function") or {}
        if function.get("name") and not call.name:
            call.name = function["name"]  # continuations may say null or ""
        if isinstance(function.get("arguments"), str):
            call.arguments += function["arguments"]

    def tool_calls(self) -> list[tuple[str, str, str, str]]:
        return [
            (call.id, call.type, call.name, call.arguments)
            for _, call in sorted(self.calls.items())
        ]


@dataclass
class RefStream:
    payloads: list[dict[str, Any]] = field(default_factory=list)
    """Every chunk a client should deliver, in order (the error event excluded)."""
    choices: dict[int, RefChoice] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    id: str | None = None
    model: str | None = None
    saw_done: bool = False
    error: dict[str, Any] | None = None
    error_event: str | None = None


def _thinking_text(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if isinstance(parts, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text") or "")
            for part in parts
            if isinstance(part, str | dict)
        )
    return ""


def _merge_delta(choice: RefChoice, delta: dict[str, Any]) -> None:
    content = delta.get("content")
    if isinstance(content, str):
        choice.content += content
    elif isinstance(content, list):  # Mistral: [{"type": "thinking"|"text", ...}]
        for part in content:
            if part.get("type") == "thinking":
                choice.reasoning += _thinking_text(part.get("thinking"))
            elif part.get("type") == "text":
                choice.content += part["text"]
    reasoning = delta.get("reasoning_content")
    if not isinstance(reasoning, str):
        reasoning = delta.get("reasoning")
    if isinstance(reasoning, str):
        choice.reasoning += reasoning
    else:
        # Only reasoning_details[] (Snowflake; OpenRouter repeats it next to "reasoning").
        for detail in delta.get("reasoning_details") or []:
            if detail.get("type") == "reasoning.text" and isinstance(detail.get("text"), str):
                choice.reasoning += detail["text"]
    if isinstance(delta.get("refusal"), str):
        choice.refusal += delta["refusal"]
    for call in delta.get("tool_calls") or []:
        choice.add_call(call)


def reference_stream(events: list[Event]) -> RefStream:
    ref = RefStream()
    for event in events:
        if event.data == "[DONE]":
            ref.saw_done = True
            break
        payload = json.loads(event.data)
        if event.name == "error" or payload.get("error") is not None:
            error = payload.get("error", payload)
            ref.error = error if isinstance(error, dict) else {"message": error}
            ref.error_event = event.name
            break
        ref.payloads.append(payload)
        if payload.get("id") and ref.id is None:
            ref.id = payload["id"]
        if payload.get("model") and ref.model is None:
            ref.model = payload["model"]
        if payload.get("usage") is not None:
            ref.usage = payload["usage"]  # cumulative where repeated: the last one wins
        for raw in payload.get("choices") or []:
            choice = ref.choices.setdefault(raw.get("index", 0), RefChoice())
            _merge_delta(choice, raw.get("delta") or {})
            if raw.get("finish_reason"):
                choice.finish_reason = raw["finish_reason"]
            logprobs = raw.get("logprobs")
            if isinstance(logprobs, dict):
                for key, values in logprobs.items():
                    if isinstance(values, list):
                        choice.logprobs.setdefault(key, []).extend(values)
    return ref


# --- Usage, read plainly --------------------------------------------------------------------


@dataclass(frozen=True)
class RefUsage:
    prompt: int
    completion: int
    total: int
    cached: int
    reasoning: int


def reference_usage(usage: dict[str, Any]) -> RefUsage:
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    cached = prompt_details.get("cached_tokens")
    if cached is None:
        cached = usage.get("prompt_cache_hit_tokens")  # DeepSeek's own name
    reasoning = completion_details.get("reasoning_tokens")
    if reasoning is None:
        reasoning = usage.get("reasoning_tokens")  # Together: at the top of usage
    return RefUsage(
        prompt=usage.get("prompt_tokens", 0),
        completion=usage.get("completion_tokens", 0),
        total=usage.get("total_tokens", 0),
        cached=cached or 0,
        reasoning=reasoning or 0,
    )


# --- Comparing chatlane's results with the reference ----------------------------------------


def usage_problems(completion: ChatCompletion, expected: dict[str, Any] | None) -> list[str]:
    usage = completion.usage
    if expected is None:
        return [] if usage is None else [f"usage: expected none, got {usage!r}"]
    if usage is None:
        return [f"usage: expected {expected!r}, got None"]
    want = reference_usage(expected)
    got = RefUsage(
        prompt=usage.prompt_tokens,
        completion=usage.completion_tokens,
        total=usage.total_tokens,
        cached=usage.cached_tokens,
        reasoning=usage.reasoning_tokens,
    )
    return [] if got == want else [f"usage: expected {want}, got {got}"]


def message_problems(
    completion: ChatCompletion, expected: dict[int, RefChoice], *, check_logprobs: bool = True
) -> list[str]:
    problems: list[str] = []
    got_indexes = [choice.index for choice in completion.choices]
    if got_indexes != sorted(expected):
        problems.append(f"choice indexes: expected {sorted(expected)}, got {got_indexes}")
    for choice in completion.choices:
        want = expected.get(choice.index)
        if want is None:
            continue
        message = choice.message
        where = f"choices[{choice.index}]"
        if message.role != "assistant":
            problems.append(f"{where}.role: expected 'assistant', got {message.role!r}")
        if (message.content or "") != want.content:
            problems.append(f"{where}.content: expected {want.content!r}, got {message.content!r}")
        reasoning = message.reasoning_content or message.reasoning or ""
        if reasoning != want.reasoning:
            problems.append(f"{where} reasoning: expected {want.reasoning!r}, got {reasoning!r}")
        if (message.refusal or "") != want.refusal:
            problems.append(f"{where}.refusal: expected {want.refusal!r}, got {message.refusal!r}")
        calls = [
            (call.id, call.type, call.function.name, call.function.arguments)
            for call in message.tool_calls or []
        ]
        if calls != want.tool_calls():
            problems.append(f"{where}.tool_calls: expected {want.tool_calls()}, got {calls}")
        if choice.finish_reason != want.finish_reason:
            problems.append(
                f"{where}.finish_reason: expected {want.finish_reason!r}, "
                f"got {choice.finish_reason!r}"
            )
        if check_logprobs and (choice.logprobs or {}) != want.logprobs:
            problems.append(
                f"{where}.logprobs: expected {want.logprobs!r}, got {choice.logprobs!r}"
            )
    return problems


def chunk_problems(chunks: list[ChatCompletionChunk], payloads: list[dict[str, Any]]) -> list[str]:
    """Chunk by chunk: nothing dropped, added or reordered; choices, finish and usage kept."""
    if len(chunks) != len(payloads):
        return [f"chunk count: expected {len(payloads)}, got {len(chunks)}"]
    problems: list[str] = []
    for number, (chunk, payload) in enumerate(zip(chunks, payloads, strict=True)):
        raw_choices = payload.get("choices") or []
        want = [(c.get("index", 0), c.get("finish_reason")) for c in raw_choices]
        got = [(c.index, c.finish_reason) for c in chunk.choices]
        if got != want:
            problems.append(f"chunk {number}: (index, finish_reason) expected {want}, got {got}")
        if (chunk.usage is None) != (payload.get("usage") is None):
            problems.append(f"chunk {number}: usage presence differs from the recording")
        if (chunk.id or None) != (payload.get("id") or None):
            problems.append(f"chunk {number}: id expected {payload.get('id')!r}, got {chunk.id!r}")
    return problems
