"""chatlane: a small, fast, typed client for OpenAI-compatible Chat Completions APIs.

Every public name is exported here, once. Heavy pieces (transports, aiohttp) load lazily,
and so do the tools, the agent and conversations: their names resolve on first use.
"""

import typing as _typing

from chatlane._client.aio import AsyncChatStream, AsyncClient
from chatlane._client.ping import PingResult
from chatlane._client.sync import ChatStream, Client
from chatlane._lazy import lazy_getattr as _lazy_getattr
from chatlane._version import __version__
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
from chatlane.local.settings import LocalModel
from chatlane.providers.registry import PROVIDERS, Provider, StructuredOutputMode

if _typing.TYPE_CHECKING:
    from chatlane.agent import (
        Agent,
        AgentEvent,
        AgentLimitError,
        AgentResult,
        AsyncAgent,
        FinalAnswer,
        TextDelta,
        ToolCallFinished,
        ToolCallStarted,
        TurnFinished,
    )
    from chatlane.conversation import Conversation, ConversationFormatError
    from chatlane.structured import (
        AsyncStructuredStream,
        OutputRefusedError,
        OutputSchemaError,
        OutputTruncatedError,
        OutputValidationError,
        Parsed,
        StructuredOutputError,
        StructuredOutputWarning,
        StructuredStream,
    )
    from chatlane.tools import (
        StrictSchemaError,
        Tool,
        ToolArgumentsError,
        Toolbox,
        ToolDefinitionError,
        ToolResult,
        builtin_tools,
        file_tools,
        tool,
    )

__getattr__ = _lazy_getattr(__name__, __file__, globals())


__all__ = [
    "PROVIDERS",
    "APIError",
    "Agent",
    "AgentEvent",
    "AgentLimitError",
    "AgentResult",
    "AsyncAgent",
    "AsyncChatStream",
    "AsyncClient",
    "AsyncStructuredStream",
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
    "Conversation",
    "ConversationFormatError",
    "Delta",
    "FinalAnswer",
    "FinishReason",
    "FirstTokenTimeout",
    "FunctionCall",
    "IdleTimeout",
    "InternalServerError",
    "LocalModel",
    "Message",
    "MessageParam",
    "NotFoundError",
    "OutputRefusedError",
    "OutputSchemaError",
    "OutputTruncatedError",
    "OutputValidationError",
    "Parsed",
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
    "StrictSchemaError",
    "StructuredOutputError",
    "StructuredOutputMode",
    "StructuredOutputWarning",
    "StructuredStream",
    "TextDelta",
    "Timeout",
    "TimeoutError",
    "Tool",
    "ToolArgumentsError",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolDefinitionError",
    "ToolResult",
    "Toolbox",
    "TotalTimeout",
    "TransportError",
    "TurnFinished",
    "UnprocessableEntityError",
    "Usage",
    "UsageError",
    "__version__",
    "assistant",
    "builtin_tools",
    "file_tools",
    "image_part",
    "system",
    "text_part",
    "tool",
    "tool_result",
    "user",
]
