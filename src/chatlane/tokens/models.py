"""The model table as the token functions use it: context window, output limit, encoding and
list prices of common chat models.

The table itself, with how lookups resolve prefixes and snapshots, lives with the other facts
about providers and models in :mod:`chatlane.providers.profiles`: edit a model's facts there.
"""

from chatlane.providers.profiles import MODELS, PRICES_AS_OF, ModelInfo, model_info

__all__ = ["MODELS", "PRICES_AS_OF", "ModelInfo", "model_info"]
