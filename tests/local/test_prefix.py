"""Reuse of evaluated prefixes: what may be reused, the saved states, and the promise that a
reproducible request answers the same whether or not its prefix was cached."""

from __future__ import annotations

from typing import Any

import pytest

from chatlane.local import LocalEngine
from chatlane.local import _llama as llama_module
from chatlane.local._llama import LlamaModel, Sampling
from chatlane.local.prefix import MIN_BATCH, SavedState, StateCache, chunks, common_prefix, reusable
from tests.local.conftest import MISSING

# -- without the model -----------------------------------------------------------------------


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 3, 4]) == 3
    assert common_prefix([1, 2, 3], [1, 5, 3]) == 1
    assert common_prefix([], [1]) == 0
    assert common_prefix([4], [5]) == 0


def test_reusable_keeps_two_tokens_to_evaluate_and_respects_canonical() -> None:
    tokens = list(range(100))
    assert reusable(tokens, 100, list(range(120)), exact=True) == 100
    assert reusable(tokens, 60, list(range(120)), exact=True) == 60
    assert reusable(tokens, 60, list(range(120)), exact=False) == 100
    # The same prompt again: the last MIN_BATCH tokens are evaluated again, as one batch.
    assert reusable(tokens, 100, tokens, exact=True) == 100 - MIN_BATCH
    assert reusable(tokens, 100, [*range(50), 7, 8, 9], exact=True) == 50
    assert reusable(tokens, 100, [0], exact=False) == 0


@pytest.mark.parametrize("size", [4, 5, 32, 512])
def test_chunks_cover_the_range_in_batches_of_two_or_more(size: int) -> None:
    for start in range(40):
        for end in range(start, start + 3 * size + 3):
            parts = chunks(start, end, size)
            covered = [i for a, b in parts for i in range(a, b)]
            assert covered == list(range(start, end))
            if end - start >= MIN_BATCH:
                assert all(MIN_BATCH <= b - a <= size for a, b in parts)


def _state(tokens: range, size: int) -> SavedState:
    return SavedState(tuple(tokens), len(tokens), b"x" * size)


def test_state_cache_drops_the_least_recently_used_within_its_budget() -> None:
    cache = StateCache(250)
    a, b, c = _state(range(40), 100), _state(range(100, 140), 100), _state(range(200, 240), 100)
    assert cache.put(a)
    assert cache.put(b)
    assert cache.bytes == 200
    assert cache.put(c)  # a goes
    assert cache.bytes == 200
    assert len(cache) == 2
    assert cache.best(list(range(45)), exact=True) == (None, 0)
    found, length = cache.best(list(range(100, 150)), exact=True)
    assert found == b
    assert length == 40
    cache.take(b)
    assert len(cache) == 1
    assert cache.bytes == 100
    assert not cache.put(_state(range(5), 300))  # larger than the whole budget
    assert not StateCache(0).put(a)


def test_state_cache_prefers_the_longest_usable_prefix() -> None:
    cache = StateCache(1000)
    short = _state(range(20), 10)
    long = SavedState(tuple(range(60)), 10, b"x" * 10)  # only 10 tokens evaluated in batches
    cache.put(short)
    cache.put(long)
    assert cache.best(list(range(100)), exact=False) == (long, 60)
    assert cache.best(list(range(100)), exact=True) == (short, 20)
    assert cache.best([*range(5), -1, -2], exact=True) == (short, 5)


# -- with the model -------------------------------------------------------------------------

needs = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

TOPICS = ["the sea", "bread", "a violin", "winter", "bees", "a lighthouse", "trains", "salt"]
FOLLOW_UPS = ["Say more.", "Why is that?", "Give one example.", "Sum it up in five words."]


def _ask(
    engine: LocalEngine, messages: list[dict[str, Any]], extra: dict[str, Any], *, fresh: bool
) -> str:
    if fresh:
        engine.clear_prefixes()
    body = {"messages": messages, "max_tokens": 12, **extra}
    content = engine.complete(body)["choices"][0]["message"]["content"]
    assert isinstance(content, str)
    return content


def _conversations(
    engine: LocalEngine, extra: dict[str, Any], *, fresh: bool, settle: bool
) -> list[list[str]]:
    """Several conversations advanced turn by turn, interleaved (each turn's prompt continues
    its own history: with ``fresh=False`` from the context or a saved state)."""
    histories: list[list[dict[str, Any]]] = [
        [{"role": "user", "content": f"Tell me about {topic}."}] for topic in TOPICS[:3]
    ]
    answers: list[list[str]] = [[] for _ in histories]
    for turn in range(3):
        for i, history in enumerate(histories):
            text = _ask(engine, history, extra, fresh=fresh)
            if settle:
                engine.wait_idle()
            answers[i].append(text)
            history += [
                {"role": "assistant", "content": text},
                {"role": "user", "content": FOLLOW_UPS[turn]},
            ]
    return answers


@pytest.mark.local_model
@needs
@pytest.mark.parametrize(
    "extra",
    [{"temperature": 0}, {"temperature": 0.9, "seed": 7}],
    ids=["greedy", "seeded"],
)
def test_reproducible_answers_do_not_depend_on_the_cached_prefix(
    engine: LocalEngine, extra: dict[str, Any]
) -> None:
    reference = _conversations(engine, extra, fresh=True, settle=False)
    # Reusing settled replies, and (no waiting) racing the background settling.
    assert _conversations(engine, extra, fresh=False, settle=True) == reference
    assert _conversations(engine, extra, fresh=False, settle=False) == reference
    # Single prompts sharing the system prompt and template with the previous one.
    singles = [[{"role": "user", "content": f"One fact about {t}."}] for t in TOPICS]
    fresh = [_ask(engine, m, extra, fresh=True) for m in singles]
    assert [_ask(engine, m, extra, fresh=False) for m in singles] == fresh
    # The same prompt twice in a row.
    assert _ask(engine, singles[0], extra, fresh=False) == fresh[0]
    assert _ask(engine, singles[0], extra, fresh=False) == fresh[0]


@pytest.mark.local_model
@needs
def test_logits_and_kv_are_bit_identical_with_and_without_the_prefix(
    engine: LocalEngine,
) -> None:
    model = engine._loaded()
    assert model.reuse_is_exact()
    base = [engine._prompt(model, [{"role": "user", "content": f"About {t}?"}]) for t in TOPICS]
    longer = [p + p[5:40] + p[-9:] for p in base]
    with engine._generate_lock:
        for prompt in [*base, *longer]:
            model.forget()
            model._prefill(prompt, exact=True)
            cold = (model._logits(), model._state_bytes())
            for prefix in (prompt[:7], prompt[: len(prompt) // 2], prompt[:-1], prompt):
                model.forget()
                model._prefill(prefix, exact=True)
                model._prefill(prompt, exact=True)
                assert model.last_reused > 0 or len(prefix) < 4
                assert (model._logits(), model._state_bytes()) == cold


NEXT_TURN = "<|im_end|>\n<|im_start|>user\nAnd then?<|im_end|>\n<|im_start|>assistant\n"


def _reply_then_next_turn(
    model: LlamaModel, prompt: list[int], length: int, sampling: Sampling
) -> list[int]:
    """Generate ``length`` tokens one step at a time after ``prompt`` (exact), leave them in
    the context, and return the next turn's prompt: the context's tokens and a new question."""
    steps = model.generate(prompt, sampling, None, exact=True)
    for _ in range(length + 1):  # the last token sampled is not evaluated
        if model.is_end(next(steps)):
            break
    steps.close()
    follow = [int(t) for t in model._llama.tokenize(NEXT_TURN.encode(), False, True)]
    return [*model._tokens, *follow]


@pytest.mark.local_model
@needs
def test_this_build_computes_one_token_steps_as_batches(engine: LocalEngine) -> None:
    model = engine._loaded()
    engine.complete({"messages": [{"role": "user", "content": "About the sea?"}], "max_tokens": 8})
    engine.wait_idle()  # the first reply's settling runs the probe
    assert model.steps_exact  # flash attention with a q8_0 K cache
    assert model.reuse_is_exact()


@pytest.mark.local_model
@needs
@pytest.mark.parametrize("length", [1, 6, 40])
def test_a_reply_is_reused_as_generated_with_bit_identical_logits_and_kv(
    engine: LocalEngine, length: int
) -> None:
    model = engine._loaded()
    sampling = Sampling(temperature=0.9, top_p=0.95, seed=3)
    with engine._generate_lock:
        assert model._probe_steps()
        for topic in TOPICS:
            model.forget()
            prompt = engine._prompt(model, [{"role": "user", "content": f"About {topic}?"}])
            following = _reply_then_next_turn(model, prompt, length, sampling)
            generated = len(model._tokens) - len(prompt)
            assert generated >= 1
            assert model.unsettled == 0  # nothing to evaluate again
            model._prefill(following, exact=True)
            assert model.last_reused == len(prompt) + generated  # the whole reply
            warm = (model._logits(), model._state_bytes())
            model.forget()
            model._prefill(following, exact=True)
            assert model.last_reused == 0
            assert (model._logits(), model._state_bytes()) == warm


@pytest.mark.local_model
@needs
def test_the_reply_is_reusable_at_once_without_background_work(engine: LocalEngine) -> None:
    model = engine._loaded()
    with engine._generate_lock:
        assert model._probe_steps()
    engine.clear_prefixes()
    history: list[dict[str, Any]] = [{"role": "user", "content": "Name a colour."}]
    first = engine.complete({"messages": history, "max_tokens": 8, "temperature": 0})
    assert model.unsettled == 0
    assert engine._settler is None or not engine._settler.is_alive()
    history += [
        {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
        {"role": "user", "content": "And another?"},
    ]
    engine.complete({"messages": history, "max_tokens": 8, "temperature": 0})
    assert model.last_reused >= first["usage"]["prompt_tokens"] + 1


@pytest.mark.local_model
@needs
@pytest.mark.parametrize(
    "options",
    [{}, {"flash_attn": True}],
    ids=["llama.cpp defaults", "flash attention, F16 K"],
)
def test_where_steps_differ_the_probe_says_so_and_replies_are_settled_first(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    """Under llama.cpp's defaults one-token steps differ from batches on this build (and with
    flash attention on an F16 K cache, batches of 64 and more differ from small ones): the
    probe sees it, and replies are evaluated again before reproducible requests reuse them
    (or, where batches differ, not reused by them at all)."""
    if MISSING is not None:
        pytest.skip(MISSING)
    monkeypatch.setattr(llama_module, "_step_exact_options", lambda module: options)
    engine = LocalEngine()
    model = engine._loaded()
    try:
        with engine._generate_lock:
            assert not model._probe_steps()
        assert model.reuse_is_exact() is (not options)  # flash attention, F16 K: not even that
        extra = {"temperature": 0}
        reference = _conversations(engine, extra, fresh=True, settle=False)
        assert _conversations(engine, extra, fresh=False, settle=True) == reference
        assert _conversations(engine, extra, fresh=False, settle=False) == reference
        with engine._generate_lock:
            model.forget()
            prompt = engine._prompt(model, [{"role": "user", "content": "About salt?"}])
            following = _reply_then_next_turn(model, prompt, 12, Sampling(0.0, 1.0, 0))
            assert model.unsettled > 0
            model._prefill(following, exact=True)
            # Not the reply; nothing at all where batches of different sizes differ.
            assert model.last_reused == (len(prompt) if model.reuse_is_exact() else 0)
            warm = (model._logits(), model._state_bytes())
            model.forget()
            model._prefill(following, exact=True)
            assert (model._logits(), model._state_bytes()) == warm
    finally:
        engine.wait_idle()
        model.close()


@pytest.mark.local_model
@needs
def test_next_turn_reuses_the_history_and_its_reply(engine: LocalEngine) -> None:
    model = engine._loaded()
    engine.clear_prefixes()
    history: list[dict[str, Any]] = [{"role": "user", "content": "Name a colour."}]
    first = engine.complete({"messages": history, "max_tokens": 8, "temperature": 0})
    engine.wait_idle()
    assert model.unsettled == 0
    history += [
        {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
        {"role": "user", "content": "And another?"},
    ]
    second = engine.complete({"messages": history, "max_tokens": 8, "temperature": 0})
    # The whole first prompt and (most of) the reply came from the context.
    assert model.last_reused >= first["usage"]["prompt_tokens"]
    assert model.last_reused < second["usage"]["prompt_tokens"]


@pytest.mark.local_model
@needs
def test_other_conversations_keep_their_states_within_the_budget() -> None:
    if MISSING is not None:
        pytest.skip(MISSING)
    long_text = " ".join(f"Fact {i}: the number {i} follows {i - 1}." for i in range(40))
    a = [{"role": "system", "content": "Conversation A. " + long_text}]
    b = [{"role": "system", "content": "Conversation B. " + long_text}]
    ask = [{"role": "user", "content": "Which fact comes first?"}]
    for budget, kept in ((64 * 2**20, True), (0, False)):
        engine = LocalEngine(prefix_cache_bytes=budget)
        model = engine._loaded()
        engine.complete({"messages": a + ask, "max_tokens": 4, "temperature": 0})
        engine.complete({"messages": b + ask, "max_tokens": 4, "temperature": 0})
        engine.wait_idle()
        assert (len(model.saved_states) == 1) is kept
        prompt_a = engine.complete({"messages": a + ask, "max_tokens": 4, "temperature": 0})
        if kept:
            assert model.last_reused >= prompt_a["usage"]["prompt_tokens"] - 12
            assert model.saved_states.bytes <= budget
        else:
            assert model.last_reused < 10
        engine.wait_idle()
        model.close()
