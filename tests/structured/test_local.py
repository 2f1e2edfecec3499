"""Structured output on the embedded model: the grammar makes even a 135M model's JSON valid.

Real model, real extraction tasks, sync and async. Greedy decoding (temperature 0) keeps the
answers repeatable; the checks are about what the grammar guarantees (shape, enums, lengths,
item counts: valid on the first attempt; numeric ranges are not in the grammar, and these
inputs happen to get in-range numbers at temperature 0) plus a loose check that the answer is
about the text, since a model this small is often wrong about meaning.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from chatlane.structured import Parsed
from tests.local.conftest import MISSING
from tests.structured.drivers import Driver

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
]

MODEL = "local/smollm2"
PARAGRAPH = "Tim Cook announced in Cupertino that Apple will open a new office in Berlin."


class Entity(BaseModel):
    name: str = Field(max_length=40)
    kind: Literal["person", "place", "organization"]


class Entities(BaseModel):
    """Named entities found in a text."""

    entities: list[Entity] = Field(min_length=1, max_length=6)


class Review(BaseModel):
    """The sentiment of a review."""

    label: Literal["positive", "negative", "neutral"]
    stars: int = Field(ge=1, le=5)
    reason: str = Field(max_length=100, description="one short sentence")


EXTRACT = [
    {"role": "system", "content": "Extract the named entities."},
    {"role": "user", "content": PARAGRAPH},
]


def parse(mode: str, **params: object) -> Parsed[Any]:
    return Driver(mode).parse(**params)  # no client options: the embedded model


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_entities_from_a_paragraph(mode: str) -> None:
    result = parse(
        mode, model=MODEL, messages=EXTRACT, response_model=Entities, max_tokens=200, temperature=0
    )
    assert isinstance(result.output, Entities)
    assert result.attempts == 1  # the grammar made the first answer valid
    assert (result.mode, result.strict) == ("json_schema", True)
    assert result.completion.choices[0].finish_reason == "stop"
    names = [entity.name for entity in result.output.entities]
    assert any(name and name in PARAGRAPH for name in names), names
    assert result.usage.completion_tokens > 0


def test_sentiment_with_stars_and_reason() -> None:
    review = "Broke after a week and support never answered. A waste of money."
    result = parse(
        "sync",
        model=MODEL,
        messages=[{"role": "user", "content": f"Rate this review: {review}"}],
        response_model=Review,
        max_tokens=120,
        temperature=0,
    )
    assert isinstance(result.output, Review)
    assert result.attempts == 1
    assert 1 <= result.output.stars <= 5
    assert len(result.output.reason) <= 100


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_streamed_partials_end_in_the_validated_object(mode: str) -> None:
    run = Driver(mode).parse_stream(
        model=MODEL, messages=EXTRACT, response_model=Entities, max_tokens=200, temperature=0
    )
    assert run.error is None
    assert run.result is not None
    partials, result = run.partials, run.result
    assert len(partials) > 3
    assert partials[-1] == result.output.model_dump()
    unstreamed = parse(
        "sync",
        model=MODEL,
        messages=EXTRACT,
        response_model=Entities,
        max_tokens=200,
        temperature=0,
    )
    assert result.output == unstreamed.output
