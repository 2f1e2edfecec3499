"""The one place that touches llama-cpp-python.

llama-cpp-python ships only partial type hints, so everything it returns is ``Any`` here and
nowhere else: the rest of :mod:`chatlane.local` sees the small typed surface below
(:class:`LlamaModel`, :func:`schema_grammar_rules`, :func:`require_llama_cpp`).

llama.cpp logs through a process-wide callback. It is pointed at the ``chatlane.local.llama``
logger (DEBUG level), so nothing reaches stdout/stderr unless the application asks for it.
"""

from __future__ import annotations

import copy
import ctypes
import importlib
import importlib.util
import logging
import threading
import weakref
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from chatlane.core.errors import ConfigurationError
from chatlane.local.prefix import MIN_BATCH, SavedState, StateCache, chunks, reusable

__all__ = [
    "INSTALL_HINT",
    "LlamaModel",
    "Sampling",
    "require_llama_cpp",
    "schema_grammar_rules",
]

INSTALL_HINT = "pip install 'chatlane[local]'"

_T = TypeVar("_T")

_log = logging.getLogger("chatlane.local.llama")
_import_lock = threading.Lock()
_module: ModuleType | None = None
# The ctypes callback must stay referenced for as long as llama.cpp may call it.
_log_callback: Any = None

# JSON forbids raw control characters inside strings; the converter's `char` rule allows them,
# which would let the model produce text that json.loads rejects. Replace that one rule.
_LOOSE_CHAR_RULE = 'char ::= [^"\\\\] |'
_STRICT_CHAR_RULE = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


def llama_cpp_installed() -> bool:
    """True when llama-cpp-python can be imported (checked without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def require_llama_cpp() -> ModuleType:
    """Import llama_cpp once, silence its logging, or explain how to install it."""
    global _module, _log_callback
    if _module is not None:
        return _module
    with _import_lock:
        if _module is None:
            try:
                module = importlib.import_module("llama_cpp")
            except ImportError as exc:
                raise ConfigurationError(
                    f"the local model needs llama-cpp-python: {INSTALL_HINT}"
                ) from exc

            @module.llama_log_callback  # type: ignore[untyped-decorator]
            def forward(level: int, text: bytes, user_data: Any) -> None:
                _log.debug("%s", text.decode("utf-8", errors="replace").rstrip("\n"))

            module.llama_log_set(forward, ctypes.c_void_p(0))
            _log_callback = forward
            _module = module
    return _module


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sampler settings for one generation (temperature 0 means greedy decoding)."""

    temperature: float
    top_p: float
    seed: int
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0


class LlamaModel:
    """A loaded GGUF model (or only its vocabulary) behind a typed surface."""

    def __init__(self, llama: Any, *, saved_bytes: int = 0) -> None:
        self._llama = llama
        # Free llama.cpp's memory when this object goes, or at exit while llama_cpp's module
        # is still whole (its own __del__ fails noisily during interpreter shutdown).
        self._release = weakref.finalize(self, llama.close)
        self._module = require_llama_cpp()
        self._vocab = llama._model.vocab
        self._bos = int(llama.token_bos())
        self._formatter: Any = None
        self._n_batch = int(llama.n_batch)
        self._n_vocab = int(llama.n_vocab())
        # What the context's KV holds, and how many leading tokens of it were evaluated in
        # batches (reusable by reproducible requests).
        self._tokens: list[int] = []
        self._canonical = 0
        self._saved = StateCache(saved_bytes)
        self._exact_reuse: bool | None = None
        self._steps_exact: bool | None = None  # not probed yet
        self.last_reused = 0
        """Prompt tokens the latest generation took from the context or a saved state."""

    @classmethod
    def load(
        cls,
        path: str,
        *,
        n_ctx: int,
        n_threads: int,
        vocab_only: bool = False,
        saved_bytes: int = 0,
    ) -> LlamaModel:
        """Load weights (or only the vocabulary, ~0.1 s) from a GGUF file.

        ``saved_bytes`` bounds the KV states kept for prompts other than the current one.
        The context is configured so that one-token steps compute what batches compute
        (:func:`_step_exact_options`; llama.cpp's defaults where that configuration is not
        available); whether they do is probed after the first reply (:meth:`settle`).
        """
        module = require_llama_cpp()

        def open_llama(**options: Any) -> Any:
            return module.Llama(
                model_path=path,
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                vocab_only=vocab_only,
                verbose=False,
                **options,
            )

        if not vocab_only:
            try:
                return cls(open_llama(**_step_exact_options(module)), saved_bytes=saved_bytes)
            except Exception:  # a build without that configuration
                _log.debug("flash attention with a q8_0 K cache is unavailable", exc_info=True)
        return cls(open_llama(), saved_bytes=saved_bytes)

    @property
    def n_ctx(self) -> int:
        return int(self._llama.n_ctx())

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Token ids of ``text``; ``special`` parses markers such as ``<|im_start|>``.

        The model's own BOS is added when its vocabulary asks for one, once: a template that
        already wrote it must not produce two.
        """
        tokens = [int(t) for t in self._llama.tokenize(text.encode("utf-8"), True, special)]
        if len(tokens) >= 2 and tokens[0] == tokens[1] == self._bos:
            del tokens[0]
        return tokens

    def count(self, text: str) -> int:
        """Number of tokens of plain text, no special tokens added or parsed."""
        return len(self._llama.tokenize(text.encode("utf-8"), False, False))

    def token_bytes(self, token: int) -> bytes:
        """The bytes one token stands for (empty for control tokens)."""
        return bytes(self._llama.detokenize([token]))

    def is_end(self, token: int) -> bool:
        """True for end-of-generation tokens (EOS, ``<|im_end|>`` and the like)."""
        return bool(self._module.llama_vocab_is_eog(self._vocab, token))

    def render_chat(self, messages: Sequence[Mapping[str, str]]) -> str:
        """Render messages with the model's own chat template, ending in the assistant cue."""
        if self._formatter is None:
            template = self._llama.metadata.get("tokenizer.chat_template") or _CHATML
            chat_format = importlib.import_module("llama_cpp.llama_chat_format")
            self._formatter = chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=self._token_text(self._llama.token_eos()),
                bos_token=self._token_text(self._bos),
                add_generation_prompt=True,
            )
        try:
            return str(self._formatter(messages=[dict(m) for m in messages]).prompt)
        except Exception as exc:  # jinja2 errors and the template's own raise_exception
            raise ValueError(f"the model's chat template rejected the messages: {exc}") from exc

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return bytes(self._llama.detokenize([token], special=True)).decode("utf-8", "replace")

    # -- evaluation and reuse of prefixes (see chatlane.local.prefix) --------------------

    def generate(
        self, tokens: Sequence[int], sampling: Sampling, grammar: str | None, *, exact: bool
    ) -> Generator[int, None, None]:
        """Sampled token ids, one at a time, for as long as the caller keeps pulling.

        The prompt reuses the evaluated prefix it shares with the context or with a saved
        state. ``exact`` (a reproducible request) reuses only tokens evaluated the way a
        fresh evaluation would evaluate them, so its answer is the same either way.
        """
        llama = self._llama
        prompt = list(tokens)
        self._prefill(prompt, exact=exact)
        compiled = None
        if grammar is not None:
            compiled = self._module.LlamaGrammar.from_string(grammar, verbose=False)
        llama.set_seed(sampling.seed)
        # The prompt is evaluated up to its last token: llama-cpp-python samples at once.
        steps = llama.generate(
            prompt,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            temp=sampling.temperature,
            repeat_penalty=sampling.repeat_penalty,
            presence_penalty=sampling.presence_penalty,
            frequency_penalty=sampling.frequency_penalty,
            grammar=compiled,
        )
        try:
            for token in steps:
                yield int(token)
        finally:
            steps.close()
            # Generated tokens were evaluated one at a time: canonical only where one-token
            # steps are exact (elsewhere settle() evaluates them again).
            self._tokens = [int(t) for t in llama.input_ids[: llama.n_tokens]]
            if self._steps_exact:
                self._canonical = len(self._tokens)

    @property
    def unsettled(self) -> int:
        """Tokens in the context that a reproducible request cannot reuse yet."""
        return len(self._tokens) - self._canonical

    def settle(self) -> bool:
        """Make the generated tokens reusable by reproducible requests: evaluate them again as
        a batch, unless the probe (run here once, off the next request's path) finds that
        one-token steps give what batches give.

        Returns whether there was anything to do.
        """
        tokens = self._tokens
        if self._canonical >= len(tokens) or len(tokens) < MIN_BATCH:
            return False
        if self._probe_steps():
            self._canonical = len(tokens)  # the reply's own KV is the one a batch gives
            return True
        start = min(self._canonical, len(tokens) - MIN_BATCH)
        self._evaluate(tokens, start)
        self._canonical = len(tokens)
        self.reuse_is_exact()  # the one-off probe, off the next request's path
        return True

    @property
    def steps_exact(self) -> bool:
        """Whether a token evaluated alone (a generated one) is known to get the KV and
        logits it gets in a batch: then replies are reused as generated, with nothing to
        settle. False until probed (after the first reply)."""
        return bool(self._steps_exact)

    def _probe_steps(self) -> bool:
        """Whether one-token steps and batches of every size agree (probed once; the probe
        also settles whether batches of two or more agree, on more tokens than
        :meth:`reuse_is_exact` does)."""
        if self._steps_exact is None:
            batches = steps = False
            if self._exact_reuse is not False:
                batches, steps = self._probed(self._steps_agree)
            self._steps_exact, self._exact_reuse = steps, batches
            if not steps:
                _log.info(
                    "llama.cpp computes one-token steps differently from batches here: %s",
                    "replies are evaluated again before reproducible requests reuse them"
                    if batches
                    else "reproducible requests evaluate their whole prompt",
                )
        return self._steps_exact

    def reuse_is_exact(self) -> bool:
        """Whether this build gives a token the same KV in every split into batches of two or
        more (checked once, on a short probe: one batch against uneven smaller ones)."""
        if self._exact_reuse is None:
            self._exact_reuse = self._probe()
            if not self._exact_reuse:
                _log.info(
                    "llama.cpp computes batches of different sizes differently here: "
                    "reproducible requests evaluate their whole prompt"
                )
        return self._exact_reuse

    @property
    def saved_states(self) -> StateCache:
        return self._saved

    def forget(self) -> None:
        """Drop the context's KV and every saved state: the next prompt is evaluated whole."""
        self._forget_context()
        self._saved.clear()

    def _prefill(self, prompt: list[int], *, exact: bool) -> None:
        """Put the KV of ``prompt`` in the context, up to the logits of its last token."""
        if self._steps_exact:
            exact = False  # every token's KV is the one a fresh evaluation gives
        keep = reusable(self._tokens, self._canonical, prompt, exact=exact)
        saved, length = self._saved.best(prompt, exact=exact)
        if exact and max(keep, length) > 0 and not self.reuse_is_exact():
            keep, saved = 0, None
        if saved is not None and length > keep:
            self._stash()
            keep = length if self._load(saved) else 0
        elif keep < len(self._tokens) // 2:
            self._stash()  # most of the context is about to go: keep a copy
        canonical = len(prompt) if keep <= self._canonical else self._canonical
        if self._steps_exact:
            canonical = len(prompt)
        elif len(prompt) < MIN_BATCH:
            canonical = 0
        self._tokens = self._tokens[:keep]
        self.last_reused = keep
        self._evaluate(prompt, keep)
        self._tokens = prompt
        self._canonical = canonical

    def _evaluate(self, tokens: Sequence[int], start: int) -> None:
        """Drop the context after ``start`` and evaluate ``tokens[start:]`` in batches of
        :data:`MIN_BATCH` tokens or more."""
        llama = self._llama
        llama.n_tokens = start
        llama._ctx.kv_cache_seq_rm(-1, start, -1)
        for a, b in chunks(start, len(tokens), self._n_batch):
            llama.eval(list(tokens[a:b]))

    def _state_bytes(self) -> bytes:
        ctx = self._llama._ctx.ctx
        size = int(self._module.llama_state_seq_get_size(ctx, 0))
        buffer = (ctypes.c_uint8 * size)()
        written = int(self._module.llama_state_seq_get_data(ctx, buffer, size, 0))
        return ctypes.string_at(buffer, written)

    def _stash(self) -> None:
        """Save the context's KV among the saved states (when it is worth it and fits)."""
        if len(self._tokens) < _MIN_SAVED_TOKENS or self._saved.max_bytes == 0:
            return
        self._saved.put(SavedState(tuple(self._tokens), self._canonical, self._state_bytes()))

    def _load(self, state: SavedState) -> bool:
        self._saved.take(state)
        llama = self._llama
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        self._tokens, self._canonical = [], 0
        llama.n_tokens = 0
        data = state.data
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if int(self._module.llama_state_seq_set_data(llama._ctx.ctx, buffer, len(data), 0)) == 0:
            llama._ctx.kv_cache_seq_rm(-1, 0, -1)
            return False  # not loaded: evaluated afresh instead
        n = len(state.tokens)
        llama.input_ids[:n] = state.tokens
        llama.n_tokens = n
        llama._requires_eval = True
        self._tokens, self._canonical = list(state.tokens), state.canonical
        return True

    def _logits(self) -> bytes:
        return ctypes.string_at(self._llama._ctx.get_logits(), self._n_vocab * 4)

    def _probe(self) -> bool:
        def agree() -> bool:
            tokens = self.tokenize(_PROBE_TEXT, special=False)[:_PROBE_TOKENS]
            whole = self._evaluated_in(tokens, [len(tokens)])
            return whole == self._evaluated_in(tokens, [*_PROBE_SPLITS, len(tokens)])

        return self._probed(agree)

    def _steps_agree(self) -> tuple[bool, bool]:
        """(batches of two or more agree, one-token steps agree too) on the step probe."""
        tokens = self.tokenize(_PROBE_TEXT, special=False)[:_STEP_PROBE_TOKENS]
        n = len(tokens)
        if n < _STEP_PROBE_TOKENS:
            return False, False
        whole = self._evaluated_in(tokens, [n])
        if whole == self._evaluated_in(tokens, [*_STEP_PROBE_BATCHES, *_STEP_PROBE_STEPS, n]):
            return True, True
        return whole == self._evaluated_in(tokens, [*_STEP_PROBE_BATCHES, n]), False

    def _probed(self, check: Callable[[], _T]) -> _T:
        """Run ``check`` on the emptied context, then put back what the context held."""
        live = (list(self._tokens), self._canonical, self._state_bytes() if self._tokens else b"")
        try:
            return check()
        finally:
            self._forget_context()
            if live[0]:
                self._load(SavedState(tuple(live[0]), live[1], live[2]))

    def _evaluated_in(self, tokens: list[int], splits: Sequence[int]) -> tuple[bytes, bytes]:
        """Logits and KV after evaluating ``tokens`` from scratch in batches ending at
        ``splits``."""
        self._forget_context()
        start = 0
        for stop in splits:
            self._llama.eval(tokens[start:stop])
            start = stop
        return self._logits(), self._state_bytes()

    def _forget_context(self) -> None:
        """Empty the context (the saved states stay)."""
        self._llama.n_tokens = 0
        self._llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        self._tokens, self._canonical = [], 0

    def close(self) -> None:
        self._saved.clear()
        self._release()


def _step_exact_options(module: ModuleType) -> dict[str, Any]:
    """Context options under which a token evaluated alone gets the same KV and logits as in
    a batch of any size (see :mod:`chatlane.local.prefix`).

    Flash attention with a q8_0 K cache (V stays F16): llama.cpp's CPU flash-attention kernel
    then computes every query row the same way whatever the batch size (its tiled kernel for
    batches of 64 or more and its split-KV kernel for single tokens are only taken for an F16
    or F32 K cache). Without flash attention, K*Q goes through llamafile's tinyBLAS for
    batches of two or more and through ggml's own dot product for one token, which sum in
    another order. Of the caches that keep the per-row kernel, q8_0 K with F16 V is the
    fastest measured (prompts +7% at 600 tokens of context and +26% at 1200 against the
    defaults, generation within 5%).
    """
    return {"flash_attn": True, "type_k": int(module.GGML_TYPE_Q8_0)}


# A context this short is not worth a saved copy.
_MIN_SAVED_TOKENS = 32
# The batch-invariance probe: one batch of these tokens against uneven batches of 5, 2, 3
# and the rest (sizes that also catch kernels working in groups of four rows).
_PROBE_TEXT = (
    "The lighthouse keeper counted ships at dawn, wrote their names in a blue book, "
    "and sent the list to the harbour office before the tide turned. In the evening she "
    "climbed the stairs again, lit the lamp, and watched the fishing boats come home one "
    "by one through the rain. On Sundays her brother rowed across with bread, apples, "
    "letters and the newspaper, and they played chess by the stove until the wind dropped "
    "and the gulls settled on the rocks below the tower."
)
_PROBE_TOKENS = 24
_PROBE_SPLITS = [5, 7, 10]
# The one-token-step probe (~0.5 s on 2 cores, once, after the first reply): one batch of 64
# tokens (from 64 on, llama.cpp's CPU flash attention may take a tiled kernel) against small
# uneven batches followed by 8 one-token steps. A difference may stay hidden in a short
# context (rounding differences are often absorbed when activations are quantized for the
# next matrix product), hence the length.
_STEP_PROBE_TOKENS = 64
_STEP_PROBE_BATCHES = [5, 7, 10, 40, 56]
_STEP_PROBE_STEPS = list(range(57, 64))

# Used when a GGUF file carries no chat template.
_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def schema_grammar_rules(schemas: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """GBNF rules for several JSON schemas, rule ``name`` matching each schema.

    The caller writes the ``root`` rule that combines them. Raises ValueError for a schema
    the converter cannot express.
    """
    require_llama_cpp()
    grammar_module = importlib.import_module("llama_cpp.llama_grammar")
    converter = grammar_module.SchemaConverter(
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    for name, schema in schemas:
        own = _prefix_definitions(schema, name)
        try:
            resolved = converter.resolve_refs(own, name)
            rule = converter.visit(resolved, name)
        except (AssertionError, KeyError, TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"cannot constrain decoding to this schema: {exc}") from exc
        if rule != name:
            converter._add_rule(name, rule)
    text = str(converter.format_grammar())
    return text.replace(_LOOSE_CHAR_RULE, _STRICT_CHAR_RULE)


def _prefix_definitions(schema: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Copy ``schema`` with its ``$defs`` renamed ``<prefix>-<name>``.

    The converter names a referenced rule after the last segment of the reference, so two
    tools that both define ``$defs/Item`` would otherwise share one rule.
    """
    own = copy.deepcopy(dict(schema))
    renames: dict[str, str] = {}
    for section in ("$defs", "definitions"):
        defs = own.get(section)
        if isinstance(defs, dict):
            own[section] = {f"{prefix}-{key}": value for key, value in defs.items()}
            renames.update({f"#/{section}/{key}": f"#/{section}/{prefix}-{key}" for key in defs})

    def rewrite(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref in renames:
                node["$ref"] = renames[ref]
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    if renames:
        rewrite(own)
    return own
