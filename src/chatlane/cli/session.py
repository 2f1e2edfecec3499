"""From command-line options to a client, a model, a toolbox and an agent."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from types import ModuleType
from typing import Any

import chatlane
from chatlane.agent import Agent
from chatlane.core.errors import UsageError
from chatlane.tokens import UnknownContextWindowWarning
from chatlane.tools import Tool, Toolbox, builtin_tools, file_tools

__all__ = ["CLIError", "Session", "load_module_tools"]


class CLIError(UsageError):
    """A command-line option that cannot work (shown as ``error: ...``, exit status 2)."""


def load_module_tools(name: str) -> list[Tool]:
    """The tools a module offers: its ``TOOLS`` list if it has one, else every ``Tool``
    (``@tool``-decorated function) it defines. The current directory is importable."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        # Last, so files in the current directory cannot shadow modules chatlane imports.
        sys.path.append(os.getcwd())
    try:
        module: ModuleType = importlib.import_module(name)
    except ImportError as exc:
        raise CLIError(f"--tools {name}: cannot import it: {exc}") from None
    except Exception as exc:  # the user's module failed while it ran
        raise CLIError(
            f"--tools {name}: importing it failed: {type(exc).__name__}: {exc}"
        ) from None
    listed: Any = getattr(module, "TOOLS", None)
    if listed is not None:
        items = list(listed)
    else:
        items = [value for value in vars(module).values() if isinstance(value, Tool)]
    if not items:
        raise CLIError(f"--tools {name}: the module defines no @tool functions and no TOOLS list")
    return [item if isinstance(item, Tool) else Tool(item) for item in items]


def _toolbox(args: argparse.Namespace) -> Toolbox:
    if args.no_tools:
        return Toolbox()
    offered = builtin_tools()
    if args.tool:
        known = {tool.name: tool for tool in offered}
        unknown = [name for name in args.tool if name not in known]
        if unknown:
            raise CLIError(
                f"--tool {unknown[0]}: no such built-in tool; choose from {', '.join(known)}"
            )
        offered = [known[name] for name in dict.fromkeys(args.tool)]
    if args.allow_dir:
        offered += file_tools(args.allow_dir)
    for module in args.tools or ():
        offered += load_module_tools(module)
    return Toolbox(offered)


class Session:
    """One client and agent for a command's lifetime; ``model`` can change (``/model``)."""

    def __init__(self, args: argparse.Namespace) -> None:
        provider = args.provider or None
        self.model: str | None = args.model or os.environ.get("CHATLANE_MODEL") or None
        if args.base_url and not self.model:
            raise CLIError("--base-url needs --model (the server's model name)")
        self.toolbox = _toolbox(args)
        self.system: str | None = args.system
        self.max_turns: int = args.max_turns
        self.params: dict[str, Any] = {}
        if args.temperature is not None:
            self.params["temperature"] = args.temperature
        if args.max_tokens is not None:
            self.params["max_tokens"] = args.max_tokens
        # A server named only by URL takes its key from CHATLANE_API_KEY (never a flag:
        # command lines show up in process lists and shell history).
        api_key = os.environ.get("CHATLANE_API_KEY") if args.base_url and not provider else None
        self.client = chatlane.Client(
            provider=provider, base_url=args.base_url, api_key=api_key, timeout=args.timeout
        )
        # A model without a known context window is noted by the session (window_note), not
        # warned about by the agent: ``ask`` has no old turns to trim, ``chat`` says it once.
        warnings.filterwarnings("ignore", category=UnknownContextWindowWarning)
        self.agent = self._agent(self.model)

    def _agent(self, model: str | None) -> Agent:
        return Agent(
            self.client,
            model=model,
            tools=self.toolbox,
            system=self.system,
            max_turns=self.max_turns,
            params=self.params,
        )

    def window_note(self) -> str | None:
        """What to tell the user when old turns cannot be trimmed, else None."""
        if self.agent.settings.trim:
            return None
        return (
            f"(the context window of {self.agent.model} is not known: old turns are not "
            "trimmed, and a history too long for the model fails)"
        )

    def switch_model(self, model: str) -> None:
        self.agent = self._agent(model)
        self.model = model

    def close(self) -> None:
        self.client.close()
