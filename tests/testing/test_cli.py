"""``python -m chatlane.testing`` as a user runs it: a subprocess, a URL line, a signal."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys

import urllib3

import chatlane

SRC = str(pathlib.Path(chatlane.__file__).parent.parent)


def test_cli_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "chatlane.testing", "--host", "127.0.0.1", "--port", "0"]
    with subprocess.Popen(
        [*command, "--api-key", "K"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.fullmatch(
                r"chatlane fake server listening on (http://127\.0\.0\.1:\d+/v1)\n", line
            )
            assert match, line
            with urllib3.PoolManager(retries=False, timeout=5) as pool:
                url = match.group(1) + "/chat/completions"
                body = {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
                refused = pool.request("POST", url, json=body)
                answered = pool.request(
                    "POST", url, json=body, headers={"Authorization": "Bearer K"}
                )
            assert refused.status == 401
            content = answered.json()["choices"][0]["message"]["content"]
            assert content == "This is chatlane's fake server. You said: ping"
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 0, stderr
    assert stderr == ""


def test_cli_stops_on_sigterm_and_reports_a_busy_port() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "chatlane.testing", "--port", "0"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    ) as first:
        try:
            assert first.stdout is not None
            port = first.stdout.readline().strip().rsplit(":", 1)[1].removesuffix("/v1")
            busy = subprocess.run(
                [*command[:-1], port],
                capture_output=True,
                text=True,
                env=env,
                timeout=20,
                check=False,
            )
            assert busy.returncode == 1
            assert f"cannot listen on 127.0.0.1:{port}" in busy.stderr
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
    assert first.returncode == 0
