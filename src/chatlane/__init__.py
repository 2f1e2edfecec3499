"""chatlane: a small, fast, typed client for OpenAI-compatible Chat Completions APIs.

Every public name is exported here, once. Heavy pieces (transports, aiohttp) load lazily.
"""

from chatlane._version import __version__
from chatlane.async_client import AsyncChatStream, AsyncClient
from chatlane.client import ChatStream, Client
from chatlane.core.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ChatlaneError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    ConnectTimeout,
    ContentFilterError,
    ContextLengthExceededError,
    FirstTokenTimeout,
    IdleTimeout,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestValidationError,
    ResponseDecodeError,
    StreamError,
    StreamInterrupted,
    TimeoutError,
    TotalTimeout,
    TransportError,
    UnprocessableEntityError,
    UsageError,
)
from chatlane.core.messages import (
    MessageParam,
    assistant,
    image_part,
    system,
    text_part,
    tool_result,
    user,
)
from chatlane.core.request import ChatParams
from chatlane.core.retry import RetryPolicy
from chatlane.core.stream import StreamSummary
from chatlane.core.timeouts import Timeout
from chatlane.core.types import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    FinishReason,
    FunctionCall,
    Message,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from chatlane.local_model import LocalModel
from chatlane.ping import PingResult
from chatlane.providers.registry import PROVIDERS, Provider

__all__ = [
    "PROVIDERS",
    "APIError",
    "AsyncChatStream",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatParams",
    "ChatStream",
    "ChatlaneError",
    "Choice",
    "ChunkChoice",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "ConnectTimeout",
    "ContentFilterError",
    "ContextLengthExceededError",
    "Delta",
    "FinishReason",
    "FirstTokenTimeout",
    "FunctionCall",
    "IdleTimeout",
    "InternalServerError",
    "LocalModel",
    "Message",
    "MessageParam",
    "NotFoundError",
    "PermissionDeniedError",
    "PingResult",
    "Provider",
    "RateLimitError",
    "RequestValidationError",
    "ResponseDecodeError",
    "RetryPolicy",
    "StreamError",
    "StreamInterrupted",
    "StreamSummary",
    "Timeout",
    "TimeoutError",
    "ToolCall",
    "ToolCallDelta",
    "TotalTimeout",
    "TransportError",
    "UnprocessableEntityError",
    "Usage",
    "UsageError",
    "__version__",
    "assistant",
    "image_part",
    "system",
    "text_part",
    "tool_result",
    "user",
]
