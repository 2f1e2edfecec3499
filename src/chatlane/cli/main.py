"""Argument parsing and dispatch for the ``chatlane`` command."""

from __future__ import annotations

import argparse
import math
import sys
from typing import NoReturn

__all__ = ["build_parser", "main"]

DESCRIPTION = (
    "Ask a model, with tools, from the command line. With no provider configured it runs "
    "the embedded model (offline, no key)."
)
EPILOG = (
    "Provider and model also come from the environment: CHATLANE_PROVIDER, CHATLANE_MODEL, "
    "and each provider's key variable (OPENAI_API_KEY, MISTRAL_API_KEY, ...); a server "
    "given by --base-url alone takes its key from CHATLANE_API_KEY."
)


class _ArgumentError(Exception):
    """A command line argparse cannot parse; reported like every other error."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # "argument --timeout: ..." reads "--timeout: ..." like the CLI's other messages.
        raise _ArgumentError(message.removeprefix("argument "))


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return seconds


def _session_options() -> _Parser:
    """Options shared by ``ask`` and ``chat``."""
    parent = _Parser(add_help=False)
    where = parent.add_argument_group("model")
    where.add_argument(
        "--provider", metavar="NAME", help="a known provider: openai, mistral, groq, local, ..."
    )
    where.add_argument(
        "--model", metavar="NAME", help="model name (default: the provider's default)"
    )
    where.add_argument(
        "--base-url", metavar="URL", help="any OpenAI-compatible server (then --model is needed)"
    )
    where.add_argument("--system", metavar="TEXT", help="system message")
    where.add_argument("--temperature", type=float, metavar="T", help="sampling temperature")
    where.add_argument("--max-tokens", type=int, metavar="N", help="most tokens per reply")
    where.add_argument(
        "--timeout", type=_seconds, metavar="SECONDS", help="seconds one model call may take in all"
    )
    tools = parent.add_argument_group("tools")
    tools.add_argument(
        "--tool",
        action="append",
        metavar="NAME",
        help="offer only this built-in tool (repeatable): current_datetime, calculator, "
        "convert_units",
    )
    tools.add_argument(
        "--tools",
        action="append",
        metavar="MODULE",
        help="also offer the tools defined in this Python module (repeatable)",
    )
    tools.add_argument(
        "--allow-dir",
        metavar="DIR",
        help="let the model read files under DIR (read_file, list_files); nothing outside it",
    )
    tools.add_argument("--no-tools", action="store_true", help="offer no tools at all")
    tools.add_argument(
        "--max-turns",
        type=int,
        default=8,
        metavar="N",
        help="most model calls per answer (default: 8)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chatlane", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    shared = _session_options()
    ask = commands.add_parser(
        "ask",
        parents=[shared],
        help="answer one question and exit",
        description="Answer one question. The answer goes to stdout as plain text; tool calls "
        "and usage go to stderr.",
    )
    ask.add_argument("question", nargs="+", help="the question (use - to read it from stdin)")
    ask.add_argument("--json", action="store_true", help="print one JSON object with details")
    ask.add_argument("--quiet", action="store_true", help="print the answer only")
    commands.add_parser(
        "chat",
        parents=[shared],
        help="an interactive session (/help lists its commands)",
        description="An interactive session with history, streaming replies and tools. End a "
        "line with \\ to continue on the next; /help lists the commands.",
    )
    return parser


def _wants_json(argv: list[str]) -> bool:
    """Whether ``--json`` (or a prefix argparse takes for it) is among the options."""
    for arg in argv:
        if arg == "--":
            return False
        if len(arg) > 3 and "--json".startswith(arg):
            return True
    return False


def _check_text(args: argparse.Namespace) -> None:
    """Every argument is text chatlane can send: argv comes from bytes, and a byte that is
    not UTF-8 fails here, named, instead of deep inside the request."""
    from chatlane.cli.errors import unencodable

    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            where = unencodable(item) if isinstance(item, str) else None
            if where is not None:
                what = "the question" if name == "question" else "--" + name.replace("_", "-")
                raise _ArgumentError(f"{what} is not valid UTF-8 text ({where})")


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args = parser.parse_args(argv)
    if args.version:
        from chatlane._version import __version__

        print(f"chatlane {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    _check_text(args)
    if args.max_turns < 1:
        raise _ArgumentError("--max-turns must be at least 1")
    if args.max_tokens is not None and args.max_tokens < 1:
        raise _ArgumentError("--max-tokens must be at least 1")
    if args.command == "ask":
        from chatlane.cli.ask import run_ask

        return run_ask(args)
    from chatlane.cli.chat import run_chat

    return run_chat(args)


def main(argv: list[str] | None = None) -> int:
    """Run the command; every failure is one line on stderr (and a JSON object on stdout
    with ``--json``), never a traceback. Exit status: 0 done, 1 the model call failed, 2 an
    option, input or setup that cannot work, 70 a bug in chatlane, 130 interrupted."""
    as_json = _wants_json(sys.argv[1:] if argv is None else argv)
    try:
        return _run(build_parser(), argv)
    except _ArgumentError as exc:
        from chatlane.cli import errors

        errors.report(str(exc), as_json=as_json)
        return errors.EXIT_USAGE
    except KeyboardInterrupt:
        print("\nchatlane: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (| head): nothing left to tell
        return 1
    except Exception as exc:
        from chatlane.cli import errors
        from chatlane.core.errors import ChatlaneError, UsageError

        if isinstance(exc, ChatlaneError):  # one a command did not catch
            errors.report(exc, as_json=as_json)
            return errors.EXIT_USAGE if isinstance(exc, UsageError) else errors.EXIT_ERROR
        errors.report_internal(exc, as_json=as_json)
        return errors.EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
