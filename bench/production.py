"""The production pieces against the bare client: one run, one upstream, ratios.

bench/bench.py calls the ``*_rows`` functions after its own tables, against the same nginx.
Each overhead table has a baseline, the bare client (the same requests, none of the pieces),
and every row is given as a ratio to it: each piece alone, so a regression can be traced to
one, the four the target names together (cache, rate limit, budget, telemetry) and those
with the ledger as well. The cache-hit table repeats one request against each store; the
budget table sends 200 calls at once against a $0.05 budget and counts what got through.

``python bench/production.py --port P --profile`` (with nginx running, see bench/run.sh)
prints, for each piece alone, the functions that cost the most time per call under
cProfile instead: where a missed target's time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import pstats
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from measure import (
    IN_FLIGHT,
    NotAvailable,
    Outcome,
    describe,
    in_flight,
    repeat,
    rounds,
    rounds_async,
)
from report import BASELINE, CHATLANE, Row, Section, Target

KEY = "sk-bench"
MODEL = "m"  # an OpenAI-compatible server's model, priced by the client's ``models=``
PROVIDER_MODEL = f"openai-compatible/{MODEL}"
# The canned completion reports 12 prompt and 31 completion tokens.
PRICES = {"input_per_mtok": 0.15, "output_per_mtok": 0.60}
WINDOW = {"context_window": 128_000, "max_output_tokens": 16_384}

BUDGET_USD = 0.05
BUDGET_CALLS = 200
BUDGET_MAX_TOKENS = 64
# $10 per million tokens: a call's worst case (its prompt as chatlane counts it, plus 64) is
# about $0.00075, so about 66 of them can be held at once within $0.05; its real cost (12 +
# 31 tokens) is $0.00043. All 200 reserve before any answer arrives: only part of them fit.
BUDGET_PRICES = {"input_per_mtok": 10.0, "output_per_mtok": 10.0}

SECTIONS = [
    Section(
        "pieces-sync",
        "Production pieces, sync, one call at a time, every call a cache miss (lower is better)",
    ),
    Section(
        "pieces-async",
        f"Production pieces, async, {IN_FLIGHT} calls in flight, every call a cache miss"
        " (lower is better)",
    ),
    Section("cache-hit", "Cache hits, sync, the same request repeated (lower is better)"),
    Section(
        "budget",
        f"{BUDGET_CALLS} concurrent async calls against a ${BUDGET_USD:.2f} budget",
    ),
]

FOUR = "the target's four: cache, limit, budget, telemetry"
ALL = "all five: cache, limit, budget, ledger, telemetry"
HIT_MEMORY = "hit, MemoryStore"
HIT_SQLITE = "hit, SqliteStore (a file in a temp dir)"
HIT_REDIS = "hit, RedisStore (local redis-server, unix socket)"
SPENT = "spent, by the budget's own count"
OTHER_ERRORS = "refused with an error other than BudgetExceeded"
# The canned answer's own length: the reservation's output part is then exact, and only
# the prompt is chatlane's estimate.
TIGHT_MAX_TOKENS = 31
TIGHT = f"spent with max_tokens={TIGHT_MAX_TOKENS}, the answer's length"

TARGETS = [
    Target("all pieces, sync, per call <= 1.10x the bare client", "pieces-sync", 1.10, True),
    Target("all pieces, async, per call <= 1.10x the bare client", "pieces-async", 1.10, True),
    Target(
        "cache hit, MemoryStore < 30 µs", "cache-hit", 30, True, "µs", row=HIT_MEMORY, decimals=1
    ),
    Target(
        "cache hit, SqliteStore < 300 µs", "cache-hit", 300, True, "µs", row=HIT_SQLITE, decimals=1
    ),
    Target(
        "cache hit, RedisStore < 400 µs", "cache-hit", 400, True, "µs", row=HIT_REDIS, decimals=1
    ),
    Target(
        f"{BUDGET_CALLS} concurrent calls spend <= ${BUDGET_USD:.2f}",
        "budget",
        BUDGET_USD,
        True,
        "USD",
        row=SPENT,
        decimals=6,
    ),
    Target(
        "every refused call is chatlane.BudgetExceeded",
        "budget",
        0,
        True,
        "calls",
        row=OTHER_ERRORS,
    ),
]

MEASURED = [
    "- Production pieces: one client kind against the same nginx, bare (the baseline), with",
    "  each piece alone, with the target's four together, and with all five:",
    "  `Cache(store=MemoryStore())`; `RateLimits(",
    f"  {{'{PROVIDER_MODEL}': RateLimit(requests_per_minute=1e9, tokens_per_minute=1e12)}},",
    "  limiter=LocalLimiter())`, which never waits; `Budget(usd=1e6)`; `Ledger()`; and",
    "  `Telemetry(log=False, otel=True)` with opentelemetry-api and no SDK configured (its",
    "  no-op tracer and meter). Every request is distinct (a counter in the message) at",
    "  `temperature=0`, so the cache looks up, misses and stores on every call. Every",
    "  client sends the same requests and knows the same prices",
    f"  (`models={{'{MODEL}': ModelInfo(...)}}`). Sync: time per call, one call at a time.",
    f"  Async: wall time per call with {IN_FLIGHT} calls in flight (the inverse of throughput).",
    "  Clients take turns in rounds; medians. The targets read the four the target names",
    "  (cache miss, limiter, budget, telemetry); the five add the `Ledger()`. The fallback",
    "  row (one target, never needed) is in neither.",
    "- Cache hits: one request, answered once by nginx, then repeated on a sync client; time",
    "  per call, the key, the lookup and decoding the entry included. Redis is a private",
    "  redis-server on a unix socket under `bench/.work/`; SQLite a file in a temporary",
    "  directory. The baseline is the bare client's round trip to nginx for that request.",
    f"- Budget: {BUDGET_CALLS} calls started at once (`asyncio.gather`) on one AsyncClient with",
    f"  `budget=Budget(usd={BUDGET_USD})` and `max_tokens={BUDGET_MAX_TOKENS}`, the model priced",
    f"  at ${BUDGET_PRICES['input_per_mtok']:g} per million tokens in and out: each call reserves",
    "  its worst case first, so only part of them fit. Repeated with a fresh budget each",
    "  time; the rows show the run that spent most. The last row is one more run with the",
    f"  output cap at the answer's own length ({TIGHT_MAX_TOKENS} tokens), where only chatlane's",
    "  estimate of the prompt stands between the reservations and the bill.",
]


@dataclass(frozen=True)
class Sizes:
    calls: int  # sync calls per turn
    async_calls: int  # async calls per turn
    repeats: int  # measured rounds of the overhead tables
    hits: int  # cache hits per turn (in memory; the other stores take a fifth)
    hit_repeats: int
    budget_runs: int


FULL = Sizes(calls=1000, async_calls=2000, repeats=9, hits=10000, hit_repeats=9, budget_runs=5)
QUICK = Sizes(calls=200, async_calls=400, repeats=2, hits=2000, hit_repeats=2, budget_runs=2)

Kwargs = dict[str, Any]


def model_info(chatlane: Any, prices: dict[str, float]) -> dict[str, Any]:
    return {MODEL: chatlane.ModelInfo(**prices, **WINDOW)}


def configurations(chatlane: Any) -> dict[str, Callable[[], Kwargs]]:
    """Each table's rows: what the client is given besides base URL, key and prices. Each
    client gets fresh objects."""

    def cache() -> Kwargs:
        return {"cache": chatlane.Cache(store=chatlane.MemoryStore())}

    def rate_limits() -> Kwargs:
        limit = chatlane.RateLimit(requests_per_minute=1e9, tokens_per_minute=1e12)
        limits = chatlane.RateLimits(
            limits={PROVIDER_MODEL: limit}, limiter=chatlane.LocalLimiter()
        )
        return {"rate_limits": limits}

    def budget() -> Kwargs:
        return {"budget": chatlane.Budget(usd=1e6)}

    def ledger() -> Kwargs:
        return {"ledger": chatlane.Ledger()}

    def telemetry() -> Kwargs:
        no_sdk()
        return {"telemetry": chatlane.Telemetry(log=False, otel=True)}

    def fallback() -> Kwargs:
        return {"fallbacks": [f"{PROVIDER_MODEL}-spare"]}

    def four() -> Kwargs:
        return {**cache(), **rate_limits(), **budget(), **telemetry()}

    def everything() -> Kwargs:
        return {**four(), **ledger()}

    return {
        "bare client (baseline)": dict,
        "cache alone: MemoryStore, every call a miss": cache,
        "rate limit alone: LocalLimiter, never waits": rate_limits,
        "budget alone: Budget(usd=1e6)": budget,
        "ledger alone: Ledger()": ledger,
        "telemetry alone: log=False, otel=True, no SDK": telemetry,
        "fallbacks alone: one target, never taken": fallback,
        FOUR: four,
        ALL: everything,
    }


ROLES = {"bare client (baseline)": BASELINE, FOUR: CHATLANE}


def no_sdk() -> None:
    """Make sure the telemetry rows measure the no-op API: no library in this process has
    installed an OpenTelemetry SDK's providers."""
    from opentelemetry import metrics, trace

    providers = [type(trace.get_tracer_provider()), type(metrics.get_meter_provider())]
    if any(not kind.__name__.lstrip("_").startswith(("Proxy", "NoOp")) for kind in providers):
        names = ", ".join(kind.__name__ for kind in providers)
        raise NotAvailable(f"an OpenTelemetry SDK is configured in this process ({names})")


def distinct_messages() -> Callable[[], list[dict[str, str]]]:
    """A new user message on every call, the same sequence for every client."""
    counter = itertools.count()
    return lambda: [{"role": "user", "content": f"Hi, request {next(counter)}"}]


def miss(reply: Any) -> Any:
    if reply.cached:
        raise RuntimeError("a request meant to be distinct was answered from the cache")
    return reply


def unavailable(reason: str) -> Callable[[], int]:
    def turn() -> int:
        raise NotAvailable(reason)

    return turn


# --- overhead, sync -------------------------------------------------------------------------


def sync_rows(base: str, sizes: Sizes, chatlane: Any) -> list[Row]:
    closers: list[Callable[[], object]] = []

    def turn(make: Callable[[], Kwargs]) -> Callable[[], int]:
        try:
            client = chatlane.Client(
                base_url=base, api_key=KEY, models=model_info(chatlane, PRICES), **make()
            )
        except Exception as error:
            return unavailable(describe(error))
        closers.append(client.close)
        messages = distinct_messages()

        def call() -> object:
            return miss(client.chat(model=MODEL, messages=messages(), temperature=0))

        return repeat(call, sizes.calls)

    turns = {label: turn(make) for label, make in configurations(chatlane).items()}
    outcomes = rounds(turns, sizes.repeats)
    for close in closers:
        close()
    return rows_from("pieces-sync", outcomes)


# --- overhead, async ------------------------------------------------------------------------


async def async_rows(base: str, sizes: Sizes, chatlane: Any) -> list[Row]:
    async with contextlib.AsyncExitStack() as stack:

        async def turn(make: Callable[[], Kwargs]) -> Callable[[], Awaitable[int]]:
            try:
                client = chatlane.AsyncClient(
                    base_url=base, api_key=KEY, models=model_info(chatlane, PRICES), **make()
                )
            except Exception as error:
                reason = describe(error)

                async def fail() -> int:
                    raise NotAvailable(reason)

                return fail
            await stack.enter_async_context(client)
            messages = distinct_messages()

            async def call() -> object:
                return miss(await client.chat(model=MODEL, messages=messages(), temperature=0))

            return in_flight(call, sizes.async_calls)

        turns = {label: await turn(make) for label, make in configurations(chatlane).items()}
        outcomes = await rounds_async(turns, sizes.repeats)
    return rows_from("pieces-async", outcomes, throughput=True)


def rows_from(section: str, outcomes: dict[str, Outcome], throughput: bool = False) -> list[Row]:
    rows = []
    for label, outcome in outcomes.items():
        wall = outcome.wall_per_item()
        if wall is None:
            rows.append(Row(section, label, None, "µs/call", outcome.error or "not measured"))
            continue
        detail = f"CPU {(outcome.cpu_per_item() or 0) * 1e6:,.0f} µs/call"
        if throughput:
            detail = f"{outcome.items_per_second() or 0:,.0f} calls/s, {detail}"
        rows.append(Row(section, label, wall * 1e6, "µs/call", detail, ROLES.get(label, "")))
    return rows


# --- cache hits -----------------------------------------------------------------------------


def hit_rows(base: str, sizes: Sizes, chatlane: Any, redis_url: str | None) -> list[Row]:
    messages = [{"role": "user", "content": "Hi, the same request every time"}]
    closers: list[Callable[[], object]] = []

    def bare() -> Callable[[], int]:
        try:
            client = chatlane.Client(
                base_url=base, api_key=KEY, models=model_info(chatlane, PRICES)
            )
        except Exception as error:
            return unavailable(describe(error))
        closers.append(client.close)
        call = lambda: client.chat(model=MODEL, messages=messages, temperature=0)  # noqa: E731
        return repeat(call, max(sizes.hits // 20, 50))

    def hits(store: Callable[[], Any], times: int) -> Callable[[], int]:
        try:
            made = store()
            closers.append(made.close)
            client = chatlane.Client(
                base_url=base, api_key=KEY, models=model_info(chatlane, PRICES), cache=made
            )
            closers.append(client.close)
            first = client.chat(model=MODEL, messages=messages, temperature=0)  # a miss: stored
            again = client.chat(model=MODEL, messages=messages, temperature=0)
            if first.cached or not again.cached:
                raise RuntimeError(f"the repeated request was not a cache hit ({made!r})")
        except Exception as error:
            return unavailable(describe(error))

        def call() -> object:
            reply = client.chat(model=MODEL, messages=messages, temperature=0)
            if not reply.cached:
                raise RuntimeError("a repeated request missed the cache")
            return reply

        return repeat(call, times)

    def redis_store() -> Any:
        if redis_url is None:
            raise NotAvailable("no redis-server: run bench/run.sh (it starts one)")
        store = chatlane.RedisStore(redis_url, prefix="chatlane-bench:")
        store.clear()
        return store

    with tempfile.TemporaryDirectory(prefix="chatlane-bench-") as directory:
        n = sizes.hits
        turns = {
            "bare client, round trip to nginx (baseline)": bare(),
            HIT_MEMORY: hits(lambda: chatlane.MemoryStore(), n),
            HIT_SQLITE: hits(lambda: chatlane.SqliteStore(f"{directory}/cache.db"), n // 5),
            HIT_REDIS: hits(redis_store, n // 5),
        }
        outcomes = rounds(turns, sizes.hit_repeats)
        for close in reversed(closers):
            close()
    rows = []
    for label, outcome in outcomes.items():
        wall = outcome.wall_per_item()
        role = BASELINE if "baseline" in label else ""
        if wall is None:
            rows.append(Row("cache-hit", label, None, "µs", outcome.error or "not measured"))
            continue
        cpu = f"CPU {(outcome.cpu_per_item() or 0) * 1e6:,.1f} µs/call"
        rows.append(Row("cache-hit", label, wall * 1e6, "µs", cpu, role, decimals=1))
    return rows


# --- the budget under concurrency -----------------------------------------------------------


@dataclass(frozen=True)
class BudgetRun:
    answered: int
    over_budget: int  # refused with BudgetExceeded
    other: int  # failed otherwise
    other_kinds: tuple[str, ...]
    spent: float  # the budget's count
    ledger: float  # the ledger's sum of the answered calls
    reserved: float  # still held after every call returned (should be 0)


async def budget_run(base: str, chatlane: Any, max_tokens: int = BUDGET_MAX_TOKENS) -> BudgetRun:
    budget = chatlane.Budget(usd=BUDGET_USD)
    ledger = chatlane.Ledger()
    messages = distinct_messages()
    async with chatlane.AsyncClient(
        base_url=base,
        api_key=KEY,
        models=model_info(chatlane, BUDGET_PRICES),
        budget=budget,
        ledger=ledger,
    ) as client:
        results = await asyncio.gather(
            *(
                client.chat(model=MODEL, messages=messages(), max_tokens=max_tokens)
                for _ in range(BUDGET_CALLS)
            ),
            return_exceptions=True,
        )
    errors = [result for result in results if isinstance(result, BaseException)]
    others = [error for error in errors if not isinstance(error, chatlane.BudgetExceeded)]
    state = budget.state()
    return BudgetRun(
        answered=len(results) - len(errors),
        over_budget=len(errors) - len(others),
        other=len(others),
        other_kinds=tuple(sorted({type(error).__name__ for error in others})),
        spent=state.spent_usd,
        ledger=ledger.total_cost,
        reserved=state.reserved_usd,
    )


def budget_rows(base: str, sizes: Sizes, chatlane: Any) -> list[Row]:
    labels = ["answered", "refused with BudgetExceeded", OTHER_ERRORS, SPENT, TIGHT]
    try:
        runs = [asyncio.run(budget_run(base, chatlane)) for _ in range(sizes.budget_runs)]
        tight = asyncio.run(budget_run(base, chatlane, max_tokens=TIGHT_MAX_TOKENS))
        prompt = chatlane.count_message_tokens(
            distinct_messages()(), MODEL, model_info=model_info(chatlane, BUDGET_PRICES)[MODEL]
        )
    except Exception as error:
        reason = describe(error)
        return [Row("budget", label, None, "", reason) for label in labels]
    worst = max(runs, key=lambda run: (run.spent, run.other))
    if worst.answered == 0 or worst.over_budget == 0:
        raise RuntimeError(
            f"the budget table is misconfigured: {worst.answered} calls answered and"
            f" {worst.over_budget} refused; only part of them should fit"
        )
    kinds = ", ".join(sorted({kind for run in runs for kind in run.other_kinds}))
    of = f"of {BUDGET_CALLS}, worst of {len(runs)} runs"
    return [
        Row("budget", "answered", worst.answered, "calls", of),
        Row("budget", "refused with BudgetExceeded", worst.over_budget, "calls", of),
        Row(
            "budget",
            OTHER_ERRORS,
            max(run.other for run in runs),
            "calls",
            kinds or f"in any of {len(runs)} runs",
        ),
        Row(
            "budget",
            SPENT,
            worst.spent,
            "USD",
            f"limit ${BUDGET_USD:.2f}; the ledger's sum ${worst.ledger:.6f}; still reserved"
            f" after the calls ${worst.reserved:.6f}",
            decimals=6,
        ),
        Row(
            "budget",
            TIGHT,
            tight.spent,
            "USD",
            f"no target: {tight.answered} answered; each reserved its prompt as chatlane"
            f" counts it ({prompt.tokens} tokens, {prompt.method}) and was billed 12",
            decimals=6,
        ),
    ]


# --- the machine ----------------------------------------------------------------------------


def redis_version() -> str:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    with contextlib.suppress(OSError):
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        words = done.stdout.split()
        version = next((w.removeprefix("v=") for w in words if w.startswith("v=")), "")
        if version:
            return f"redis-server {version} on a unix socket"
    return "not installed"


# --- profile: where each piece's time goes --------------------------------------------------

Profiled = dict[str, tuple[float, float, int]]  # function: (own, cumulative, calls) per call


def profile(base: str, calls: int, top: int) -> None:
    """For each piece alone and all five, what it adds to the bare client, function by
    function: CPU time per call under cProfile (which inflates small Python functions, so
    read it for where the time goes and the tables for how much)."""
    import chatlane

    profiles: dict[str, tuple[float, Profiled]] = {}
    for label, make in configurations(chatlane).items():
        client = chatlane.Client(
            base_url=base, api_key=KEY, models=model_info(chatlane, PRICES), **make()
        )
        messages = distinct_messages()
        for _ in range(min(calls, 200)):
            client.chat(model=MODEL, messages=messages(), temperature=0)
        profiler = cProfile.Profile(time.process_time)
        started = time.process_time()
        profiler.enable()
        for _ in range(calls):
            client.chat(model=MODEL, messages=messages(), temperature=0)
        profiler.disable()
        profiles[label] = ((time.process_time() - started) / calls, per_call(profiler, calls))
        client.close()
    bare_cpu, bare = profiles.pop(next(iter(profiles)))
    print(f"bare client: {bare_cpu * 1e6:,.0f} µs CPU per call under the profiler")
    for label, (cpu, functions) in profiles.items():
        print(f"\n{label}: +{(cpu - bare_cpu) * 1e6:,.0f} µs CPU per call under the profiler")
        print("  added own µs  cum µs  calls  function")
        added = []
        for name, (own, cumulative, count) in functions.items():
            before = bare.get(name, (0.0, 0.0, 0))
            added.append((own - before[0], cumulative, count - before[2], name))
        added.sort(reverse=True)
        for own, cumulative, count, name in added[:top]:
            print(f"  {own * 1e6:12.1f} {cumulative * 1e6:7.1f} {count:+6d}  {name}")


def per_call(profiler: cProfile.Profile, calls: int) -> Profiled:
    stats: Any = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    functions: Profiled = {}
    for (path, line, function), (_, count, own, cumulative, _) in stats.items():
        where = path.split("/src/", 1)[-1].split("site-packages/", 1)[-1]
        where = where.split("/lib/python3", 1)[-1]
        functions[f"{where}:{line} {function}"] = (own / calls, cumulative / calls, count // calls)
    return functions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the nginx port (bench/run.sh)")
    parser.add_argument("--profile", action="store_true", help="profile each piece (sync)")
    parser.add_argument("--calls", type=int, default=3000, help="profiled calls per piece")
    parser.add_argument("--top", type=int, default=15, help="functions shown per piece")
    args = parser.parse_args()
    if not args.profile:
        parser.error("the tables run from bench/bench.py; this command only profiles")
    profile(f"http://127.0.0.1:{args.port}/v1", args.calls, args.top)


if __name__ == "__main__":
    main()
