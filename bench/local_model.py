"""The embedded model through chatlane vs llama-cpp-python called directly: same model file,
prompt, thread count and greedy decoding, measured alternately in one run.

``local_results``: one prompt repeated (tokens/s and time to first token).
``conversation_results``: a 10-turn conversation, time to first token at every turn, with
each side reusing its cached prefix; and a single fresh prompt (``python
bench/local_model.py [repeats]`` prints the table).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
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
    llama = Llama(
        model_path=default_model_path(),
        n_ctx=4096,
        n_threads=threads,
        n_threads_batch=threads,  # llama-cpp-python's default is every core; chatlane's is not
        verbose=False,
    )
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


# --- a conversation: time to first token at every turn -------------------------------------

QUESTIONS = [
    "Tell me about the sea in a few sentences.",
    "Why is it salty?",
    "Which animals live deepest?",
    "How do they see down there?",
    "What about plants?",
    "Name three famous explorers of the sea.",
    "What did the first one find?",
    "How deep is the deepest point?",
    "Could people live there one day?",
    "Sum up our conversation in one sentence.",
]
TURN_TOKENS = 48


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the conversation benchmark (medians over the repeats)."""

    turn: int
    prompt_tokens: int
    direct_ttft: float
    chatlane_ttft: float
    chatlane_reused: int
    """Prompt tokens chatlane took from its cached prefix."""
    settle_wait: float
    """Seconds chatlane's background re-evaluation of this turn's reply ran on after the
    reply ended (in the user's time: the next turn starts when it is done)."""
    back_to_back_ttft: float
    """chatlane with no pause between turns (an agent loop): the previous reply's
    re-evaluation runs before this turn's prompt."""
    direct_back_to_back_ttft: float

    @property
    def ratio(self) -> float:
        return self.chatlane_ttft / self.direct_ttft

    @property
    def back_to_back_ratio(self) -> float:
        return self.back_to_back_ttft / self.direct_back_to_back_ttft


@dataclass(frozen=True, slots=True)
class ConversationResults:
    turns: list[Turn]
    fresh_direct_ttft: float
    """A single fresh prompt (llama-cpp-python after reset(): what chatlane did before)."""
    fresh_chatlane_ttft: float
    """The same prompt through chatlane with no cached prefix."""

    def table(self) -> str:
        lines = [
            "turn  prompt  direct ms  chatlane ms  ratio  reused  settle after ms"
            "  | back-to-back: direct ms  chatlane ms  ratio",
        ]
        for t in self.turns:
            lines.append(
                f"{t.turn:>4}  {t.prompt_tokens:>6}  {t.direct_ttft * 1000:>9.0f}"
                f"  {t.chatlane_ttft * 1000:>11.0f}  {t.ratio:>5.2f}  {t.chatlane_reused:>6}"
                f"  {t.settle_wait * 1000:>14.0f}  | {t.direct_back_to_back_ttft * 1000:>21.0f}"
                f"  {t.back_to_back_ttft * 1000:>11.0f}  {t.back_to_back_ratio:>5.2f}"
            )
        lines.append(
            f"single fresh prompt: direct {self.fresh_direct_ttft * 1000:.0f} ms, chatlane "
            f"{self.fresh_chatlane_ttft * 1000:.0f} ms "
            f"({self.fresh_chatlane_ttft / self.fresh_direct_ttft:.2f}x)"
        )
        return "\n".join(lines)


def _direct_turn(llama: Any, messages: list[dict[str, str]]) -> tuple[float, str]:
    started = time.perf_counter()
    first: float | None = None
    text = ""
    for chunk in llama.create_chat_completion(
        messages=messages, max_tokens=TURN_TOKENS, temperature=0.0, stream=True
    ):
        piece = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
        if piece:
            text += piece
            if first is None:
                first = time.perf_counter()
    assert first is not None
    return first - started, text


def _chatlane_turn(client: chatlane.Client, messages: list[dict[str, str]]) -> tuple[float, str]:
    with client.stream(
        model="local/smollm2", messages=messages, max_tokens=TURN_TOKENS, temperature=0
    ) as stream:
        text = "".join(chunk.text for chunk in stream)
    ttft = stream.summary().time_to_first_token
    assert ttft is not None
    return ttft, text


def _conversation(
    turn: Callable[[list[dict[str, str]]], tuple[float, str]], index: int, history: list[Any]
) -> float:
    """Ask question ``index`` on ``history`` (updated with the reply); its TTFT."""
    history.append({"role": "user", "content": QUESTIONS[index]})
    ttft, text = turn(history)
    history.append({"role": "assistant", "content": text})
    return ttft


def conversation_results(repeats: int = 3) -> ConversationResults:
    """A 10-turn conversation, chatlane and llama-cpp-python (its in-context prefix reuse,
    the default of create_chat_completion) alternating turn by turn; then the same
    conversation back to back on each side (an agent loop), alternating by conversation."""
    from llama_cpp import Llama

    threads = default_threads()
    llama: Any = Llama(
        model_path=default_model_path(),
        n_ctx=4096,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    client = chatlane.Client(provider="local", local_model=chatlane.LocalModel(n_threads=threads))
    engine = chatlane.LocalModel(n_threads=threads).engine()
    model = engine._loaded()
    direct = partial(_direct_turn, llama)
    through = partial(_chatlane_turn, client)
    _direct(llama)
    _chatlane(client)
    n = len(QUESTIONS)
    runs: dict[str, list[list[float]]] = {
        k: [[] for _ in range(n)] for k in ("direct", "chatlane", "wait", "b2b", "direct_b2b")
    }
    reused: list[int] = [0] * n
    prompts: list[int] = [0] * n
    fresh: dict[str, list[float]] = {"direct": [], "chatlane": []}
    for _ in range(repeats):
        # A single fresh prompt each way (no cached prefix on either side).
        llama.reset()
        fresh["direct"].append(_direct(llama)[0])
        engine.wait_idle()
        engine.clear_prefixes()
        fresh["chatlane"].append(_chatlane(client)[0])
        engine.wait_idle()
        # Interactive: turns alternate; chatlane's previous reply settles meanwhile.
        engine.clear_prefixes()
        llama.reset()
        mine: list[Any] = []
        theirs: list[Any] = []
        for i in range(n):
            runs["chatlane"][i].append(_conversation(through, i, mine))
            reused[i] = model.last_reused
            prompts[i] = len(engine._prompt(model, mine[:-1]))
            started = time.perf_counter()
            engine.wait_idle()  # the reply settles in the user's time, not during direct's turn
            runs["wait"][i].append(time.perf_counter() - started)
            runs["direct"][i].append(_conversation(direct, i, theirs))
        # Agent loop: one side's turns back to back, then the other's.
        engine.wait_idle()
        engine.clear_prefixes()
        llama.reset()
        mine, theirs = [], []
        for i in range(n):
            runs["b2b"][i].append(_conversation(through, i, mine))
        engine.wait_idle()
        for i in range(n):
            runs["direct_b2b"][i].append(_conversation(direct, i, theirs))
    engine.wait_idle()
    client.close()
    med = statistics.median
    turns = [
        Turn(
            turn=i + 1,
            prompt_tokens=prompts[i],
            direct_ttft=med(runs["direct"][i]),
            chatlane_ttft=med(runs["chatlane"][i]),
            chatlane_reused=reused[i],
            settle_wait=med(runs["wait"][i]),
            back_to_back_ttft=med(runs["b2b"][i]),
            direct_back_to_back_ttft=med(runs["direct_b2b"][i]),
        )
        for i in range(n)
    ]
    return ConversationResults(turns, med(fresh["direct"]), med(fresh["chatlane"]))


if __name__ == "__main__":
    import sys

    print(conversation_results(int(sys.argv[1]) if len(sys.argv) > 1 else 3).table())
