"""``chatlane ask``: one question, one answer.

stdout gets the answer alone (streamed when it is a terminal), or with ``--json`` one JSON
object; tool calls, per-turn timing and usage go to stderr unless ``--quiet``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import msgspec

from chatlane.agent import AgentResult, FinalAnswer, TextDelta
from chatlane.cli import render
from chatlane.cli.session import CLIError, Session
from chatlane.core.errors import ChatlaneError

__all__ = ["run_ask"]


def _question(args: argparse.Namespace) -> str:
    question = " ".join(args.question)
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise CLIError("the question is empty")
    return question.strip()


def _json_result(result: AgentResult, model: str, seconds: float) -> dict[str, Any]:
    return {
        "answer": result.text,
        "model": model,
        "turns": result.turns,
        "finish_reason": result.finish_reason,
        "tool_calls": [
            {
                "name": tool_result.name,
                "arguments": arguments,
                "result": tool_result.content,
                "is_error": tool_result.is_error,
            }
            for tool_result, arguments in zip(result.tool_results, _arguments(result), strict=False)
        ],
        "usage": msgspec.to_builtins(result.usage),
        "cost": result.cost,
        "seconds": round(seconds, 3),
    }


def _arguments(result: AgentResult) -> list[str]:
    """The arguments of each tool call, in the order the results are listed."""
    by_id: dict[str, str] = {}
    for completion in result.completions:
        message = completion.assistant_message()
        for call in (message.tool_calls if message else None) or ():
            by_id[call.id] = call.function.arguments
    return [by_id.get(r.tool_call_id, "") for r in result.tool_results]


def run_ask(args: argparse.Namespace) -> int:
    try:
        question = _question(args)
        session = Session(args)
    except ChatlaneError as exc:
        print(f"chatlane: error: {exc}", file=sys.stderr)
        return 2
    live = sys.stdout.isatty() and not args.json
    notes = not (args.quiet or args.json)
    started = time.perf_counter()
    events = session.agent.stream(question)
    result: AgentResult | None = None
    mid_line = False  # live text written without its newline yet
    try:
        for event in events:
            if isinstance(event, TextDelta):
                if live:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                    mid_line = True
            elif isinstance(event, FinalAnswer):
                result = event.result
            elif notes:
                if mid_line:
                    sys.stdout.write("\n")
                    sys.stdout.flush()
                    mid_line = False
                print(render.note(event), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\nchatlane: interrupted", file=sys.stderr)
        return 130
    except ChatlaneError as exc:
        print(f"chatlane: error: {exc}", file=sys.stderr)
        if args.json:  # a reader of stdout learns what happened too
            error = {"type": type(exc).__name__, "message": str(exc)}
            print(json.dumps({"error": error}, ensure_ascii=False))
        return 1
    finally:
        events.close()
        session.close()
    assert result is not None
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps(_json_result(result, session.agent.model, seconds), ensure_ascii=False))
    elif not live:
        print(result.text)
    elif mid_line:
        print()
    if notes:
        if result.finish_reason == "length":
            print(render.CUT_OFF, file=sys.stderr)
        print(f"{render.usage_line(result)} in {seconds:.2f} s", file=sys.stderr)
    return 0
