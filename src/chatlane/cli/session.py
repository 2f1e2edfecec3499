"""From command-line options to a client, a model, a toolbox and an agent."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys
import urllib.parse
import warnings
from types import ModuleType
from typing import Any

import chatlane
from chatlane.agent import Agent
from chatlane.cli.errors import cli_message
from chatlane.core.errors import UsageError
from chatlane.tokens import UnknownContextWindowWarning
from chatlane.tools import Tool, Toolbox, builtin_tools, file_tools

__all__ = ["CLIError", "Session", "load_module_tools"]


class CLIError(UsageError):
    """A command-line option that cannot work (shown as ``error: ...``, exit status 2)."""


def _is_path(name: str) -> bool:
    return name.endswith(".py") or "/" in name or os.sep in name


def _import(name: str) -> ModuleType:
    """The module ``name`` names: a module name (the current directory is importable), or
    a ``.py`` file's path (its directory becomes importable, for the modules next to it)."""
    if not _is_path(name):
        if os.getcwd() not in sys.path and "" not in sys.path:
            # Last, so files in the current directory cannot shadow modules chatlane imports.
            sys.path.append(os.getcwd())
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            raise CLIError(f"--tools {name}: cannot import it: {exc}") from None
    path = os.path.abspath(name)
    if not os.path.isfile(path):
        raise CLIError(
            f"--tools {name}: no such file (give a module name, like mytools, or the path "
            "of a .py file)"
        )
    stem = os.path.splitext(os.path.basename(path))[0]
    if not stem.isidentifier():
        raise CLIError(f"--tools {name}: {stem!r} is not a Python module name; rename the file")
    spec = importlib.util.spec_from_file_location(stem, path)
    if spec is None or spec.loader is None:
        raise CLIError(f"--tools {name}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.append(folder)
    sys.modules.setdefault(stem, module)  # dataclasses and pickle look modules up by name
    spec.loader.exec_module(module)
    return module


def _as_tools(name: str, module: ModuleType) -> list[Tool]:
    listed: Any = getattr(module, "TOOLS", None)
    if listed is None:
        items: list[Any] = [value for value in vars(module).values() if isinstance(value, Tool)]
    elif isinstance(listed, list | tuple):
        items = list(listed)
    else:
        raise CLIError(
            f"--tools {name}: TOOLS must be a list of tools (@tool functions or plain "
            f"functions), not {type(listed).__name__}"
        )
    if not items:
        what = "an empty TOOLS list"
        if listed is None:
            what = "no @tool functions and no TOOLS list"
        raise CLIError(f"--tools {name}: the module defines {what}")
    tools = []
    for index, item in enumerate(items):
        if isinstance(item, Tool):
            tools.append(item)
            continue
        if not callable(item) or isinstance(item, type):
            raise CLIError(
                f"--tools {name}: TOOLS[{index}] is not a tool or a function: "
                f"{type(item).__name__} {item!r:.60}"
            )
        try:
            tools.append(Tool(item))
        except Exception as exc:
            raise CLIError(f"--tools {name}: TOOLS[{index}]: {cli_message(exc)}") from None
    return tools


def load_module_tools(name: str) -> list[Tool]:
    """The tools a module offers: its ``TOOLS`` list if it has one, else every ``Tool``
    (``@tool``-decorated function) it defines. ``name`` is a module name (the current
    directory is importable) or the path of a ``.py`` file."""
    try:
        # What the module prints while it loads is not the answer: it goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            module = _import(name)
    except CLIError:
        raise
    except SystemExit as exc:
        raise CLIError(
            f"--tools {name}: the module called sys.exit({exc.code!r}) while being imported"
        ) from None
    except Exception as exc:  # the user's module failed while it ran
        raise CLIError(
            f"--tools {name}: importing it failed: {type(exc).__name__}: {cli_message(exc)}"
        ) from None
    return _as_tools(name, module)


def _base_url(url: str) -> None:
    """Refuse a ``--base-url`` that is no http(s) URL before any client is built."""
    shown = f"--base-url {url!r}"
    if any(char.isspace() for char in url):
        raise CLIError(f"{shown}: a URL has no spaces (encode one as %20)")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CLIError(f"{shown}: not a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise CLIError(f"{shown}: give an http:// or https:// URL, like http://localhost:8000/v1")
    if not parts.hostname:
        raise CLIError(f"{shown}: the URL names no host")
    if port == 0:
        raise CLIError(f"{shown}: port 0 is no server's port")


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
        if args.base_url:
            _base_url(args.base_url)
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
