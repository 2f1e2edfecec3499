"""``make demo``: a question that needs a tool, answered over real HTTP with timing and usage.

It runs against chatlane's own fake server on loopback (scripted replies), so it needs no
network and no key. Point it at a real provider with ``--base-url`` and ``--model`` (the key
comes from ``--api-key`` or OPENAI_API_KEY).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
from typing import Any

import chatlane

QUESTION = "What time is it in Tokyo right now?"
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "current_time",
            "description": "The current date and time in a time zone.",
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string", "description": "IANA name"}},
                "required": ["timezone"],
                "additionalProperties": False,
            },
        },
    }
]


def current_time(timezone: str) -> str:
    from zoneinfo import ZoneInfo

    return datetime.datetime.now(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _script(server: Any) -> None:
    from chatlane.testing import Completion, Stream

    call = {"id": "call_1", "name": "current_time", "arguments": '{"timezone": "Asia/Tokyo"}'}
    answer = f"It is {current_time('Asia/Tokyo')} in Tokyo."
    server.enqueue(Completion(content=None, tool_calls=[call], usage=(62, 18)))
    words = re.findall(r"\S+\s*", answer)
    server.enqueue(Stream(chunks=words, chunk_delay=0.03, usage=(95, 14)))


def run(client: chatlane.Client, model: str) -> None:
    messages: list[Any] = [chatlane.user(QUESTION)]
    print(f"user> {QUESTION}")
    first = client.chat(model=model, messages=messages, tools=TOOLS)
    message = first.assistant_message()
    if message is None or not message.tool_calls:
        print(f"assistant> {first.text}")
        return
    messages.append(message)
    for call in message.tool_calls:
        arguments = json.loads(call.function.arguments)
        result = current_time(**arguments)
        print(f"tool call> {call.function.name}({call.function.arguments}) -> {result}")
        messages.append(chatlane.tool_result(call.id, result))
    usage = first.usage
    print(f"  turn 1: {first.latency * 1000:.1f} ms, tokens {usage.total_tokens if usage else '?'}")
    print("assistant> ", end="", flush=True)
    with client.stream(model=model, messages=messages) as stream:
        for chunk in stream:
            print(chunk.text, end="", flush=True)
    print()
    summary = stream.summary()
    final = stream.final()
    total = final.usage.total_tokens if final.usage else "?"
    ttft = (summary.time_to_first_token or 0) * 1000
    print(
        f"  turn 2: first token {ttft:.1f} ms, total {summary.total_time * 1000:.1f} ms, "
        f"{summary.chunk_count} chunks, tokens {total}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatlane.demo", description=__doc__)
    parser.add_argument("--base-url", help="an OpenAI-compatible server (default: fake server)")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"))
    args = parser.parse_args(argv)
    if args.base_url:
        with chatlane.Client(base_url=args.base_url, api_key=args.api_key) as client:
            run(client, args.model)
        return 0
    from chatlane.testing import FakeServer

    with FakeServer() as server:
        print(f"(chatlane demo: scripted replies from chatlane's fake server at {server.url})")
        _script(server)
        with chatlane.Client(base_url=server.url, api_key="demo") as client:
            run(client, args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
