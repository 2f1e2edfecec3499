"""chatlane against its raw transports, openai-python and LiteLLM: one run, one upstream.

Run through ``make bench``: bench/run.sh starts nginx serving canned responses and passes its
port. Each table has a baseline (the raw transport plus plain ``json.loads``) and every row is
given as a ratio to it, so machine noise largely cancels out. Prints the tables and writes
docs/benchmarks.md. Exits non-zero only when the benchmark itself breaks: a missed target
prints FAIL, and a client that cannot run reads n/a with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import importlib
import importlib.metadata
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

# LiteLLM downloads its model price list on import unless this is set; the bench stays local.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import aiohttp
import urllib3

import production
from measure import (
    IN_FLIGHT,
    NotAvailable,
    Outcome,
    command_times,
    describe,
    import_times,
    in_flight,
    repeat,
    rounds,
    rounds_async,
)
from report import BASELINE, CHATLANE, Row, Section, Target, check, console, markdown
from upstream import CONTENT_CHUNKS, STREAM_CHUNKS

MODEL = "gpt-4o-mini"
KEY = "sk-bench"
MESSAGES = [{"role": "user", "content": "Hi"}]
BODY = json.dumps({"model": MODEL, "messages": MESSAGES}).encode()
STREAM_BODY = json.dumps(
    {
        "model": MODEL,
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
).encode()
HEADERS = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}

SECTIONS = [
    Section("sync", "Sync, one call at a time (lower is better)"),
    Section("async", f"Async, {IN_FLIGHT} calls in flight (higher is better)"),
    Section("stream", f"Streaming {STREAM_CHUNKS:,} chunks, sync (higher is better)"),
    Section("stream-async", f"Streaming {STREAM_CHUNKS:,} chunks, async (higher is better)"),
    Section("import", "Import time in a fresh interpreter (lower is better)"),
    Section("cli", "`chatlane --help`, the whole process (lower is better)"),
    Section("local", "Embedded model, SmolLM2-135M, greedy, 96 tokens (higher is better)"),
    Section(
        "conversation",
        "Embedded model, a 10-turn conversation: time to first token per turn, the user"
        " reading between turns (lower is better)",
    ),
    Section(
        "conversation-b2b",
        "Embedded model, the same conversation back to back, as an agent loop sends it:"
        " time to first token per turn (lower is better)",
    ),
    *production.SECTIONS,
]
WORST_TURN = "worst turn: chatlane's first token / llama-cpp-python's"

TARGETS = [
    Target("sync per call <= 1.3x raw urllib3", "sync", 1.3, at_most=True),
    Target("async throughput >= 0.8x raw aiohttp", "async", 0.8, at_most=False),
    Target("streaming >= 0.7x raw urllib3 + json", "stream", 0.7, at_most=False),
    Target("async streaming >= 0.7x raw aiohttp + json", "stream-async", 0.7, at_most=False),
    Target("import chatlane < 150 ms", "import", 150, at_most=True, unit="ms"),
    Target("chatlane --help < 500 ms", "cli", 500, at_most=True, unit="ms"),
    Target("embedded model tokens/s >= 0.95x llama-cpp-python", "local", 0.95, at_most=False),
    Target(
        "conversation, every turn <= 1.2x llama-cpp-python's first token",
        "conversation",
        1.2,
        True,
        "x",
        row=WORST_TURN,
        decimals=2,
    ),
    Target(
        "back to back, every turn <= 1.2x llama-cpp-python's first token",
        "conversation-b2b",
        1.2,
        True,
        "x",
        row=WORST_TURN,
        decimals=2,
    ),
    *production.TARGETS,
]
MEASURED = [
    "- The upstream is nginx on loopback (keep-alive on, access log off) serving a canned",
    "  `chat.completion` (~700 bytes, with usage) and a canned stream: a role chunk,",
    f"  {CONTENT_CHUNKS:,} content chunks, a finish chunk, a usage-only chunk (`choices: []`)",
    "  and `data: [DONE]`. The figures measure the client, not a model.",
    "- Contenders take turns in rounds (one warm-up round, then the measured ones) and each",
    "  figure is the median over rounds, so drift on the machine touches them all alike. A full",
    "  `gc.collect()` precedes every turn, outside the timing: no client pays for another's",
    "  garbage, while the collections its own objects cause within a turn are counted. All",
    "  clients share one process, with openai and litellm loaded (about 300k objects), as in",
    "  a service that uses several libraries.",
    "- Sync: N sequential calls per turn on one keep-alive connection; wall and CPU",
    "  (`time.process_time`) time per call, response parsing included (the raw rows",
    "  `json.loads` the body).",
    f"- Async: N calls per turn with {IN_FLIGHT} always in flight on one client or session;",
    "  calls per second, and CPU time per call.",
    "- Streaming: chunks per second over whole streams; the baselines read with the same",
    "  transport chatlane uses, split lines and `json.loads` every `data:` line.",
    "- Import: median wall time of `python -c 'import X'` minus that of `python -c 'pass'`.",
    "- Embedded model: median tokens/s after the first token, and time to first token, of a",
    "  streamed greedy generation, chatlane and llama-cpp-python alternating, same model file,",
    "  prompt and thread count; both reuse the prompt they evaluated on the previous run.",
    "- Conversation: `bench/local_model.py`, ten questions asked in turn, each turn's prompt",
    "  the whole history so far; time to first token per turn, medians of three",
    "  conversations (one with --quick). With the user's pause: chatlane's and",
    "  llama-cpp-python's turns alternate (the other side's turn is the pause). Back to",
    "  back: each side's ten turns with no pause, as an agent loop sends them.",
    "  llama-cpp-python uses its in-context prefix reuse (`create_chat_completion`'s",
    "  default); chatlane its prefix cache, which keeps `temperature=0` answers identical to",
    "  a fresh evaluation. A single fresh prompt: neither side has a cached prefix.",
    *production.MEASURED,
]

SyncCall = Callable[[], object]
AsyncCall = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Sizes:
    calls: int  # sync calls per turn for the fast clients
    async_calls: int  # async calls per turn for the fast clients
    streams: int  # streams per turn for the fast clients
    repeats: int  # measured rounds
    import_runs: dict[str, int]  # fresh interpreters per module
    local_repeats: int


FULL = Sizes(2000, 4000, 10, 5, {"chatlane": 15, "openai": 7, "litellm": 5}, 7)
QUICK = Sizes(300, 800, 3, 2, {"chatlane": 5, "openai": 3, "litellm": 3}, 2)


def optional(module: str) -> Any:
    """The module, or a stand-in whose every use raises ``NotAvailable``."""
    try:
        return importlib.import_module(module)
    except Exception as error:
        return _Missing(f"{module} not importable: {describe(error)}")


class _Missing:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __getattr__(self, name: str) -> Any:
        raise NotAvailable(self.reason)


def unavailable(reason: str) -> Callable[[], int]:
    def turn() -> int:
        raise NotAvailable(reason)

    return turn


def prepared(make: Callable[[], SyncCall], times: int) -> Callable[[], int]:
    """A turn of ``times`` calls, or, if the client cannot be built, a turn that says why."""
    try:
        return repeat(make(), times)
    except Exception as error:
        return unavailable(describe(error))


def rows_from(
    section: str,
    outcomes: dict[str, Outcome],
    value: Callable[[Outcome], float | None],
    unit: str,
    roles: dict[str, str],
    detail: Callable[[Outcome], str] = lambda _: "",
) -> list[Row]:
    rows = []
    for label, outcome in outcomes.items():
        measured = value(outcome)
        note = detail(outcome) if measured is not None else (outcome.error or "not measured")
        rows.append(Row(section, label, measured, unit, note, roles.get(label, "")))
    return rows


def scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


# --- sync, per call -----------------------------------------------------------------------


def sync_rows(base: str, sizes: Sizes, chatlane: Any, openai: Any, litellm: Any) -> list[Row]:
    url = f"{base}/chat/completions"
    host = urllib3.util.parse_url(base)
    connection = http.client.HTTPConnection(host.host or "", host.port)
    pool = urllib3.PoolManager()
    closers: list[Callable[[], object]] = [connection.close, pool.clear]

    def raw_http_client() -> SyncCall:
        def call() -> object:
            connection.request("POST", "/v1/chat/completions", BODY, HEADERS)
            return json.loads(connection.getresponse().read())

        return call

    def raw_urllib3() -> SyncCall:
        return lambda: json.loads(pool.request("POST", url, body=BODY, headers=HEADERS).data)

    def lane() -> SyncCall:
        client = chatlane.Client(base_url=base, api_key=KEY)
        closers.append(client.close)
        return lambda: client.chat(model=MODEL, messages=MESSAGES)

    def openai_create() -> SyncCall:
        client = openai.OpenAI(base_url=base, api_key=KEY, max_retries=0)
        closers.append(client.close)
        return lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def litellm_completion() -> SyncCall:
        completion = litellm.completion
        return lambda: completion(
            model=f"openai/{MODEL}", messages=MESSAGES, api_base=base, api_key=KEY
        )

    n = sizes.calls
    turns = {
        "raw http.client + json": prepared(raw_http_client, n),
        "raw urllib3 + json (the raw sync transport)": prepared(raw_urllib3, n),
        "chatlane Client.chat": prepared(lane, n),
        "openai-python chat.completions.create": prepared(openai_create, max(n // 4, 50)),
        "LiteLLM completion": prepared(litellm_completion, max(n // 20, 20)),
    }
    outcomes = rounds(turns, sizes.repeats)
    for close in closers:
        close()
    roles = {
        "raw urllib3 + json (the raw sync transport)": BASELINE,
        "chatlane Client.chat": CHATLANE,
    }
    return rows_from(
        "sync",
        outcomes,
        lambda o: scaled(o.wall_per_item(), 1e6),
        "µs/call",
        roles,
        lambda o: f"CPU {scaled(o.cpu_per_item(), 1e6) or 0:,.0f} µs/call",
    )


# --- async, calls in flight ---------------------------------------------------------------


async def async_rows(base: str, sizes: Sizes, chatlane: Any, openai: Any, httpx: Any) -> list[Row]:
    url = f"{base}/chat/completions"
    async with contextlib.AsyncExitStack() as stack:

        async def raw_aiohttp() -> AsyncCall:
            session = await stack.enter_async_context(aiohttp.ClientSession())

            async def call() -> object:
                async with session.post(url, data=BODY, headers=HEADERS) as response:
                    return json.loads(await response.read())

            return call

        async def lane() -> AsyncCall:
            client = await stack.enter_async_context(
                chatlane.AsyncClient(base_url=base, api_key=KEY)
            )
            return lambda: client.chat(model=MODEL, messages=MESSAGES)

        async def raw_httpx() -> AsyncCall:
            limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
            client = await stack.enter_async_context(httpx.AsyncClient(limits=limits))

            async def call() -> object:
                response = await client.post(url, content=BODY, headers=HEADERS)
                return json.loads(response.content)

            return call

        async def openai_create() -> AsyncCall:
            client = openai.AsyncOpenAI(base_url=base, api_key=KEY, max_retries=0)
            stack.push_async_callback(client.close)
            return lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES)

        n = sizes.async_calls
        turns = {
            "raw aiohttp + json (the raw async transport)": await prepared_async(raw_aiohttp, n),
            "chatlane AsyncClient.chat": await prepared_async(lane, n),
            "raw httpx + json (reference)": await prepared_async(raw_httpx, max(n // 10, 128)),
            "openai-python AsyncOpenAI": await prepared_async(openai_create, max(n // 13, 128)),
        }
        outcomes = await rounds_async(turns, sizes.repeats)
    roles = {
        "raw aiohttp + json (the raw async transport)": BASELINE,
        "chatlane AsyncClient.chat": CHATLANE,
    }
    return rows_from(
        "async",
        outcomes,
        Outcome.items_per_second,
        "calls/s",
        roles,
        lambda o: f"CPU {scaled(o.cpu_per_item(), 1e6) or 0:,.0f} µs/call",
    )


async def prepared_async(
    make: Callable[[], Awaitable[AsyncCall]], calls: int
) -> Callable[[], Awaitable[int]]:
    try:
        return in_flight(await make(), calls)
    except Exception as error:
        reason = describe(error)

        async def turn() -> int:
            raise NotAvailable(reason)

        return turn


# --- streaming ----------------------------------------------------------------------------


def counted(chunks: int) -> int:
    """The stream's size, once a client has shown it read the whole stream."""
    if chunks < CONTENT_CHUNKS:
        raise RuntimeError(f"the stream ended after {chunks} chunks")
    return STREAM_CHUNKS


def json_lines(buffer: bytes, pieces: Iterable[bytes]) -> tuple[bytes, int]:
    """Split complete lines off ``buffer + pieces`` and ``json.loads`` each ``data:`` line."""
    count = 0
    for piece in pieces:
        buffer += piece
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                json.loads(line[6:])
                count += 1
    return buffer, count


def streams(read_one: Callable[[], int], times: int) -> Callable[[], int]:
    """A turn that reads ``times`` whole streams and returns the chunks they held."""

    def turn() -> int:
        return sum(counted(read_one()) for _ in range(times))

    return turn


def prepared_stream(make: Callable[[], Callable[[], int]], times: int) -> Callable[[], int]:
    try:
        return streams(make(), times)
    except Exception as error:
        return unavailable(describe(error))


def stream_rows(base: str, sizes: Sizes, chatlane: Any, openai: Any, litellm: Any) -> list[Row]:
    url = f"{base}/chat/completions"
    pool = urllib3.PoolManager()
    closers: list[Callable[[], object]] = [pool.clear]

    def raw_urllib3() -> Callable[[], int]:
        def read_one() -> int:
            response = pool.request(
                "POST", url, body=STREAM_BODY, headers=HEADERS, preload_content=False
            )
            _, count = json_lines(b"", iter(lambda: response.read1(65536), b""))
            response.release_conn()
            return count

        return read_one

    def lane() -> Callable[[], int]:
        client = chatlane.Client(base_url=base, api_key=KEY)
        closers.append(client.close)

        def read_one() -> int:
            with client.stream(model=MODEL, messages=MESSAGES) as stream:
                return sum(1 for _ in stream)

        return read_one

    def openai_stream() -> Callable[[], int]:
        client = openai.OpenAI(base_url=base, api_key=KEY, max_retries=0)
        closers.append(client.close)
        options = {"include_usage": True}
        return lambda: sum(
            1
            for _ in client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, stream_options=options
            )
        )

    def litellm_stream() -> Callable[[], int]:
        completion = litellm.completion
        return lambda: sum(
            1
            for _ in completion(
                model=f"openai/{MODEL}", messages=MESSAGES, api_base=base, api_key=KEY, stream=True
            )
        )

    n = sizes.streams
    turns = {
        "raw urllib3 + line split + json.loads (baseline)": prepared_stream(raw_urllib3, n),
        "chatlane Client.stream": prepared_stream(lane, n),
        "openai-python stream": prepared_stream(openai_stream, 1),
        "LiteLLM stream": prepared_stream(litellm_stream, 1),
    }
    outcomes = rounds(turns, sizes.repeats)
    for close in closers:
        close()
    roles = {
        "raw urllib3 + line split + json.loads (baseline)": BASELINE,
        "chatlane Client.stream": CHATLANE,
    }
    return rows_from("stream", outcomes, Outcome.items_per_second, "chunks/s", roles, per_stream)


def per_stream(outcome: Outcome) -> str:
    wall = outcome.wall_per_item()
    return "" if wall is None else f"{wall * STREAM_CHUNKS * 1000:,.1f} ms per stream"


async def async_stream_rows(base: str, sizes: Sizes, chatlane: Any, openai: Any) -> list[Row]:
    url = f"{base}/chat/completions"
    async with contextlib.AsyncExitStack() as stack:

        async def raw_aiohttp() -> Callable[[], Awaitable[int]]:
            session = await stack.enter_async_context(aiohttp.ClientSession())

            async def read_one() -> int:
                buffer, count = b"", 0
                async with session.post(url, data=STREAM_BODY, headers=HEADERS) as response:
                    async for piece in response.content.iter_any():
                        buffer, seen = json_lines(buffer, (piece,))
                        count += seen
                return count

            return read_one

        async def lane() -> Callable[[], Awaitable[int]]:
            client = await stack.enter_async_context(
                chatlane.AsyncClient(base_url=base, api_key=KEY)
            )

            async def read_one() -> int:
                async with client.stream(model=MODEL, messages=MESSAGES) as stream:
                    return sum([1 async for _ in stream])

            return read_one

        async def openai_stream() -> Callable[[], Awaitable[int]]:
            client = openai.AsyncOpenAI(base_url=base, api_key=KEY, max_retries=0)
            stack.push_async_callback(client.close)

            async def read_one() -> int:
                stream = await client.chat.completions.create(
                    model=MODEL,
                    messages=MESSAGES,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                return sum([1 async for _ in stream])

            return read_one

        n = sizes.streams
        turns = {
            "raw aiohttp + line split + json.loads (baseline)": await async_streams(raw_aiohttp, n),
            "chatlane AsyncClient.stream": await async_streams(lane, n),
            "openai-python AsyncOpenAI stream": await async_streams(openai_stream, 1),
        }
        outcomes = await rounds_async(turns, sizes.repeats)
    roles = {
        "raw aiohttp + line split + json.loads (baseline)": BASELINE,
        "chatlane AsyncClient.stream": CHATLANE,
    }
    return rows_from(
        "stream-async", outcomes, Outcome.items_per_second, "chunks/s", roles, per_stream
    )


async def async_streams(
    make: Callable[[], Awaitable[Callable[[], Awaitable[int]]]], times: int
) -> Callable[[], Awaitable[int]]:
    try:
        read_one = await make()
    except Exception as error:
        read_one = _raising(describe(error))

    async def turn() -> int:
        return sum([counted(await read_one()) for _ in range(times)])

    return turn


def _raising(reason: str) -> Callable[[], Awaitable[int]]:
    async def fail() -> int:
        raise NotAvailable(reason)

    return fail


# --- import time, the embedded model ------------------------------------------------------


def import_rows(sizes: Sizes) -> list[Row]:
    outcomes = import_times(sizes.import_runs)
    labelled = {f"import {module}": outcome for module, outcome in outcomes.items()}
    return rows_from(
        "import",
        labelled,
        lambda o: scaled(o.wall_per_item(), 1000),
        "ms",
        {"import chatlane": CHATLANE},
        lambda o: f"median of {len(o.samples)} runs",
    )


def cli_rows(runs: int) -> list[Row]:
    commands = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "chatlane --help": [sys.executable, "-m", "chatlane", "--help"],
    }
    return rows_from(
        "cli",
        command_times(commands, runs),
        lambda o: scaled(o.wall_per_item(), 1000),
        "ms",
        {"python -c pass (baseline)": BASELINE, "chatlane --help": CHATLANE},
        lambda o: f"median of {len(o.samples)} runs",
    )


def local_rows(repeats: int) -> list[Row]:
    labels = {
        "direct": ("llama-cpp-python directly (baseline)", BASELINE),
        "chatlane": ("chatlane Client.stream, local/smollm2", CHATLANE),
    }
    try:
        from local_model import local_results

        results = local_results(repeats)
    except Exception as error:
        reason = describe(error)
        return [
            Row("local", label, None, "tokens/s", reason, role) for label, role in labels.values()
        ]
    rows = []
    for name, (label, role) in labels.items():
        ttft, rate = results[name]
        rows.append(
            Row("local", label, rate, "tokens/s", f"first token {ttft * 1000:.0f} ms", role)
        )
    return rows


def conversation_rows(repeats: int) -> list[Row]:
    """Per turn, chatlane's time to first token, llama-cpp-python's beside it, and the worst
    turn's ratio (what the targets read); both ways: with the user's pause, back to back."""
    try:
        from local_model import conversation_results

        results = conversation_results(repeats)
    except Exception as error:
        reason = describe(error)
        return [
            Row(section, WORST_TURN, None, "x", reason)
            for section in ("conversation", "conversation-b2b")
        ]
    rows = []
    for section, mine, theirs in (
        ("conversation", "chatlane_ttft", "direct_ttft"),
        ("conversation-b2b", "back_to_back_ttft", "direct_back_to_back_ttft"),
    ):
        ratios = []
        for turn in results.turns:
            ours, direct = getattr(turn, mine), getattr(turn, theirs)
            ratios.append(ours / direct)
            detail = (
                f"{ours / direct:.2f}x llama-cpp-python's {direct * 1000:.0f} ms;"
                f" {turn.chatlane_reused} of {turn.prompt_tokens} prompt tokens reused"
            )
            label = f"turn {turn.turn}, chatlane"
            rows.append(Row(section, label, ours * 1000, "ms", detail))
        rows.append(Row(section, WORST_TURN, max(ratios), "x", "", decimals=2))
    fresh = results.fresh_chatlane_ttft / results.fresh_direct_ttft
    detail = (
        f"chatlane {results.fresh_chatlane_ttft * 1000:.0f} ms, llama-cpp-python"
        f" {results.fresh_direct_ttft * 1000:.0f} ms, neither with a cached prefix"
    )
    rows.append(Row("conversation", "a single fresh prompt", fresh, "x", detail, decimals=2))
    return rows


# --- the machine, the upstream ------------------------------------------------------------


def machine(load_before: float) -> list[tuple[str, str]]:
    load_after = os.getloadavg()[0]
    return [
        ("CPU", f"{cpu_model()}, {os.cpu_count()} cores"),
        ("OS", platform_name()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Libraries", versions()),
        ("Upstream", nginx_version()),
        ("Redis", production.redis_version()),
        ("Load average (1 min)", f"{load_before:.2f} at the start, {load_after:.2f} at the end"),
    ]


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def platform_name() -> str:
    with contextlib.suppress(OSError):
        return platform.freedesktop_os_release()["PRETTY_NAME"]
    return platform.platform()


def versions() -> str:
    names = ["chatlane", "urllib3", "aiohttp", "msgspec", "openai", "litellm", "httpx"]
    names += ["llama_cpp_python", "redis", "opentelemetry-api"]
    found = []
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return ", ".join(found)


def nginx_version() -> str:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    with contextlib.suppress(OSError):
        done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
        return done.stderr.strip().removeprefix("nginx version: ") + " on loopback"
    return "nginx on loopback"


def check_upstream(base: str) -> None:
    """Stop at once, and say why, if nginx is not serving what the tables assume."""
    pool = urllib3.PoolManager()
    try:
        reply = pool.request("POST", f"{base}/v1/chat/completions", body=BODY, headers=HEADERS)
        stream = pool.request(
            "POST", f"{base}/stream/v1/chat/completions", body=STREAM_BODY, headers=HEADERS
        )
    except urllib3.exceptions.HTTPError as error:
        sys.exit(f"bench: no upstream at {base} ({describe(error)}); run bench/run.sh")
    chunks = stream.data.count(b"data: {")
    if reply.status != 200 or "choices" not in json.loads(reply.data) or chunks != STREAM_CHUNKS:
        sys.exit(f"bench: the upstream at {base} does not serve the canned responses")
    pool.clear()


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the nginx port (bench/run.sh)")
    parser.add_argument("--out", default="docs/benchmarks.md", help="where to write the report")
    parser.add_argument("--quick", action="store_true", help="fewer calls: a smoke run")
    parser.add_argument("--no-local", action="store_true", help="skip the embedded model")
    parser.add_argument("--redis", help="a private Redis for the cache table (bench/run.sh)")
    parser.add_argument(
        "--only-production",
        action="store_true",
        help="only the production pieces' tables (give --out: a partial report)",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    pieces = production.QUICK if args.quick else production.FULL
    root = f"http://127.0.0.1:{args.port}"
    check_upstream(root)
    load_before = os.getloadavg()[0]

    chatlane = optional("chatlane")
    openai, litellm, httpx = optional("openai"), optional("litellm"), optional("httpx")
    litellm.suppress_debug_info = True  # no "Give Feedback" banners between the rows
    base, stream_base = f"{root}/v1", f"{root}/stream/v1"
    rows: list[Row] = []
    if not args.only_production:
        rows += progress("sync", lambda: sync_rows(base, sizes, chatlane, openai, litellm))
        rows += progress(
            "async", lambda: asyncio.run(async_rows(base, sizes, chatlane, openai, httpx))
        )
        rows += progress(
            "stream", lambda: stream_rows(stream_base, sizes, chatlane, openai, litellm)
        )
        rows += progress(
            "stream-async",
            lambda: asyncio.run(async_stream_rows(stream_base, sizes, chatlane, openai)),
        )
        rows += progress("import", lambda: import_rows(sizes))
        rows += progress("cli", lambda: cli_rows(max(sizes.import_runs.values())))
        if args.no_local:
            rows += [Row("local", "embedded model", None, "tokens/s", "skipped (--no-local)")]
        else:
            rows += progress("local", lambda: local_rows(sizes.local_repeats))
            conversations = 1 if args.quick else 3
            rows += progress("conversation", lambda: conversation_rows(conversations))
    rows += progress("pieces-sync", lambda: production.sync_rows(base, pieces, chatlane))
    rows += progress(
        "pieces-async", lambda: asyncio.run(production.async_rows(base, pieces, chatlane))
    )
    rows += progress("cache-hit", lambda: production.hit_rows(base, pieces, chatlane, args.redis))
    rows += progress("budget", lambda: production.budget_rows(base, pieces, chatlane))

    sections, targets = SECTIONS, TARGETS
    if args.only_production:
        sections, targets = production.SECTIONS, production.TARGETS
    checks = check(targets, rows)
    print(console(sections, rows, checks))
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    text = markdown(sections, rows, checks, machine(load_before), MEASURED, date)
    pathlib.Path(args.out).write_text(text)
    print(f"\nwrote {args.out}")


def progress(name: str, measure: Callable[[], list[Row]]) -> list[Row]:
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    return measure()


if __name__ == "__main__":
    main()
