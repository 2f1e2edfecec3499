"""How the command line reports a failure: one line on stderr, ``chatlane: error: ...``, and
with ``--json`` one JSON object on stdout too, ``{"error": {"type": ..., "message": ...}}``.

Messages name the command's flags (``--model``), not the Python API's keywords (``model=``),
and never contain an API key. Nothing here imports chatlane up front: ``main`` reports
argument errors before any of it loads.
"""

from __future__ import annotations

import json
import os
import re
import sys

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERNAL",
    "EXIT_USAGE",
    "PREFIX",
    "cli_message",
    "report",
    "report_internal",
    "scrub",
    "unencodable",
]

PREFIX = "chatlane: error: "
EXIT_ERROR = 1  # the model call failed
EXIT_USAGE = 2  # an option, the input or the setup cannot work; nothing was sent
EXIT_INTERNAL = 70  # a bug in chatlane (EX_SOFTWARE)

# The Python keyword behind each flag of ``ask`` and ``chat``.
FLAGS = {
    "provider": "--provider",
    "model": "--model",
    "base_url": "--base-url",
    "system": "--system",
    "temperature": "--temperature",
    "max_tokens": "--max-tokens",
    "timeout": "--timeout",
    "tools": "--tools",
    "allow_dir": "--allow-dir",
    "max_turns": "--max-turns",
}
# ``model= is required``, ``needs base_url={...}``: a keyword as the Python API names it.
_KEYWORD = re.compile(r"(?<![\w-])(" + "|".join(FLAGS) + r")=(\{\.\.\.\}|\[\.\.\.\])?(?![\w'\"])")
# The key has no flag (command lines show up in process lists): it comes from the environment.
_PASS_KEY = re.compile(r",? or pass api_key=(?![\w'\"])|,? pass api_key=(?![\w'\"])")
_SECRET_VARIABLE = re.compile(r"(_API_KEY|_TOKEN|_SECRET)$")


def scrub(text: str) -> str:
    """``text`` without the value of any key-like environment variable."""
    for name, value in os.environ.items():
        if len(value) >= 8 and _SECRET_VARIABLE.search(name) and value in text:
            text = text.replace(value, "***")
    return text


def _flags(text: str) -> str:
    text = _PASS_KEY.sub("", text)
    return _KEYWORD.sub(lambda match: FLAGS[match.group(1)], text)


def _context(exc: BaseException) -> str:
    """A chatlane error's provider, model, status... as words (its ``str()`` writes them as
    ``model=...``, which reads like a keyword here)."""
    parts = []
    for label, name in (("provider", "provider"), ("model", "model"), ("status", "status")):
        value = getattr(exc, name, None)
        if value is not None:
            parts.append(f"{label} {value}")
    request_id = getattr(exc, "request_id", None)
    if request_id is not None:
        parts.append(f"request id {request_id}")
    attempts = getattr(exc, "attempts", 0)
    if isinstance(attempts, int) and attempts:
        parts.append(f"{attempts} attempt{'s' if attempts != 1 else ''}")
    return f" ({', '.join(parts)})" if parts else ""


def cli_message(exc: BaseException) -> str:
    """One line saying what went wrong, in the command line's terms."""
    text = getattr(exc, "message", None)
    if not isinstance(text, str):
        text = str(exc)
    field = getattr(exc, "field", None)
    if isinstance(field, str) and field in FLAGS and text.startswith(f"{field}:"):
        text = FLAGS[field] + text[len(field) :]
    text = _flags(text) + _context(exc)
    return scrub(re.sub(r"\s*\n\s*", " ", text.strip()) or type(exc).__name__)


def _emit(prefix: str, kind: str, message: str, as_json: bool) -> None:
    print(prefix + message, file=sys.stderr, flush=True)
    if as_json:  # a reader of stdout learns what happened too
        error = {"type": kind, "message": message}
        print(json.dumps({"error": error}, ensure_ascii=False), flush=True)


def report(error: BaseException | str, *, as_json: bool, kind: str | None = None) -> None:
    """Tell the user about a failure: ``chatlane: error: <message>`` on stderr (and the
    JSON object on stdout with ``--json``). A string is a message of the CLI's own."""
    if isinstance(error, str):
        message = scrub(re.sub(r"\s*\n\s*", " ", error.strip()))
        _emit(PREFIX, kind or "UsageError", message, as_json)
    else:
        _emit(PREFIX, kind or type(error).__name__, cli_message(error), as_json)


def report_internal(exc: BaseException, *, as_json: bool) -> None:
    """An exception nothing expected: a bug, reported in one line all the same."""
    message = scrub(" ".join(f"{type(exc).__name__}: {exc}".split()))
    _emit("chatlane: internal error: ", "InternalError", message, as_json)


def unencodable(text: str) -> str | None:
    """Where ``text`` (from argv or stdin, decoded with surrogateescape) is not valid UTF-8,
    as ``byte 0xff at character 3``; None when it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        code = ord(bad)
        byte = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        return f"{byte} at character {exc.start + 1}"
    return None
