"""Fallbacks: ``Client(fallbacks=["openai/gpt-4o-mini", other_client])`` tries the next
target when one fails after its own retries. See :mod:`chatlane.fallback.piece`."""

from chatlane.fallback.piece import DEFAULT_FALLBACK_ON, FallbackPiece

__all__ = ["DEFAULT_FALLBACK_ON", "FallbackPiece"]
