"""The ``driver`` and ``make_driver`` fixtures live in ``tests/conftest.py`` (shared with
``tests/structured``); ``MakeDriver`` stays importable from here."""

from __future__ import annotations

from tests.client.drivers import MakeDriver

__all__ = ["MakeDriver"]
