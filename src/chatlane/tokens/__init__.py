"""Tokens, the model table, trimming and cost.

::

    from chatlane.tokens import count_message_tokens, trim_messages, estimate_cost

    count_message_tokens(messages, "gpt-4o")        # TokenCount(tokens=..., exact=True, ...)
    trim_messages(messages, "gpt-4o", max_tokens=1024).messages
    estimate_cost(completion.usage, "openai/gpt-4o-2024-08-06")   # USD, or None

    # A model the table does not list: give its facts (or give them to the client once).
    facts = ModelInfo(context_window=32_768, input_per_mtok=0.2, output_per_mtok=0.6)
    trim_messages(messages, "llama3.2:3b", max_tokens=1024, model_info=facts)

Every function takes what it counts first and the model second; ``model_info=`` gives the
model's facts in place of the model table's (``chatlane.providers.profiles``).

Counting is offline: OpenAI's encodings ship inside chatlane and run on tiktoken
(``pip install 'chatlane[tokens]'``; without it counts are estimates, ``exact=False``).
The embedded model counts with its own tokenizer. Importing this package imports neither
tiktoken nor llama.cpp.
"""

from chatlane.tokens.cost import estimate_cost
from chatlane.tokens.counting import TokenCount, count_message_tokens, count_tokens
from chatlane.tokens.models import PRICES_AS_OF, ModelInfo, model_info
from chatlane.tokens.trimming import (
    PromptTooLongError,
    TrimResult,
    UnknownContextWindowWarning,
    trim_messages,
)

__all__ = [
    "PRICES_AS_OF",
    "ModelInfo",
    "PromptTooLongError",
    "TokenCount",
    "TrimResult",
    "UnknownContextWindowWarning",
    "count_message_tokens",
    "count_tokens",
    "estimate_cost",
    "model_info",
    "trim_messages",
]
