"""parse(): validated instances over real HTTP to the fake server, sync and async."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest

import chatlane
from chatlane.structured import (
    OutputRefusedError,
    OutputSchemaError,
    OutputTruncatedError,
    OutputValidationError,
    StructuredOutputWarning,
)
from chatlane.testing import Completion, ErrorReply, FakeServer, ToolCallSpec
from chatlane.tokens import estimate_cost
from tests.structured.conftest import MakeDriver
from tests.structured.drivers import Driver
from tests.structured.models import (
    GOOD,
    ORDER,
    Item,
    Loud,
    Order,
    Person,
    Point,
    Priority,
    Sentiment,
    WithDict,
    schema_objects,
)

ASK = [{"role": "user", "content": "The product is great. What is the sentiment?"}]


def body(server: FakeServer, index: int = -1) -> dict[str, Any]:
    data: dict[str, Any] = server.chat_requests[index].json()
    return data


def test_valid_first_answer(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Completion(content=json.dumps(GOOD), usage=(12, 7)))
    result = driver.parse(model="m", messages=ASK, response_model=Sentiment, temperature=0)
    assert result.output == Sentiment.model_validate(GOOD)
    assert (result.attempts, result.errors, result.mode, result.strict) == (
        1,
        (),
        "json_schema",
        True,
    )
    assert result.completion is result.completions[0]
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (12, 7)
    sent = body(server)
    assert sent["messages"] == ASK
    assert sent["temperature"] == 0
    spec = sent["response_format"]["json_schema"]
    assert sent["response_format"]["type"] == "json_schema"
    assert (spec["name"], spec["strict"]) == ("Sentiment", True)
    assert spec["schema"]["additionalProperties"] is False
    assert spec["schema"]["required"] == ["label", "score", "reason"]
    # maxLength is not in the strict dialect: it reaches the model as words instead.
    assert "maxLength" not in spec["schema"]["properties"]["reason"]
    assert "80" in spec["schema"]["properties"]["reason"]["description"]


def test_nested_models_lists_enums_unions_and_optionals(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Completion(content=json.dumps(ORDER)))
    result = driver.parse(model="m", messages=ASK, response_model=Order)
    order = result.output
    assert order.items == [Item(sku="A-1", quantity=2)]
    assert order.priority is Priority.HIGH
    assert order.pet.kind == "dog"
    assert order.tags == []  # null for an optional field: its default applies
    schema = body(server)["response_format"]["json_schema"]["schema"]
    for node in schema_objects(schema):
        assert node["additionalProperties"] is False, node
        assert node["required"] == list(node["properties"]), node
    assert "oneOf" not in json.dumps(schema)


def test_invalid_then_valid_reasks_with_only_the_last_answer(
    driver: Driver, server: FakeServer
) -> None:
    not_json = '{"label": "positive", "score": 0.9,'
    wrong = json.dumps({**GOOD, "label": "great", "score": 7})
    server.enqueue(
        Completion(content=not_json, usage=(10, 5)),
        Completion(content=wrong, usage=(40, 9)),
        Completion(content=json.dumps(GOOD), usage=(45, 8)),
    )
    result = driver.parse(model="m", messages=ASK, response_model=Sentiment, max_attempts=3)
    assert result.output.label == "positive"
    assert result.attempts == 3
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (95, 22)
    assert result.usage.total_tokens == 117
    assert "JSON" in result.errors[0] or "EOF" in result.errors[0]
    assert "label" in result.errors[1]
    assert "score" in result.errors[1]
    second, third = body(server, 1), body(server, 2)
    assert second["messages"][:1] == third["messages"][:1] == ASK
    assert second["messages"][1] == {"role": "assistant", "content": not_json}
    assert third["messages"][1] == {"role": "assistant", "content": wrong}
    feedback = third["messages"][2]
    assert feedback["role"] == "user"
    assert "'positive', 'negative' or 'neutral'" in feedback["content"]
    assert "less than or equal to 1" in feedback["content"]
    # The prompt does not grow: the first failure is not carried into the third attempt.
    assert len(third["messages"]) == len(second["messages"]) == 3
    assert not_json not in json.dumps(third["messages"])
    assert third["response_format"] == body(server, 0)["response_format"]


def test_a_validator_error_is_reasked(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Completion(content='{"word": "quiet"}'), Completion(content='{"word": "LOUD"}'))
    result = driver.parse(model="m", messages=ASK, response_model=Loud)
    assert result.output.word == "LOUD"
    assert "must be in capital letters" in body(server)["messages"][-1]["content"]


def test_always_invalid_raises_with_every_error_output_and_token(
    driver: Driver, server: FakeServer
) -> None:
    outputs = ['{"label": 1}', "Sure! Here is the JSON you asked for."]
    server.enqueue(Completion(content=outputs[0], usage=(10, 3)))
    server.enqueue(Completion(content=outputs[1], usage=(20, 8)))
    with pytest.raises(OutputValidationError) as caught:
        driver.parse(model="m", messages=ASK, response_model=Sentiment, max_attempts=2)
    error = caught.value
    assert len(server.chat_requests) == 2
    assert error.outputs == tuple(outputs)
    assert len(error.errors) == len(error.completions) == error.attempts == 2
    assert "label" in error.errors[0]
    assert "score" in error.errors[0]
    assert (error.usage.prompt_tokens, error.usage.completion_tokens) == (30, 11)
    assert (error.provider, error.model) == ("openai-compatible", "m")
    assert "2 attempts" in str(error)
    assert isinstance(error, chatlane.ChatlaneError)


def test_a_failed_parse_reports_the_cost_of_every_attempt(
    driver: Driver, server: FakeServer
) -> None:
    server.enqueue(Completion(content="no", usage=(1000, 100)))
    server.enqueue(Completion(content="still no", usage=(2000, 300)))
    with pytest.raises(OutputValidationError) as caught:
        driver.parse(model="gpt-4o-mini", messages=ASK, response_model=Sentiment, max_attempts=2)
    both = estimate_cost({"prompt_tokens": 3000, "completion_tokens": 400}, "gpt-4o-mini")
    assert both is not None
    assert both > 0
    assert caught.value.cost == pytest.approx(both)


def test_a_refusal_is_its_own_error_and_not_reasked(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Completion(content=None, refusal="I can't help with that.", usage=(9, 6)))
    with pytest.raises(OutputRefusedError) as caught:
        driver.parse(model="m", messages=ASK, response_model=Sentiment)
    assert caught.value.refusal == "I can't help with that."
    assert caught.value.usage.total_tokens == 15
    assert len(server.chat_requests) == 1


def test_a_content_filter_stop_is_a_refusal(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Completion(content="", finish_reason="content_filter"))
    with pytest.raises(OutputRefusedError) as caught:
        driver.parse(model="m", messages=ASK, response_model=Sentiment)
    assert caught.value.refusal == "content_filter"


def test_a_truncated_answer_is_its_own_error_and_not_reasked(
    driver: Driver, server: FakeServer
) -> None:
    cut = '{"label": "positive", "score": 0.9, "reason": "It prai'
    server.enqueue(Completion(content=cut, finish_reason="length"))
    with pytest.raises(OutputTruncatedError) as caught:
        driver.parse(model="m", messages=ASK, response_model=Sentiment, max_tokens=20)
    assert caught.value.outputs == (cut,)
    assert "max_tokens" in str(caught.value)
    assert len(server.chat_requests) == 1


def test_a_complete_answer_at_the_token_limit_is_accepted(
    driver: Driver, server: FakeServer
) -> None:
    server.enqueue(Completion(content=json.dumps(GOOD), finish_reason="length"))
    assert driver.parse(model="m", messages=ASK, response_model=Sentiment).output.score == 0.9


def test_tool_mode_forces_one_tool_and_reasks_through_a_tool_result(
    driver: Driver, server: FakeServer
) -> None:
    server.enqueue(
        Completion(
            content=None, tool_calls=[ToolCallSpec("Sentiment", {**GOOD, "score": 3}, "call_1")]
        ),
        Completion(content=None, tool_calls=[ToolCallSpec("Sentiment", GOOD, "call_2")]),
    )
    result = driver.parse(model="m", messages=ASK, response_model=Sentiment, mode="tools")
    assert result.output == Sentiment.model_validate(GOOD)
    assert result.mode == "tools"
    first, second = body(server, 0), body(server, 1)
    assert "response_format" not in first
    (tool,) = first["tools"]
    assert tool["function"]["name"] == "Sentiment"
    assert tool["function"]["strict"] is True
    assert tool["function"]["parameters"]["additionalProperties"] is False
    assert first["tool_choice"] == {"type": "function", "function": {"name": "Sentiment"}}
    assert first["parallel_tool_calls"] is False
    call, result_message = second["messages"][-2:]
    assert call["tool_calls"][0]["id"] == "call_1"
    assert result_message["role"] == "tool"
    assert result_message["tool_call_id"] == "call_1"
    assert "score" in result_message["content"]


def test_tool_mode_answer_without_the_call_is_reasked(driver: Driver, server: FakeServer) -> None:
    server.enqueue(
        Completion(content="It is positive."),
        Completion(content=None, tool_calls=[ToolCallSpec("Sentiment", GOOD)]),
    )
    result = driver.parse(model="m", messages=ASK, response_model=Sentiment, mode="tools")
    assert result.errors == ("the answer did not call the Sentiment tool",)
    assert body(server)["messages"][-2] == {"role": "assistant", "content": "It is positive."}


def test_json_object_mode_puts_the_schema_in_the_system_prompt(
    driver: Driver, server: FakeServer
) -> None:
    fenced = "```json\n" + json.dumps(GOOD) + "\n```"
    server.enqueue(Completion(content=fenced))
    messages = [{"role": "system", "content": "You rate reviews."}, *ASK]
    result = driver.parse(
        model="m", messages=messages, response_model=Sentiment, mode="json_object"
    )
    assert result.output == Sentiment.model_validate(GOOD)
    assert (result.mode, result.strict) == ("json_object", False)
    sent = body(server)
    assert sent["response_format"] == {"type": "json_object"}
    system, *rest = sent["messages"]
    assert rest == ASK  # still one system message, first
    assert system["content"].startswith("You rate reviews.\n\n")
    schema = json.loads(system["content"].rsplit("\n", 1)[1])
    assert schema == Sentiment.model_json_schema()  # pydantic's, constraints and all


@pytest.mark.parametrize(
    ("provider", "model", "mode"),
    [
        ("anthropic", "claude-sonnet-4-5", "tools"),
        ("deepseek", "deepseek-chat", "json_object"),
        ("groq", "llama-3.3-70b-versatile", "json_object"),
        ("openai", "gpt-3.5-turbo", "json_object"),
        ("openai", "gpt-4o-mini", "json_schema"),
        ("mistral", "mistral-small-latest", "json_schema"),
    ],
)
def test_the_provider_profile_picks_the_mode(
    make_driver: MakeDriver, server: FakeServer, provider: str, model: str, mode: str
) -> None:
    server.enqueue(
        Completion(content=json.dumps(GOOD), tool_calls=[ToolCallSpec("Sentiment", GOOD)])
    )
    driver = make_driver(provider=provider)
    assert driver.parse(model=model, messages=ASK, response_model=Sentiment).mode == mode
    sent = body(server)
    if mode == "tools":
        assert sent["tool_choice"]["function"]["name"] == "Sentiment"
    else:
        assert sent["response_format"]["type"] == mode


def test_a_model_without_a_strict_form_is_an_error_naming_the_field(
    driver: Driver, server: FakeServer
) -> None:
    with pytest.raises(chatlane.StrictSchemaError) as caught:
        driver.parse(model="m", messages=ASK, response_model=WithDict)
    assert caught.value.field == "scores"
    assert "scores" in str(caught.value)
    assert "strict=False" in str(caught.value)
    assert isinstance(caught.value, chatlane.UsageError)
    assert server.chat_requests == []


def test_strict_false_sends_pydantics_schema(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Completion(content='{"name": "a", "scores": {"x": 1}}'))
    result = driver.parse(model="m", messages=ASK, response_model=WithDict, strict=False)
    assert result.output.scores == {"x": 1}
    spec = body(server)["response_format"]["json_schema"]
    assert spec["strict"] is False
    assert spec["schema"] == WithDict.model_json_schema()


def test_strict_fallback_warns_and_sends_without_strict(driver: Driver, server: FakeServer) -> None:
    server.enqueue(Completion(content='{"name": "a", "scores": {}}'))
    with pytest.warns(StructuredOutputWarning, match="scores"):
        result = driver.parse(model="m", messages=ASK, response_model=WithDict, strict="fallback")
    assert result.strict is False
    assert body(server)["response_format"]["json_schema"]["strict"] is False


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"tools": []}, "tools"),
        ({"n": 2}, "n"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"mode": "xml"}, "mode"),
        ({"strict": "yes"}, "strict"),
    ],
)
def test_misuse_is_named_before_anything_is_sent(
    driver: Driver, server: FakeServer, extra: dict[str, Any], field: str
) -> None:
    with pytest.raises(chatlane.RequestValidationError) as caught:
        driver.parse(model="m", messages=ASK, response_model=Sentiment, **extra)
    assert caught.value.field == field
    assert server.chat_requests == []


def test_a_type_pydantic_cannot_validate_is_a_schema_error(driver: Driver) -> None:
    with pytest.raises(OutputSchemaError, match="response_model"):
        driver.parse(model="m", messages=ASK, response_model=object())


def test_dataclasses_and_typeddicts(driver: Driver, server: FakeServer) -> None:
    server.enqueue(
        Completion(content='{"x": 1, "y": 2}'), Completion(content='{"name": "Ana", "age": 31}')
    )
    assert driver.parse(model="m", messages=ASK, response_model=Point).output == Point(1, 2)
    person: Person = driver.parse(model="m", messages=ASK, response_model=Person).output
    assert person == {"name": "Ana", "age": 31}
    assert body(server)["response_format"]["json_schema"]["name"] == "Person"


def test_a_model_that_is_not_an_object_travels_wrapped(driver: Driver, server: FakeServer) -> None:
    server.enqueue(
        Completion(content='{"value": [{"sku": "A", "quantity": 1}]}'),
        Completion(content='{"value": "no"}'),
    )
    items = driver.parse(model="m", messages=ASK, response_model=list[Item]).output
    assert items == [Item(sku="A", quantity=1)]
    schema = body(server)["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["value"]
    assert schema["properties"]["value"]["type"] == "array"
    answer: Any = Literal["yes", "no"]
    assert driver.parse(model="m", messages=ASK, response_model=answer).output == "no"


def test_cost_covers_every_attempt(driver: Driver, server: FakeServer) -> None:
    server.enqueue(
        Completion(content="{}", usage=(1000, 200)),
        Completion(content=json.dumps(GOOD), usage=(1200, 100)),
    )
    result = driver.parse(model="gpt-4o-mini", messages=ASK, response_model=Sentiment)
    assert result.cost is not None
    assert result.cost > 0
    assert result.cost == estimate_cost(
        {"prompt_tokens": 2200, "completion_tokens": 300, "total_tokens": 2500}, "gpt-4o-mini"
    )
    server.enqueue(Completion(content=json.dumps(GOOD)))
    unknown = driver.parse(model="no-such-model", messages=ASK, response_model=Sentiment)
    assert unknown.cost is None


REFUSED = ErrorReply(
    500, message="[{'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text'\"}]"
)


def test_a_server_of_unknown_kind_refusing_json_schema_is_asked_in_tools_mode(
    driver: Driver, server: FakeServer
) -> None:
    # A 500 is retried first (the retry policy cannot tell it apart), then the mode changes.
    tool_reply = Completion(content=None, tool_calls=[ToolCallSpec("Sentiment", GOOD)])
    server.enqueue(*[REFUSED] * 3, tool_reply)
    result = driver.parse(model="m", messages=ASK, response_model=Sentiment)
    assert (result.output, result.mode) == (Sentiment.model_validate(GOOD), "tools")
    assert len(result.completions) == 1
    assert body(server, 0)["response_format"]["type"] == "json_schema"
    assert "response_format" not in body(server, 3)
    assert body(server, 3)["tools"][0]["function"]["name"] == "Sentiment"


def test_a_streamed_parse_refused_json_schema_is_asked_in_tools_mode(
    driver: Driver, server: FakeServer
) -> None:
    tool_reply = Completion(content=None, tool_calls=[ToolCallSpec("Sentiment", GOOD)])
    server.enqueue(*[REFUSED] * 3, tool_reply)
    run = driver.parse_stream(model="m", messages=ASK, response_model=Sentiment)
    assert run.error is None
    assert run.result is not None
    assert run.result.mode == "tools"


@pytest.mark.parametrize(
    "reply",
    [ErrorReply(500, message="the GPU caught fire"), ErrorReply(400, message="bad temperature")],
)
def test_other_errors_are_not_taken_for_a_refused_format(
    reply: ErrorReply, make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(reply)
    with pytest.raises(chatlane.APIError):
        make_driver(retry=chatlane.RetryPolicy(max_retries=0)).parse(
            model="m", messages=ASK, response_model=Sentiment
        )
    assert len(server.chat_requests) == 1


def test_a_mode_the_caller_named_is_never_switched(driver: Driver, server: FakeServer) -> None:
    server.enqueue(*[REFUSED] * 3)
    with pytest.raises(chatlane.InternalServerError):
        driver.parse(model="m", messages=ASK, response_model=Sentiment, mode="json_schema")
    assert all("tools" not in request.json() for request in server.chat_requests)


def test_the_client_remembers_a_server_that_refused_json_schema(server: FakeServer) -> None:
    tool_reply = Completion(content=None, tool_calls=[ToolCallSpec("Sentiment", GOOD)])
    server.enqueue(REFUSED, tool_reply, tool_reply)
    with chatlane.Client(base_url=server.url, max_retries=0) as client:
        client.parse(model="m", messages=ASK, response_model=Sentiment)
        again = client.parse(model="m", messages=ASK, response_model=Sentiment)
    assert again.mode == "tools"
    assert len(server.chat_requests) == 3


def test_an_attempt_without_usage_makes_the_cost_unknown_not_zero(
    driver: Driver, server: FakeServer
) -> None:
    server.enqueue(
        Completion(content="{}", usage=None),
        Completion(content=json.dumps(GOOD), usage=(1200, 100)),
    )
    result = driver.parse(model="gpt-4o-mini", messages=ASK, response_model=Sentiment)
    assert not result.usage_reported
    assert result.cost is None
    server.enqueue(*[Completion(content="{}", usage=None)] * 3)
    with pytest.raises(OutputValidationError) as caught:
        driver.parse(model="gpt-4o-mini", messages=ASK, response_model=Sentiment)
    assert caught.value.cost is None


def test_cost_uses_the_prices_the_client_was_given(
    make_driver: MakeDriver, server: FakeServer
) -> None:
    server.enqueue(Completion(content=json.dumps(GOOD), usage=(1000, 1000)))
    priced = {"house-model": chatlane.ModelInfo(input_per_mtok=1.0, output_per_mtok=2.0)}
    result = make_driver(models=priced).parse(
        model="house-model", messages=ASK, response_model=Sentiment
    )
    assert result.cost == pytest.approx(0.003)
