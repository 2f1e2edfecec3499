"""The structured surface: sync/async parity, lazy pydantic, provider rows."""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import get_args

import pytest

import chatlane
from chatlane.providers.registry import PROVIDERS, StructuredOutputMode
from chatlane.structured import AsyncStructuredStream, StructuredStream


def signature(function: object) -> list[tuple[str, object, object]]:
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in parameters]


@pytest.mark.parametrize("name", ["parse", "parse_stream"])
def test_sync_and_async_methods_take_the_same_arguments(name: str) -> None:
    sync, asynchronous = getattr(chatlane.Client, name), getattr(chatlane.AsyncClient, name)
    assert signature(sync) == signature(asynchronous)
    assert inspect.iscoroutinefunction(asynchronous) is (name == "parse")


def test_the_streams_mirror_each_other() -> None:
    def public(cls: type) -> set[str]:
        return {name for name in vars(cls) if not name.startswith("_")}

    assert public(StructuredStream) == public(AsyncStructuredStream) == {"close", "final"}
    assert inspect.iscoroutinefunction(AsyncStructuredStream.final)
    assert inspect.iscoroutinefunction(AsyncStructuredStream.close)


def test_importing_chatlane_does_not_import_pydantic() -> None:
    code = (
        "import sys, chatlane, chatlane.structured; "
        "print(sorted(m for m in ('pydantic', 'pydantic_core') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_provider_row_names_a_mode() -> None:
    modes = set(get_args(StructuredOutputMode))
    assert {row.structured_output for row in PROVIDERS.values()} <= modes
    assert PROVIDERS["anthropic"].structured_output == "tools"
    assert PROVIDERS["openai"].structured_output == "json_schema"
