"""Tokens, the model table, trimming and cost.

::

    from chatlane.tokens import count_message_tokens, trim_messages, estimate_cost

    count_message_tokens(messages, "gpt-4o")        # TokenCount(tokens=..., exact=True, ...)
    trim_messages(messages, model="gpt-4o", max_tokens=1024).messages
    estimate_cost(completion.usage, "openai/gpt-4o-2024-08-06")   # USD, or None

Counting is offline: OpenAI's encodings ship inside chatlane and run on tiktoken
(``pip install 'chatlane[tokens]'``; without it counts are estimates, ``exact=False``).
The embedded model counts with its own tokenizer. Importing this package imports neither
tiktoken nor llama.cpp.
"""

from chatlane.tokens.cost import estimate_cost
from chatlane.tokens.counting import TokenCount, count_message_tokens, count_tokens
from chatlane.tokens.models import PRICES_AS_OF, ModelInfo, model_info
from chatlane.tokens.trimming import PromptTooLongError, TrimResult, trim_messages

__all__ = [
    "PRICES_AS_OF",
    "ModelInfo",
    "PromptTooLongError",
    "TokenCount",
    "TrimResult",
    "count_message_tokens",
    "count_tokens",
    "estimate_cost",
    "model_info",
    "trim_messages",
]
