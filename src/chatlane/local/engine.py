"""The embedded model: OpenAI Chat Completions requests in, OpenAI-format dicts out.

:class:`LocalEngine` runs a small GGUF model in-process through llama.cpp. It takes a request
body exactly as a client would send it and returns a ``chat.completion`` dict
(:meth:`~LocalEngine.complete`) or ``chat.completion.chunk`` dicts (:meth:`~LocalEngine.stream`).

What the model cannot do reliably by itself is made reliable around it:

- structured output and tool arguments are decoded under a grammar built from the JSON
  schema, so they always parse and match their schema;
- a forced or required tool call is one constrained generation; ``tool_choice="auto"``
  first asks a constrained routing question (a tool name, or "answer"), then either answers
  or writes the call(s);
- stop sequences, the token budget, usage counts and finish reasons are handled here, the
  same way in both modes.

One model is loaded (lazily, once) per engine and shared; generations are serialized by a
lock because a llama.cpp context serves one sequence at a time.

A prompt reuses the evaluated prefix it shares with the previous one (conversation history,
system prompt, tool definitions) or with a saved state of another conversation (least
recently used dropped first, within ``prefix_cache_bytes``). Reproducible requests get the
same answer either way: see :mod:`chatlane.local.prefix`. The reply's tokens are reused by
the next turn as they were generated; only where llama.cpp computes one-token steps
differently from batches does a background thread evaluate them again as a batch once the
generation ends, so that reproducible requests reuse them too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatlane.core.errors import ConfigurationError
from chatlane.local import grammar as grammars
from chatlane.local import wire
from chatlane.local._llama import INSTALL_HINT, LlamaModel, Sampling, llama_cpp_installed
from chatlane.local.errors import LocalEngineError
from chatlane.local.generation import Outcome, generate_text
from chatlane.local.model_file import DEFAULT_MODEL_NAME, MODEL_FILE, default_model_path
from chatlane.local.prefix import DEFAULT_PREFIX_CACHE_BYTES
from chatlane.local.prompt import (
    answer_option,
    answered_by_tools,
    chat_turns,
    decision_turns,
)
from chatlane.local.request import ChatRequest, parse_messages, parse_request
from chatlane.local.toolcalls import RepeatGuard, ToolCallSplitter

__all__ = ["LocalEngine", "LocalEngineError", "default_model_path"]

_log = logging.getLogger("chatlane.local")

# A mild repetition penalty (llama-cpp-python's chat default) for text and JSON answers.
# Free text: greedy decoding of a 135M model otherwise falls into loops. JSON: forced tokens
# are unaffected (they are the only choice), but where the model may either close an array
# or add one more item, the often-repeated "," loses to the rarely seen "]"; without it about
# two in three structured answers grew an array until the token budget ran out.
# Tool calls go without: there a looping model repeats a call verbatim, which RepeatGuard
# catches, while a penalty turns the loop into varied, plausible-looking extra calls.
_REPEAT_PENALTY = 1.1


@dataclass(frozen=True, slots=True)
class _Plan:
    """A checked request with its prompts tokenized and its grammars built."""

    request: ChatRequest
    answer_prompt: list[int] | None
    """Prompt for a text/JSON answer (None when a tool call is forced)."""
    answer_grammar: str | None
    call_prompt: list[int] | None
    """Prompt listing the tools (None when no tool may be called)."""
    decision_prompt: list[int] | None
    """Routing prompt for tool_choice="auto"."""


class LocalEngine:
    """A GGUF chat model served in-process with the OpenAI Chat Completions semantics."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE_BYTES,
    ) -> None:
        """Check that the engine can run; the model itself loads on first use.

        ``prefix_cache_bytes`` bounds the evaluated prompts kept besides the current one
        (0 keeps none; the current one is always reused).

        Raises ConfigurationError when llama-cpp-python or the model file is missing.
        """
        if not llama_cpp_installed():
            raise ConfigurationError(f"the local model needs llama-cpp-python: {INSTALL_HINT}")
        if model_path is None:
            path = default_model_path()
        else:
            path = os.fspath(model_path)
            if not Path(path).is_file():
                raise ConfigurationError(f"local model file not found: {path}")
        self.model_path = path
        self.model_name = DEFAULT_MODEL_NAME if Path(path).name == MODEL_FILE else Path(path).stem
        self.n_ctx = n_ctx
        # llama.cpp defaults to one thread; decoding runs ~1.5x faster on two. Its threads
        # spin while waiting for each other, so they must not outnumber the usable cores: with
        # one of two cores busy elsewhere, two threads decode ~3.5x slower than on an idle box.
        self.n_threads = n_threads or default_threads()
        self.prefix_cache_bytes = prefix_cache_bytes
        self.load_seconds: float | None = None
        self._model: LlamaModel | None = None
        self._vocab: LlamaModel | None = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        self._settler: threading.Thread | None = None

    # -- loading and counting ------------------------------------------------------------

    def load(self) -> float:
        """Load the model once (thread-safe); return the seconds the load took."""
        self._loaded()
        assert self.load_seconds is not None
        return self.load_seconds

    def _loaded(self) -> LlamaModel:
        model = self._model
        if model is None:
            with self._load_lock:
                model = self._model
                if model is None:
                    started = time.perf_counter()
                    model = self._open(vocab_only=False)
                    self.load_seconds = time.perf_counter() - started
                    self._model = model
                    if self._vocab is not None:
                        self._vocab.close()
                        self._vocab = None
        return model

    def _current(self) -> LlamaModel | None:
        # A call, so that type checkers re-read the field after the lock was taken.
        return self._model

    def _open(self, *, vocab_only: bool) -> LlamaModel:
        try:
            return LlamaModel.load(
                self.model_path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                vocab_only=vocab_only,
                saved_bytes=self.prefix_cache_bytes,
            )
        except ConfigurationError:
            raise
        except Exception as exc:
            raise LocalEngineError(500, f"cannot load {self.model_path}: {exc}") from exc

    def _tokenizer(self) -> LlamaModel:
        """The loaded model, or just its vocabulary (~0.1 s) when nothing needs the weights."""
        if self._model is not None:
            return self._model
        with self._load_lock:
            loaded = self._current()
            if loaded is not None:
                return loaded
            if self._vocab is None:
                self._vocab = self._open(vocab_only=True)
            return self._vocab

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer, no special tokens added."""
        return self._tokenizer().count(text)

    def count_message_tokens(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Tokens of ``messages`` as the chat template renders them for a reply."""
        return len(self._prompt(self._tokenizer(), chat_turns(parse_messages(list(messages)))))

    @staticmethod
    def _prompt(model: LlamaModel, turns: list[dict[str, str]]) -> list[int]:
        try:
            return model.tokenize(model.render_chat(turns), special=True)
        except ValueError as exc:
            raise LocalEngineError(400, str(exc), code="invalid_value", param="messages") from exc

    # -- requests ------------------------------------------------------------------------

    def complete(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Answer ``request`` (a Chat Completions body) with a ``chat.completion`` dict."""
        return wire.completion(self._events(self._plan(request)), self.model_name)

    def stream(self, request: Mapping[str, Any]) -> Generator[dict[str, Any], None, None]:
        """Answer ``request`` as ``chat.completion.chunk`` dicts.

        The request is checked now (errors raise here, before any chunk); generation runs
        while the chunks are read and stops, releasing the model, when the iterator is closed.
        """
        plan = self._plan(request)
        events = self._events(plan)
        return wire.chunks(events, self.model_name, include_usage=plan.request.include_usage)

    def _plan(self, body: Mapping[str, Any]) -> _Plan:
        request = parse_request(body)
        model = self._loaded()
        messages, tools = request.messages, request.tools
        answer_prompt = call_prompt = decision_prompt = None
        answer_grammar = None
        if request.tool_mode in ("none", "auto"):
            turns = chat_turns(messages, json_schema=request.json_schema)
            answer_prompt = self._prompt(model, turns)
            if request.json_schema is not None:
                answer_grammar = _checked(
                    lambda: grammars.schema_grammar(request.json_schema or {}),
                    "response_format.json_schema.schema",
                )
        if request.tool_mode != "none":
            _checked(lambda: grammars.tool_calls_grammar(tools), "tools")
            call_prompt = self._prompt(model, chat_turns(messages, tools=tools))
        if request.tool_mode == "auto" and not answered_by_tools(messages):
            decision_prompt = self._prompt(model, decision_turns(messages, tools))
        for prompt in (answer_prompt, call_prompt, decision_prompt):
            if prompt is not None:
                self._check_fits(len(prompt), request.max_tokens)
        return _Plan(request, answer_prompt, answer_grammar, call_prompt, decision_prompt)

    def _check_fits(self, prompt_tokens: int, max_tokens: int | None) -> None:
        needed = prompt_tokens + (max_tokens or 1)
        if needed > self.n_ctx:
            raise LocalEngineError(
                400,
                f"this model's context is {self.n_ctx} tokens; the request needs {needed} "
                f"({prompt_tokens} in the prompt, {max_tokens or 1} to generate)",
                code="context_length_exceeded",
                param="messages",
            )

    # -- generation ----------------------------------------------------------------------

    def _events(self, plan: _Plan) -> Generator[wire.Event, None, None]:
        """What the model writes for ``plan``, holding the model for the whole generation."""
        model = self._loaded()
        request = plan.request
        try:
            with self._generate_lock:
                try:
                    tool = self._route(model, plan)
                    if tool is None:
                        assert plan.answer_prompt is not None
                        yield from self._answer(
                            model, plan.answer_prompt, plan.answer_grammar, request
                        )
                    else:
                        assert plan.call_prompt is not None
                        yield from self._calls(model, plan.call_prompt, tool, request)
                except LocalEngineError:
                    raise
                except Exception as exc:
                    raise LocalEngineError(500, f"local generation failed: {exc}") from exc
        finally:
            if model.unsettled > 0:
                self._settle_later(model)

    # -- reuse of the reply by the next turn ----------------------------------------------

    def _settle_later(self, model: LlamaModel) -> None:
        """Evaluate the reply's tokens again as a batch, in the background, so the next
        turn reuses them even when reproducible. A request arriving first just goes first.

        The thread is not a daemon: interpreter exit waits for it (at most a batch
        evaluation) rather than freeing the model under it.
        """
        settler = self._settler
        if settler is not None and settler.is_alive():
            return
        settler = threading.Thread(
            target=self._settle, args=(model,), name="chatlane-local-settle", daemon=False
        )
        self._settler = settler
        settler.start()

    def _settle(self, model: LlamaModel) -> None:
        with self._generate_lock:
            try:
                model.settle()
            except Exception:  # the next prompt evaluates those tokens itself
                _log.debug("settling the reply's tokens failed", exc_info=True)

    def clear_prefixes(self) -> None:
        """Forget every evaluated prompt (frees the saved states; the next request evaluates
        its whole prompt)."""
        model = self._current()
        if model is not None:
            with self._generate_lock:
                model.forget()

    def wait_idle(self, timeout: float | None = None) -> None:
        """Wait for background work on the last reply (benchmarks and tests)."""
        settler = self._settler
        if settler is not None:
            settler.join(timeout)

    def _route(self, model: LlamaModel, plan: _Plan) -> str | None:
        """None to answer in text; otherwise "" (any tool) or the tool the reply starts with.

        For tool_choice="auto" this asks the routing question. Its few tokens are not part
        of the usage reported: usage describes the reply, as a remote API's would.
        """
        request = plan.request
        if request.tool_mode == "required":
            return ""
        if request.tool_mode == "named":
            return request.forced_tool or ""
        if request.tool_mode == "none" or plan.decision_prompt is None:
            return None
        answer = answer_option(request.tools)
        options = [tool.name for tool in request.tools] + [answer]
        outcome = Outcome()
        greedy = Sampling(temperature=0.0, top_p=1.0, seed=request.seed)
        choice = "".join(
            generate_text(
                model,
                plan.decision_prompt,
                sampling=greedy,
                max_tokens=32,
                grammar=grammars.choice_grammar(options),
                exact=request.reproducible,
                outcome=outcome,
            )
        )
        return None if choice not in options or choice == answer else choice

    def _sampling(self, request: ChatRequest, *, repeat_penalty: float) -> Sampling:
        return Sampling(
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            repeat_penalty=repeat_penalty,
            presence_penalty=request.presence_penalty,
            frequency_penalty=request.frequency_penalty,
        )

    def _budget(self, prompt: Sequence[int], request: ChatRequest) -> int:
        return request.max_tokens or self.n_ctx - len(prompt)

    def _answer(
        self, model: LlamaModel, prompt: list[int], grammar: str | None, request: ChatRequest
    ) -> Iterator[wire.Event]:
        outcome = Outcome()
        for text in generate_text(
            model,
            prompt,
            sampling=self._sampling(request, repeat_penalty=_REPEAT_PENALTY),
            max_tokens=self._budget(prompt, request),
            stops=request.stop,
            grammar=grammar,
            exact=request.reproducible,
            outcome=outcome,
        ):
            yield wire.TextPiece(text)
        yield wire.Finished(outcome.finish_reason, len(prompt), outcome.completion_tokens)

    def _calls(
        self, model: LlamaModel, prompt: list[int], tool: str, request: ChatRequest
    ) -> Iterator[wire.Event]:
        """Write the tool call(s) to ``tool`` (or, when "", to the tool the model names)."""
        tools = request.tools
        if request.tool_mode == "named":
            tools = tuple(spec for spec in tools if spec.name == tool)
        many = request.parallel_tool_calls and request.tool_mode != "named"
        grammar = grammars.tool_calls_grammar(
            tools, tool=tool or None, max_calls=grammars.MAX_PARALLEL_CALLS if many else 1
        )
        splitter = ToolCallSplitter()
        guard = RepeatGuard()
        outcome = Outcome()
        texts = generate_text(
            model,
            prompt,
            sampling=self._sampling(request, repeat_penalty=1.0),
            max_tokens=self._budget(prompt, request),
            grammar=grammar,
            exact=request.reproducible,
            outcome=outcome,
        )
        try:
            for text in texts:
                for event in splitter.feed(text):
                    yield from guard.accept(event)
                if guard.repeated:
                    break
        finally:
            texts.close()
        if guard.repeated or outcome.finish_reason == "stop":
            reason = "tool_calls"
        elif guard.completed:
            # The budget ran out in a later call (almost always a loop the guard had not yet
            # seen close): the finished calls are the answer, the torn one is dropped.
            reason = "tool_calls"
        else:
            reason = outcome.finish_reason
        yield wire.Finished(reason, len(prompt), outcome.completion_tokens)


def _checked(build: Callable[[], str], param: str) -> str:
    """Run a grammar builder; a schema it cannot express is the client's 400."""
    try:
        return build()
    except ValueError as exc:
        raise LocalEngineError(400, str(exc), code="unsupported_schema", param=param) from exc


def _usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_threads() -> int:
    """Generation threads when none are asked for: all usable cores but one, at most 8.

    llama.cpp's threads spin while they wait for each other, so when every core is theirs
    and anything else on the machine needs CPU, a generation slows down by tens of times
    (seen on 2 cores: a 20-token tool call took 77 s with 2 threads and a busy neighbour,
    under 3 s with 1). A 135M model gains little past a few threads anyway.
    """
    return max(1, min(8, _usable_cores() - 1))
