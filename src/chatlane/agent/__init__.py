"""A bounded agent loop over the client and ``chatlane.tools``, sync and async.

::

    from chatlane.agent import Agent
    from chatlane.tools import builtin_tools

    agent = Agent(chatlane.Client(), tools=builtin_tools(), system="Use the tools.")
    result = agent.run("What is 17% of 2,340?")
    result.text, result.usage, result.cost, result.conversation
"""

from chatlane.agent.events import (
    AgentEvent,
    AgentLimitError,
    AgentResult,
    FinalAnswer,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
)
from chatlane.agent.runners import Agent, AsyncAgent

__all__ = [
    "Agent",
    "AgentEvent",
    "AgentLimitError",
    "AgentResult",
    "AsyncAgent",
    "FinalAnswer",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "TurnFinished",
]
