"""The README's Middleware example runs as written and logs every attempt, as it says."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

import chatlane
from chatlane.testing import Completion, ErrorReply, FakeServer
from tests.conftest import API_KEY, FAST_RETRY

README = Path(__file__).resolve().parents[2] / "README.md"


def middleware_example() -> str:
    section = README.read_text().split("\n### Middleware", 1)[1].split("\n### ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README.md's Middleware section has no python example"
    return match.group(1)


def test_the_middleware_example_logs_each_attempt(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    scope: dict[str, Any] = {"chatlane": chatlane}
    exec(compile(middleware_example(), str(README), "exec"), scope)
    scope["client"].close()  # the example's own client: the embedded model, never called

    server.enqueue(ErrorReply(503), Completion(content="ok"))
    caplog.set_level(logging.INFO, logger="myapp")
    with chatlane.Client(
        base_url=server.url, api_key=API_KEY, retry=FAST_RETRY, middleware=[scope["Attempts"]()]
    ) as client:
        assert client.chat(model="m", messages=[{"role": "user", "content": "hi"}]).text == "ok"
    lines = [record.getMessage() for record in caplog.records if record.name == "myapp"]
    assert [line.split(" in ")[0] for line in lines] == [
        "attempt 1: status 503",
        "attempt 2: status 200",
    ]
