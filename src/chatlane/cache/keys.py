"""The cache key of a request: a stable hash of what determines its answer.

In the key: the provider, its base URL (two compatible servers are two caches), the model as
the provider knows it, and every request field except those that cannot change the answer:
``stream``, ``stream_options``, ``user``, ``metadata``, ``store``, ``safety_identifier``,
``prompt_cache_key``, ``service_tier``, and chatlane's own per-call options (``timeout``,
``extra_headers``, ``cache``, ``budget``, ``fallbacks``). So the messages, tools,
``tool_choice``, ``response_format``, sampling parameters, ``seed``, ``max_tokens``, stop
sequences and ``extra_body`` are all in it; headers, the caller's identity and timing are
not. A field chatlane does not know yet is in the key (a new field may change the answer).
A streamed and a whole request with the same fields share one entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["IGNORED", "cache_key"]

IGNORED = frozenset(
    {
        "model",  # the key holds the provider's own name for it
        "provider",
        "stream",
        "stream_options",
        "user",
        "metadata",
        "store",
        "safety_identifier",
        "prompt_cache_key",
        "service_tier",
        "timeout",
        "extra_headers",
        "cache",
        "budget",
        "fallbacks",
    }
)

_encode = msgspec.json.Encoder(order="sorted").encode


def cache_key(
    provider: str, base_url: str, model: str, params: Mapping[str, Any], namespace: str = ""
) -> str:
    """The hex BLAKE2b (256 bits) of the request's answer-determining fields (see the
    module docs); BLAKE2b rather than SHA-256: half the cost for a key made on every call."""
    # A field given as None is not sent, so it is the same request as one without it.
    fields = {
        name: value for name, value in params.items() if name not in IGNORED and value is not None
    }
    material = _encode((1, namespace, provider, base_url, model, fields))
    return hashlib.blake2b(material, digest_size=32).hexdigest()
