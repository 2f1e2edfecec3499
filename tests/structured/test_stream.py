"""parse_stream(): partial objects while the JSON streams in, the validated one at the end."""

from __future__ import annotations

import asyncio
import json

import pytest

import chatlane
from chatlane.structured import OutputRefusedError, OutputTruncatedError
from chatlane.testing import Completion, FakeServer, Stream, ToolCallSpec
from tests.conftest import API_KEY
from tests.structured.drivers import Driver
from tests.structured.models import GOOD, Item, Sentiment

ASK = [{"role": "user", "content": "The product is great. What is the sentiment?"}]
PIECES = [
    '{"label": "pos',
    'itive", "sc',
    'ore": 0.',
    '9, "reason": "It pra',
    'ises the product."}',
]


def test_partials_grow_and_the_end_is_validated(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Stream(chunks=PIECES, usage=(11, 5)))
    run = driver.parse_stream(model="m", messages=ASK, response_model=Sentiment)
    assert run.error is None
    assert run.result is not None
    assert run.result.output == Sentiment.model_validate(GOOD)
    assert run.result.usage.total_tokens == 16
    assert run.partials == [
        {"label": "pos"},
        {"label": "positive"},
        {"label": "positive", "score": 0.9, "reason": "It pra"},
        GOOD,
    ]  # no partial for "sc" (a key being written) or "0." (a number that may go on)
    assert set(run.attempts) == {1}
    assert server.chat_requests[0].json()["stream"] is True


def test_tool_mode_partials_come_from_the_arguments(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Completion(content=None, tool_calls=[ToolCallSpec("Sentiment", GOOD)]))
    run = driver.parse_stream(model="m", messages=ASK, response_model=Sentiment, mode="tools")
    assert run.result is not None
    assert run.result.output == Sentiment.model_validate(GOOD)
    assert len(run.partials) > 3  # the fake server sends arguments in 8-character pieces
    assert run.partials[-1] == GOOD
    assert all(set(partial) <= set(GOOD) for partial in run.partials)


def test_a_wrapped_model_streams_the_partial_value(driver: Driver, server: FakeServer) -> None:
    server.enqueue(
        Stream(
            chunks=['{"value": [{"sku": "A", "qu', 'antity": 1}, {"sku"', ': "B", "quantity": 2}]}']
        )
    )
    run = driver.parse_stream(model="m", messages=ASK, response_model=list[Item])
    assert run.partials[0] == [{"sku": "A"}]
    assert run.partials[-1] == [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}]
    assert run.result is not None
    assert run.result.output[1] == Item(sku="B", quantity=2)


def test_a_failed_attempt_streams_again(driver: Driver, server: FakeServer) -> None:
    server.enqueue(
        Stream(chunks=['{"label": "great", ', '"score": 2, "reason": "x"}']),
        Stream(chunks=PIECES),
    )
    run = driver.parse_stream(model="m", messages=ASK, response_model=Sentiment)
    assert run.result is not None
    assert run.result.attempts == 2
    assert run.attempts[0] == 1
    assert run.attempts[-1] == 2
    assert run.partials[run.attempts.index(2)] == {"label": "pos"}  # partials start over
    retry = server.chat_requests[1].json()["messages"]
    assert retry[-2]["content"] == '{"label": "great", "score": 2, "reason": "x"}'


def test_a_streamed_refusal(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Completion(content=None, refusal="I won't rate that."))
    run = driver.parse_stream(model="m", messages=ASK, response_model=Sentiment)
    assert isinstance(run.error, OutputRefusedError)
    assert run.error.refusal == "I won't rate that."
    assert run.partials == []


def test_a_streamed_truncation_keeps_the_partials(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Stream(chunks=PIECES[:3], finish_reason="length"))
    run = driver.parse_stream(model="m", messages=ASK, response_model=Sentiment)
    assert isinstance(run.error, OutputTruncatedError)
    assert run.error.outputs == ("".join(PIECES[:3]),)
    assert run.partials[-1] == {"label": "positive"}
    assert len(server.chat_requests) == 1


def test_final_reads_the_rest_after_a_break(server: FakeServer, client: chatlane.Client) -> None:
    server.enqueue(Stream(chunks=PIECES))
    with client.parse_stream(model="m", messages=ASK, response_model=Sentiment) as stream:
        for _ in stream:
            break
        assert stream.final().output == Sentiment.model_validate(GOOD)


def test_final_after_close_is_a_usage_error(server: FakeServer, client: chatlane.Client) -> None:
    server.enqueue(Stream(chunks=PIECES))
    stream = client.parse_stream(model="m", messages=ASK, response_model=Sentiment)
    next(iter(stream))
    stream.close()
    with pytest.raises(chatlane.UsageError, match="closed"):
        stream.final()


def test_final_after_the_with_block_as_in_the_readme(
    server: FakeServer, client: chatlane.Client
) -> None:
    server.enqueue(Stream(chunks=PIECES))
    with client.parse_stream(model="m", messages=ASK, response_model=Sentiment) as stream:
        partials = list(stream)
    assert partials[-1] == GOOD
    assert stream.final().output == Sentiment.model_validate(GOOD)


def test_closed_before_iterating_sends_nothing(server: FakeServer, client: chatlane.Client) -> None:
    stream = client.parse_stream(model="m", messages=ASK, response_model=Sentiment)
    stream.close()
    assert list(stream) == []
    with pytest.raises(chatlane.UsageError, match="closed"):
        stream.final()

    async def run() -> None:
        async with chatlane.AsyncClient(base_url=server.url, api_key=API_KEY) as client:
            stream = client.parse_stream(model="m", messages=ASK, response_model=Sentiment)
            await stream.close()
            assert [partial async for partial in stream] == []
            with pytest.raises(chatlane.UsageError, match="closed"):
                await stream.final()

    asyncio.run(run())
    assert server.chat_requests == []


def test_async_final_without_iterating(server: FakeServer) -> None:
    server.enqueue(Stream(chunks=PIECES))

    async def run() -> Sentiment:
        async with (
            chatlane.AsyncClient(base_url=server.url, api_key=API_KEY) as client,
            client.parse_stream(model="m", messages=ASK, response_model=Sentiment) as stream,
        ):
            return (await stream.final()).output

    assert asyncio.run(run()) == Sentiment.model_validate(GOOD)
    assert json.loads(server.chat_requests[0].body)["stream"] is True
