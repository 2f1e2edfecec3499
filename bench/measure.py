"""Timing: samples of wall and CPU time, taken in rounds, summarised by their median.

Every contender of a table takes one turn per round, after one warm-up turn each, so slow
drift on the machine (another job starting, the CPU clocking down) touches all of them alike.
Each turn starts after a full garbage collection, so no contender pays for another's garbage.
A contender that raises is dropped from later rounds and its error is kept for the report.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

IN_FLIGHT = 64


@dataclass(frozen=True)
class Sample:
    """One timed turn: how many items (calls or chunks) it handled, in how much time."""

    items: int
    wall: float
    cpu: float


@dataclass
class Outcome:
    """The samples of one contender, or the error that stopped it."""

    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    def wall_per_item(self) -> float | None:
        return self._median(lambda s: s.wall / s.items)

    def cpu_per_item(self) -> float | None:
        return self._median(lambda s: s.cpu / s.items)

    def items_per_second(self) -> float | None:
        return self._median(lambda s: s.items / s.wall)

    def _median(self, of: Callable[[Sample], float]) -> float | None:
        if self.error is not None or not self.samples:
            return None
        return statistics.median(of(sample) for sample in self.samples)


class NotAvailable(Exception):
    """A client that cannot be run here (not installed, not importable yet)."""


def describe(error: BaseException) -> str:
    """One short line for the report: what went wrong, for a row that reads n/a."""
    text = str(error) if isinstance(error, NotAvailable) else f"{type(error).__name__}: {error}"
    text = (text.splitlines() or [""])[0]
    return text if len(text) <= 120 else text[:117] + "..."


# --- sync ---------------------------------------------------------------------------------


def repeat(call: Callable[[], object], times: int) -> Callable[[], int]:
    """A turn that makes ``times`` calls one after another."""

    def turn() -> int:
        for _ in range(times):
            call()
        return times

    return turn


def timed(turn: Callable[[], int]) -> Sample:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    items = turn()
    return Sample(items, time.perf_counter() - wall, time.process_time() - cpu)


def rounds(turns: dict[str, Callable[[], int]], repeats: int) -> dict[str, Outcome]:
    """One warm-up turn each, then ``repeats`` rounds in which every contender takes a turn."""
    outcomes = {name: Outcome() for name in turns}
    for round_number in range(repeats + 1):
        for name, turn in turns.items():
            outcome = outcomes[name]
            if outcome.error is not None:
                continue
            try:
                sample = timed(turn)
            except Exception as error:
                outcome.error = describe(error)
                continue
            if round_number > 0:
                outcome.samples.append(sample)
    return outcomes


# --- async --------------------------------------------------------------------------------


def in_flight(call: Callable[[], Awaitable[object]], calls: int) -> Callable[[], Awaitable[int]]:
    """A turn that makes ``calls`` calls with ``IN_FLIGHT`` of them always outstanding."""

    async def turn() -> int:
        remaining = calls

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await call()

        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return calls

    return turn


async def timed_async(turn: Callable[[], Awaitable[int]]) -> Sample:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    items = await turn()
    return Sample(items, time.perf_counter() - wall, time.process_time() - cpu)


async def rounds_async(
    turns: dict[str, Callable[[], Awaitable[int]]], repeats: int
) -> dict[str, Outcome]:
    """``rounds`` for coroutines, all on the running event loop."""
    outcomes = {name: Outcome() for name in turns}
    for round_number in range(repeats + 1):
        for name, turn in turns.items():
            outcome = outcomes[name]
            if outcome.error is not None:
                continue
            try:
                sample = await timed_async(turn)
            except Exception as error:
                outcome.error = describe(error)
                continue
            if round_number > 0:
                outcome.samples.append(sample)
    return outcomes


# --- import time --------------------------------------------------------------------------


def import_times(runs: dict[str, int]) -> dict[str, Outcome]:
    """Wall time of ``python -c 'import M'`` in fresh interpreters, less that of ``pass``.

    ``runs`` maps module names to how many runs each gets; the bare interpreter is timed in
    every round. Each sample holds one run's excess over the median bare start-up.
    """
    env = dict(os.environ)
    for module in runs:  # warm-up: byte-code caches, page cache
        subprocess.run([sys.executable, "-c", f"import {module}"], env=env, capture_output=True)
    bare: list[float] = []
    raw: dict[str, list[float]] = {module: [] for module in runs}
    outcomes = {module: Outcome() for module in runs}
    for round_number in range(max(runs.values(), default=0)):
        bare.append(_interpreter_seconds("pass", env))
        for module, count in runs.items():
            if round_number >= count or outcomes[module].error is not None:
                continue
            try:
                raw[module].append(_interpreter_seconds(f"import {module}", env))
            except NotAvailable as error:
                outcomes[module].error = describe(error)
    baseline = statistics.median(bare) if bare else 0.0
    for module, times in raw.items():
        outcomes[module].samples = [Sample(1, seconds - baseline, 0.0) for seconds in times]
    return outcomes


def command_times(commands: dict[str, list[str]], runs: int) -> dict[str, Outcome]:
    """Wall time of whole commands (interpreter start-up included), alternating, after one
    warm-up run each. A command that exits non-zero makes its row n/a."""
    outcomes = {label: Outcome() for label in commands}
    for argv in commands.values():
        subprocess.run(argv, capture_output=True)
    for _ in range(runs):
        for label, argv in commands.items():
            if outcomes[label].error is not None:
                continue
            started = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                outcomes[label].error = f"`{' '.join(argv)}` failed: {last}"
            else:
                outcomes[label].samples.append(Sample(1, elapsed, 0.0))
    return outcomes


def _interpreter_seconds(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise NotAvailable(f"`python -c '{code}'` failed: {last}")
    return elapsed
