"""chatlane against its raw transports, openai-python and LiteLLM, in one run, one upstream.

Run through ``make bench`` (bench/run.sh starts nginx and passes its port). Every figure is
compared, as a ratio, with the raw transport measured in the same run, so machine noise
cancels out. Writes a Markdown report (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import urllib3

import chatlane

MESSAGES = [{"role": "user", "content": "Hi"}]
BODY = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES}).encode()
STREAM_BODY = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}).encode()
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-bench"}
IN_FLIGHT = 64


@dataclass
class Row:
    section: str
    name: str
    value: float
    unit: str
    detail: str = ""


def per_call(fn: Callable[[], object], calls: int, repeats: int = 3) -> tuple[float, float]:
    """Best-of-``repeats`` (wall µs, CPU µs) per call, after a warm-up."""
    for _ in range(min(200, calls)):
        fn()
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        best_wall = min(best_wall, (time.perf_counter() - wall0) / calls * 1e6)
        best_cpu = min(best_cpu, (time.process_time() - cpu0) / calls * 1e6)
    return best_wall, best_cpu


async def throughput(call: Callable[[], Awaitable[object]], calls: int) -> float:
    """Calls per second with ``IN_FLIGHT`` calls always outstanding."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))  # warm-up: open connections
    remaining = calls
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return calls / (time.perf_counter() - started)


def best_rate(fn: Callable[[], int], repeats: int) -> float:
    """Best items/s over ``repeats`` runs of ``fn`` (which returns how many items it saw)."""
    fn()
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        count = fn()
        rates.append(count / (time.perf_counter() - started))
    return max(rates)


# --- sync, per call ------------------------------------------------------------------------


def sync_rows(base: str, calls: int) -> list[Row]:
    host_port = base.split("//")[1].split("/")[0]
    url = f"{base}/chat/completions"
    rows = []

    import http.client

    conn = http.client.HTTPConnection(host_port)

    def raw_http_client() -> object:
        conn.request("POST", "/v1/chat/completions", BODY, HEADERS)
        return json.loads(conn.getresponse().read())

    pool = urllib3.PoolManager()

    def raw_urllib3() -> object:
        return json.loads(pool.request("POST", url, body=BODY, headers=HEADERS).data)

    client = chatlane.Client(base_url=base, api_key="sk-bench")

    def chatlane_chat() -> object:
        return client.chat(model="gpt-4o-mini", messages=MESSAGES)

    contenders: list[tuple[str, Callable[[], object], int]] = [
        ("raw http.client + json", raw_http_client, calls),
        ("raw urllib3 + json (chatlane's transport)", raw_urllib3, calls),
        ("chatlane Client.chat", chatlane_chat, calls),
    ]
    openai = _optional("openai")
    if openai is not None:
        oa = openai.OpenAI(base_url=base, api_key="sk-bench", max_retries=0)
        contenders.append(
            (
                "openai-python chat.completions.create",
                lambda: oa.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES),
                max(calls // 4, 100),
            )
        )
    litellm = _optional("litellm")
    if litellm is not None:
        contenders.append(
            (
                "LiteLLM completion",
                lambda: litellm.completion(
                    model="openai/gpt-4o-mini", messages=MESSAGES, api_base=base, api_key="sk-bench"
                ),
                max(calls // 20, 50),
            )
        )
    for name, fn, n in contenders:
        wall, cpu = per_call(fn, n)
        rows.append(Row("sync", name, wall, "µs/call", f"CPU {cpu:.0f} µs/call"))
    client.close()
    conn.close()
    return rows


# --- async, 64 in flight -------------------------------------------------------------------


async def async_rows(base: str, calls: int) -> list[Row]:
    url = f"{base}/chat/completions"
    rows = []
    async with aiohttp.ClientSession() as session:

        async def raw() -> object:
            async with session.post(url, data=BODY, headers=HEADERS) as response:
                return json.loads(await response.read())

        rows.append(
            Row(
                "async",
                "raw aiohttp + json (chatlane's transport)",
                await throughput(raw, calls),
                "calls/s",
            )
        )
    async with chatlane.AsyncClient(base_url=base, api_key="sk-bench") as client:

        async def lane() -> object:
            return await client.chat(model="gpt-4o-mini", messages=MESSAGES)

        rows.append(
            Row("async", "chatlane AsyncClient.chat", await throughput(lane, calls), "calls/s")
        )
    httpx = _optional("httpx")
    if httpx is not None:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=IN_FLIGHT)) as hx:

            async def raw_httpx() -> object:
                return json.loads((await hx.post(url, content=BODY, headers=HEADERS)).content)

            rows.append(
                Row(
                    "async",
                    "raw httpx + json (reference)",
                    await throughput(raw_httpx, calls // 5),
                    "calls/s",
                )
            )
    openai = _optional("openai")
    if openai is not None:
        oa = openai.AsyncOpenAI(base_url=base, api_key="sk-bench", max_retries=0)

        async def oai() -> object:
            return await oa.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

        rows.append(
            Row("async", "openai-python AsyncOpenAI", await throughput(oai, calls // 5), "calls/s")
        )
        await oa.close()
    return rows


# --- streaming, a 2,000-chunk stream -------------------------------------------------------


def stream_rows(base: str, repeats: int) -> list[Row]:
    stream_base = base.replace("/v1", "/stream/v1")
    url = f"{stream_base}/chat/completions"
    pool = urllib3.PoolManager()

    def raw_urllib3() -> int:
        response = pool.request(
            "POST", url, body=STREAM_BODY, headers=HEADERS, preload_content=False
        )
        count, buffer = 0, b""
        while piece := response.read1(65536):
            buffer += piece
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.startswith(b"data: ") and line != b"data: [DONE]":
                    json.loads(line[6:])
                    count += 1
        response.release_conn()
        return count

    client = chatlane.Client(base_url=stream_base, api_key="sk-bench")

    def lane() -> int:
        count = 0
        with client.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
            for _ in stream:
                count += 1
        return count

    contenders: list[tuple[str, Callable[[], int], int]] = [
        ("raw urllib3 + line split + json.loads (baseline)", raw_urllib3, repeats),
        ("chatlane Client.stream", lane, repeats),
    ]
    openai = _optional("openai")
    if openai is not None:
        oa = openai.OpenAI(base_url=stream_base, api_key="sk-bench", max_retries=0)

        def oai() -> int:
            stream = oa.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
            return sum(1 for _ in stream)

        contenders.append(("openai-python stream", oai, max(repeats // 2, 1)))
    litellm = _optional("litellm")
    if litellm is not None:

        def lite() -> int:
            stream = litellm.completion(
                model="openai/gpt-4o-mini",
                messages=MESSAGES,
                api_base=stream_base,
                api_key="sk-bench",
                stream=True,
            )
            return sum(1 for _ in stream)

        contenders.append(("LiteLLM stream", lite, 1))
    rows = [Row("stream", name, best_rate(fn, n), "chunks/s") for name, fn, n in contenders]
    rows += asyncio.run(async_stream_rows(stream_base, repeats))
    client.close()
    return rows


async def async_stream_rows(stream_base: str, repeats: int) -> list[Row]:
    url = f"{stream_base}/chat/completions"
    rows = []

    async def best(fn: Callable[[], Awaitable[int]]) -> float:
        await fn()
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            count = await fn()
            rates.append(count / (time.perf_counter() - started))
        return max(rates)

    async with aiohttp.ClientSession() as session:

        async def raw() -> int:
            count, buffer = 0, b""
            async with session.post(url, data=STREAM_BODY, headers=HEADERS) as response:
                async for piece in response.content.iter_any():
                    buffer += piece
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.startswith(b"data: ") and line != b"data: [DONE]":
                            json.loads(line[6:])
                            count += 1
            return count

        rows.append(
            Row(
                "stream-async",
                "raw aiohttp + line split + json.loads (baseline)",
                await best(raw),
                "chunks/s",
            )
        )
    async with chatlane.AsyncClient(base_url=stream_base, api_key="sk-bench") as client:

        async def lane() -> int:
            count = 0
            async with client.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
                async for _ in stream:
                    count += 1
            return count

        rows.append(
            Row("stream-async", "chatlane AsyncClient.stream", await best(lane), "chunks/s")
        )
    return rows


# --- import time ----------------------------------------------------------------------------


def import_ms(module: str, runs: int) -> float:
    def median_of(code: str) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return (median_of(f"import {module}") - median_of("pass")) * 1000


def import_rows(runs: int) -> list[Row]:
    rows = [Row("import", "import chatlane", import_ms("chatlane", runs), "ms")]
    for module in ("openai", "litellm"):
        if _optional(module) is not None:
            rows.append(
                Row("import", f"import {module}", import_ms(module, max(runs // 3, 3)), "ms")
            )
    return rows


# --- the embedded model ---------------------------------------------------------------------


def local_rows(repeats: int) -> list[Row]:
    from local_model import local_results  # bench/ is on sys.path when run as a script

    results = local_results(repeats)
    rows = []
    for name, label in (
        ("direct", "llama-cpp-python directly (baseline)"),
        ("chatlane", "chatlane Client.stream, local/smollm2"),
    ):
        ttft, rate = results[name]
        rows.append(Row("local", label, rate, "tokens/s", f"first token {ttft * 1000:.0f} ms"))
    return rows


# --- report ---------------------------------------------------------------------------------


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _value(rows: list[Row], section: str, prefix: str) -> float:
    return next(row.value for row in rows if row.section == section and row.name.startswith(prefix))


def targets(rows: list[Row]) -> list[tuple[str, str, bool]]:
    sync = _value(rows, "sync", "chatlane") / _value(rows, "sync", "raw urllib3")
    aio = _value(rows, "async", "chatlane") / _value(rows, "async", "raw aiohttp")
    stream = _value(rows, "stream", "chatlane") / _value(rows, "stream", "raw urllib3")
    stream_async = _value(rows, "stream-async", "chatlane") / _value(
        rows, "stream-async", "raw aiohttp"
    )
    imported = _value(rows, "import", "import chatlane")
    local = _value(rows, "local", "chatlane") / _value(rows, "local", "llama-cpp-python")
    return [
        ("sync per call <= 1.3x raw urllib3", f"{sync:.2f}x", sync <= 1.3),
        ("async throughput >= 0.8x raw aiohttp", f"{aio:.2f}x", aio >= 0.8),
        ("streaming >= 0.7x raw urllib3 + json", f"{stream:.2f}x", stream >= 0.7),
        ("async streaming >= 0.7x raw aiohttp + json", f"{stream_async:.2f}x", stream_async >= 0.7),
        ("import chatlane < 150 ms", f"{imported:.0f} ms", imported < 150),
        ("embedded model tokens/s >= 0.95x llama-cpp-python", f"{local:.2f}x", local >= 0.95),
    ]


def versions() -> str:
    names = ["chatlane", "urllib3", "aiohttp", "msgspec", "openai", "litellm", "httpx"]
    found = []
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return ", ".join(found)


def report(rows: list[Row], checks: list[tuple[str, str, bool]]) -> str:
    baselines = {
        "sync": _value(rows, "sync", "raw urllib3"),
        "async": _value(rows, "async", "raw aiohttp"),
        "stream": _value(rows, "stream", "raw urllib3"),
        "stream-async": _value(rows, "stream-async", "raw aiohttp"),
        "local": _value(rows, "local", "llama-cpp-python"),
    }
    titles = {
        "sync": "Sync, one call at a time (lower is better)",
        "async": f"Async, {IN_FLIGHT} calls in flight (higher is better)",
        "stream": "Streaming a 2,000-chunk response, sync (higher is better)",
        "stream-async": "Streaming a 2,000-chunk response, async (higher is better)",
        "import": "Import time in a fresh interpreter (lower is better)",
        "local": "Embedded model, SmolLM2-135M, greedy, 96 tokens (higher is better)",
    }
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/run.sh, bench/bench.py) on "
        f"{datetime.date.today().isoformat()}: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {versions()}.",
        "",
        "Upstream: nginx on loopback serving a canned chat completion (~700 bytes) and a canned",
        "2,000-chunk SSE stream, so the figures measure the client alone. Ratios compare with",
        "the raw transport measured in the same run.",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {value} | {'PASS' if ok else 'FAIL'} |" for name, value, ok in checks]
    for section, title in titles.items():
        lines += ["", f"## {title}", "", "| client | result | vs raw | |", "|---|---|---|---|"]
        base = baselines.get(section)
        for row in rows:
            if row.section != section:
                continue
            ratio = f"{row.value / base:.2f}x" if base else ""
            lines.append(f"| {row.name} | {row.value:,.0f} {row.unit} | {ratio} | {row.detail} |")
    lines += [
        "",
        "## What is measured",
        "",
        "- Sync: best of three runs of N sequential calls on one keep-alive connection;",
        "  wall and CPU time per call, parsing included (the raw rows do `json.loads`).",
        f"- Async: N calls with {IN_FLIGHT} always in flight on one client/session.",
        "- Streaming: chunks per second over the whole 2,000-chunk stream, best of several;",
        "  the baseline reads with the same transport, splits lines and `json.loads` each.",
        "- Import: median wall time of `python -c 'import X'` minus `python -c 'pass'`.",
        "- Embedded model: median tokens/s after the first token, and time to first token, of",
        "  a streamed greedy generation, chatlane and llama-cpp-python alternating, same file,",
        "  prompt and thread count. At temperature 0 chatlane re-reads the whole prompt so that",
        "  greedy output is reproducible, while llama-cpp-python reuses its cached prompt from",
        "  the previous run: that, not overhead, is the first-token gap.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", default="docs/benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a smoke run")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}/v1"
    calls, repeats, runs = (300, 2, 5) if args.quick else (2000, 5, 15)
    rows = sync_rows(base, calls)
    rows += asyncio.run(async_rows(base, calls * 2))
    rows += stream_rows(base, repeats)
    rows += import_rows(runs)
    rows += local_rows(3 if args.quick else 7)
    checks = targets(rows)
    for row in rows:
        print(f"{row.section:13} {row.name:52} {row.value:12,.1f} {row.unit:9} {row.detail}")
    for name, value, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {value}")
    with open(args.out, "w") as handle:
        handle.write(report(rows, checks))


if __name__ == "__main__":
    main()
