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

from chatlane.agent import AgentResult, FinalAnswer, ToolCallStarted
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


def _json_result(
    result: AgentResult, arguments: dict[str, str], model: str, seconds: float
) -> dict[str, Any]:
    return {
        "answer": result.text,
        "model": model,
        "turns": result.turns,
        "finish_reason": result.finish_reason,
        "tool_calls": [
            {
                "name": tool_result.name,
                "arguments": arguments.get(tool_result.tool_call_id, ""),
                "result": tool_result.content,
                "is_error": tool_result.is_error,
            }
            for tool_result in result.tool_results
        ],
        "usage": msgspec.to_builtins(result.usage),
        "cost": result.cost,
        "seconds": round(seconds, 3),
    }


def run_ask(args: argparse.Namespace) -> int:
    try:
        question = _question(args)
        session = Session(args)
    except ChatlaneError as exc:
        print(f"chatlane: error: {exc}", file=sys.stderr)
        return 2
    live = sys.stdout.isatty() and not args.json
    quiet = args.quiet or args.json
    # The answer line and usage come after the timing, below: the writer shows the rest.
    writer = render.EventWriter(sys.stdout if live else None, None if quiet else sys.stderr)
    started = time.perf_counter()
    events = session.agent.stream(question)
    result: AgentResult | None = None
    arguments: dict[str, str] = {}
    try:
        for event in events:
            if isinstance(event, FinalAnswer):
                result = event.result
                continue
            if isinstance(event, ToolCallStarted):
                arguments[event.call.id] = event.arguments
            writer.write(event)
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
        report = _json_result(result, arguments, session.agent.model, seconds)
        print(json.dumps(report, ensure_ascii=False))
    elif live:
        writer.end_line()
    else:
        print(result.text)
    if not quiet:
        *cut_off, usage = render.answer_lines(result)
        for line in [*cut_off, f"{usage} in {seconds:.2f} s"]:
            print(line, file=sys.stderr)
    return 0
