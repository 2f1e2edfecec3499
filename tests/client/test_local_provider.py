"""The embedded model through the real clients: same surface as a remote provider."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import jsonschema
import pytest

import chatlane

pytestmark = pytest.mark.local_model

MODEL = "local/smollm2"
ASK = [{"role": "user", "content": "Name a colour."}]
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "days", "unit"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture(scope="module")
def local() -> Any:
    with chatlane.Client() as client:  # nothing configured: the embedded model
        yield client


def test_chat_with_usage_and_finish_reason(local: chatlane.Client) -> None:
    reply = local.chat(model=MODEL, messages=ASK, max_tokens=8, temperature=0)
    assert reply.model == "smollm2"
    assert reply.text
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage is not None
    assert reply.usage.completion_tokens <= 8
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert reply.latency > 0


def test_stream_has_timing_and_a_final_usage_chunk(local: chatlane.Client) -> None:
    with local.stream(model=MODEL, messages=ASK, max_tokens=12, temperature=0) as stream:
        chunks = list(stream)
    assert chunks[-1].is_last_chunk
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == stream.final().usage.completion_tokens  # type: ignore[union-attr]
    assert all(c.total_latency >= c.chunk_latency >= 0 for c in chunks)
    summary = stream.summary()
    assert summary.time_to_first_token is not None
    assert summary.usage_reported
    assert summary.tokens_per_second is not None


def test_forced_tool_call_is_well_formed(local: chatlane.Client) -> None:
    reply = local.chat(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Paris for 3 days?"}],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=64,
    )
    assert reply.choices[0].finish_reason == "tool_calls"
    message = reply.assistant_message()
    assert message is not None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])


def test_unknown_model_and_bad_requests_are_typed_errors(local: chatlane.Client) -> None:
    with pytest.raises(chatlane.NotFoundError):
        local.chat(model="local/other", messages=ASK)
    with pytest.raises(chatlane.BadRequestError):
        local.chat(model=MODEL, messages=ASK, n=2)


def test_missing_model_file_is_a_clear_error(tmp_path: Any) -> None:
    missing = tmp_path / "nope.gguf"
    settings = chatlane.LocalModel(model_path=str(missing))
    with (
        chatlane.Client(local_model=settings) as client,
        pytest.raises(chatlane.ConfigurationError, match=r"nope\.gguf"),
    ):
        client.chat(model="local/nope", messages=ASK)


def test_eight_threads_share_the_model(local: chatlane.Client) -> None:
    failures: list[BaseException] = []
    texts: list[str] = []

    def work() -> None:
        try:
            with local.stream(model=MODEL, messages=ASK, max_tokens=6) as stream:
                texts.append(stream.final().text)
        except BaseException as exc:  # collected, asserted below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(texts) == 8


def test_eight_tasks_share_the_model_without_blocking_the_loop() -> None:
    async def main() -> tuple[list[chatlane.ChatCompletion], int]:
        ticks = 0

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(heartbeat())
        async with chatlane.AsyncClient() as client:
            replies = await asyncio.gather(
                *(client.chat(model=MODEL, messages=ASK, max_tokens=6) for _ in range(8))
            )
        beat.cancel()
        return replies, ticks

    replies, ticks = asyncio.run(main())
    assert all(reply.usage is not None and reply.usage.completion_tokens >= 1 for reply in replies)
    assert ticks >= 5  # the event loop kept running while the model generated
