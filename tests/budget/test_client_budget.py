"""Budgets and the ledger on the client, over real HTTP to the fake server: every attempt
reserved before it is sent and settled after, refusals typed, nothing overspent."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from pydantic import BaseModel

import chatlane
from chatlane.testing import Completion, ErrorReply, FakeServer, RawResponse, Stream
from tests.client.conftest import MakeDriver

HI = [{"role": "user", "content": "Say hello to the budget."}]
# $1000 per million tokens both ways: a token is a tenth of a cent.
PRICED = {"m": chatlane.ModelInfo(input_per_mtok=1000.0, output_per_mtok=1000.0)}
CALL: dict[str, Any] = {"model": "m", "messages": HI, "max_tokens": 10}


def test_a_call_is_settled_to_what_the_provider_reported(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    budget, ledger = chatlane.Budget(usd=1.0), chatlane.Ledger()
    server.enqueue(Completion(content="hello there", usage=(20, 2)))
    make_driver(models=PRICED, budget=budget, ledger=ledger).chat(**CALL)
    assert budget.spent_usd == pytest.approx(22 * 0.001)
    assert budget.reserved_usd == 0
    total = ledger.total
    assert (total.requests, total.attempts) == (1, 1)
    assert (total.prompt_tokens, total.completion_tokens) == (20, 2)
    assert total.cost_usd == pytest.approx(0.022)
    assert ledger.by_model["openai-compatible/m"].estimated == 0


def test_an_attempt_that_does_not_fit_is_never_sent(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    budget = chatlane.Budget(usd=0.005)  # the worst case (prompt + 10 tokens) is more
    with pytest.raises(chatlane.BudgetExceeded) as info:
        make_driver(models=PRICED, budget=budget).chat(**CALL)
    assert info.value.requested is not None
    assert server.chat_requests == []
    assert budget.spent_usd == 0


def test_every_retry_is_an_attempt_and_a_refused_one_costs_nothing(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    budget, ledger = chatlane.Budget(usd=1.0), chatlane.Ledger()
    server.enqueue(ErrorReply(503), Completion(content="ok", usage=(10, 1)))
    make_driver(models=PRICED, budget=budget, ledger=ledger).chat(**CALL)
    assert (ledger.total.requests, ledger.total.attempts) == (1, 2)
    assert budget.spent_usd == pytest.approx(0.011)


def test_every_choice_asked_for_is_reserved(make_driver: MakeDriver, server: FakeServer) -> None:
    def requested(**extra: Any) -> float:
        with pytest.raises(chatlane.BudgetExceeded) as info:
            make_driver(models=PRICED, budget=chatlane.Budget(usd=0.001)).chat(**CALL, **extra)
        assert info.value.requested is not None
        return info.value.requested

    one, three = requested(), requested(n=3)
    assert three - one == pytest.approx(2 * 10 * 0.001)  # two more answers of 10 tokens
    uncapped = {**CALL, "max_tokens": None}
    windowed = {
        "m": chatlane.ModelInfo(
            input_per_mtok=1000.0, output_per_mtok=1000.0, context_window=100, max_output_tokens=40
        )
    }
    for extra, output in (({}, 40), ({"n": 2}, 80)):
        with pytest.raises(chatlane.BudgetExceeded) as info:
            make_driver(models=windowed, budget=chatlane.Budget(usd=0.001)).chat(
                **uncapped, **extra
            )
        assert info.value.requested == pytest.approx(one - 0.010 + output * 0.001)
    assert server.chat_requests == []


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("chat", b'{"choices": [{"message": '),  # cut short: it does not decode
        ("stream", b'{"choices": [{"index": 0, "message": {"content": "hi"}}]}'),
    ],
)
def test_a_whole_answer_that_cannot_be_used_is_charged_its_worst_case(
    make_driver: MakeDriver, server: FakeServer, method: str, body: bytes
) -> None:
    budget, ledger = chatlane.Budget(usd=1.0), chatlane.Ledger()
    server.enqueue(RawResponse(body=body, content_type="application/json"))
    driver = make_driver(models=PRICED, budget=budget, ledger=ledger)
    if method == "chat":
        with pytest.raises(chatlane.ResponseDecodeError):
            driver.chat(**CALL)
    else:
        assert isinstance(driver.stream(**CALL).error, chatlane.ResponseDecodeError)
    with pytest.raises(chatlane.BudgetExceeded) as info:
        make_driver(models=PRICED, budget=chatlane.Budget(usd=0.0)).chat(**CALL)
    assert budget.spent_usd == pytest.approx(info.value.requested)  # the billed worst case
    assert budget.reserved_usd == 0
    assert (ledger.total.attempts, ledger.total.estimated) == (1, 1)


def test_a_count_sent_in_extra_body_is_reserved(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    def requested(**extra: Any) -> float:
        with pytest.raises(chatlane.BudgetExceeded) as info:
            make_driver(models=PRICED, budget=chatlane.Budget(usd=0.001)).chat(**CALL, **extra)
        assert info.value.requested is not None
        return info.value.requested

    one = requested()
    assert requested(extra_body={"n": 3}) - one == pytest.approx(2 * 10 * 0.001)
    uncapped = {**CALL, "max_tokens": None}
    with pytest.raises(chatlane.BudgetExceeded) as info:
        make_driver(models=PRICED, budget=chatlane.Budget(usd=0.001)).chat(
            **uncapped,
            extra_body={"max_tokens": 30, "n": "2"},  # not a count: one answer
        )
    assert info.value.requested == pytest.approx(one + 20 * 0.001)


def test_the_ledger_alone_charges_an_unusable_answer_its_worst_case(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    ledger = chatlane.Ledger()
    server.enqueue(RawResponse(body=b'{"choices": [', content_type="application/json"))
    with pytest.raises(chatlane.ResponseDecodeError):
        make_driver(models=PRICED, ledger=ledger).chat(**CALL)
    with pytest.raises(chatlane.BudgetExceeded) as info:
        make_driver(models=PRICED, budget=chatlane.Budget(usd=0.0)).chat(**CALL)
    assert ledger.total.cost_usd == pytest.approx(info.value.requested)


def test_an_answer_a_middleware_failed_after_is_charged_what_it_reported(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    class Refusing(chatlane.Middleware):
        def around_attempt(self, call: Any, proceed: Any) -> Any:
            yield from proceed(call)
            raise chatlane.UsageError("this answer will not do")

    budget = chatlane.Budget(usd=1.0)
    server.enqueue(Completion(content="ok", usage=(3, 1)))
    with pytest.raises(chatlane.UsageError):
        make_driver(models=PRICED, budget=budget, middleware=[Refusing()]).chat(**CALL)
    assert budget.spent_usd == pytest.approx(4 * 0.001)
    assert budget.reserved_usd == 0


def test_an_error_event_opening_a_stream_costs_nothing(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    budget, ledger = chatlane.Budget(usd=1.0), chatlane.Ledger()
    overloaded = b'data: {"error": {"message": "busy", "type": "overloaded_error"}}\n\n'
    server.enqueue(RawResponse(body=overloaded), Stream(chunks=["ok"], usage=(8, 2)))
    run = make_driver(models=PRICED, budget=budget, ledger=ledger).stream(**CALL)
    assert run.error is None
    assert run.attempts == 2
    assert budget.spent_usd == pytest.approx(0.010)  # the answer only: the refusal was free
    assert ledger.total.attempts == 2


def test_an_error_chunk_with_negative_usage_is_settled_at_no_less_than_zero(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    budget, ledger = chatlane.Budget(usd=1.0), chatlane.Ledger()
    usage = {"prompt_tokens": -900, "completion_tokens": 1, "total_tokens": -899}
    event = {"error": {"message": "boom", "status_code": 400}, "usage": usage}
    server.enqueue(RawResponse(body=b"data: " + json.dumps(event).encode() + b"\n\n"))
    run = make_driver(models=PRICED, budget=budget, ledger=ledger).stream(**CALL)
    assert isinstance(run.error, chatlane.StreamError)
    assert budget.reserved_usd == 0
    assert budget.spent_usd == pytest.approx(0.001)  # the one token it reported
    assert ledger.total.prompt_tokens == 0
    assert ledger.total.cost_usd == pytest.approx(0.001)


def test_a_model_without_a_price_is_refused_by_a_dollar_budget(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    with pytest.raises(chatlane.UnknownPriceError, match="ModelInfo") as info:
        make_driver(budget=chatlane.Budget(usd=1.0)).chat(**CALL)
    assert "m" in str(info.value)
    assert server.chat_requests == []
    tokens_only = chatlane.Budget(usd=1.0, tokens=1000, on_unknown_price="tokens_only")
    server.enqueue(Completion(content="ok", usage=(5, 1)))
    make_driver(budget=tokens_only).chat(**CALL)
    assert tokens_only.spent_tokens == 6


def test_unknown_usage_is_estimated_never_zero(make_driver: MakeDriver, server: FakeServer) -> None:
    ledger = chatlane.Ledger()
    server.enqueue(Completion(content="an answer of some words", usage=None))
    make_driver(models=PRICED, ledger=ledger).chat(**CALL)
    total = ledger.total
    assert total.estimated == 1
    assert total.prompt_tokens > 0
    assert total.completion_tokens > 0
    assert total.cost_usd > 0


def test_a_stream_is_settled_too(make_driver: MakeDriver, server: FakeServer) -> None:
    budget = chatlane.Budget(usd=1.0)
    server.enqueue(Stream(chunks=["one ", "two"], usage=(8, 2)))
    run = make_driver(models=PRICED, budget=budget).stream(
        **CALL, stream_options={"include_usage": True}
    )
    assert run.error is None
    assert budget.spent_usd == pytest.approx(0.010)
    assert budget.reserved_usd == 0


def test_a_scope_and_a_call_budget_count_besides_the_clients(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    client_budget, scoped, per_call = (chatlane.Budget(usd=1.0) for _ in range(3))
    server.enqueue(*[Completion(content="ok", usage=(4, 1))] * 2)
    driver = make_driver(models=PRICED, budget=client_budget)
    with chatlane.budget_scope(scoped):
        driver.chat(**CALL, budget=per_call)
    driver.chat(**CALL)
    assert client_budget.spent_usd == pytest.approx(0.010)
    assert scoped.spent_usd == pytest.approx(0.005)
    assert per_call.spent_usd == pytest.approx(0.005)


def test_a_scope_counts_on_a_client_without_a_budget(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    scoped = chatlane.Budget(usd=0.005)
    with chatlane.budget_scope(scoped), pytest.raises(chatlane.BudgetExceeded):
        make_driver(models=PRICED).chat(**CALL)
    assert server.chat_requests == []


class Greeting(BaseModel):
    text: str


def test_every_reask_of_a_structured_parse_counts(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    ledger = chatlane.Ledger()
    server.enqueue(
        Completion(content="not json", usage=(10, 2)),
        Completion(content='{"text": "hi"}', usage=(30, 5)),
    )
    parsed = make_driver(models=PRICED, ledger=ledger).call(
        "parse", **CALL, response_model=Greeting, temperature=0
    )
    assert parsed.output == Greeting(text="hi")
    assert (ledger.total.requests, ledger.total.attempts) == (2, 2)
    assert ledger.total.cost_usd == pytest.approx(0.047)


def test_concurrent_calls_never_overspend(server: FakeServer) -> None:
    budget = chatlane.Budget(usd=0.05)
    server.enqueue(*[Completion(content="ok", usage=(8, 1), delay=0.01)] * 200)

    async def run() -> list[Any]:
        async with chatlane.AsyncClient(
            base_url=server.url, models=PRICED, budget=budget, max_retries=0
        ) as client:
            return await asyncio.gather(
                *[client.chat(**CALL) for _ in range(200)], return_exceptions=True
            )

    results = asyncio.run(run())
    refused = [r for r in results if isinstance(r, BaseException)]
    answered = [r for r in results if isinstance(r, chatlane.ChatCompletion)]
    assert all(isinstance(r, chatlane.BudgetExceeded) for r in refused)
    assert answered
    assert refused
    assert budget.spent_usd <= 0.05
    assert budget.spent_usd == pytest.approx(len(answered) * 0.009)


def test_the_client_offers_its_ledger() -> None:
    ledger = chatlane.Ledger()
    with chatlane.Client(base_url="http://127.0.0.1:9/v1", ledger=ledger) as client:
        assert client.ledger is ledger
    with pytest.raises(chatlane.ConfigurationError, match="ledger"):
        chatlane.Client(base_url="http://127.0.0.1:9/v1", ledger={})  # type: ignore[arg-type]
    with pytest.raises(chatlane.ConfigurationError, match="budget"):
        chatlane.Client(base_url="http://127.0.0.1:9/v1", budget=5)  # type: ignore[arg-type]


def test_every_turn_of_an_agent_run_counts_in_a_scope(server: FakeServer) -> None:
    from chatlane.testing import ToolCallSpec

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    scoped, ledger = chatlane.Budget(usd=1.0), chatlane.Ledger()
    server.enqueue(
        Completion(content=None, tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})], usage=(20, 5)),
        Completion(content="5", usage=(30, 1)),
    )
    with chatlane.Client(base_url=server.url, models=PRICED, ledger=ledger) as client:
        agent = chatlane.Agent(
            client, model="m", tools=[add], params={"max_tokens": 10}, trim=False
        )
        with chatlane.budget_scope(scoped):
            result = agent.run("What is 2 + 3?")
    assert result.text == "5"
    assert (ledger.total.requests, ledger.total.attempts) == (2, 2)
    assert scoped.spent_usd == pytest.approx(0.056)
    assert ledger.total.cost_usd == pytest.approx(0.056)


@pytest.mark.redis
def test_an_answer_is_never_lost_to_a_budget_that_went_away(
    server: FakeServer, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from tests.redis_kit import start_redis

    redis = start_redis(tmp_path)
    budget = chatlane.RedisBudget(redis.url, name="gone", usd=1.0)
    server.enqueue(Completion(content="kept", usage=(4, 1), delay=0.5))
    stopper = threading.Timer(0.2, redis.stop)  # Redis stops while the answer is on its way
    stopper.start()
    with (
        caplog.at_level(logging.WARNING, logger="chatlane.budget"),
        chatlane.Client(base_url=server.url, models=PRICED, budget=budget) as client,
    ):
        reply = client.chat(**CALL)
    stopper.join()
    budget.close()
    assert reply.text == "kept"
    assert any("settle" in record.getMessage() for record in caplog.records)
