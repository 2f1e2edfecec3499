"""``driver`` and ``make_driver`` (from ``tests/conftest.py``) build this package's driver."""

from __future__ import annotations

import pytest

from tests.structured.drivers import Driver, MakeDriver

__all__ = ["MakeDriver"]


@pytest.fixture
def driver_class() -> type[Driver]:
    return Driver
