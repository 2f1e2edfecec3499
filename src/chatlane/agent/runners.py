"""``Agent`` and ``AsyncAgent``: the two drivers of the one agent loop in ``flow``.

Each driver does I/O only: a model call (plain or streamed), tool calls (threads or tasks),
handing events to the caller. Stopping early is prompt: closing the event iterator closes
the open stream; cancelling the async run cancels the stream and the running tool tasks.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from typing import Any, TypedDict, TypeVar, Unpack

from chatlane._client.aio import AsyncClient
from chatlane._client.sync import Client
from chatlane.agent.events import AgentEvent, AgentResult, FinalAnswer, TextDelta
from chatlane.agent.facts import agent_facts, can_trim, warn_untrimmed
from chatlane.agent.flow import AgentSettings, CallModel, Emit, Step, agent_flow
from chatlane.conversation import Conversation
from chatlane.core.errors import UsageError
from chatlane.providers.profiles import ModelInfo
from chatlane.providers.registry import get_provider
from chatlane.tools import Tool, Toolbox

__all__ = ["Agent", "AsyncAgent"]

Flow = Generator[Step, Any, AgentResult]


class AgentOptions(TypedDict, total=False):
    """The keyword options of ``Agent`` and ``AsyncAgent`` (defaults in ``_DEFAULTS``)."""

    model: str | None
    tools: Toolbox | Iterable[Tool | Callable[..., Any]]
    system: str | None
    max_turns: int
    max_tool_calls: int
    tool_timeout: float | None
    max_concurrency: int
    trim: bool
    model_info: ModelInfo | None
    tool_choice: Any
    params: Mapping[str, Any] | None


_DEFAULTS: AgentOptions = {
    "model": None,
    "tools": (),
    "system": None,
    "max_turns": 10,
    "max_tool_calls": 30,
    "tool_timeout": 60.0,
    "max_concurrency": 8,
    "trim": True,
    "model_info": None,
    "tool_choice": None,
    "params": None,
}
_STREAM_USAGE = {"include_usage": True}


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a positive integer, not {value!r}")
    return value


ClientT = TypeVar("ClientT", Client, AsyncClient)


def _checked(client: object, kind: type[ClientT], other_agent: str) -> ClientT | None:
    """``client`` if it is a ``kind`` (or None); a clear error for the other kind."""
    if client is None or isinstance(client, kind):
        return client
    raise UsageError(
        f"this agent needs a chatlane.{kind.__name__}, not {type(client).__name__}"
        f" (use {other_agent} with that client)"
    )


class _AgentBase:
    """What both drivers share: settings, the default model, starting a run."""

    def __init__(self, client: Client | AsyncClient, options: AgentOptions) -> None:
        unknown = set(options) - set(_DEFAULTS)
        if unknown:
            raise UsageError(f"unknown agent option(s): {', '.join(sorted(unknown))}")
        given: AgentOptions = {**_DEFAULTS, **options}
        model = given["model"]
        tools = given["tools"]
        tool_choice = given["tool_choice"]
        if model is None:
            row = get_provider(client.provider)
            if row is None or row.default_model is None:
                raise UsageError(
                    f"model= is required: provider {client.provider!r} has no default model"
                )
            model = f"{row.name}/{row.default_model}"
        if isinstance(tools, Toolbox):
            ignored = {"tool_timeout", "max_concurrency"} & set(options)
            if ignored:
                raise UsageError(
                    f"{' and '.join(sorted(ignored))} cannot apply to a ready Toolbox: "
                    "set them on the Toolbox, or pass the tools as a list"
                )
            toolbox = tools
        else:
            toolbox = Toolbox(
                tools, tool_timeout=given["tool_timeout"], max_concurrency=given["max_concurrency"]
            )
        # Small embedded models will not decide to call a tool by themselves: the first
        # turn must call one, later turns may answer.
        route = client.resolve(model)
        first_choice = "required" if route.in_process and tool_choice is None else None
        facts = agent_facts(model, given["model_info"], route.model_info)
        trim = given["trim"] and can_trim(model, facts)
        self._warn_untrimmed = given["trim"] and not trim
        extra = dict(given["params"] or {})
        for reserved in ("model", "messages", "tools", "tool_choice", "stream"):
            if reserved in extra:
                raise UsageError(f"params: {reserved!r} is set by the agent, not by params")
        self.client = client
        self.system = given["system"]
        self.settings = AgentSettings(
            model=model,
            toolbox=toolbox,
            max_turns=_positive("max_turns", given["max_turns"]),
            max_tool_calls=_positive("max_tool_calls", given["max_tool_calls"]),
            trim=trim,
            model_info=facts,
            tool_choice=tool_choice,
            first_tool_choice=first_choice,
            params=extra,
        )

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def toolbox(self) -> Toolbox:
        return self.settings.toolbox

    def __repr__(self) -> str:
        return f"<{type(self).__name__} model={self.model!r} tools={self.toolbox.names}>"

    def _start(self, prompt: str | None, conversation: Conversation | None) -> Flow:
        if conversation is None:
            if prompt is None:
                raise UsageError("give a prompt, a conversation, or both")
            conversation = Conversation(system=self.system)
        if prompt is not None:
            conversation.add_user(prompt)
        if not conversation.messages:
            raise UsageError("the conversation is empty: add a user message first")
        if self._warn_untrimmed:
            warn_untrimmed(self.client, self.model, stacklevel=3)  # at the caller of run()
        return agent_flow(self.settings, conversation)

    def _stream_params(self, step: CallModel) -> Mapping[str, Any]:
        if "stream_options" in step.params:
            return step.params
        return {**step.params, "stream_options": _STREAM_USAGE}


class Agent(_AgentBase):
    """Answers with a model and tools: calls the model, runs the tools it asks for
    (concurrently), feeds the results back, until the model answers.

    ::

        agent = Agent(client, tools=[get_weather], system="Be brief.")
        agent.run("Weather in Paris?").text
        for event in agent.stream("Weather in Paris?"): ...

    Bounded by ``max_turns`` model calls and ``max_tool_calls`` tool calls per run
    (``AgentLimitError``, carrying the conversation); each tool by ``tool_timeout`` seconds.
    ``params`` are chat parameters for every call (``{"temperature": 0, "max_tokens": 500}``).
    ``model`` defaults to the client's provider's default model. Each call's history is
    trimmed (``trim=True``) to the model's context window: ``model_info=`` gives the model's
    facts, else the client's (``client.resolve(model).model_info``); when no window is known
    the history goes untrimmed, with an ``UnknownContextWindowWarning``.
    """

    client: Client

    def __init__(self, client: Client | None = None, **options: Unpack[AgentOptions]) -> None:
        super().__init__(_checked(client, Client, "AsyncAgent") or Client(), options)

    def run(
        self, prompt: str | None = None, *, conversation: Conversation | None = None
    ) -> AgentResult:
        """Run to the answer. ``prompt`` is added to ``conversation`` (a new one with the
        system message when not given); the conversation gets every message of the run."""
        for event in self._drive(self._start(prompt, conversation), streaming=False):
            if isinstance(event, FinalAnswer):
                return event.result
        raise AssertionError("the agent loop ended without an answer")  # pragma: no cover

    def stream(
        self, prompt: str | None = None, *, conversation: Conversation | None = None
    ) -> Generator[AgentEvent, None, None]:
        """Run with streamed model calls, yielding events as they happen; the last one is
        ``FinalAnswer``. Closing the iterator early stops the run."""
        return self._drive(self._start(prompt, conversation), streaming=True)

    def _drive(self, flow: Flow, *, streaming: bool) -> Generator[AgentEvent, None, None]:
        client = self.client
        outcome: Any = None
        try:
            while True:
                try:
                    step = flow.send(outcome)
                except StopIteration:
                    return
                outcome = None
                if isinstance(step, Emit):
                    yield step.event
                elif isinstance(step, CallModel):
                    if not streaming:
                        outcome = client.chat(**step.params)
                        continue
                    with client.stream(**self._stream_params(step)) as stream:
                        for chunk in stream:
                            text = chunk.text
                            if text:
                                yield TextDelta(step.turn, text)
                        outcome = stream.final()
                else:
                    outcome = self.toolbox.run_many(step.calls)
        finally:
            flow.close()


class AsyncAgent(_AgentBase):
    """``Agent`` for asyncio: the same loop and limits; async tools run as tasks, sync
    tools in threads. Cancelling the run cancels the open stream and running tools."""

    client: AsyncClient

    def __init__(self, client: AsyncClient | None = None, **options: Unpack[AgentOptions]) -> None:
        super().__init__(_checked(client, AsyncClient, "Agent") or AsyncClient(), options)

    async def run(
        self, prompt: str | None = None, *, conversation: Conversation | None = None
    ) -> AgentResult:
        """Run to the answer; see ``Agent.run``."""
        events = self._drive(self._start(prompt, conversation), streaming=False)
        try:
            async for event in events:
                if isinstance(event, FinalAnswer):
                    return event.result
        finally:
            await events.aclose()
        raise AssertionError("the agent loop ended without an answer")  # pragma: no cover

    def stream(
        self, prompt: str | None = None, *, conversation: Conversation | None = None
    ) -> AsyncGenerator[AgentEvent, None]:
        """Run with streamed model calls, yielding events; see ``Agent.stream``. Close the
        iterator (``aclose()``) or cancel the task to stop early."""
        return self._drive(self._start(prompt, conversation), streaming=True)

    async def _drive(self, flow: Flow, *, streaming: bool) -> AsyncGenerator[AgentEvent, None]:
        client = self.client
        outcome: Any = None
        try:
            while True:
                try:
                    step = flow.send(outcome)
                except StopIteration:
                    return
                outcome = None
                if isinstance(step, Emit):
                    yield step.event
                elif isinstance(step, CallModel):
                    if not streaming:
                        outcome = await client.chat(**step.params)
                        continue
                    async with client.stream(**self._stream_params(step)) as stream:
                        async for chunk in stream:
                            text = chunk.text
                            if text:
                                yield TextDelta(step.turn, text)
                        outcome = await stream.final()
                else:
                    outcome = await self.toolbox.arun_many(step.calls)
        finally:
            flow.close()
