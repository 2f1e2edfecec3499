from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chatlane.testing import FakeServer
from tests.conftest import API_KEY, FAST_RETRY
from tests.structured.drivers import Driver

MakeDriver = Callable[..., Driver]


@pytest.fixture(params=["sync", "async"])
def make_driver(request: pytest.FixtureRequest, server: FakeServer) -> MakeDriver:
    """A driver factory for the fake server; options override the defaults."""

    def make(**options: Any) -> Driver:
        merged: dict[str, Any] = {"base_url": server.url, "api_key": API_KEY, "retry": FAST_RETRY}
        merged.update(options)
        return Driver(request.param, **merged)

    return make


@pytest.fixture
def driver(make_driver: MakeDriver) -> Driver:
    return make_driver()
