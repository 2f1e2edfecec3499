"""Providers, routing, keys and secrets."""

from __future__ import annotations

import asyncio
import threading

import pytest

import chatlane
from chatlane.testing import Completion, FakeServer
from tests.conftest import API_KEY

HI = [{"role": "user", "content": "Hi"}]


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(chatlane.ConfigurationError, match="MISTRAL_API_KEY"):
        chatlane.Client(provider="mistral")


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(chatlane.ConfigurationError, match="known providers: anthropic, azure"):
        chatlane.Client(provider="acme")


def test_no_provider_at_all_means_the_embedded_model() -> None:
    with chatlane.Client() as client:
        assert repr(client) == "Client(provider='local', base_url='local://embedded/v1')"
        # a remote model name is not silently answered by the local model
        with pytest.raises(chatlane.NotFoundError, match="serves the model 'smollm2'"):
            client.chat(model="gpt-4o-mini", messages=HI)


def test_key_and_base_url_from_the_environment(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    with chatlane.Client() as client:
        client.chat(model="openai/gpt-4o-mini", messages=HI)
    (request,) = server.chat_requests
    assert request.json()["model"] == "gpt-4o-mini"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


def test_provider_prefix_routes_an_unbound_client(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", "mistral-key")
    monkeypatch.setenv("MISTRAL_BASE_URL", server.url)
    with chatlane.Client() as client:
        client.chat(model="mistral/mistral-small-latest", messages=HI, random_seed=7, seed=None)
    body = server.chat_requests[0].json()
    assert body["model"] == "mistral-small-latest"
    assert body["random_seed"] == 7
    assert server.chat_requests[0].headers["authorization"] == "Bearer mistral-key"


def test_a_bound_client_sends_foreign_prefixes_as_is(
    client: chatlane.Client, server: FakeServer
) -> None:
    client.chat(model="meta-llama/Llama-3.1-8B", messages=HI)
    client.chat(model="openai/gpt-4o", messages=HI)
    assert [r.json()["model"] for r in server.chat_requests] == [
        "meta-llama/Llama-3.1-8B",
        "openai/gpt-4o",
    ]


def test_openrouter_model_ids_keep_their_vendor_prefix(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key")
    monkeypatch.setenv("OPENROUTER_BASE_URL", server.url)
    with chatlane.Client() as client:
        client.chat(model="anthropic/claude-sonnet-4.5", messages=HI)
    assert server.chat_requests[0].json()["model"] == "anthropic/claude-sonnet-4.5"


def test_anthropic_compat_base_url_from_the_environment(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "anthropic-key")
    monkeypatch.setenv("ANTHROPIC_COMPAT_BASE_URL", server.url)
    with chatlane.Client(provider="anthropic") as client:
        assert client.resolve("claude-sonnet-4-5").base_url == server.url
        client.chat(model="claude-sonnet-4-5", messages=HI, seed=3)
    (request,) = server.chat_requests
    assert request.json()["model"] == "claude-sonnet-4-5"
    assert "seed" not in request.json()  # still Anthropic's dialect
    assert request.headers["authorization"] == "Bearer anthropic-key"


def test_azure_uses_deployment_urls_and_the_api_key_header(server: FakeServer) -> None:
    root = server.url.removesuffix("/v1")
    with chatlane.Client(
        provider="azure", base_url=root, api_key="az-key", api_version="2024-10-21"
    ) as client:
        client.chat(model="my-deployment", messages=HI)
    (request,) = server.chat_requests
    assert (
        request.path == "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21"
    )
    assert request.headers["api-key"] == "az-key"
    assert "authorization" not in request.headers


def test_local_servers_need_no_key(server: FakeServer) -> None:
    with chatlane.Client(provider="ollama", base_url=server.url) as client:
        client.chat(model="llama3.2", messages=HI)
    assert "authorization" not in server.chat_requests[0].headers


def test_the_key_never_appears_in_errors_or_reprs() -> None:
    secret = "sk-wrong-key-SECRET-123"
    with (
        FakeServer(api_key="right-key") as server,
        chatlane.Client(base_url=server.url, api_key=secret) as client,
    ):
        with pytest.raises(chatlane.AuthenticationError) as info:
            client.chat(model="m", messages=HI)
        for text in (str(info.value), repr(info.value), info.value.body or "", repr(client)):
            assert secret not in text
        with pytest.raises(chatlane.AuthenticationError):
            client.ping()
        assert secret not in repr(client._core.default)


def test_a_provider_echoing_the_key_is_scrubbed(
    client: chatlane.Client, server: FakeServer
) -> None:
    from chatlane.testing import ErrorReply

    server.enqueue(ErrorReply(401, message=f"Incorrect API key provided: {API_KEY}."))
    with pytest.raises(chatlane.AuthenticationError) as info:
        client.chat(model="m", messages=HI)
    assert API_KEY not in str(info.value)
    assert API_KEY not in (info.value.body or "")
    assert "***" in info.value.message


def test_one_client_is_shared_across_threads(client: chatlane.Client, server: FakeServer) -> None:
    results: list[str] = []
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                results.append(
                    client.chat(model="m", messages=[{"role": "user", "content": f"{n}-{i}"}]).text
                )
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(results) == 80
    assert all(text.startswith("This is chatlane's fake server. You said: ") for text in results)
    assert {text.rsplit(" ", 1)[-1] for text in results} == {
        f"{n}-{i}" for n in range(8) for i in range(10)
    }


def test_one_async_client_is_shared_across_tasks(server: FakeServer) -> None:
    async def main() -> list[str]:
        async with chatlane.AsyncClient(base_url=server.url, api_key=API_KEY) as client:
            replies = await asyncio.gather(
                *(
                    client.chat(model="m", messages=[{"role": "user", "content": str(n)}])
                    for n in range(64)
                )
            )
        return [reply.text.rsplit(" ", 1)[-1] for reply in replies]

    assert sorted(asyncio.run(main()), key=int) == [str(n) for n in range(64)]


def test_async_stream_can_be_awaited(server: FakeServer) -> None:
    server.enqueue(Completion(content="one two"))

    async def main() -> str:
        async with chatlane.AsyncClient(base_url=server.url, api_key=API_KEY) as client:
            stream = await client.stream(model="m", messages=HI)
            final = await stream.final()
            await stream.close()
            return final.text

    assert asyncio.run(main()) == "one two"


@pytest.mark.parametrize("provider", [5, b"openai", "", ["openai"]])
def test_a_provider_that_is_not_a_name_is_refused_naming_the_field(provider: object) -> None:
    with chatlane.Client(base_url="http://127.0.0.1:9/v1", api_key="k") as client:
        with pytest.raises(chatlane.RequestValidationError) as info:
            client.chat(model="m", messages=[{"role": "user", "content": "hi"}], provider=provider)  # type: ignore[arg-type]
        assert info.value.field == "provider"
        with pytest.raises(chatlane.RequestValidationError):
            client.resolve("m", provider=provider)  # type: ignore[arg-type]


def test_stop_sequences_follow_what_each_provider_documents(server: FakeServer) -> None:
    five = ["a", "b", "c", "d", "e"]
    hi = [{"role": "user", "content": "hi"}]
    with (
        chatlane.Client(provider="openai", base_url=server.url, api_key="k") as openai,
        pytest.raises(chatlane.RequestValidationError, match="stop"),
    ):
        openai.chat(model="m", messages=hi, stop=five)
    server.enqueue(Completion(content="ok"))
    with chatlane.Client(provider="vllm", base_url=server.url) as vllm:
        assert vllm.chat(model="m", messages=hi, stop=five).text == "ok"
    assert server.chat_requests[-1].json()["stop"] == five


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "Invalid IPv6"),
        ("http://a b/v1", "no spaces"),
        ("http://:99999/v1", "Port"),
        ("not a url", "http:// or https://"),
        ("ftp://x/v1", "http:// or https://"),
        ("http:///v1", "no host"),
    ],
)
@pytest.mark.parametrize("cls", [chatlane.Client, chatlane.AsyncClient])
def test_a_base_url_that_cannot_be_sent_to_is_refused_at_once(
    url: str, problem: str, cls: type[chatlane.Client] | type[chatlane.AsyncClient]
) -> None:
    with pytest.raises(chatlane.ConfigurationError, match=problem) as info:
        cls(base_url=url, api_key="k")
    assert "base_url=" in str(info.value)
