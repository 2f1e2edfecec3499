"""From sampled token ids to text pieces: UTF-8, stop sequences, token budget, finish reason.

Tokens are byte pieces; a character can straddle two of them, so bytes go through an
incremental UTF-8 decoder. Text that might be the start of a stop sequence is held back until
the next tokens show whether the stop follows: stop sequences never reach the caller.
"""

from __future__ import annotations

import codecs
from collections.abc import Generator, Sequence
from dataclasses import dataclass

from chatlane.local._llama import LlamaModel, Sampling

__all__ = ["Outcome", "StopScanner", "generate_text"]


@dataclass(slots=True)
class Outcome:
    """How a generation ended; filled in while its text is being read."""

    finish_reason: str = "length"
    completion_tokens: int = 0


class StopScanner:
    """Releases text as soon as it cannot be part of a stop sequence."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [stop for stop in stops if stop]
        self._held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Return (text safe to emit, whether a stop sequence was reached)."""
        held = self._held + text
        hits = [i for i in (held.find(stop) for stop in self._stops) if i >= 0]
        if hits:
            self._held = ""
            return held[: min(hits)], True
        keep = max((_overlap(held, stop) for stop in self._stops), default=0)
        self._held = held[len(held) - keep :]
        return held[: len(held) - keep], False

    def flush(self) -> str:
        """The held-back text once generation ended without a stop sequence."""
        held, self._held = self._held, ""
        return held


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of ``text`` that begins ``stop``."""
    for size in range(min(len(text), len(stop) - 1), 0, -1):
        if stop.startswith(text[-size:]):
            return size
    return 0


def generate_text(
    model: LlamaModel,
    prompt: Sequence[int],
    *,
    sampling: Sampling,
    max_tokens: int,
    stops: Sequence[str] = (),
    grammar: str | None = None,
    exact: bool = True,
    outcome: Outcome,
) -> Generator[str, None, None]:
    """Yield text pieces as the model writes them; ``outcome`` says how it ended.

    Stops pulling tokens (and so stops the model) as soon as the caller stops iterating.
    ``exact`` (a reproducible request) reuses only a prefix evaluated exactly as a fresh
    evaluation would: the answer is the same whether or not the prefix was cached.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    scanner = StopScanner(stops)
    tokens = model.generate(prompt, sampling, grammar, exact=exact)
    try:
        for token in tokens:
            if model.is_end(token):
                outcome.finish_reason = "stop"
                break
            outcome.completion_tokens += 1
            text, stopped = scanner.feed(decoder.decode(model.token_bytes(token)))
            if text:
                yield text
            if stopped:
                outcome.finish_reason = "stop"
                return
            if outcome.completion_tokens >= max_tokens:
                outcome.finish_reason = "length"
                break
    finally:
        tokens.close()
    tail, stopped = scanner.feed(decoder.decode(b"", final=True))
    rest = tail if stopped else tail + scanner.flush()
    if rest:
        yield rest
