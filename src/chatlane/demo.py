"""``make demo``: a question that needs a tool — the tool call, the tool's result, the answer —
with timing and token usage, on the embedded model (no network, no key).

``--base-url URL --model M`` runs the same exchange against any OpenAI-compatible server
(the key from ``--api-key`` or OPENAI_API_KEY).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any

import chatlane

QUESTION = "What time is it in Tokyo right now?"
ZONES = ["Asia/Tokyo", "Europe/London", "America/New_York", "Australia/Sydney", "UTC"]
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "current_time",
            "description": "The current date and time in a time zone.",
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string", "enum": ZONES}},
                "required": ["timezone"],
                "additionalProperties": False,
            },
        },
    }
]


def current_time(timezone: str) -> str:
    from zoneinfo import ZoneInfo

    return datetime.datetime.now(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _usage(reply: chatlane.ChatCompletion) -> str:
    usage = reply.usage
    if usage is None:
        return "usage not reported"
    return f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"


def run(client: chatlane.Client, model: str) -> None:
    messages: list[Any] = [
        chatlane.system("Answer with the tool's result. Be brief."),
        chatlane.user(QUESTION),
    ]
    print(f"user> {QUESTION}")
    # "required": small models cannot be trusted to decide on their own to call a tool.
    first = client.chat(model=model, messages=messages, tools=TOOLS, tool_choice="required")
    message = first.assistant_message()
    if message is None or not message.tool_calls:
        print(f"assistant> {first.text}")
        return
    print(f"  [turn 1: {first.latency * 1000:.0f} ms, {_usage(first)}]")
    messages.append(message)
    for call in message.tool_calls:
        result = current_time(**json.loads(call.function.arguments))
        print(f"tool call> {call.function.name}({call.function.arguments}) -> {result}")
        messages.append(chatlane.tool_result(call.id, result))
    print("assistant> ", end="", flush=True)
    with client.stream(model=model, messages=messages, max_tokens=60) as stream:
        for chunk in stream:
            print(chunk.text, end="", flush=True)
    print()
    summary = stream.summary()
    ttft = (summary.time_to_first_token or 0) * 1000
    rate = f", {summary.tokens_per_second:.0f} tokens/s" if summary.tokens_per_second else ""
    print(
        f"  [turn 2: first token {ttft:.0f} ms, total {summary.total_time * 1000:.0f} ms"
        f"{rate}, {_usage(stream.final())}]"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatlane.demo", description=__doc__)
    parser.add_argument("--base-url", help="an OpenAI-compatible server (default: embedded model)")
    parser.add_argument("--model", help="model name (default: local/smollm2)")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"))
    args = parser.parse_args(argv)
    try:
        if args.base_url:
            with chatlane.Client(base_url=args.base_url, api_key=args.api_key) as client:
                run(client, args.model or "gpt-4o-mini")
            return 0
        with chatlane.Client(provider="local") as client:
            print("(chatlane demo on the embedded model SmolLM2-135M: offline, no key)")
            run(client, args.model or "local/smollm2")
    except chatlane.ChatlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
