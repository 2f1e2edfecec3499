"""``chatlane chat``: an interactive session with history, streaming and tools."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable

from chatlane.agent import AgentResult, FinalAnswer
from chatlane.cli import errors, render
from chatlane.cli.session import Session
from chatlane.conversation import Conversation
from chatlane.core.errors import ChatlaneError
from chatlane.core.usage import sum_usage

__all__ = ["run_chat"]

HELP = """commands:
  /reset         forget the conversation (the system message stays)
  /save PATH     save the conversation as JSON
  /load PATH     continue a saved conversation
  /model [NAME]  show the model, or switch to NAME
  /tools         list the tools the model may call
  /usage         tokens and cost of this session
  /help          this list
  /exit          leave (Ctrl-D too)
End a line with \\ to go on on the next line. Ctrl-C stops a reply."""


def _read_message() -> str | None:
    """One message from the user: lines ending in a backslash continue. None at EOF;
    Ctrl-C drops what was typed and asks again."""
    while True:
        try:
            line = input("you> ")
            while line.endswith("\\"):
                line = line[:-1] + "\n" + input("...> ")
        except EOFError:
            return None
        except KeyboardInterrupt:
            print("\n(dropped; /exit or Ctrl-D to leave)")
            continue
        where = errors.unencodable(line)
        if where is not None:
            print(f"error: that line is not valid UTF-8 text ({where}); it was not sent")
            continue
        return line


class ChatSession:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.conversation = Conversation(system=session.system)
        self.results: list[AgentResult] = []
        self.commands: dict[str, Callable[[str], None]] = {
            "/reset": self.reset,
            "/save": self.save,
            "/load": self.load,
            "/model": self.model,
            "/tools": self.tools,
            "/usage": self.usage,
            "/help": self.help,
        }

    # --- commands ------------------------------------------------------------------------

    def reset(self, _: str) -> None:
        self.conversation.reset()
        print("(conversation cleared)")

    def save(self, path: str) -> None:
        if not path:
            print("usage: /save PATH")
            return
        try:
            self.conversation.save(path)
        except OSError as exc:
            print(f"error: cannot write {path}: {exc.strerror or exc}")
            return
        print(f"(saved {len(self.conversation)} messages to {path})")

    def load(self, path: str) -> None:
        if not path:
            print("usage: /load PATH")
            return
        try:
            self.conversation = Conversation.load(path)
        except ChatlaneError as exc:
            print(f"error: {errors.cli_message(exc)}")
            return
        print(f"(loaded {len(self.conversation)} messages from {path})")

    def model(self, name: str) -> None:
        if name:
            try:
                self.session.switch_model(name)
            except ChatlaneError as exc:
                print(f"error: {errors.cli_message(exc)}")
                return
        print(f"(model: {self.session.agent.model})")
        self.window_note()

    def tools(self, _: str) -> None:
        if not len(self.session.toolbox):
            print("(no tools)")
        for tool in self.session.toolbox:
            summary = tool.description.strip().splitlines()[0] if tool.description else ""
            print(f"  {tool.name}: {summary}")

    def usage(self, _: str) -> None:
        usage = sum_usage(result.usage for result in self.results)
        costs = [result.cost for result in self.results]
        total = None if None in costs else sum(c or 0.0 for c in costs)
        cost = render.dollars(total)
        answers = len(self.results)
        print(
            f"(this session: {answers} answer{'s' if answers != 1 else ''}, "
            + render.tokens_text(usage, reported=all(r.usage_reported for r in self.results))
            + f"{', ' + cost if cost else ''})"
        )

    def help(self, _: str) -> None:
        print(HELP)

    def window_note(self) -> None:
        note = self.session.window_note()
        if note is not None:
            print(note)

    # --- the session -----------------------------------------------------------------------

    def command(self, line: str) -> bool:
        """Run a /command; False when it ends the session."""
        name, _, rest = line.strip().partition(" ")
        name = name.lower()
        if name in ("/exit", "/quit"):
            return False
        handler = self.commands.get(name)
        if handler is None:
            print(f"unknown command {name}; /help lists them")
        else:
            handler(rest.strip())
        return True

    def ask(self, text: str) -> None:
        """One answer, streamed; on error or Ctrl-C the question leaves the history again."""
        kept = len(self.conversation.messages)
        events = self.session.agent.stream(text, conversation=self.conversation)
        writer = render.EventWriter(sys.stdout, sys.stdout)
        try:
            for event in events:
                writer.write(event)
                if isinstance(event, FinalAnswer):
                    self.results.append(event.result)
        except KeyboardInterrupt:
            del self.conversation.messages[kept:]
            print("\n(stopped; the question was left out of the history)")
        except ChatlaneError as exc:
            del self.conversation.messages[kept:]
            writer.end_line()
            print(f"error: {errors.cli_message(exc)}")
        finally:
            events.close()

    def loop(self) -> None:
        tools = ", ".join(self.session.toolbox.names) or "none"
        print(f"chatlane chat: {self.session.agent.model}; tools: {tools}; /help for commands")
        self.window_note()
        while True:
            text = _read_message()
            if text is None:
                print()
                return
            if not text.strip():
                continue
            if text.lstrip().startswith("/"):
                if not self.command(text):
                    return
                continue
            self.ask(text)


def run_chat(args: argparse.Namespace) -> int:
    try:
        session = Session(args)
    except ChatlaneError as exc:
        errors.report(exc, as_json=False)
        return errors.EXIT_USAGE
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:  # a line that is not UTF-8 is refused, not a crash
        reconfigure(errors="surrogateescape")
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input(), where available)
    try:
        ChatSession(session).loop()
    except KeyboardInterrupt:
        print()
    finally:
        session.close()
    return 0
