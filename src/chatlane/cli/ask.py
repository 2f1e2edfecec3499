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
from chatlane.cli import errors, render
from chatlane.cli.session import CLIError, Session
from chatlane.core.errors import ChatlaneError, UsageError

__all__ = ["run_ask"]


def _stdin() -> str:
    """All of stdin as UTF-8 text."""
    stream = getattr(sys.stdin, "buffer", None)
    try:
        if stream is None:  # a text stream put in place of stdin
            return sys.stdin.read()
        data: bytes = stream.read()
    except OSError as exc:
        raise CLIError(f"cannot read the question from stdin: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CLIError(f"stdin is not valid UTF-8 text ({exc.reason})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise CLIError(
            f"stdin is not valid UTF-8 text (byte 0x{bad:02x} at offset {exc.start})"
        ) from None


def _question(args: argparse.Namespace) -> str:
    question = " ".join(args.question)
    if question == "-":
        question = _stdin()
        where = errors.unencodable(question)
        if where is not None:
            raise CLIError(f"stdin is not valid UTF-8 text ({where})")
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
        errors.report(exc, as_json=args.json)
        return errors.EXIT_USAGE
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
        writer.end_line()
        errors.report(exc, as_json=args.json)
        # A request chatlane refused to build sent nothing: the usage status, as above.
        return errors.EXIT_USAGE if isinstance(exc, UsageError) else errors.EXIT_ERROR
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
