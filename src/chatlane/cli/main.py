"""Argument parsing and dispatch for the ``chatlane`` command."""

from __future__ import annotations

import argparse
import sys

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


def _session_options() -> argparse.ArgumentParser:
    """Options shared by ``ask`` and ``chat``."""
    parent = argparse.ArgumentParser(add_help=False)
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
        "--timeout", type=float, metavar="SECONDS", help="seconds one model call may take in all"
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
    parser = argparse.ArgumentParser(prog="chatlane", description=DESCRIPTION, epilog=EPILOG)
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from chatlane._version import __version__

        print(f"chatlane {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    if args.max_turns < 1:
        parser.error("--max-turns must be at least 1")
    if args.max_tokens is not None and args.max_tokens < 1:
        parser.error("--max-tokens must be at least 1")
    if args.timeout is not None and not args.timeout > 0:
        parser.error("--timeout must be a positive number of seconds")
    if args.command == "ask":
        from chatlane.cli.ask import run_ask

        return run_ask(args)
    from chatlane.cli.chat import run_chat

    return run_chat(args)


if __name__ == "__main__":
    sys.exit(main())
