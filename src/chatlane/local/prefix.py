"""Which part of an evaluated prompt a new prompt may reuse, and the saved states of others.

llama.cpp keeps the keys and values (KV) of every token it evaluated; a prompt that starts
with tokens already evaluated only needs its new tokens evaluated. Reuse must not change the
answer of a reproducible request (``temperature=0`` or a seed). On the CPU build measured
(llama.cpp 0.3.36 bindings, SmolLM2 Q4_1, 2 threads) the numbers of a token depend on how it
was evaluated only through attention:

- with llama.cpp's default context (flash attention off, F16 KV cache), K*Q goes through
  llamafile's tinyBLAS for a batch of two or more tokens and through ggml's own dot product
  for a single token; the two sum in another order. So a token gets the same KV, bit for bit,
  in every split of the prompt into batches of two or more, but a token evaluated alone, as
  every generated token is, may get a different KV, and the tokens after it inherit the
  difference;
- with flash attention and a q8_0 K cache (what :meth:`LlamaModel.load
  <chatlane.local._llama.LlamaModel.load>` asks for first), every query row is computed by
  the same kernel whatever the batch size, one-token steps included: a reply's KV is the KV a
  fresh evaluation of the same tokens gives, and it is reused as it is.

Which of the two holds is probed once per model, in the background after its first reply
(one batch against small batches and one-token steps); until then, and where the probe
fails, replies are treated as under the defaults. Under the defaults every prompt is
evaluated in batches of at least :data:`MIN_BATCH` tokens, and a state records how many of
its leading tokens were evaluated that way (``canonical``): a reproducible request reuses
no more than that, any other request reuses the whole common prefix. Generated tokens
become canonical when :meth:`LlamaModel.settle` evaluates them again as one batch (the
engine does it in the background once a generation ends). Whether batches of two or more
agree is itself checked once per model (``LlamaModel.reuse_is_exact``); where it does not
(repacked weights that split batches by four, ...), reproducible requests evaluate their
whole prompt.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_PREFIX_CACHE_BYTES",
    "MIN_BATCH",
    "SavedState",
    "StateCache",
    "chunks",
    "common_prefix",
    "reusable",
]

DEFAULT_PREFIX_CACHE_BYTES = 64 * 2**20
"""Memory for saved prompt states by default: SmolLM2-135M's KV is ~23 KB a token, so
~2,900 tokens (a few conversations of a few turns)."""

MIN_BATCH = 2
"""The smallest batch whose KV is the same as in any other split of the prompt."""


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    if list(a[:n]) == list(b[:n]):
        return n
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def reusable(tokens: Sequence[int], canonical: int, prompt: Sequence[int], *, exact: bool) -> int:
    """How many leading tokens of ``prompt`` a state holding ``tokens`` can serve.

    ``exact`` (a reproducible request) reuses only the ``canonical`` tokens. At least
    :data:`MIN_BATCH` tokens are always left to evaluate: the last one's logits are needed,
    and they must come from a batch that size.
    """
    keep = common_prefix(tokens, prompt)
    if exact:
        keep = min(keep, canonical)
    return max(0, min(keep, len(prompt) - MIN_BATCH))


def chunks(start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Batches ``[a, b)`` covering ``[start, end)``: at most ``size`` tokens, at least
    :data:`MIN_BATCH` each (unless the whole range is shorter)."""
    size = max(size, 2 * MIN_BATCH)
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        stop = min(end, pos + size)
        if 0 < end - stop < MIN_BATCH:
            stop = end - MIN_BATCH
        out.append((pos, stop))
        pos = stop
    return out


@dataclass(frozen=True, slots=True)
class SavedState:
    """The KV of one evaluated token sequence, copied out of the llama.cpp context."""

    tokens: tuple[int, ...]
    canonical: int
    data: bytes


class StateCache:
    """Saved states within a byte budget, the least recently used dropped first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, max_bytes)
        self._states: OrderedDict[tuple[int, ...], SavedState] = OrderedDict()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._states)

    def put(self, state: SavedState) -> bool:
        """Keep ``state`` (replacing one of the same tokens); False when it cannot fit."""
        if len(state.data) > self.max_bytes:
            return False
        self._drop(state.tokens)
        while self._states and self._bytes + len(state.data) > self.max_bytes:
            self._drop(next(iter(self._states)))
        self._states[state.tokens] = state
        self._bytes += len(state.data)
        return True

    def best(self, prompt: Sequence[int], *, exact: bool) -> tuple[SavedState | None, int]:
        """The saved state serving the longest prefix of ``prompt``, and that length."""
        found: SavedState | None = None
        length = 0
        for state in self._states.values():
            n = reusable(state.tokens, state.canonical, prompt, exact=exact)
            if n > length:
                found, length = state, n
        return found, length

    def take(self, state: SavedState) -> None:
        """Remove ``state``: it is being loaded into the context."""
        self._drop(state.tokens)

    def clear(self) -> None:
        self._states.clear()
        self._bytes = 0

    def _drop(self, tokens: tuple[int, ...]) -> None:
        state = self._states.pop(tokens, None)
        if state is not None:
            self._bytes -= len(state.data)
