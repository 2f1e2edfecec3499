"""The ``chatlane`` command as a user runs it: a subprocess, or a terminal driven by tmux."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatlane.cli import build_parser
from chatlane.testing import Completion, ErrorReply, FakeServer, ToolCallSpec
from tests.conftest import API_KEY
from tests.local.conftest import needs_model

ROOT = Path(__file__).resolve().parents[2]


def chatlane(
    *args: str, stdin: str | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "chatlane", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


def remote(server: FakeServer) -> list[str]:
    return ["--base-url", server.url, "--model", "fake-model"]


def tool_messages(server: FakeServer) -> list[dict[str, str]]:
    last = server.chat_requests[-1].json()
    return [m for m in last["messages"] if m["role"] == "tool"]


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key a server given by --base-url alone gets."""
    monkeypatch.setenv("CHATLANE_API_KEY", API_KEY)


def test_ask_prints_the_answer_alone_on_stdout_and_tool_calls_on_stderr(
    server: FakeServer, keyed: None
) -> None:
    server.enqueue(
        Completion(content=None, tool_calls=[ToolCallSpec("calculator", {"expression": "2+3*4"})]),
        Completion(content="It is 14."),
    )
    done = chatlane("ask", *remote(server), "What is 2+3*4?")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "It is 14.\n"
    assert '→ calculator({"expression":"2+3*4"})' in done.stderr
    assert "← calculator: 14" in done.stderr
    assert "2 turns, 1 tool call" in done.stderr
    assert tool_messages(server)[0]["content"] == "14"
    offered = [t["function"]["name"] for t in server.chat_requests[0].json()["tools"]]
    assert offered == ["current_datetime", "calculator", "convert_units"]
    assert API_KEY not in done.stdout + done.stderr


def test_ask_json_is_machine_readable(server: FakeServer, keyed: None) -> None:
    server.enqueue(
        Completion(
            content=None,
            tool_calls=[
                ToolCallSpec("convert_units", {"value": 10, "from_unit": "km", "to_unit": "mi"})
            ],
            usage=(20, 4),
        ),
        Completion(content="About 6.2 miles.", usage=(40, 6)),
    )
    done = chatlane("ask", *remote(server), "--json", "10 km in miles?")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["answer"] == "About 6.2 miles."
    assert data["turns"] == 2
    assert data["usage"]["prompt_tokens"] == 60
    assert data["usage"]["completion_tokens"] == 10
    [call] = data["tool_calls"]
    assert call["name"] == "convert_units"
    assert call["is_error"] is False
    assert json.loads(call["arguments"]) == {"value": 10, "from_unit": "km", "to_unit": "mi"}
    assert call["result"].startswith("10 km = 6.21")
    assert done.stderr == ""


def test_ask_reads_the_question_from_stdin_and_quiet_prints_only_the_answer(
    server: FakeServer, keyed: None
) -> None:
    server.enqueue(Completion(content="Piped."))
    done = chatlane("ask", *remote(server), "--quiet", "--no-tools", "-", stdin="Hello?\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, "Piped.\n", "")
    body = server.chat_requests[0].json()
    assert body["messages"][-1] == {"role": "user", "content": "Hello?"}
    assert "tools" not in body


def test_user_tools_from_a_module_and_files_under_allow_dir(
    server: FakeServer, keyed: None, tmp_path: Path
) -> None:
    (tmp_path / "mytools.py").write_text(
        "from chatlane.tools import tool\n\n"
        "@tool\n"
        "def shout(text: str) -> str:\n"
        '    """Upper-case the text."""\n'
        "    return text.upper()\n"
    )
    allowed = tmp_path / "notes"
    allowed.mkdir()
    (allowed / "todo.txt").write_text("buy milk\n")
    (tmp_path / "secret.txt").write_text("top secret\n")
    server.enqueue(
        Completion(
            content=None,
            tool_calls=[
                ToolCallSpec("shout", {"text": "hi"}),
                ToolCallSpec("read_file", {"path": "todo.txt"}),
                ToolCallSpec("read_file", {"path": "../secret.txt"}),
            ],
        ),
        Completion(content="ok"),
    )
    done = chatlane(
        "ask",
        *remote(server),
        "--tool",
        "calculator",
        "--tools",
        "mytools",
        "--allow-dir",
        str(allowed),
        "go",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    offered = [t["function"]["name"] for t in server.chat_requests[0].json()["tools"]]
    assert offered == ["calculator", "read_file", "list_files", "shout"]
    shout, todo, escape = (m["content"] for m in tool_messages(server))
    assert shout == "HI"
    assert "buy milk" in todo
    assert escape.startswith("Error: read_file failed")
    assert "outside" in escape
    assert "top secret" not in escape


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base-url", "http://127.0.0.1:9/v1", "q"], "--base-url needs --model"),
        (["--tool", "rocket", "q"], "--tool rocket: no such built-in tool"),
        (["--tools", "no_such_module_here", "q"], "--tools no_such_module_here: cannot import"),
        (["--allow-dir", "/no/such/dir", "q"], "/no/such/dir"),
        (["--max-turns", "0", "q"], "--max-turns must be at least 1"),
        (["--timeout", "0", "q"], "--timeout: must be a positive number of seconds"),
        (
            ["--tools", "broken_tools", "q"],
            "--tools broken_tools: importing it failed: ZeroDivisionError: division by zero",
        ),
    ],
)
def test_bad_options_are_named(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "broken_tools.py").write_text("RATIO = 1 / 0\n")
    done = chatlane("ask", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_provider_errors_are_one_line_without_the_key(server: FakeServer, keyed: None) -> None:
    server.enqueue(ErrorReply(401, message="Incorrect API key provided: sk-test-0123456789-SECRET"))
    done = chatlane("ask", *remote(server), "hi")
    assert done.returncode == 1
    assert done.stderr.startswith("chatlane: error: ")
    assert "Traceback" not in done.stderr
    assert API_KEY not in done.stderr
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert done.stdout == ""


def test_the_model_can_come_from_the_environment(
    server: FakeServer, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATLANE_MODEL", "env-model")
    server.enqueue(Completion(content="ok"))
    done = chatlane("ask", "--base-url", server.url, "--no-tools", "q")
    assert done.returncode == 0, done.stderr
    assert server.chat_requests[0].json()["model"] == "env-model"


def test_ask_json_reports_errors_as_json_too(server: FakeServer, keyed: None) -> None:
    server.enqueue(ErrorReply(404, message="The model `fake-model` does not exist"))
    done = chatlane("ask", *remote(server), "--json", "hi")
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "NotFoundError"
    assert "does not exist" in error["message"]


def test_a_cut_off_answer_is_flagged(server: FakeServer, keyed: None) -> None:
    server.enqueue(Completion(content="It is", finish_reason="length"))
    done = chatlane("ask", *remote(server), "--max-tokens", "2", "--no-tools", "q")
    assert done.returncode == 0
    assert done.stdout == "It is\n"
    assert "cut off by the token limit" in done.stderr
    assert server.chat_requests[0].json()["max_tokens"] == 2


@pytest.mark.local_model
@needs_model
def test_ask_on_the_embedded_model_calls_the_tool() -> None:
    done = chatlane("ask", "--tool", "current_datetime", "What time is it in Tokyo right now?")
    assert done.returncode == 0, done.stderr
    assert "→ current_datetime(" in done.stderr
    assert "← current_datetime: " in done.stderr
    assert done.stdout.strip()


def test_chat_session_over_a_pipe(server: FakeServer, keyed: None, tmp_path: Path) -> None:
    server.enqueue(Completion(content="Hello, Ada."), Completion(content="You are Ada."))
    saved = tmp_path / "chat.json"
    script = f"I am Ada.\nWho \\\nam I?\n/save {saved}\n/model other-model\n/usage\n/exit\n"
    done = chatlane("chat", *remote(server), "--system", "Be brief.", stdin=script)
    assert done.returncode == 0, done.stderr
    assert "Hello, Ada." in done.stdout
    assert "You are Ada." in done.stdout
    assert "(model: other-model)" in done.stdout
    assert "this session: 2 answers" in done.stdout
    second = server.chat_requests[1].json()["messages"]
    assert second[-1] == {"role": "user", "content": "Who \nam I?"}
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    document = json.loads(saved.read_text())
    assert [m["content"] for m in document["messages"]] == [
        "Be brief.",
        "I am Ada.",
        "Hello, Ada.",
        "Who \nam I?",
        "You are Ada.",
    ]


def test_chat_load_reset_and_errors_keep_the_session_going(
    server: FakeServer, keyed: None, tmp_path: Path
) -> None:
    saved = tmp_path / "old.json"
    saved.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "My name is Bo."},
                    {"role": "assistant", "content": "Hi Bo."},
                ]
            }
        )
    )
    (tmp_path / "broken.json").write_text("{not json")
    server.enqueue(ErrorReply(500), ErrorReply(500), ErrorReply(500), Completion(content="Bo."))
    script = (
        f"/load {tmp_path / 'broken.json'}\n/load {saved}\nfails\nWho am I?\n/reset\n/tools\n"
        f"/nope\n/save\n/save {tmp_path}\n/usage\n/reset\n/help\n/QUIT\nnot read\n"
    )
    done = chatlane("chat", *remote(server), "--no-tools", stdin=script)
    assert done.returncode == 0, done.stderr
    assert "error: not a saved conversation" in done.stdout
    assert "(loaded 2 messages" in done.stdout
    assert "error: Error from chatlane's fake server." in done.stdout  # the failed question
    assert "Bo." in done.stdout
    assert "unknown command /nope" in done.stdout
    assert "(conversation cleared)" in done.stdout
    assert "(no tools)" in done.stdout
    assert "usage: /save PATH" in done.stdout
    assert f"error: cannot write {tmp_path}: Is a directory" in done.stdout
    assert "(this session: 1 answer, " in done.stdout
    assert "/load PATH     continue a saved conversation" in done.stdout  # /help
    assert "not read" not in server.chat_requests[-1].body.decode()  # /QUIT ended it
    assert len(server.chat_requests) == 4
    last = server.chat_requests[-1].json()["messages"]
    # the failed question left the history: the next one follows the loaded messages
    assert [m["content"] for m in last] == ["My name is Bo.", "Hi Bo.", "Who am I?"]


@pytest.fixture
def tmux() -> Iterator[str]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (.ci/run installs it)")
    name = f"chatlane-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def _screen(name: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True
    ).stdout


def _wait_for(name: str, pattern: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = _screen(name)
        if re.search(pattern, screen):
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} never appeared; the screen:\n{_screen(name)}")


def test_chat_in_a_terminal(server: FakeServer, tmux: str) -> None:
    server.enqueue(
        Completion(content=None, tool_calls=[ToolCallSpec("calculator", {"expression": "6*7"})]),
        Completion(content="The answer is 42."),
    )
    command = " ".join([sys.executable, "-m", "chatlane", "chat", *remote(server)])
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", tmux, "-x", "120", "-y", "40", command],
        check=True,
    )
    _wait_for(tmux, r"you>")
    subprocess.run(["tmux", "send-keys", "-t", tmux, "never mind", "C-c"], check=True)
    _wait_for(tmux, r"\(dropped; /exit or Ctrl-D to leave\)\n.*you>")  # the session goes on
    subprocess.run(["tmux", "send-keys", "-t", tmux, "What is 6*7?", "Enter"], check=True)
    screen = _wait_for(tmux, r"The answer is 42\.")
    assert '→ calculator({"expression":"6*7"})' in screen
    assert "← calculator: 42" in screen
    assert len(server.chat_requests) == 2  # the dropped line was never sent
    assert "never mind" not in server.chat_requests[0].body.decode()
    _wait_for(tmux, r"2 turns, 1 tool call.*\n.*you>")
    subprocess.run(["tmux", "send-keys", "-t", tmux, "/exit", "Enter"], check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = subprocess.run(["tmux", "has-session", "-t", tmux], capture_output=True)
        if alive.returncode != 0:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("chatlane chat did not exit on /exit")


def test_help_is_quick_to_load() -> None:
    """``--help`` must not import the heavy parts (pydantic, aiohttp, llama.cpp, tiktoken)."""
    probe = (
        "import sys, contextlib, io\n"
        "from chatlane.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['ask', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'pydantic', 'aiohttp', 'llama_cpp', 'tiktoken', 'chatlane.tools'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _help(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [(), ("ask",), ("chat",)], ids=["main", "ask", "chat"])
def test_readme_shows_the_current_help(
    command: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    readme = (ROOT / "README.md").read_text()
    text = _help(capsys, *command)
    assert f"```text\n$ chatlane {' '.join([*command, '--help']).strip()}\n{text}```" in readme, (
        "README.md's help text is out of date; paste this:\n" + text
    )


def test_usage_a_server_does_not_report_is_unknown_not_zero(
    server: FakeServer, keyed: None
) -> None:
    server.enqueue(Completion(content="hello", usage=None))
    done = chatlane("ask", *remote(server), "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello"
    assert "tokens not reported by the server" in done.stderr
    assert "0 prompt" not in done.stderr
