"""Clients on the server, and a raw POST for pinning what the server itself answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import chatlane
from tests.llamacpp_server.conftest import API_KEY, LlamaCppServer

NO_RETRY = chatlane.RetryPolicy(max_retries=0)


def client(server: LlamaCppServer, provider: str | None = None, **options: Any) -> chatlane.Client:
    options.setdefault("retry", NO_RETRY)
    return chatlane.Client(provider=provider, base_url=server.base_url, api_key=API_KEY, **options)


def aclient(
    server: LlamaCppServer, provider: str | None = None, **options: Any
) -> chatlane.AsyncClient:
    options.setdefault("retry", NO_RETRY)
    return chatlane.AsyncClient(
        provider=provider, base_url=server.base_url, api_key=API_KEY, **options
    )


def post(server: LlamaCppServer, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST /v1/chat/completions as given (no chatlane): status and JSON body."""
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code), json.loads(error.read())
