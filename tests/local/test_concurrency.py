"""One model shared by many threads: no crash, no interleaving, streams that let go."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chatlane.local import LocalEngine
from tests.local.helpers import accumulate, user

pytestmark = pytest.mark.local_model

TOPICS = ["cats", "rain", "bread", "music", "trees", "stars", "boats", "tea"]


def request_for(topic: str) -> dict[str, Any]:
    return {"messages": user(f"Say one thing about {topic}."), "max_tokens": 8, "temperature": 0}


def test_eight_threads_get_their_own_answers(engine: LocalEngine) -> None:
    # Greedy answers, one by one, are the reference: under concurrency each thread must get
    # exactly its own text back, whole, whether it asked for a completion or a stream.
    expected = {
        t: engine.complete(request_for(t))["choices"][0]["message"]["content"] for t in TOPICS
    }

    def ask(index: int) -> tuple[str, str]:
        topic = TOPICS[index]
        if index % 2:
            content, _, finish = accumulate(list(engine.stream(request_for(topic))))
            assert finish in {"stop", "length"}
            return topic, content
        result = engine.complete(request_for(topic))
        return topic, result["choices"][0]["message"]["content"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = dict(pool.map(ask, range(8)))
    assert answers == expected


def test_closing_a_stream_early_releases_the_model(engine: LocalEngine) -> None:
    stream = engine.stream(
        {"messages": user("Write a long story about a dragon."), "max_tokens": 400}
    )
    first, second = next(stream), next(stream)
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert second["choices"][0]["delta"].get("content") is not None
    stream.close()

    done = threading.Event()
    results: list[dict[str, Any]] = []

    def follow_up() -> None:
        results.append(engine.complete({"messages": user("hi"), "max_tokens": 3}))
        done.set()

    worker = threading.Thread(target=follow_up, daemon=True)
    worker.start()
    assert done.wait(timeout=30), "the closed stream still holds the model"
    assert results[0]["usage"]["completion_tokens"] >= 1


def test_abandoned_stream_is_released_when_collected(engine: LocalEngine) -> None:
    stream = engine.stream({"messages": user("Count to one hundred."), "max_tokens": 400})
    next(stream)
    next(stream)
    del stream  # dropped mid-generation without close()
    result = engine.complete({"messages": user("hi"), "max_tokens": 2})
    assert result["usage"]["completion_tokens"] >= 1


def test_a_stream_not_yet_started_holds_nothing(engine: LocalEngine) -> None:
    pending = engine.stream({"messages": user("hi"), "max_tokens": 2})
    assert engine.complete({"messages": user("hi"), "max_tokens": 2})["choices"]
    assert list(pending)[-1]["choices"][0]["finish_reason"] in {"stop", "length"}
