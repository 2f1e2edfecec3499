"""OpenAI's BPE encodings, loaded from files shipped inside chatlane: never downloaded.

``tiktoken`` normally fetches its ``.tiktoken`` rank files from a blob store on first use,
which fails on machines without internet access. chatlane ships the two encodings its
models use (``data/cl100k_base.tiktoken.gz``, ``data/o200k_base.tiktoken.gz``; OpenAI's
files, MIT licensed with tiktoken, see ``data/NOTICE``) and builds ``tiktoken.Encoding``
objects from them with the same split pattern and special tokens tiktoken itself uses. Each
file is checked against the SHA-256 that tiktoken publishes for it before use.

tiktoken is optional (``pip install 'chatlane[tokens]'``): without it :func:`get_encoding`
returns None and callers fall back to estimates. tiktoken is imported only here, and only
when an encoding is first needed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import threading
from importlib import resources
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import tiktoken

__all__ = ["ENCODINGS", "get_encoding", "tiktoken_installed"]

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

# Split patterns and special tokens as in tiktoken_ext/openai_public.py (tiktoken 0.14).
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


class _Spec:
    __slots__ = ("file", "pattern", "sha256", "special_tokens")

    def __init__(
        self, file: str, sha256: str, pattern: str, special_tokens: dict[str, int]
    ) -> None:
        self.file = file
        self.sha256 = sha256
        self.pattern = pattern
        self.special_tokens = special_tokens


_SPECS: Final[dict[str, _Spec]] = {
    "cl100k_base": _Spec(
        "cl100k_base.tiktoken.gz",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PATTERN,
        {
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": _Spec(
        "o200k_base.tiktoken.gz",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PATTERN,
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}

ENCODINGS: Final = frozenset(_SPECS)
"""Names of the encodings chatlane can count exactly (with tiktoken installed)."""

_cache: dict[str, tiktoken.Encoding] = {}
_lock = threading.Lock()


def tiktoken_installed() -> bool:
    """True when tiktoken can be imported (checked without importing it)."""
    return importlib.util.find_spec("tiktoken") is not None


def load_ranks(name: str) -> dict[bytes, int]:
    """The BPE ranks of encoding ``name`` from the shipped file, checked against its hash."""
    spec = _SPECS[name]
    packed = resources.files(__package__).joinpath("data", spec.file).read_bytes()
    raw = gzip.decompress(packed)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:  # pragma: no cover - a damaged installation
        raise RuntimeError(f"{spec.file} is damaged (sha256 {digest}, expected {spec.sha256})")
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def get_encoding(name: str) -> tiktoken.Encoding | None:
    """The encoding ``name`` (built once per process), or None when tiktoken is missing.

    Raises KeyError for a name chatlane does not ship.
    """
    encoding = _cache.get(name)
    if encoding is not None:
        return encoding
    spec = _SPECS[name]
    if not tiktoken_installed():
        return None
    with _lock:
        encoding = _cache.get(name)
        if encoding is None:
            import tiktoken

            encoding = tiktoken.Encoding(
                name,
                pat_str=spec.pattern,
                mergeable_ranks=load_ranks(name),
                special_tokens=dict(spec.special_tokens),
            )
            _cache[name] = encoding
    return encoding
