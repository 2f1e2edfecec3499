"""What the agent trims to and prices with: the facts a client or an agent is given, the
embedded model's own window, and a warning when no window is known."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Mapping
from typing import Any

import pytest

import chatlane
from chatlane.agent import Agent, AgentResult, AsyncAgent
from chatlane.conversation import Conversation
from chatlane.middleware import Call, Flow, Middleware, Proceed
from chatlane.testing import Completion, FakeServer
from chatlane.tokens import ModelInfo, UnknownContextWindowWarning, count_message_tokens
from tests.conftest import API_KEY, FAST_RETRY
from tests.local.conftest import needs_model

MODES = ["sync", "async"]
MODEL = "llama3.2:3b"  # a local server's model: the table does not know it


def long_history(turns: int = 8, words: int = 1500) -> Conversation:
    chat = Conversation(system="Be brief.")
    for index in range(turns):
        chat.add_user(f"question {index} " + "word " * words)
        chat.add({"role": "assistant", "content": "ok"})
    return chat


def run(
    mode: str,
    url: str,
    prompt: str,
    *,
    client: Mapping[str, Any] | None = None,
    conversation: Conversation | None = None,
    **options: Any,
) -> AgentResult:
    """One agent run against ``url`` with a new client made with ``client`` options."""
    settings: dict[str, Any] = {"base_url": url, "api_key": API_KEY, "retry": FAST_RETRY}
    settings.update(client or {})
    if mode == "sync":
        with chatlane.Client(**settings) as sync_client:
            return Agent(sync_client, **options).run(prompt, conversation=conversation)

    async def arun() -> AgentResult:
        async with chatlane.AsyncClient(**settings) as async_client:
            agent = AsyncAgent(async_client, **options)
            return await agent.run(prompt, conversation=conversation)

    return asyncio.run(arun())


def sent_messages(server: FakeServer) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = server.chat_requests[-1].json()["messages"]
    return messages


@pytest.mark.parametrize("mode", MODES)
def test_the_clients_facts_set_the_window_the_agent_trims_to(server: FakeServer, mode: str) -> None:
    server.enqueue(Completion(content="fits"))
    result = run(
        mode,
        server.url,
        "last question",
        client={"models": {MODEL: ModelInfo(context_window=4096)}},
        conversation=long_history(),
        model=MODEL,
        params={"max_tokens": 500},
    )
    [trim] = result.trims
    assert 4096 - 500 - 2000 < trim.prompt_tokens <= 4096 - 500
    sent = sent_messages(server)
    assert trim.prompt_tokens == count_message_tokens(sent, MODEL).tokens
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert sent[-1] == {"role": "user", "content": "last question"}
    assert len(sent) == 18 - trim.dropped_messages


@pytest.mark.parametrize("mode", MODES)
def test_the_agents_facts_win_over_the_clients(server: FakeServer, mode: str) -> None:
    server.enqueue(Completion(content="fits"))
    result = run(
        mode,
        server.url,
        "last question",
        client={"models": {MODEL: ModelInfo(context_window=1_000_000)}},
        conversation=long_history(),
        model=MODEL,
        model_info=ModelInfo(context_window=8192),
        params={"max_tokens": 500},
    )
    [trim] = result.trims
    assert 8192 - 500 - 2000 < trim.prompt_tokens <= 8192 - 500


def test_facts_are_found_by_the_name_the_provider_knows(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", server.url)
    facts = ModelInfo(context_window=4096, input_per_mtok=0.0, output_per_mtok=0.0)
    with chatlane.Client(models={MODEL: facts}) as client:
        route = client.resolve(f"ollama/{MODEL}")
        assert (route.provider, route.model) == ("ollama", MODEL)
        assert route.model_info == ModelInfo(MODEL, 4096, None, None, 0.0, 0.0, None)
        server.enqueue(Completion(content="fits", usage=(10, 2)))
        agent = Agent(client, model=f"ollama/{MODEL}", params={"max_tokens": 500})
        result = agent.run("last question", conversation=long_history())
    assert result.trims[0].prompt_tokens <= 4096 - 500
    assert result.cost == 0.0
    assert server.chat_requests[0].json()["model"] == MODEL


def test_resolve_tells_what_is_known_about_a_model(server: FakeServer) -> None:
    mine = ModelInfo(context_window=32_768)
    with chatlane.Client(base_url=server.url, api_key=API_KEY, models={"My-Model": mine}) as c:
        assert c.resolve("my-model").model_info == ModelInfo("My-Model", 32_768)
        assert c.resolve("gpt-4o-2024-08-06").model_info == chatlane.model_info("gpt-4o")
        assert c.resolve("someone-elses-model").model_info is None
    local = chatlane.Client(local_model=chatlane.LocalModel(n_ctx=8192))
    assert local.resolve("local/smollm2").model_info == ModelInfo(
        "smollm2", 8192, None, None, 0.0, 0.0, 0.0
    )
    assert server.chat_requests == []


@pytest.mark.parametrize("mode", MODES)
def test_the_clients_prices_cost_the_run(server: FakeServer, mode: str) -> None:
    priced = ModelInfo(context_window=8192, input_per_mtok=1.0, output_per_mtok=4.0)
    server.enqueue(Completion(content="hi", usage=(1000, 100)))
    result = run(mode, server.url, "hi", client={"models": {MODEL: priced}}, model=MODEL)
    assert result.cost == pytest.approx((1000 * 1.0 + 100 * 4.0) / 1e6)
    server.enqueue(Completion(content="hi", usage=(1000, 100)))
    window_only = {MODEL: ModelInfo(context_window=8192)}
    unpriced = run(mode, server.url, "hi", client={"models": window_only}, model=MODEL)
    assert unpriced.cost is None


def three_runs_on_one_client(mode: str, url: str) -> None:
    """Two runs of one model and one of another, on one client."""
    if mode == "sync":
        with chatlane.Client(base_url=url, api_key=API_KEY) as client:
            agent = Agent(client, model=MODEL)
            agent.run("hi", conversation=long_history(2))
            agent.run("hi", conversation=long_history(2))
            Agent(client, model="other-model").run("hi", conversation=long_history(2))
        return

    async def runs() -> None:
        async with chatlane.AsyncClient(base_url=url, api_key=API_KEY) as client:
            agent = AsyncAgent(client, model=MODEL)
            await agent.run("hi", conversation=long_history(2))
            await agent.run("hi", conversation=long_history(2))
            await AsyncAgent(client, model="other-model").run("hi", conversation=long_history(2))

    asyncio.run(runs())


@pytest.mark.parametrize("mode", MODES)
def test_an_unknown_window_warns_once_per_model_and_client(server: FakeServer, mode: str) -> None:
    server.enqueue(*[Completion(content="untrimmed")] * 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # once per client is chatlane's doing, not the filter's
        three_runs_on_one_client(mode, server.url)
        run(mode, server.url, "hi", model=MODEL)  # another client: told again
    assert {w.category for w in caught} == {UnknownContextWindowWarning}
    assert [str(w.message).split("'")[1] for w in caught] == [MODEL, "other-model", MODEL]
    message = str(caught[0].message)
    assert f"the context window of {MODEL!r} is not known" in message
    assert f"models={{{MODEL!r}: chatlane.ModelInfo(context_window=...)}}" in message
    assert "trim=False" in message
    assert caught[0].filename == __file__  # it points at the caller's run()
    assert len(server.chat_requests[0].json()["messages"]) == 6  # untrimmed


def test_trim_false_sends_everything_without_a_warning(server: FakeServer) -> None:
    server.enqueue(Completion(content="ok"))
    result = run("sync", server.url, "hi", conversation=long_history(), model=MODEL, trim=False)
    assert result.trims == []
    assert len(sent_messages(server)) == 18


def test_facts_of_the_wrong_kind_are_refused(server: FakeServer) -> None:
    for make in (chatlane.Client, chatlane.AsyncClient):
        with pytest.raises(chatlane.ConfigurationError, match="models: expected a mapping"):
            make(base_url=server.url, models=[ModelInfo()])  # type: ignore[arg-type]
        with pytest.raises(chatlane.ConfigurationError, match=r"models\['m'\]: expected"):
            make(base_url=server.url, models={"m": {"context_window": 8192}})  # type: ignore[dict-item]
    with (
        chatlane.Client(base_url=server.url, api_key=API_KEY) as client,
        pytest.raises(chatlane.UsageError, match=r"model_info must be a chatlane\.ModelInfo"),
    ):
        Agent(client, model=MODEL, model_info={"context_window": 8192})  # type: ignore[arg-type]
    assert server.chat_requests == []


class Answered(Middleware):
    """Answers every call itself, keeping what it was sent: the embedded model never runs."""

    def __init__(self) -> None:
        self.sent: list[list[Any]] = []

    def around_request(self, call: Call, proceed: Proceed) -> Flow:
        self.sent.append(list(call.params["messages"]))
        answer = chatlane.ChatCompletion(
            choices=[chatlane.Choice(chatlane.Message(content="ok"), finish_reason="stop")]
        )
        yield from ()
        return answer


@pytest.mark.local_model  # counts with the embedded model's tokenizer (its vocabulary only)
@needs_model
def test_the_embedded_model_is_trimmed_to_the_clients_n_ctx() -> None:
    answered = Answered()
    history = long_history(turns=16, words=600)  # about 9,700 tokens
    roomy = chatlane.LocalModel(n_ctx=8192)
    with chatlane.Client(local_model=roomy, middleware=[answered]) as client:
        agent = Agent(client, model="local/smollm2", params={"max_tokens": 256})
        result = agent.run("last question", conversation=history)
    [trim] = result.trims
    assert 4096 - 256 < trim.prompt_tokens <= 8192 - 256
    assert answered.sent[0][-1] == {"role": "user", "content": "last question"}
    assert len(answered.sent[0]) == 34 - trim.dropped_messages

    with chatlane.Client(middleware=[answered]) as client:  # LocalModel(): n_ctx=4096
        agent = Agent(client, model="local/smollm2", params={"max_tokens": 256})
        result = agent.run("another question", conversation=history)
    assert result.trims[0].prompt_tokens <= 4096 - 256
