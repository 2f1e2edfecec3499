"""Bad input never gets a traceback: one ``chatlane: error: ...`` line on stderr, a non-zero
exit, and with ``--json`` a JSON error object on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatlane.cli import errors as cli_errors
from chatlane.cli import main
from chatlane.core.errors import (
    AuthenticationError,
    ConfigurationError,
    RequestValidationError,
    UsageError,
)
from chatlane.testing import Completion, FakeServer
from tests.conftest import API_KEY

PREFIX = "chatlane: error: "


def run_bytes(
    *args: str | bytes, stdin: bytes = b"", cwd: Path | None = None
) -> tuple[int, str, str]:
    """The command in a subprocess, argv and stdin as raw bytes."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "CHATLANE_API_KEY": API_KEY}
    done = subprocess.run(
        [sys.executable, "-m", "chatlane", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )
    out = done.stdout.decode("utf-8")
    err = done.stderr.decode("utf-8")
    assert API_KEY not in out + err
    return done.returncode, out, err


def one_line(stderr: str, start: str = PREFIX) -> str:
    """The single error line, checked to be all there is."""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(start), stderr
    return lines[0][len(start) :]


def json_error(stdout: str) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(stdout)["error"]
    assert set(error) == {"type", "message"}
    return error


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    assert API_KEY not in out + err
    return status, out, err


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATLANE_API_KEY", API_KEY)


def remote(server: FakeServer) -> list[str]:
    return ["--base-url", server.url, "--model", "fake-model"]


# --- text that is not UTF-8 ------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_stdin_that_is_not_utf8(server: FakeServer, as_json: bool) -> None:
    flags = ["--json"] if as_json else []
    status, out, err = run_bytes("ask", *remote(server), *flags, "-", stdin=b"\xff\xfe")
    assert status == 2
    message = one_line(err)
    assert message == "stdin is not valid UTF-8 text (byte 0xff at offset 0)"
    if as_json:
        assert json_error(out)["message"] == message
    else:
        assert out == ""
    assert server.chat_requests == []


def test_stdin_valid_utf8_still_works(server: FakeServer) -> None:
    server.enqueue(Completion(content="ok"))
    status, out, _ = run_bytes("ask", *remote(server), "--quiet", "-", stdin="café?".encode())
    assert (status, out) == (0, "ok\n")
    assert server.chat_requests[0].json()["messages"][-1]["content"] == "café?"


def test_a_question_in_argv_that_is_not_utf8(server: FakeServer) -> None:
    question = os.fsencode("caf\udce9 au lait")  # b"caf\xe9 au lait": Latin-1, not UTF-8
    assert question == b"caf\xe9 au lait"
    status, out, err = run_bytes("ask", *remote(server), "--json", question)
    assert status == 2
    message = one_line(err)
    assert message == "the question is not valid UTF-8 text (byte 0xe9 at character 4)"
    assert json_error(out)["message"] == message
    assert server.chat_requests == []


def test_an_option_in_argv_that_is_not_utf8(server: FakeServer) -> None:
    status, _, err = run_bytes("ask", *remote(server), "--system", b"\xff", "q")
    assert status == 2
    assert one_line(err) == "--system is not valid UTF-8 text (byte 0xff at character 1)"


def test_chat_refuses_a_line_that_is_not_utf8_and_goes_on(server: FakeServer) -> None:
    server.enqueue(Completion(content="Hello."))
    script = b"bad \xff line\nhi\n/exit\n"
    status, out, err = run_bytes("chat", *remote(server), "--no-tools", stdin=script)
    assert status == 0, err
    assert "error: that line is not valid UTF-8 text (byte 0xff at character 5)" in out
    assert "Hello." in out
    [request] = server.chat_requests
    assert request.json()["messages"][-1]["content"] == "hi"


# --- --timeout, --base-url -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "1e999", "abc", ""])
def test_odd_timeouts(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(capsys, "ask", f"--timeout={value}", "--json", "q")
    assert status == 2
    message = one_line(err)
    assert message == f"--timeout: must be a positive number of seconds, not {value!r}"
    assert json_error(out) == {"type": "UsageError", "message": message}


def test_a_small_timeout_is_accepted(server: FakeServer, keyed: None) -> None:
    server.enqueue(Completion(content="ok"))
    assert main(["ask", *remote(server), "--timeout", "2.5", "--no-tools", "q"]) == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "a URL has no spaces (encode one as %20)"),
        ("http://a b/v1", "a URL has no spaces (encode one as %20)"),
        ("ftp://x", "give an http:// or https:// URL, like http://localhost:8000/v1"),
        ("localhost:8000", "give an http:// or https:// URL, like http://localhost:8000/v1"),
        ("http://", "the URL names no host"),
        ("http:///v1", "the URL names no host"),
        ("http://[::1", "not a URL (Invalid IPv6 URL)"),
        ("http://h:99999/v1", "not a URL (Port out of range 0-65535)"),
        ("http://h:port/v1", "not a URL (Port could not be cast to integer value as 'port')"),
    ],
)
def test_malformed_base_urls(url: str, reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(capsys, "ask", "--base-url", url, "--model", "m", "--json", "q")
    assert status == 2
    message = one_line(err)
    assert message == f"--base-url {url!r}: {reason}"
    assert json_error(out)["message"] == message


def test_a_key_in_a_base_url_is_not_echoed(keyed: None, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"ftp://me:{API_KEY}@example.com/v1"
    status, _, err = run_main(capsys, "ask", "--base-url", url, "--model", "m", "q")
    assert status == 2
    assert one_line(err) == "--base-url 'ftp://me:***@example.com/v1': " + (
        "give an http:// or https:// URL, like http://localhost:8000/v1"
    )


# --- --tools ---------------------------------------------------------------------------------

SHOUT = (
    "from chatlane.tools import tool\n\n"
    "@tool\n"
    "def shout(text: str) -> str:\n"
    '    """Upper-case the text."""\n'
    "    return text.upper()\n"
)


@pytest.mark.parametrize("where", ["relative", "absolute", "bare"])
def test_tools_given_as_a_file_path(
    where: str, server: FakeServer, tmp_path: Path, keyed: None
) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "shouting.py").write_text(SHOUT)
    value = {
        "relative": "./lib/shouting.py",
        "absolute": str(folder / "shouting.py"),
        "bare": "shouting.py",
    }[where]
    cwd = folder if where == "bare" else tmp_path
    server.enqueue(Completion(content="ok"))
    status, out, err = run_bytes(
        "ask", *remote(server), "--tool", "calculator", "--tools", value, "--quiet", "q", cwd=cwd
    )
    assert (status, out) == (0, "ok\n"), err
    offered = [t["function"]["name"] for t in server.chat_requests[0].json()["tools"]]
    assert offered == ["calculator", "shout"]


@pytest.mark.parametrize(
    ("files", "value", "message"),
    [
        (
            {},
            "./missing.py",
            "--tools ./missing.py: no such file (give a module name, like mytools, or the "
            "path of a .py file)",
        ),
        (
            {"my-tools.py": SHOUT},
            "./my-tools.py",
            "--tools ./my-tools.py: 'my-tools' is not a Python module name; rename the file",
        ),
        (
            {"quits.py": "import sys\nsys.exit(3)\n"},
            "quits",
            "--tools quits: the module called sys.exit(3) while being imported",
        ),
        (
            {"quits.py": "raise SystemExit('bye')\n"},
            "./quits.py",
            "--tools ./quits.py: the module called sys.exit('bye') while being imported",
        ),
        (
            {"raises.py": "raise RuntimeError('no config found')\n"},
            "raises",
            "--tools raises: importing it failed: RuntimeError: no config found",
        ),
        (
            {"chatty.py": "print('loading')\nraise ValueError('bad\\nvalue')\n"},
            "chatty",
            "--tools chatty: importing it failed: ValueError: bad value",
        ),
        (
            {"notlist.py": "TOOLS = 5\n"},
            "notlist",
            "--tools notlist: TOOLS must be a list of tools (@tool functions or plain "
            "functions), not int",
        ),
        (
            {"adict.py": "TOOLS = {'shout': 1}\n"},
            "adict",
            "--tools adict: TOOLS must be a list of tools (@tool functions or plain "
            "functions), not dict",
        ),
        (
            {"nontools.py": "def ok(x: int) -> int:\n    return x\n\nTOOLS = [ok, 'shout']\n"},
            "nontools",
            "--tools nontools: TOOLS[1] is not a tool or a function: str 'shout'",
        ),
        (
            {"builtin.py": "TOOLS = [len]\n"},
            "builtin",
            "--tools builtin: TOOLS[0]: parameter 'obj' of tool 'len' is positional-only; "
            "tool arguments are passed by name",
        ),
        (
            {"aclass.py": "class Thing:\n    pass\n\nTOOLS = [Thing]\n"},
            "aclass",
            "--tools aclass: TOOLS[0] is not a tool or a function: type <class 'aclass.Thing'>",
        ),
        (
            {"empty.py": "TOOLS = []\n"},
            "empty",
            "--tools empty: the module defines an empty TOOLS list",
        ),
    ],
)
def test_tools_modules_that_cannot_work(
    files: dict[str, str], value: str, message: str, tmp_path: Path
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    status, out, err = run_bytes(
        "ask", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--tools", value,
        "--json", "q", cwd=tmp_path,
    )  # fmt: skip
    assert status == 2
    if "print(" in files.get("chatty.py", ""):
        assert err.startswith("loading\n")  # what the module printed is not the answer
        err = err.removeprefix("loading\n")
    assert one_line(err) == message
    assert json_error(out) == {"type": "CLIError", "message": message}


# --- chatlane's own errors, in the CLI's words -----------------------------------------------


def test_messages_name_flags_not_keywords() -> None:
    message = cli_errors.cli_message
    assert message(RequestValidationError("model: is required", field="model")) == (
        "--model: is required"
    )
    assert message(RequestValidationError("max_tokens: must be >= 1", field="max_tokens")) == (
        "--max-tokens: must be >= 1"
    )
    assert message(UsageError("model= is required: provider 'x' has no default model")) == (
        "--model is required: provider 'x' has no default model"
    )
    assert message(ConfigurationError("provider 'vllm' needs base_url={...} or set X")) == (
        "provider 'vllm' needs --base-url or set X"
    )
    assert (
        message(
            ConfigurationError(
                "no API key: set the OPENAI_API_KEY environment variable or pass api_key="
            )
        )
        == "no API key: set the OPENAI_API_KEY environment variable"
    )
    # A field with no flag, and words that merely contain a keyword, stay as they are.
    assert message(RequestValidationError("messages[0].content: bad", field="messages[0]")) == (
        "messages[0].content: bad"
    )
    error = AuthenticationError(
        "Incorrect key\nprovided", provider="openai", model="gpt-4o", status=401, attempts=1
    )
    assert message(error) == "Incorrect key provided (provider openai, model gpt-4o, " + (
        "status 401, 1 attempt)"
    )


def test_a_blank_model_is_named_as_the_flag(
    server: FakeServer, keyed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_main(
        capsys, "ask", "--base-url", server.url, "--model", " ", "--json", "q"
    )
    assert status == 2
    message = one_line(err)
    assert message == "--model: is required (a non-empty string)"
    assert json_error(out) == {"type": "RequestValidationError", "message": message}
    assert server.chat_requests == []


def test_a_request_chatlane_refuses_names_the_flag(
    server: FakeServer, keyed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_main(
        capsys, "ask", *remote(server), "--temperature", "nan", "--no-tools", "--json", "q"
    )
    assert status == 2
    message = one_line(err)
    assert message == "--temperature: must be between 0 and 2, got nan"
    assert json_error(out)["type"] == "RequestValidationError"
    assert server.chat_requests == []


@pytest.mark.parametrize(
    ("args", "kind", "message"),
    [
        (
            ["--provider", "openai"],
            "ConfigurationError",
            "no API key for provider 'openai': set the OPENAI_API_KEY environment variable",
        ),
        (
            ["--provider", "nope"],
            "ConfigurationError",
            "unknown provider 'nope'; known providers: ",
        ),
        (
            ["--base-url", "http://127.0.0.1:9/v1"],
            "CLIError",
            "--base-url needs --model (the server's model name)",
        ),
        (["--tool", "rocket"], "CLIError", "--tool rocket: no such built-in tool"),
        (["--max-turns", "0"], "UsageError", "--max-turns must be at least 1"),
        (["--max-tokens", "x"], "UsageError", "--max-tokens: invalid int value: 'x'"),
        (["--bogus"], "UsageError", "unrecognized arguments: --bogus"),
        (["--allow-dir", "/no/such/dir"], "ToolDefinitionError", "/no/such/dir"),
    ],
)
def test_setup_errors_are_json_too(
    args: list[str], kind: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_main(capsys, "ask", *args, "--json", "q")
    assert status == 2
    line = one_line(err)
    assert message in line
    assert "=" not in line  # no Python keyword (api_key=, model=)
    assert json_error(out) == {"type": kind, "message": line}


def test_a_missing_question_under_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(capsys, "ask", "--json")
    assert status == 2
    assert one_line(err) == "the following arguments are required: question"
    assert json_error(out)["message"] == "the following arguments are required: question"


def test_an_empty_question_from_stdin(server: FakeServer) -> None:
    status, out, err = run_bytes("ask", *remote(server), "--json", "-", stdin=b" \n")
    assert status == 2
    assert one_line(err) == "the question is empty"
    assert json_error(out)["message"] == "the question is empty"


def test_without_json_stdout_stays_empty(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(capsys, "ask", "--timeout", "abc", "q")
    assert (status, out) == (2, "")
    one_line(err)


# --- the safety net --------------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_unexpected_exception_is_one_internal_error_line(
    as_json: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import chatlane.cli.ask

    def broken(args: object) -> int:
        raise ValueError(f"something broke near {API_KEY}\nsecond line")

    monkeypatch.setenv("CHATLANE_API_KEY", API_KEY)
    monkeypatch.setattr(chatlane.cli.ask, "run_ask", broken)
    status, out, err = run_main(capsys, "ask", *(["--json"] if as_json else []), "q")
    assert status == 70
    message = one_line(err, "chatlane: internal error: ")
    assert message == "ValueError: something broke near *** second line"
    if as_json:
        assert json_error(out) == {"type": "InternalError", "message": message}
    else:
        assert out == ""
