"""The embedded model through chatlane vs llama-cpp-python called directly: same model file,
prompt, thread count and greedy decoding, measured alternately in one run."""

from __future__ import annotations

import statistics
import time
from typing import Any

import chatlane
from chatlane.local.engine import default_threads
from chatlane.local.model_file import default_model_path

PROMPT = [{"role": "user", "content": "Write a short paragraph about the sea."}]
MAX_TOKENS = 96


def _direct(llama: Any) -> tuple[float, float]:
    """(time to first token, tokens/s after it) for one direct streamed generation."""
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    for chunk in llama.create_chat_completion(
        messages=PROMPT, max_tokens=MAX_TOKENS, temperature=0.0, stream=True
    ):
        if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            tokens += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None
    return first - started, (tokens - 1) / (end - first)


def _chatlane(client: chatlane.Client) -> tuple[float, float]:
    with client.stream(
        model="local/smollm2", messages=PROMPT, max_tokens=MAX_TOKENS, temperature=0
    ) as stream:
        for _ in stream:
            pass
    summary = stream.summary()
    assert summary.time_to_first_token is not None
    assert summary.tokens_per_second is not None
    return summary.time_to_first_token, summary.tokens_per_second


def local_results(repeats: int) -> dict[str, tuple[float, float]]:
    """Median (TTFT seconds, tokens/s) for each way of running the model."""
    from llama_cpp import Llama

    threads = default_threads()  # what chatlane's engine uses: the same for both
    llama = Llama(model_path=default_model_path(), n_ctx=4096, n_threads=threads, verbose=False)
    client = chatlane.Client(provider="local", local_model=chatlane.LocalModel(n_threads=threads))
    _direct(llama)
    _chatlane(client)  # loads the engine's own copy of the model
    runs: dict[str, list[tuple[float, float]]] = {"direct": [], "chatlane": []}
    for _ in range(repeats):
        runs["direct"].append(_direct(llama))
        runs["chatlane"].append(_chatlane(client))
    client.close()
    return {
        name: (statistics.median(r[0] for r in results), statistics.median(r[1] for r in results))
        for name, results in runs.items()
    }
