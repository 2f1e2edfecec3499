"""Settings for the embedded model, and the one engine per settings that a process shares.

Importing it never imports llama.cpp (``chatlane.local`` loads its modules lazily):
the engine (and its 100 MB model) loads with the first request that needs it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatlane.local.engine import LocalEngine

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
    """

    model_path: str | None = None
    n_ctx: int = 4096
    n_threads: int | None = None

    def engine(self) -> LocalEngine:
        """The process-wide engine for these settings (created once; the model loads lazily)."""
        engine = _engines.get(self)
        if engine is None:
            with _engines_lock:
                engine = _engines.get(self)
                if engine is None:
                    from chatlane.local.engine import LocalEngine

                    engine = LocalEngine(
                        self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads
                    )
                    _engines[self] = engine
        return engine
