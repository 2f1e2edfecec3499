"""The README's "### Tools" example runs as written and does what the text around it says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import chatlane
from chatlane.core.messages import validate_messages
from chatlane.testing import Completion, FakeServer, ToolCallSpec
from tests.conftest import API_KEY

README = Path(__file__).resolve().parents[2] / "README.md"


def tools_example() -> str:
    section = README.read_text().split("\n### Tools\n", 1)[1].split("\n### ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README.md's ### Tools section has no python example"
    return match.group(1)


def test_the_tools_example_runs_and_answers_every_call(server: FakeServer) -> None:
    server.enqueue(
        Completion(
            content=None,
            tool_calls=[
                ToolCallSpec("get_weather", '{"city": "Paris", "unit": "f"}', id="call_1"),
                ToolCallSpec("calculator", '{"expression": "6 * 7"}', id="call_2"),
                ToolCallSpec("get_weather", '{"city": 5}', id="call_3"),
            ],
        )
    )
    client = chatlane.Client(base_url=server.url, api_key=API_KEY)
    scope: dict[str, Any] = {
        "client": client,
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Weather in Paris, and 6 * 7?"}],
    }
    exec(compile(tools_example(), str(README), "exec"), scope)

    client.close()
    (request,) = server.chat_requests
    sent = request.json()
    names = [definition["function"]["name"] for definition in sent["tools"]]
    assert names == ["get_weather", "current_datetime", "calculator", "convert_units"]
    weather = sent["tools"][0]["function"]
    assert weather["description"] == "Current weather for a city."
    assert weather["parameters"]["properties"] == {
        "city": {"type": "string", "description": "The city name"},
        "unit": {
            "enum": ["c", "f"],
            "type": "string",
            "default": "c",
            "description": "Temperature unit.",
        },
    }

    messages = scope["messages"]
    validate_messages(messages)  # every tool message answers a call of the assistant's
    assert messages[-3:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny in Paris"},
        {"role": "tool", "tool_call_id": "call_2", "content": "42"},
        {
            "role": "tool",
            "tool_call_id": "call_3",
            "content": "Error: invalid arguments for get_weather: city: Input should be a valid"
            " string. Call get_weather again with corrected arguments.",
        },
    ]
