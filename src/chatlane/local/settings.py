"""Settings for the embedded model, and the one engine per settings that a process shares.

Importing it never imports llama.cpp (``chatlane.local`` loads its modules lazily):
the engine (and its 100 MB model) loads with the first request that needs it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chatlane.local.prefix import DEFAULT_PREFIX_CACHE_BYTES

if TYPE_CHECKING:
    from chatlane.local.engine import LocalEngine
    from chatlane.providers.profiles import ModelInfo

__all__ = ["LocalModel"]


_engines: dict[LocalModel, LocalEngine] = {}
_engines_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class LocalModel:
    """Which GGUF file the ``local`` provider runs, and how.

    ``model_path=None`` is the bundled SmolLM2-135M-Instruct (model name ``smollm2``);
    any other GGUF chat model works, named by its file stem. ``n_threads=None`` uses every
    usable CPU core but one (at most 8), which keeps generation fast when other work needs
    the CPU too.

    A prompt reuses the evaluated prefix it shares with the previous prompt;
    ``prefix_cache_bytes`` (64 MiB by default, 0 for none) is the memory for the evaluated
    prompts of other conversations, so that several served by one engine keep theirs
    (least recently used dropped first). Reproducible requests (``temperature=0`` or a
    seed) answer the same with or without a cached prefix.
    """

    model_path: str | None = None
    n_ctx: int = 4096
    n_threads: int | None = None
    prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE_BYTES

    def model_info(self) -> ModelInfo:
        """What these settings make of the model: its context window is ``n_ctx`` (what the
        engine accepts, whatever the model was trained for); it runs in-process, so it is free.
        Nothing is loaded."""
        from chatlane.local.model_file import DEFAULT_MODEL_NAME, MODEL_FILE
        from chatlane.providers.profiles import ModelInfo

        path = None if self.model_path is None else Path(self.model_path)
        name = DEFAULT_MODEL_NAME if path is None or path.name == MODEL_FILE else path.stem
        return ModelInfo(
            name,
            context_window=self.n_ctx,
            input_per_mtok=0.0,
            output_per_mtok=0.0,
            cached_input_per_mtok=0.0,
        )

    def engine(self) -> LocalEngine:
        """The process-wide engine for these settings (created once; the model loads lazily)."""
        engine = _engines.get(self)
        if engine is None:
            with _engines_lock:
                engine = _engines.get(self)
                if engine is None:
                    from chatlane.local.engine import LocalEngine

                    engine = LocalEngine(
                        self.model_path,
                        n_ctx=self.n_ctx,
                        n_threads=self.n_threads,
                        prefix_cache_bytes=self.prefix_cache_bytes,
                    )
                    _engines[self] = engine
        return engine
